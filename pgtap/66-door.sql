-- The door: links (hashed, revocable, expiring), scans idempotent by scan id,
-- the four results, offline sync judged in scannedAt order with conflicts,
-- search without accents or case, manual admission and undo, the counts, the
-- offline list (hashes, this event only), erased guests, the rate limit and
-- privileges.
BEGIN;
SELECT plan(87);
\ir 00-fixture.psql

-- --- structure and privileges --------------------------------------------------------------
SELECT has_table('app', 'door_links', 'app.door_links exists');
SELECT has_table('app', 'door_scans', 'app.door_scans exists');
SELECT has_table('app', 'door_undos', 'app.door_undos exists');
SELECT has_table('app', 'door_conflicts', 'app.door_conflicts exists');
SELECT function_returns('api', 'check_in', ARRAY['text', 'text', 'uuid', 'timestamp with time zone', 'text'],
                        'jsonb', 'api.check_in returns jsonb');
SELECT function_returns('api', 'door_sync', ARRAY['text', 'jsonb'], 'jsonb', 'api.door_sync returns jsonb');
SELECT function_returns('api', 'door_search', ARRAY['text', 'text'], 'jsonb', 'api.door_search returns jsonb');
SELECT function_returns('api', 'door_admit', ARRAY['text', 'uuid', 'uuid'], 'jsonb', 'api.door_admit returns jsonb');
SELECT function_returns('api', 'door_undo', ARRAY['text', 'uuid'], 'jsonb', 'api.door_undo returns jsonb');
SELECT function_returns('api', 'door_summary', ARRAY['text'], 'jsonb', 'api.door_summary returns jsonb');
SELECT function_returns('api', 'door_list', ARRAY['text'], 'jsonb', 'api.door_list returns jsonb');
SELECT ok(has_function_privilege('guestlist_web', 'api.check_in(text, text, uuid, timestamptz, text)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.door_sync(text, jsonb)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.door_search(text, text)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.door_admit(text, uuid, uuid)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.door_undo(text, uuid)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.door_summary(text)', 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.door_list(text)', 'EXECUTE'),
          'the web role may call every door function');
SELECT ok(NOT has_function_privilege('guestlist_web', 'admin.create_door_link(uuid, text)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web', 'admin.revoke_door_link(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web', 'admin.door_conflicts(uuid)', 'EXECUTE')
          AND has_function_privilege('guestlist_admin', 'admin.create_door_link(uuid, text)', 'EXECUTE'),
          'links are made and revoked by the admin role only');
SELECT ok(NOT has_function_privilege('guestlist_web', 'app._door(text)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web',
                'app._door_judge(app.door_links, text, text, uuid, uuid, timestamptz, boolean, text)', 'EXECUTE'),
          'nor any private helper');
SELECT ok(bool_and(NOT has_table_privilege('guestlist_web', t, p)),
          'the web role has no privilege on any door table')
FROM unnest(ARRAY['app.door_links', 'app.door_scans', 'app.door_undos', 'app.door_conflicts']) t,
     unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p;
SET LOCAL ROLE guestlist_web;
SELECT throws_ok('SELECT * FROM app.door_scans', '42501', NULL, 'the web role cannot read the scan log');
SELECT throws_ok('UPDATE app.door_links SET revoked_at = NULL', '42501', NULL, 'nor revive a link');
RESET ROLE;

-- --- guests and doors ------------------------------------------------------------------------
SELECT api.register_and_create_guest_v2('+351935886310', 'João', 'Gonçalves', 'joao@example.pt',
                                        'Segredo123', :'ev', :'pr') AS g1 \gset
SELECT api.register_and_create_guest_v2('+351935886311', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') AS g2 \gset
SELECT api.register_and_create_guest_v2('+351935886312', 'Élia', 'Sá', 'elia@example.pt',
                                        'Segredo123', :'ev') AS g3 \gset
SELECT admin.create_event(:'org', 'Outra Noite', 'outra-noite', now() + interval '8 days') AS ev2 \gset
SELECT api.register_and_create_guest_v2('+351935886313', 'Rui', 'Costa', 'rui@example.pt',
                                        'Segredo123', :'ev2') AS g4 \gset
SELECT :'g1'::jsonb ->> 'qr_code' AS qr1, :'g1'::jsonb ->> 'guest_id' AS id1,
       :'g2'::jsonb ->> 'qr_code' AS qr2, :'g2'::jsonb ->> 'guest_id' AS id2,
       :'g3'::jsonb ->> 'qr_code' AS qr3, :'g3'::jsonb ->> 'guest_id' AS id3,
       :'g4'::jsonb ->> 'qr_code' AS qr4, :'g4'::jsonb ->> 'guest_id' AS id4 \gset

SELECT admin.create_door_link(:'ev', 'Porta A') AS da \gset
SELECT admin.create_door_link(:'ev', 'Porta B') AS db \gset
SELECT admin.create_door_link(:'ev2', 'Porta Outra') AS dx \gset
SELECT :'da'::jsonb ->> 'token' AS ta, :'db'::jsonb ->> 'token' AS tb,
       :'dx'::jsonb ->> 'token' AS tx, :'da'::jsonb ->> 'doorId' AS door_a \gset
SELECT matches(:'ta'::text, '^[A-Za-z0-9_-]{43}$', 'a door token: 43 URL-safe characters (256 bits)');
SELECT is((SELECT count(*)::int FROM app.door_links WHERE token_hash = sha256(convert_to(:'ta', 'UTF8'))), 1,
          'only its sha256 is stored');
SELECT throws_ok(format('SELECT admin.create_door_link(%L, %L)', :'ev', ''), 'PT400', NULL,
                 'a door needs a label');
SELECT throws_ok(format('SELECT admin.create_door_link(%L, %L)', gen_random_uuid(), 'X'), 'PT404', NULL,
                 'of an event that exists');

-- --- check-in: the four results, idempotent by scan id ----------------------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.check_in(:'ta', :'qr1', '00000000-0000-4000-8000-000000000001') AS s1 \gset
SELECT api.check_in(:'ta', :'qr1', '00000000-0000-4000-8000-000000000001') AS s1again \gset
SELECT api.check_in(:'tb', :'qr1', '00000000-0000-4000-8000-000000000002') AS s2 \gset
SELECT api.check_in(:'ta', :'qr4', '00000000-0000-4000-8000-000000000003') AS s3 \gset
SELECT api.check_in(:'ta', 'not a code', '00000000-0000-4000-8000-000000000004') AS s4 \gset
SELECT api.check_in(:'ta', repeat('f', 32), '00000000-0000-4000-8000-000000000005') AS s5 \gset
SELECT api.check_in(:'tx', :'qr2', '00000000-0000-4000-8000-000000000006') AS s6 \gset
RESET ROLE;
SELECT is(:'s1'::jsonb ->> 'result', 'admitted', 'the first scan of a code admits');
SELECT is(:'s1'::jsonb -> 'guest' ->> 'firstName', 'João', 'the door sees the first name');
SELECT is(:'s1'::jsonb -> 'guest' ->> 'lastName', 'Gonçalves', 'and the last name');
SELECT is(:'s1'::jsonb -> 'guest' ->> 'promoter', 'Promo', 'and the promoter');
SELECT is(:'s1'::jsonb ->> 'scanId', '00000000-0000-4000-8000-000000000001', 'each answer names its scan');
SELECT is(:'s1again'::jsonb, :'s1'::jsonb, 'the same scan again: exactly the first answer');
SELECT is((SELECT count(*)::int FROM app.door_scans WHERE scan_id = '00000000-0000-4000-8000-000000000001'), 1,
          'and no second log row');
SELECT ok((SELECT checked_in AND status = 'checked_in' FROM app.guests WHERE id = :'id1'),
          'the guest is inside');
SELECT is(:'s2'::jsonb ->> 'result', 'already_in', 'a second scan at another door: already_in');
SELECT is(:'s2'::jsonb -> 'door' ->> 'label', 'Porta A', 'naming the door that admitted');
SELECT is(:'s2'::jsonb -> 'guest' ->> 'checkedInAt', :'s1'::jsonb -> 'guest' ->> 'checkedInAt',
          'and the first check-in time');
SELECT is(:'s3'::jsonb ->> 'result', 'wrong_event', 'another event''s code: wrong_event');
SELECT is(:'s3'::jsonb -> 'event', '{"title": "Outra Noite"}'::jsonb, 'with that event''s title only');
SELECT ok(:'s3'::jsonb -> 'guest' = 'null'::jsonb, 'and nothing about its guest');
SELECT is(:'s4'::jsonb ->> 'result', 'not_found', 'a malformed code: not_found, not an error');
SELECT is(:'s5'::jsonb ->> 'result', 'not_found', 'an unknown code: not_found');
SELECT is(:'s6'::jsonb ->> 'result', 'wrong_event', 'another event''s door gets nothing of this event''s guest');
SELECT ok(:'s6'::jsonb -> 'guest' = 'null'::jsonb, 'not even a name');
SELECT throws_ok(format('SELECT api.check_in(%L, %L, %L)', :'tb', :'qr2', '00000000-0000-4000-8000-000000000001'),
                 'PT409', NULL, 'another door''s scan id is refused, its answer not shown');

-- --- tokens: unknown, revoked, expired ----------------------------------------------------------
SELECT throws_ok(format('SELECT api.check_in(%L, %L, gen_random_uuid())', repeat('x', 43), :'qr2'),
                 'PT401', NULL, 'an unknown token: door_invalid');
SELECT throws_ok(format('SELECT api.door_summary(%L)', 'short'), 'PT401', NULL, 'a malformed one too');
SELECT admin.create_door_link(:'ev', 'Porta C') AS dc \gset
SELECT admin.revoke_door_link((:'dc'::jsonb ->> 'doorId')::uuid) IS NOT NULL AS revoked \gset
SELECT throws_ok(format('SELECT api.door_list(%L)', :'dc'::jsonb ->> 'token'), 'PT401', NULL,
                 'a revoked link gets nothing');
UPDATE app.events SET starts_at = now() - interval '13 hours' WHERE id = :'ev2';
SELECT throws_ok(format('SELECT api.door_summary(%L)', :'tx'), 'PT401', NULL,
                 '12 hours after its event started, a link has expired');
SELECT throws_ok(format('SELECT admin.create_door_link(%L, %L)', :'ev2', 'Tarde'), 'PT409',
                 'Este evento começou há mais de 12 horas: um link da porta já não abriria. Escolhe um evento por vir.',
                 'and no new link is made for it: it would never open');
UPDATE app.events SET starts_at = now() + interval '8 days' WHERE id = :'ev2';

-- --- search: accents, case, prefixes, phone digits; this event only ---------------------------
SET LOCAL ROLE guestlist_web;
SELECT is(api.door_search(:'ta', 'joao') -> 'guests' -> 0 ->> 'id', :'id1', 'joao finds João');
SELECT is(api.door_search(:'ta', 'GONÇ') -> 'guests' -> 0 ->> 'id', :'id1', 'GONÇ finds Gonçalves');
SELECT is(api.door_search(:'ta', 'gonc') -> 'guests' -> 0 ->> 'lastName', 'Gonçalves', 'and so does gonc');
SELECT is(api.door_search(:'ta', 'João Gon') -> 'guests' -> 0 ->> 'id', :'id1', 'the full name''s prefix too');
SELECT is(api.door_search(:'ta', 'elia') -> 'guests' -> 0 ->> 'id', :'id3', 'elia finds Élia');
SELECT is(api.door_search(:'ta', '6311') -> 'guests' -> 0 ->> 'id', :'id2', 'the phone''s last 4 digits');
SELECT is(jsonb_array_length(api.door_search(:'ta', 'oao') -> 'guests'), 0, 'a prefix, not any part');
SELECT is(jsonb_array_length(api.door_search(:'ta', 'rui') -> 'guests'), 0, 'another event''s guest is not found');
SELECT is(jsonb_array_length(api.door_search(:'tx', 'joao') -> 'guests'), 0, 'nor by another event''s door');
SELECT ok((api.door_search(:'ta', 'j') -> 'guests' -> 0 ->> 'checkedIn')::boolean, 'search says who is inside');
SELECT throws_ok(format('SELECT api.door_search(%L, %L)', :'ta', '  '), 'PT400', NULL, 'an empty search is refused');
RESET ROLE;

-- --- manual admission and undo -------------------------------------------------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.door_admit(:'tb', :'id2', '00000000-0000-4000-8000-000000000010') AS m1 \gset
SELECT api.door_admit(:'tb', :'id4', '00000000-0000-4000-8000-000000000011') AS m2 \gset
SELECT api.door_undo(:'ta', :'id2') AS u1 \gset
SELECT api.door_undo(:'ta', :'id2') AS u2 \gset
SELECT api.check_in(:'ta', :'qr2', '00000000-0000-4000-8000-000000000012') AS s7 \gset
RESET ROLE;
SELECT is(:'m1'::jsonb ->> 'result', 'admitted', 'a guest admitted by hand');
SELECT is(:'m2'::jsonb ->> 'result', 'not_found', 'another event''s guest cannot be admitted by hand');
SELECT ok((:'u1'::jsonb ->> 'undone')::boolean, 'a mistaken admission undone');
SELECT ok(NOT (:'u2'::jsonb ->> 'undone')::boolean, 'undoing again changes nothing');
SELECT is((SELECT count(*)::int FROM app.door_undos WHERE guest_id = :'id2'), 1, 'the undo is recorded');
SELECT is((SELECT result FROM app.door_scans WHERE scan_id = '00000000-0000-4000-8000-000000000010'), 'admitted',
          'and the admission stays in the log');
SELECT is(:'s7'::jsonb ->> 'result', 'admitted', 'after an undo the code admits again');
SELECT throws_ok(format('SELECT api.door_undo(%L, %L)', :'ta', :'id4'), 'PT404', NULL,
                 'another event''s guest cannot be undone');

-- --- offline sync: per-scan refusals, scannedAt order, conflicts, replay ------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.door_sync(:'tb', jsonb_build_array(
  jsonb_build_object('scanId', '00000000-0000-4000-8000-000000000020', 'qrCode', :'qr3',
                     'scannedAt', now() - interval '5 minutes'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-000000000021', 'qrCode', :'qr3',
                     'scannedAt', now() - interval '25 hours'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-000000000022', 'qrCode', :'qr3',
                     'scannedAt', now() + interval '1 hour'))) AS b1 \gset
SELECT api.door_sync(:'ta', jsonb_build_array(
  jsonb_build_object('scanId', '00000000-0000-4000-8000-000000000023', 'qrCode', :'qr3',
                     'scannedAt', now() - interval '10 minutes'))) AS b2 \gset
SELECT api.door_sync(:'tb', jsonb_build_array(
  jsonb_build_object('scanId', '00000000-0000-4000-8000-000000000020', 'qrCode', :'qr3',
                     'scannedAt', now() - interval '5 minutes'))) AS b1again \gset
SELECT api.door_summary(:'ta') AS sum_a \gset
SELECT api.door_summary(:'tb') AS sum_b \gset
SELECT api.door_list(:'ta') AS list_a \gset
SELECT api.door_list(:'tx') AS list_x \gset
RESET ROLE;
SELECT is(ARRAY(SELECT r ->> 'result' FROM jsonb_array_elements(:'b1'::jsonb -> 'results') r),
          ARRAY['admitted', 'too_old', 'in_future'], 'one result per scan, in the batch''s order; old and future scans refused alone');
SELECT is(:'b2'::jsonb -> 'results' -> 0 ->> 'result', 'admitted',
          'an earlier offline scan at another door, synced later, is the admission');
SELECT ok((:'b2'::jsonb -> 'results' -> 0 ->> 'conflict')::boolean, 'and a conflict');
SELECT is((SELECT result FROM app.door_scans WHERE scan_id = '00000000-0000-4000-8000-000000000020'), 'already_in',
          'the later scan is now already_in in the log');
SELECT is((SELECT count(*)::int FROM app.door_scans WHERE guest_id = :'id3' AND result = 'admitted'), 1,
          'one admission for the code');
SELECT is(:'b1again'::jsonb -> 'results' -> 0, :'b1'::jsonb -> 'results' -> 0, 'a replayed batch gets its stored answers');
SELECT is((SELECT count(*)::int FROM app.door_conflicts WHERE guest_id = :'id3'), 1, 'one conflict, recorded once');
SELECT is((:'sum_a'::jsonb ->> 'conflicts')::int, 1, 'the conflict is visible to one door');
SELECT is((:'sum_b'::jsonb ->> 'conflicts')::int, 1, 'and to the other');
SELECT is(jsonb_array_length(admin.door_conflicts(:'ev')), 1, 'and to the organizer');
SELECT throws_ok(format('SELECT api.door_sync(%L, %L)', :'ta',
                        (SELECT jsonb_agg(jsonb_build_object('scanId', gen_random_uuid(), 'qrCode', 'x',
                                                             'scannedAt', now()))
                         FROM generate_series(1, 501))), 'PT413', NULL, 'at most 500 scans a batch');
SELECT throws_ok(format('SELECT api.door_sync(%L, %L)', :'ta', '[{"scanId": "x", "qrCode": "y", "scannedAt": "z"}]'),
                 'PT400', NULL, 'a malformed scan is refused, naming it');

-- --- counts and the offline list -----------------------------------------------------------------
SELECT is((:'sum_a'::jsonb ->> 'onList')::int, 3, 'on the list: the event''s three guests');
SELECT is((:'sum_a'::jsonb ->> 'inside')::int, 3, 'all three inside');
SELECT is(:'sum_a'::jsonb -> 'byPromoter' @> '[{"promoter": "Promo", "onList": 1, "inside": 1}]', true,
          'counted by promoter');
SELECT ok(jsonb_array_length(:'sum_a'::jsonb -> 'lastScans') > 0, 'the latest scans');
SELECT is(jsonb_array_length(:'list_a'::jsonb -> 'guests'), 3, 'the list: this event''s guests');
SELECT is(jsonb_array_length(:'list_x'::jsonb -> 'guests'), 1, 'another event''s door gets its own only');
SELECT ok(:'list_a'::jsonb -> 'guests' @> jsonb_build_array(jsonb_build_object(
            'id', :'id1', 'qrHash', encode(sha256(convert_to(:'qr1', 'UTF8')), 'hex'))),
          'codes as their sha256');
SELECT ok(position(:'qr1' IN :'list_a') = 0, 'never the codes themselves');

-- --- an erased guest is neither admitted nor shown -------------------------------------------------
SELECT app._anonymize_guests(ARRAY[:'id1'::uuid]) AS anonymized \gset
SET LOCAL ROLE guestlist_web;
SELECT api.check_in(:'ta', :'qr1', '00000000-0000-4000-8000-000000000030') AS s8 \gset
RESET ROLE;
SELECT is(:'s8'::jsonb ->> 'result', 'not_found', 'an erased guest''s code opens nothing');
SELECT is((SELECT count(*)::int FROM app.door_scans
           WHERE guest_id = :'id1' AND (answer::text LIKE '%João%' OR qr_hash IS NOT NULL)), 0,
          'and the scan log keeps nothing personal of them');

-- --- the door's rate limit ---------------------------------------------------------------------------
SELECT admin.set_setting('rate_limit.door', '1');
SELECT admin.create_door_link(:'ev', 'Porta D') ->> 'token' AS td \gset
SET LOCAL ROLE guestlist_web;
SELECT api.door_summary(:'td') IS NOT NULL AS first_call \gset
SELECT throws_ok(format('SELECT api.door_summary(%L)', :'td'), 'PT429', NULL,
                 'a door over its limit a minute: rate_limited');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
