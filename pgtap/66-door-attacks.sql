-- The door seen by an attacker: a door link of one event (or of another
-- organization) reaching another event's guests through every function;
-- a revoked link replaying its own stored answers; searches made of
-- wildcards, control characters or marks that fold to nothing; sync batches
-- with a scan id twice, 500 scans of one code, scan times at the edges and in
-- other time zones, and a scan id of another door (refused before any guest
-- is locked, naming the scan); undo of a guest never admitted; and what an
-- erased guest leaves for the doors and the organizer.
BEGIN;
SELECT plan(53);
\ir 00-fixture.psql

CREATE FUNCTION pg_temp.detail(p_sql text) RETURNS jsonb LANGUAGE plpgsql AS $f$
DECLARE v_detail text;
BEGIN
  EXECUTE p_sql;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
  RETURN v_detail::jsonb;
END
$f$;

-- event ev (org): guests João and Ana; event ev2 (same org): Rui; event evx (another org): Eva
SELECT api.register_and_create_guest_v2('+351935887310', 'João', 'Gonçalves', 'joao@example.pt',
                                        'Segredo123', :'ev', :'pr') AS g1 \gset
SELECT api.register_and_create_guest_v2('+351935887311', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') AS g2 \gset
SELECT admin.create_event(:'org', 'Outra Noite', 'outra-noite-x', now() + interval '8 days') AS ev2 \gset
SELECT api.register_and_create_guest_v2('+351935887312', 'Rui', 'Costa', 'rui@example.pt',
                                        'Segredo123', :'ev2') AS g3 \gset
SELECT admin.create_event(:'other_org', 'Festa Alheia', 'festa-alheia', now() + interval '3 days') AS evx \gset
SELECT api.register_and_create_guest_v2('+351935887313', 'Eva', 'Lopes', 'eva@example.pt',
                                        'Segredo123', :'evx') AS g4 \gset
SELECT :'g1'::jsonb ->> 'qr_code' AS qr1, :'g1'::jsonb ->> 'guest_id' AS id1,
       :'g2'::jsonb ->> 'qr_code' AS qr2, :'g2'::jsonb ->> 'guest_id' AS id2,
       :'g3'::jsonb ->> 'qr_code' AS qr3, :'g3'::jsonb ->> 'guest_id' AS id3,
       :'g4'::jsonb ->> 'qr_code' AS qr4, :'g4'::jsonb ->> 'guest_id' AS id4 \gset
SELECT admin.create_door_link(:'ev', 'Porta A') ->> 'token' AS ta,
       admin.create_door_link(:'ev', 'Porta B') ->> 'token' AS tb,
       admin.create_door_link(:'evx', 'Porta Alheia') ->> 'token' AS tx \gset

-- --- another organization's door reaches none of this event's guests ------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.check_in(:'ta', :'qr1', '00000000-0000-4000-8000-0000000000b1') AS a_in \gset
SELECT api.check_in(:'tx', :'qr2', '00000000-0000-4000-8000-0000000000b2') AS x_scan \gset
SELECT api.door_admit(:'tx', :'id2', '00000000-0000-4000-8000-0000000000b3') AS x_admit \gset
SELECT api.door_sync(:'tx', jsonb_build_array(jsonb_build_object(
  'scanId', '00000000-0000-4000-8000-0000000000b4', 'qrCode', :'qr2',
  'scannedAt', now() - interval '1 minute'))) AS x_sync \gset
SELECT api.door_summary(:'tx') AS x_sum \gset
SELECT api.door_list(:'tx') AS x_list \gset
SELECT api.check_in(:'ta', :'qr4', '00000000-0000-4000-8000-0000000000b5') AS a_alien \gset
SELECT api.check_in(:'ta', :'qr3', '00000000-0000-4000-8000-0000000000b6') AS a_sibling \gset
RESET ROLE;
SELECT is(:'x_scan'::jsonb ->> 'result', 'wrong_event', 'another organization''s door: a real code is wrong_event');
SELECT ok(:'x_scan'::jsonb -> 'event' = '{"title": null}'::jsonb AND :'x_scan'::jsonb -> 'guest' = 'null'::jsonb,
          'with neither the event''s title nor its guest');
SELECT is(:'x_admit'::jsonb ->> 'result', 'not_found', 'by hand: not_found');
SELECT ok(:'x_admit'::jsonb -> 'guest' = 'null'::jsonb, 'and no name');
SELECT is(:'x_sync'::jsonb -> 'results' -> 0 ->> 'result', 'wrong_event', 'offline: wrong_event');
SELECT ok(NOT (SELECT checked_in FROM app.guests WHERE id = :'id2'), 'and the guest is not let in');
SELECT throws_ok(format('SELECT api.door_undo(%L, %L)', :'tx', :'id1'), 'PT404', NULL,
                 'nor can it undo this event''s admission');
SELECT ok((SELECT checked_in FROM app.guests WHERE id = :'id1'), 'which stands');
SELECT is(jsonb_array_length(api.door_search(:'tx', 'jo') -> 'guests')
          + jsonb_array_length(api.door_search(:'tx', '7310') -> 'guests'), 0,
          'nor find them by name or phone digits');
SELECT ok((:'x_sum'::jsonb ->> 'onList')::int = 1 AND (:'x_sum'::jsonb ->> 'inside')::int = 0
          AND position(:'id1' IN :'x_sum') = 0
          AND position('Gonçalves' IN :'x_sum') = 0,
          'its counts and latest scans are its own event''s only');
SELECT ok(position(:'id1' IN :'x_list') = 0 AND position(:'id2' IN :'x_list') = 0
          AND jsonb_array_length(:'x_list'::jsonb -> 'guests') = 1, 'its list too');
SELECT is(:'a_alien'::jsonb -> 'event', '{"title": null}'::jsonb,
          'the other way round: another organization''s event stays unnamed');
SELECT is(:'a_sibling'::jsonb -> 'event', '{"title": "Outra Noite"}'::jsonb,
          'the organization''s own other event is named, nothing more');
SELECT ok(:'a_sibling'::jsonb -> 'guest' = 'null'::jsonb
          AND (SELECT guest_id IS NULL FROM app.door_scans WHERE scan_id = '00000000-0000-4000-8000-0000000000b6'),
          'its guest is neither answered nor logged against this door');
SELECT ok(position(:'qr1' IN (SELECT string_agg(answer::text, '') FROM app.door_scans)) = 0
          AND NOT EXISTS (SELECT 1 FROM app.door_scans WHERE answer::text ~ '[0-9a-f]{32}"'),
          'no stored answer holds a code');

-- --- scan ids: another door's is refused; a revoked link replays nothing ---------------------
SELECT is(pg_temp.detail(format('SET LOCAL ROLE guestlist_web; SELECT api.check_in(%L, %L, %L)', :'tx', :'qr4',
                                '00000000-0000-4000-8000-0000000000b1')) ->> 'code', 'scan_id_taken',
          'another organization''s door reusing a scan id: scan_id_taken');
RESET ROLE;
SELECT ok(NOT (SELECT checked_in FROM app.guests WHERE id = :'id4'), 'and nothing judged');
SELECT admin.create_door_link(:'ev', 'Porta Revogada') AS dr \gset
SELECT :'dr'::jsonb ->> 'token' AS tr \gset
SET LOCAL ROLE guestlist_web;
SELECT api.check_in(:'tr', 'nada', '00000000-0000-4000-8000-0000000000c1') ->> 'result' AS r_first \gset
RESET ROLE;
SELECT admin.revoke_door_link((:'dr'::jsonb ->> 'doorId')::uuid) IS NOT NULL AS revoked \gset
SELECT throws_ok(format('SET LOCAL ROLE guestlist_web; SELECT api.check_in(%L, %L, %L)', :'tr', 'nada',
                        '00000000-0000-4000-8000-0000000000c1'), 'PT401', NULL,
                 'a revoked link gets no stored answer back, not even its own');
RESET ROLE;
SELECT throws_ok(format('SET LOCAL ROLE guestlist_web; SELECT api.door_sync(%L, %L)', :'tr',
                        jsonb_build_array(jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000c1',
                          'qrCode', 'nada', 'scannedAt', now()))), 'PT401', NULL, 'nor through a sync');
RESET ROLE;
SELECT ok(position(:'tr' IN (SELECT string_agg(d::text, '') FROM app.door_links d)) = 0,
          'the token is nowhere in the database');

-- --- search: wildcards and patterns are text, blanks that fold to nothing are refused --------
SET LOCAL ROLE guestlist_web;
SELECT is(jsonb_array_length(api.door_search(:'ta', '%') -> 'guests'), 0, 'a % is a character, not a wildcard');
SELECT is(jsonb_array_length(api.door_search(:'ta', '_') -> 'guests'), 0, 'nor is _');
SELECT is(jsonb_array_length(api.door_search(:'ta', 'j%') -> 'guests'), 0, 'j% finds no João');
SELECT is(jsonb_array_length(api.door_search(:'ta', '.*') -> 'guests'), 0, 'a regular expression is text too');
SELECT is(jsonb_array_length(api.door_search(:'ta', '[a-z]') -> 'guests'), 0, 'brackets too');
SELECT is(jsonb_array_length(api.door_search(:'ta', '7\d{3}') -> 'guests'), 0, 'and the phone branch takes digits only');
SELECT throws_ok(format('SELECT api.door_search(%L, %L)', :'ta', E'\t'), 'PT400', NULL,
                 'a tab alone is an empty search, refused');
SELECT throws_ok(format('SELECT api.door_search(%L, %L)', :'ta', E' \n \r '), 'PT400', NULL,
                 'as are line breaks');
SELECT throws_ok(format('SELECT api.door_search(%L, %L)', :'ta', U&'\0301\0301'), 'PT400', NULL,
                 'and marks that fold to nothing, which would list the event from its start');
SELECT is(api.door_search(:'ta', E'\tjoão') -> 'guests' -> 0 ->> 'id', :'id1',
          'a tab before a name is a blank like a space');
SELECT is(api.door_search(:'ta', E'joão\t gon') -> 'guests' -> 0 ->> 'id', :'id1',
          'and between the names');
SELECT throws_ok(format('SELECT api.door_search(%L, %L)', :'ta', repeat('a', 81)), 'PT400', NULL,
                 'at most 80 characters');
RESET ROLE;

-- --- sync: a scan id twice, one code 500 times, the edges of time ----------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.door_sync(:'tb', jsonb_build_array(
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000d1', 'qrCode', :'qr2',
                     'scannedAt', now() - interval '3 minutes'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000d1', 'qrCode', :'qr2',
                     'scannedAt', now() - interval '3 minutes'))) AS dup \gset
SELECT api.door_sync(:'ta', (SELECT jsonb_agg(jsonb_build_object(
  'scanId', format('00000000-0000-4000-9000-%s', lpad(i::text, 12, '0')), 'qrCode', :'qr2',
  'scannedAt', now() - interval '2 minutes' + i * interval '1 millisecond') ORDER BY i)
  FROM generate_series(1, 500) i)) AS five_hundred \gset
SELECT api.door_sync(:'tb', jsonb_build_array(
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000e1', 'qrCode', 'x',
                     'scannedAt', now() - interval '24 hours'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000e2', 'qrCode', 'x',
                     'scannedAt', now() - interval '24 hours 1 microsecond'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000e3', 'qrCode', 'x',
                     'scannedAt', now() + interval '2 minutes'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000e4', 'qrCode', 'x',
                     'scannedAt', now() + interval '2 minutes 1 microsecond'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000e5', 'qrCode', 'x',
                     'scannedAt', 'infinity'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000e6', 'qrCode', 'x',
                     'scannedAt', '-infinity'),
  jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000e7', 'qrCode', 'x',
                     'scannedAt', to_char(now() AT TIME ZONE INTERVAL '-14:00', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '-14:00')
)) AS edges \gset
RESET ROLE;
SELECT is(jsonb_array_length(:'dup'::jsonb -> 'results'), 2, 'a scan id twice in one batch: two answers');
SELECT is(:'dup'::jsonb -> 'results' -> 0, :'dup'::jsonb -> 'results' -> 1, 'the same one');
SELECT is((SELECT count(*)::int FROM app.door_scans WHERE scan_id = '00000000-0000-4000-8000-0000000000d1'), 1,
          'and one log row');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(:'five_hundred'::jsonb -> 'results') r
           WHERE r ->> 'result' = 'already_in'), 500,
          '500 later scans of a code admitted earlier at another door: 500 already_in');
SELECT is((SELECT count(*)::int FROM app.door_scans WHERE guest_id = :'id2' AND result = 'admitted'), 1,
          'one admission');
SELECT is((SELECT checked_in_scan_id FROM app.guests WHERE id = :'id2'), '00000000-0000-4000-8000-0000000000d1'::uuid,
          'the earliest scan''s');
SELECT is((SELECT count(*)::int FROM app.door_conflicts WHERE guest_id = :'id2'), 1,
          'one conflict: the door''s first scan; its 499 rescans knew the guest was in');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(:'five_hundred'::jsonb -> 'results') r
           WHERE (r ->> 'conflict')::boolean), 1, 'and one answer says so');
SELECT is(ARRAY(SELECT r ->> 'result' FROM jsonb_array_elements(:'edges'::jsonb -> 'results') r),
          ARRAY['not_found', 'too_old', 'not_found', 'in_future', 'in_future', 'too_old', 'not_found'],
          'exactly 24 hours old and exactly 2 minutes ahead are judged, a microsecond past either is refused, '
          'infinities too, and an offset of -14:00 is the same instant');
SELECT is((:'edges'::jsonb -> 'results' -> 6 ->> 'scannedAt')::timestamptz, now(), 'the instant, time zone aside');

-- --- a scan id of another door inside a batch: refused before anything is judged -------------
SELECT is(pg_temp.detail(format('SET LOCAL ROLE guestlist_web; SELECT api.door_sync(%L, %L)', :'tb',
            jsonb_build_array(
              jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000f1', 'qrCode', :'qr1',
                                 'scannedAt', now() - interval '30 minutes'),
              jsonb_build_object('scanId', '00000000-0000-4000-8000-0000000000b1', 'qrCode', :'qr1',
                                 'scannedAt', now())))) #>> '{errors,0,field}',
          'scans[1].scanId', 'the refusal names the batch''s scan whose id another door holds');
RESET ROLE;
SELECT is((SELECT checked_in_scan_id FROM app.guests WHERE id = :'id1'), '00000000-0000-4000-8000-0000000000b1'::uuid,
          'and nothing of the batch was judged');

-- --- undo: of a guest never admitted, by a live door of the event ------------------------------
SELECT api.register_and_create_guest_v2('+351935887314', 'Rita', 'Nunes', 'rita@example.pt',
                                        'Segredo123', :'ev') ->> 'guest_id' AS id5 \gset
SET LOCAL ROLE guestlist_web;
SELECT api.door_undo(:'ta', :'id5') AS u_never \gset
RESET ROLE;
SELECT ok(NOT (:'u_never'::jsonb ->> 'undone')::boolean, 'undoing a guest never admitted: undone false');
SELECT is((SELECT count(*)::int FROM app.door_undos WHERE guest_id = :'id5'), 0, 'and nothing recorded');
SELECT ok((SELECT status = 'pending' AND NOT checked_in AND checked_in_at IS NULL FROM app.guests WHERE id = :'id5'),
          'the guest unchanged');

-- --- an erased guest: nothing for the doors, nothing for the organizer ------------------------
-- João's admission (Porta A) taken over by an earlier offline scan at Porta B: a conflict
SET LOCAL ROLE guestlist_web;
SELECT api.door_sync(:'tb', jsonb_build_array(jsonb_build_object(
  'scanId', '00000000-0000-4000-8000-0000000000f2', 'qrCode', :'qr1',
  'scannedAt', now() - interval '40 minutes'))) ->> 'results' AS took_over \gset
RESET ROLE;
SELECT is((SELECT count(*)::int FROM app.door_conflicts WHERE guest_id = :'id1'), 1, 'a conflict on João');
SELECT app._anonymize_guests(ARRAY[:'id1'::uuid]) AS anonymized \gset
SET LOCAL ROLE guestlist_web;
SELECT api.door_summary(:'ta') AS sum_after \gset
SELECT api.door_list(:'ta') AS list_after \gset
SELECT api.door_search(:'ta', '7310') AS phone_after \gset
SELECT api.door_search(:'ta', 'gon') AS name_after \gset
RESET ROLE;
SELECT ok(position('Gonçalves' IN :'sum_after') = 0 AND position('João' IN :'sum_after') = 0,
          'the doors'' counts, conflicts and latest scans lose the name');
SELECT ok(position('Gonçalves' IN admin.door_conflicts(:'ev')::text) = 0, 'so does the organizer''s conflict list');
SELECT is((:'sum_after'::jsonb ->> 'conflicts')::int, 2, 'the conflicts are still counted (João''s and Ana''s)');
SELECT ok(position(:'id1' IN :'list_after') = 0, 'the list drops the guest');
SELECT is(jsonb_array_length(:'phone_after'::jsonb -> 'guests') + jsonb_array_length(:'name_after'::jsonb -> 'guests'),
          0, 'and no search finds them, by name or phone digits');

SELECT * FROM finish();
ROLLBACK;
