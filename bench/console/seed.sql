-- A night of 20,000 guests for the console's measure: an organization with
-- its owner (password Segredo123), an event, 20 promoters in two teams, and
-- 20,000 guests over six hours, a third of them inside. Run as a superuser on
-- a migrated database: psql -v ON_ERROR_STOP=1 -f bench/console/seed.sql
-- Prints the owner's session token and the event id (psql variables tok, ev).
\set QUIET on
SELECT admin.create_organization('Bench Console', 'bench-console-' || substr(md5(random()::text), 1, 8),
                                 'bench-' || substr(md5(random()::text), 1, 8) || '@example.pt') AS made \gset
SELECT :'made'::jsonb ->> 'organizationId' AS org, :'made'::jsonb ->> 'inviteToken' AS inv \gset
SELECT admin.create_event(:'org', 'Noite de Medida', 'noite-medida', now() + interval '2 hours') AS ev \gset
SELECT admin.create_team(:'org', 'Equipa A') AS ta \gset
SELECT admin.create_team(:'org', 'Equipa B') AS tb \gset
CREATE TEMP TABLE bench_promoters AS
SELECT admin.create_promoter('bench-' || substr(md5(random()::text), 1, 10), 'Promotor ' || i) AS id, i
FROM generate_series(1, 20) i;
SELECT count(admin.add_team_member(CASE WHEN i % 2 = 0 THEN :'ta' ELSE :'tb' END::uuid, id))
FROM bench_promoters \gset
INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
SELECT '+3519' || lpad((80000000 + i)::text, 8, '0'), 'Nome' || i, 'Apelido' || (i % 997),
       'g' || i || '@example.pt', app._dummy_password_hash()
FROM generate_series(1, 20000) i
ON CONFLICT (phone) DO NOTHING;
INSERT INTO app.guests (event_id, client_user_id, promoter_id, team_id, name, phone, qr_code,
                        status, checked_in, checked_in_at, created_at)
SELECT :'ev', cu.id, p.id, CASE WHEN p.i % 2 = 0 THEN :'ta' ELSE :'tb' END::uuid,
       cu.first_name || ' ' || cu.last_name, cu.phone, encode(gen_random_bytes(16), 'hex'),
       CASE WHEN n % 3 = 0 THEN 'checked_in' ELSE 'pending' END, n % 3 = 0,
       CASE WHEN n % 3 = 0 THEN now() + interval '2 hours' + (n % 240) * interval '1 minute' END,
       now() - interval '4 hours' + (n % 360) * interval '1 minute'
FROM (SELECT cu.*, row_number() OVER (ORDER BY cu.phone) AS n FROM app.client_users cu
      WHERE cu.phone LIKE '+3519800%' OR cu.phone LIKE '+3519801%' OR cu.phone LIKE '+3519802%') cu
JOIN bench_promoters p ON p.i = cu.n % 20 + 1;
ANALYZE app.guests;
SET ROLE guestlist_web;
SELECT api.accept_invite(:'inv', 'Segredo123', 'Bench') ->> 'sessionToken' AS tok \gset
RESET ROLE;
\echo tok=:tok ev=:ev
