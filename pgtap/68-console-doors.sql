-- The console's door links: an owner or manager makes one (the token once,
-- its hash stored, the door then works), lists the event's links with their
-- scans and conflicts (never a token or hash) and revokes one (the door then
-- gets door_invalid); a promoter and a missing id get not_found; the door
-- tables are sealed (forced row-level security, the console reads only
-- through its policies, never a hash), and the web role touches none.
BEGIN;
SELECT plan(42);
\ir 00-fixture.psql

SELECT admin.invite_member(:'org', 'dono@example.pt', 'owner') ->> 'inviteToken' AS io \gset
SELECT admin.invite_member(:'org', 'gestor@example.pt', 'manager') ->> 'inviteToken' AS im \gset
SELECT admin.invite_member(:'org', 'promo@example.pt', 'promoter', :'pr') ->> 'inviteToken' AS ip \gset
SELECT api.accept_invite(:'io', 'Segredo123', 'Dona') ->> 'sessionToken' AS town \gset
SELECT api.accept_invite(:'im', 'Segredo123', 'Gestor') ->> 'sessionToken' AS tman \gset
SELECT api.accept_invite(:'ip', 'Segredo123', 'Promo') ->> 'sessionToken' AS tpro \gset
SELECT api.register_and_create_guest_v2('+351935000001', 'Inês', 'Dupla', 'ines@example.pt',
                                        'Segredo123', :'ev', :'pr') ->> 'qr_code' AS qr \gset
SELECT gen_random_uuid() AS nx \gset

-- --- structure and privileges --------------------------------------------------------------
SELECT function_returns('api', 'console_door_link_create', ARRAY['text', 'uuid', 'text'], 'jsonb',
                        'api.console_door_link_create returns jsonb');
SELECT function_returns('api', 'console_door_link_revoke', ARRAY['text', 'uuid'], 'jsonb',
                        'api.console_door_link_revoke returns jsonb');
SELECT function_returns('api', 'console_door_links', ARRAY['text', 'uuid'], 'jsonb',
                        'api.console_door_links returns jsonb');
SELECT ok(has_function_privilege('guestlist_web', 'api.console_door_link_create(text, uuid, text)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.console_door_link_revoke(text, uuid)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.console_door_links(text, uuid)', 'EXECUTE'),
          'the web role may call the console''s door functions');
SELECT ok(NOT has_function_privilege('guestlist_web', 'app._create_door_link(uuid, text)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web', 'app._revoke_door_link(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web', 'app._console_door_event(jsonb, uuid)', 'EXECUTE'),
          'but none of their helpers');
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'api'::regnamespace AND p.proname LIKE 'console\_door%'
             AND p.proowner = 'guestlist_console'::regrole AND p.prosecdef),
          ARRAY['console_door_link_create', 'console_door_link_revoke', 'console_door_links'],
          'they run as guestlist_console (SECURITY DEFINER), held by the policies');
SELECT ok(NOT has_column_privilege('guestlist_console', 'app.door_links', 'token_hash', 'SELECT')
          AND NOT has_table_privilege('guestlist_console', 'app.door_links', 'DELETE')
          AND NOT has_table_privilege('guestlist_console', 'app.door_undos', 'SELECT')
          AND NOT has_table_privilege('guestlist_console', 'app.door_scans', 'INSERT'),
          'the console role never reads a link''s hash, deletes a link, or writes a scan');
SELECT is((SELECT count(*)::int FROM pg_policies WHERE schemaname = 'app'
           AND tablename IN ('door_links', 'door_scans', 'door_undos', 'door_conflicts')
           AND policyname IN ('owner_all', 'console')), 8,
          'each door table has the owner''s and the console''s policy');

-- --- create -----------------------------------------------------------------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.console_door_link_create(:'town', :'ev', '  Porta principal ') AS c1 \gset
SELECT api.console_door_link_create(:'tman', :'ev', 'Porta lateral') AS c2 \gset
RESET ROLE;
SELECT :'c1'::jsonb ->> 'token' AS tok1, :'c1'::jsonb ->> 'doorId' AS d1,
       :'c2'::jsonb ->> 'token' AS tok2, :'c2'::jsonb ->> 'doorId' AS d2 \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'c1'::jsonb) k),
          ARRAY['doorId', 'expiresAt', 'label', 'path', 'token'], 'an owner''s link: its id, token once, path, label, expiry');
SELECT matches(:'tok1'::text, '^[A-Za-z0-9_-]{43}$', 'the token: 43 URL-safe characters (256 bits)');
SELECT is(:'c1'::jsonb ->> 'path', '/porta/' || :'tok1'::text, 'the path is the door page''s');
SELECT is(:'c1'::jsonb ->> 'label', 'Porta principal'::text, 'the label is trimmed');
SELECT is((:'c1'::jsonb ->> 'expiresAt')::timestamptz,
          (SELECT starts_at + interval '12 hours' FROM app.events WHERE id = :'ev'),
          'it expires 12 hours after the event starts');
SELECT is((SELECT token_hash FROM app.door_links WHERE id = :'d1'), sha256(convert_to(:'tok1', 'UTF8')),
          'only the token''s sha256 is stored');
SELECT ok(:'d2' IS NOT NULL AND :'tok2' <> :'tok1', 'a manager makes links too, each its own token');
SET LOCAL ROLE guestlist_web;
SELECT is(api.door_summary(:'tok1') -> 'event' ->> 'id', :'ev', 'the link opens the event''s door');
SELECT throws_ok(format('SELECT api.console_door_link_create(%L, %L, %L)', :'town', :'ev', '   '),
                 'PT400', NULL, 'a blank label is refused');
SELECT throws_ok(format('SELECT api.console_door_link_create(%L, %L, %L)', :'town', :'ev', repeat('x', 61)),
                 'PT400', NULL, 'and one over 60 characters');
SELECT throws_ok(format('SELECT api.console_door_link_create(%L, %L, %L)', :'town', :'nx', 'P'),
                 'PT404', 'Não encontrado. Escolhe-o de novo na tua lista.', 'a missing event is not_found');
SELECT throws_ok(format('SELECT api.console_door_link_create(%L, %L, %L)', :'tpro', :'ev', 'P'),
                 'PT404', 'Não encontrado. Escolhe-o de novo na tua lista.',
                 'a promoter of the event gets not_found too');
SELECT throws_ok(format('SELECT api.console_door_link_create(%L, %L, %L)', repeat('0', 64), :'ev', 'P'),
                 'PT401', NULL, 'no session: session_invalid');

-- --- the list, with scans and conflicts ---------------------------------------------------------
SELECT api.check_in(:'tok1', :'qr', '00000000-0000-4000-8000-0000000000d1') ->> 'result' AS r1 \gset
SELECT api.console_door_links(:'town', :'ev') AS l1 \gset
RESET ROLE;
SELECT is(:'r1'::text, 'admitted', 'the first door admits the guest');
SELECT is(jsonb_array_length(:'l1'::jsonb -> 'doors'), 2, 'the list holds both links');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'l1'::jsonb -> 'doors' -> 0) k),
          ARRAY['createdAt', 'doorId', 'expiresAt', 'label', 'lastScanAt', 'live', 'revokedAt', 'scans'],
          'each link: never its token or hash');
SELECT is((SELECT (d ->> 'scans')::int FROM jsonb_array_elements(:'l1'::jsonb -> 'doors') d
           WHERE d ->> 'doorId' = :'d1'), 1, 'the door that scanned counts one scan');
SELECT ok((SELECT d ->> 'lastScanAt' IS NOT NULL AND (d ->> 'live')::boolean
           FROM jsonb_array_elements(:'l1'::jsonb -> 'doors') d WHERE d ->> 'doorId' = :'d1'),
          'with its last scan''s time, live');
SELECT is((SELECT (d ->> 'scans')::int FROM jsonb_array_elements(:'l1'::jsonb -> 'doors') d
           WHERE d ->> 'doorId' = :'d2'), 0, 'the other none');
SELECT is((:'l1'::jsonb ->> 'conflicts')::int, 0, 'no conflict yet');

SET LOCAL ROLE guestlist_web;
-- the second door, offline, had scanned the same code earlier: it takes the admission; a conflict
SELECT api.door_sync(:'tok2', jsonb_build_array(jsonb_build_object(
  'scanId', '00000000-0000-4000-8000-0000000000d2', 'qrCode', :'qr',
  'scannedAt', now() - interval '10 minutes'))) IS NOT NULL AS synced \gset
SELECT api.console_door_links(:'tman', :'ev') AS l2 \gset
RESET ROLE;
SELECT is((:'l2'::jsonb ->> 'conflicts')::int, 1, 'the organizer sees the conflict');
SELECT is(:'l2'::jsonb -> 'conflictList' -> 0 -> 'guest' ->> 'name',
          (SELECT name FROM app.guests WHERE qr_code = :'qr'), 'naming the guest');
SELECT is(ARRAY[:'l2'::jsonb -> 'conflictList' -> 0 -> 'admitted' ->> 'door',
                :'l2'::jsonb -> 'conflictList' -> 0 -> 'later' ->> 'door'],
          ARRAY['Porta lateral', 'Porta principal'], 'and which door admitted and which came later');

-- --- revoke -----------------------------------------------------------------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.console_door_link_revoke(:'town', :'d1') AS v1 \gset
SELECT api.console_door_link_revoke(:'tman', :'d1') AS v2 \gset
SELECT throws_ok(format('SELECT api.door_summary(%L)', :'tok1'), 'PT401', NULL,
                 'a revoked link gets door_invalid at once');
SELECT lives_ok(format('SELECT api.door_summary(%L)', :'tok2'), 'the other link still works');
SELECT throws_ok(format('SELECT api.console_door_link_revoke(%L, %L)', :'tpro', :'d2'), 'PT404',
                 'Não encontrado. Escolhe-o de novo na tua lista.', 'a promoter cannot revoke (not_found)');
SELECT throws_ok(format('SELECT api.console_door_link_revoke(%L, %L)', :'town', :'nx'), 'PT404',
                 'Não encontrado. Escolhe-o de novo na tua lista.', 'a missing link is not_found');
SELECT api.console_door_links(:'town', :'ev') AS l3 \gset
RESET ROLE;
SELECT is(:'v1'::jsonb ->> 'doorId', :'d1', 'the revocation names the link');
SELECT is(:'v2'::jsonb ->> 'revokedAt', :'v1'::jsonb ->> 'revokedAt', 'revoking again keeps the first time');
SELECT is((SELECT d ->> 'revokedAt' IS NOT NULL AND NOT (d ->> 'live')::boolean
           FROM jsonb_array_elements(:'l3'::jsonb -> 'doors') d WHERE d ->> 'doorId' = :'d1'), true,
          'the list shows it revoked, not live');
SELECT is((SELECT revoked_at FROM app.door_links WHERE id = :'d2'), NULL,
          'the promoter''s attempt changed nothing');

-- --- the console role alone, without a sealed scope, sees no door row ------------------------
-- (the calls above sealed this transaction's scope: clear it, as a new transaction would)
SELECT set_config('guestlist.console_scope', '', true) = '' AS cleared \gset
SELECT is((SELECT count(*)::int FROM app.door_links), 2, 'there are two links to hide');
SET LOCAL ROLE guestlist_console;
SELECT is((SELECT count(*)::int FROM app.door_links) + (SELECT count(*)::int FROM app.door_scans)
          + (SELECT count(*)::int FROM app.door_conflicts), 0,
          'without a sealed scope the console role sees no link, scan or conflict');
WITH u AS (UPDATE app.door_links SET revoked_at = now() RETURNING 1)
SELECT is(count(*)::int, 0, 'nor revokes any') FROM u;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
