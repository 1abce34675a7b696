-- Bench data: the demo event and :users accounts with phones
-- +3519100000001… sharing one real bcrypt cost-10 hash (hashing 10,000
-- passwords one by one would take minutes and measure nothing new).
SELECT admin.load_demo() ->> 'eventId' AS event_id \gset
INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
SELECT '+3519' || lpad(n::text, 8, '0'), 'Bench', 'User' || n, 'u' || n || '@bench.test', h.hash
FROM generate_series(1, :users) n,
     (SELECT public.crypt('Segredo123', public.gen_salt('bf', 10)) AS hash) h;
ANALYZE app.client_users;
\echo :event_id
