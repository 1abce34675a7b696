-- The door's age flag: when the event has a minimum age, every guest the
-- door is shown (check_in, door_sync, door_search, door_admit, door_list)
-- carries ageOk, worked out at the event's start (Lisbon's date) like
-- registration's too_young: true old enough, false under age, NULL no birth
-- date known; an event without one answers true. The birth date itself never
-- reaches the door.
BEGIN;
SELECT plan(17);
\ir 00-fixture.psql

-- guests registered before the event had an age limit (registration would refuse the under-aged)
SELECT (starts_at AT TIME ZONE 'Europe/Lisbon')::date AS day FROM app.events WHERE id = :'ev' \gset
SELECT api.register_and_create_guest_v2('+351936000001', 'Adulta', 'Dezoito', 'a18@example.pt',
  'Segredo123', :'ev', :'pr', p_birth_date => (:'day'::date - interval '18 years')::date) AS ga \gset
SELECT api.register_and_create_guest_v2('+351936000002', 'Menor', 'Quase', 'm17@example.pt',
  'Segredo123', :'ev', :'pr', p_birth_date => (:'day'::date - interval '18 years' + interval '1 day')::date) AS gm \gset
SELECT api.register_and_create_guest_v2('+351936000003', 'Sem', 'Data', 'sd@example.pt',
  'Segredo123', :'ev', :'pr') AS gn \gset
SELECT :'ga'::jsonb ->> 'qr_code' AS qa, :'gm'::jsonb ->> 'qr_code' AS qm,
       :'gn'::jsonb ->> 'qr_code' AS qn, :'gm'::jsonb ->> 'guest_id' AS idm,
       :'gn'::jsonb ->> 'guest_id' AS idn \gset
SELECT admin.create_door_link(:'ev', 'Porta') ->> 'token' AS tok \gset

SET LOCAL ROLE guestlist_web;
SELECT api.check_in(:'tok', :'qa', '00000000-0000-4000-8000-0000000000a0') AS before \gset
RESET ROLE;
SELECT is((:'before'::jsonb -> 'guest' ->> 'ageOk')::boolean, true,
          'an event without a minimum age: every guest is ageOk');
UPDATE app.events SET min_age = 18 WHERE id = :'ev';
SELECT api.door_undo(:'tok', (:'ga'::jsonb ->> 'guest_id')::uuid) IS NOT NULL AS undone \gset

SET LOCAL ROLE guestlist_web;
SELECT api.check_in(:'tok', :'qa', '00000000-0000-4000-8000-0000000000a1') AS ca \gset
SELECT api.check_in(:'tok', :'qm', '00000000-0000-4000-8000-0000000000a2') AS cm \gset
SELECT api.door_sync(:'tok', jsonb_build_array(jsonb_build_object(
  'scanId', '00000000-0000-4000-8000-0000000000a3', 'qrCode', :'qn',
  'scannedAt', now() - interval '1 minute'))) AS sn \gset
SELECT api.door_search(:'tok', 'menor') AS sm \gset
SELECT api.door_list(:'tok') AS list \gset
SELECT api.door_summary(:'tok') AS summary \gset
SELECT api.door_undo(:'tok', :'idm') IS NOT NULL AS undone \gset
SELECT api.door_admit(:'tok', :'idm', '00000000-0000-4000-8000-0000000000a4') AS am \gset
RESET ROLE;
SELECT is(:'ca'::jsonb ->> 'result', 'admitted', 'the 18-year-old (on the event''s day) is admitted');
SELECT is((:'ca'::jsonb -> 'guest' ->> 'ageOk')::boolean, true, 'ageOk: true');
SELECT is(:'cm'::jsonb ->> 'result', 'admitted', 'the one who turns 18 a day later is admitted too: the door decides');
SELECT is((:'cm'::jsonb -> 'guest' ->> 'ageOk')::boolean, false, 'but flagged ageOk: false');
SELECT is(:'sn'::jsonb -> 'results' -> 0 ->> 'result', 'admitted', 'a synced scan of a guest without a birth date admits');
SELECT ok(:'sn'::jsonb -> 'results' -> 0 -> 'guest' ? 'ageOk'
          AND jsonb_typeof(:'sn'::jsonb -> 'results' -> 0 -> 'guest' -> 'ageOk') = 'null',
          'flagged ageOk: null (no birth date known)');
SELECT is((:'sm'::jsonb -> 'guests' -> 0 ->> 'ageOk')::boolean, false, 'the search shows the flag');
SELECT is((:'am'::jsonb -> 'guest' ->> 'ageOk')::boolean, false, 'and so does a manual admission');
SELECT is((SELECT g ->> 'ageOk' FROM jsonb_array_elements(:'list'::jsonb -> 'guests') g
           WHERE g ->> 'id' = :'ga'::jsonb ->> 'guest_id'), 'true', 'the offline list: true');
SELECT is((SELECT g ->> 'ageOk' FROM jsonb_array_elements(:'list'::jsonb -> 'guests') g
           WHERE g ->> 'id' = :'idm'), 'false', 'false');
SELECT is((SELECT jsonb_typeof(g -> 'ageOk') FROM jsonb_array_elements(:'list'::jsonb -> 'guests') g
           WHERE g ->> 'id' = :'idn'), 'null', 'and null, one for each guest');
SELECT is((:'list'::jsonb -> 'event' ->> 'minAge')::int, 18, 'the list names the event''s minimum age');
SELECT is((:'summary'::jsonb -> 'event' ->> 'minAge')::int, 18, 'and so does the summary');
SELECT ok(position((:'day'::date - interval '18 years')::date::text IN
                   concat(:'ca', :'cm', :'sn', :'sm', :'list', :'summary', :'am')) = 0
          AND position('birth' IN concat(:'ca', :'cm', :'sn', :'sm', :'list', :'summary', :'am')) = 0,
          'no birth date reaches the door');
SELECT is((SELECT answer -> 'guest' ->> 'ageOk' FROM app.door_scans
           WHERE scan_id = '00000000-0000-4000-8000-0000000000a2'), 'false',
          'a replayed scan gets the flag it was given');
SELECT is(app._door_age_ok((SELECT e FROM app.events e WHERE e.id = :'ev'), NULL), NULL,
          'app._door_age_ok: unknown without a birth date');

SELECT * FROM finish();
ROLLBACK;
