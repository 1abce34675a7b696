-- The operators' console functions (`guestlist admin …`): an event with a
-- minimum age, a promoter in a team in one call, the export's rows; only
-- guestlist_admin may call them.
BEGIN;
SELECT plan(14);
\ir 00-fixture.psql

SELECT function_returns('admin', 'create_console_event',
                        ARRAY['uuid', 'text', 'text', 'timestamp with time zone', 'text', 'integer',
                              'timestamp with time zone', 'integer'], 'uuid',
                        'admin.create_console_event returns the id');
SELECT function_returns('admin', 'create_team_promoter', ARRAY['uuid', 'text', 'text', 'text'],
                        'jsonb', 'admin.create_team_promoter returns jsonb');
SELECT ok(has_function_privilege('guestlist_admin', 'admin.export_rows(uuid)', 'EXECUTE')
          AND has_function_privilege('guestlist_admin', 'admin.create_team_promoter(uuid, text, text, text)', 'EXECUTE'),
          'the admin role may call them');
SELECT ok(NOT has_function_privilege('guestlist_web', 'admin.export_rows(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web', 'admin.create_team_promoter(uuid, text, text, text)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web',
                'admin.create_console_event(uuid, text, text, timestamptz, text, integer, timestamptz, integer)',
                'EXECUTE'),
          'the web role may not');

SELECT admin.create_organization('Org Admin', 'org-admin-cli') AS org \gset
SELECT admin.create_console_event(:'org', 'Noite', 'noite-cli', now() + interval '3 days',
                                  'Faro', 200, NULL, 18) AS ev \gset
SELECT is((SELECT min_age FROM app.events WHERE id = :'ev'), 18, 'the minimum age is set');
SELECT is((SELECT guest_capacity FROM app.events WHERE id = :'ev'), 200, 'with the capacity');
SELECT throws_ok(format('SELECT admin.create_console_event(%L, ''X'', ''x-cli'', now(), NULL, NULL, NULL, 0)', :'org'),
                 'PT400', NULL, 'an age of 0 is refused');
SELECT throws_ok($$SELECT admin.create_console_event(gen_random_uuid(), 'X', 'y-cli', now())$$,
                 'PT404', NULL, 'an unknown organization is refused');

SELECT admin.create_team_promoter(:'org', 'ana-cli', 'Ana', 'Sul') AS a \gset
SELECT admin.create_team_promoter(:'org', 'rui-cli', 'Rui', ' Sul ') AS b \gset
SELECT is((:'a'::jsonb) ->> 'teamId', (:'b'::jsonb) ->> 'teamId', 'the team is found again by name');
SELECT is((SELECT count(*)::integer FROM app.team_members WHERE team_id = ((:'a'::jsonb) ->> 'teamId')::uuid),
          2, 'both promoters are in it');
SELECT throws_ok(format('SELECT admin.create_team_promoter(%L, ''ana-cli'', ''Outra'', ''Sul'')', :'org'),
                 'PT409', NULL, 'a taken slug is refused');

INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
VALUES ('+351910009901', 'Zé', 'Brás', 'ze@cli.pt', '$2a$10$' || repeat('a', 53));
INSERT INTO app.guests (event_id, client_user_id, promoter_id, name, phone, qr_code)
SELECT :'ev', id, ((:'a'::jsonb) ->> 'promoterId')::uuid, 'Zé Brás', phone, md5('cli')
FROM app.client_users WHERE phone = '+351910009901';
SELECT results_eq(format('SELECT name, phone, promoter, status FROM admin.export_rows(%L)', :'ev'),
                  $$VALUES ('Zé Brás', '+351910009901', 'Ana', 'pending')$$,
                  'the export names the guest, phone, promoter and status');
SELECT throws_ok($$SELECT * FROM admin.export_rows(gen_random_uuid())$$, 'PT404', NULL,
                 'an unknown event is refused');
SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format('SELECT * FROM admin.export_rows(%L)', :'ev'), '42501', NULL,
                 'the web role cannot export');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
