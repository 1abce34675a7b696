-- api.guest_logout: the session ends server-side; idempotent; the web role
-- may call it and still touches no table.
BEGIN;
SELECT plan(9);
\ir 00-fixture.psql

SELECT has_function('api', 'guest_logout', ARRAY['text'], 'api.guest_logout(text) exists');
SELECT ok(has_function_privilege('guestlist_web', 'api.guest_logout(text)', 'EXECUTE'),
          'the web role may call it');

SELECT api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') AS reg \gset
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev') AS other \gset
SELECT is(api.session_guest(:'reg'::jsonb ->> 'session_token', :'ev') ->> 'qr_code',
          :'reg'::jsonb ->> 'qr_code', 'the session works before logout');

SET LOCAL ROLE guestlist_web;
SELECT is(api.guest_logout(:'reg'::jsonb ->> 'session_token'), true, 'logout ends the session');
SELECT is(api.guest_logout(:'reg'::jsonb ->> 'session_token'), false,
          'a second logout ends nothing and is no error');
SELECT throws_ok(format('SELECT api.session_guest(%L, %L)', :'reg'::jsonb ->> 'session_token', :'ev'),
                 'PT401', NULL, 'the token no longer opens anything');
RESET ROLE;

SELECT is(api.session_guest(:'other'::jsonb ->> 'session_token', :'ev') ->> 'qr_code',
          :'reg'::jsonb ->> 'qr_code', 'the same guest''s other device keeps its session');
SELECT is(api.guest_logout(NULL), false, 'no token: nothing to end');
SELECT is(api.guest_logout('not-a-token'), false, 'a malformed token: nothing to end');

SELECT * FROM finish();
ROLLBACK;
