-- Guest creation respects the event: active, open, not full, and a
-- promoter and team that work for its organization.
BEGIN;
SELECT plan(17);
\ir 00-fixture.psql

SELECT admin.create_event(:'org', 'Pequena', 'pequena', now() + interval '1 day', NULL, 1) AS small \gset
SELECT admin.create_event(:'org', 'Fechada', 'fechada', now() + interval '1 day', NULL, NULL,
                          now() - interval '1 minute') AS closed \gset
SELECT admin.create_event(:'org', 'Inativa', 'inativa', now() + interval '1 day') AS inactive \gset
UPDATE app.events SET is_active = false WHERE id = :'inactive';
SELECT admin.create_promoter('outro', 'Outro') AS stranger \gset

SELECT is(api.register_and_create_guest_v2('+351910000001', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'small') ->> 'success', 'true', 'the first place of a capacity-1 list');
SELECT is(api.register_and_create_guest_v2('+351910000002', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'small') ->> 'code', 'guest_list_full', 'the second is refused: full');
SELECT is(api.authenticate_and_create_guest_v2('+351910000001', 'Segredo123', :'small') ->> 'success',
          'true', 'a guest already on a full list recovers their place');
SELECT is((SELECT guest_count FROM app.events WHERE id = :'small'), 1, 'the count is kept');
SELECT is(api.register_and_create_guest_v2('+351910000003', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'closed') ->> 'code', 'guest_list_closed', 'past closing time: closed');
SELECT is(api.authenticate_and_create_guest_v2('+351910000001', 'Segredo123', :'closed') ->> 'code',
          'guest_list_closed', 'a login cannot join a closed list');
SELECT is(api.register_and_create_guest_v2('+351910000004', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'inactive') ->> 'code', 'event_not_found', 'an inactive event is not found');
SELECT is(api.authenticate_and_create_guest_v2('+351910000001', 'Segredo123', :'inactive') ->> 'code',
          'event_not_found', 'nor for a login');
SELECT is(api.register_and_create_guest_v2('+351910000005', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'ev', :'stranger') ->> 'code', 'promoter_not_found',
          'a promoter in no team of the organization is refused');
SELECT is(api.register_and_create_guest_v2('+351910000005', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'ev', NULL, :'other_tm') ->> 'code', 'promoter_not_found',
          'a team of another organization is refused');
SELECT is(api.register_and_create_guest_v2('+351910000005', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'ev', gen_random_uuid()) ->> 'code', 'promoter_not_found', 'an unknown promoter is refused');
SELECT is(api.register_and_create_guest_v2('+351910000005', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'ev', :'pr') ->> 'success', 'true', 'the promoter alone is enough');
SELECT is((SELECT team_id FROM app.guests g JOIN app.client_users cu ON cu.id = g.client_user_id
           WHERE cu.phone = '+351910000005'), :'tm'::uuid, 'and their team is filled in');
SELECT throws_ok(format($$INSERT INTO app.guests (event_id, client_user_id, name, phone, qr_code)
  SELECT %L, id, 'x', phone, encode(public.gen_random_bytes(16), 'hex') FROM app.client_users
  WHERE phone = '+351910000005'$$, :'small'), 'PT409', NULL,
  'capacity holds for any insert, not only through the api');
SELECT throws_ok($$INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
  VALUES ('935886310', 'A', 'B', 'a@b.pt', public.crypt('x', public.gen_salt('bf', 4)))$$, '23514',
  NULL, 'a phone not in E.164 cannot be stored');
SELECT throws_ok($$INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
  VALUES ('+351935886399', 'A', 'B', 'a@b.pt', 'plaintext')$$, '23514',
  NULL, 'a password that is not a bcrypt hash cannot be stored');
SELECT throws_ok($$UPDATE app.guests SET qr_code = 'abc'$$, '23514', NULL,
  'a guessable qr_code cannot be stored');

SELECT * FROM finish();
ROLLBACK;
