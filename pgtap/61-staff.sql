-- Staff accounts: invites (single use, 72 h, hashed), accepting one, login
-- (unknown email and wrong password alike, lockout), sessions (12 h,
-- logout, logout everywhere), who am I; structure and privileges.
BEGIN;
SELECT plan(48);
\ir 00-fixture.psql

-- --- structure and privileges --------------------------------------------------------------
SELECT has_table('app', t, 'app.' || t || ' exists') FROM unnest(ARRAY[
  'staff_accounts', 'staff_memberships', 'staff_invites', 'staff_sessions',
  'event_promoter_quotas']) t;
SELECT has_role('guestlist_console');
SELECT is((SELECT rolcanlogin OR rolbypassrls OR rolsuper FROM pg_roles
           WHERE rolname = 'guestlist_console'), false,
          'the console role cannot log in and does not bypass row-level security');
SELECT function_returns('admin', 'create_organization', ARRAY['text', 'text', 'text'], 'jsonb',
                        'admin.create_organization with an owner returns the invite');
SELECT function_returns('admin', 'create_organization', ARRAY['text', 'text'], 'uuid',
                        'the two-argument form still returns the id');
SELECT function_returns('admin', 'invite_member', ARRAY['uuid', 'text', 'text', 'uuid'], 'jsonb');
SELECT function_returns('api', 'accept_invite', ARRAY['text', 'text', 'text', 'text'], 'jsonb');
SELECT function_returns('api', 'staff_login', ARRAY['text', 'text', 'text'], 'jsonb');
SELECT ok(has_function_privilege('guestlist_web', f, 'EXECUTE'), f || ' is the web role''s')
FROM unnest(ARRAY['api.accept_invite(text, text, text, text)', 'api.staff_login(text, text, text)',
                  'api.staff_logout(text)', 'api.staff_logout_everywhere(text)',
                  'api.staff_me(text)']) f;
SELECT ok(NOT has_function_privilege('guestlist_web', f, 'EXECUTE'), f || ' is not the web role''s')
FROM unnest(ARRAY['admin.invite_member(uuid, text, text, uuid)', 'app._console_begin(text)',
                  'app._console_ids(text)', 'app._create_invite(uuid, text, text, uuid, uuid)']) f;

-- --- invites ---------------------------------------------------------------------------------
SELECT admin.create_organization('Org Staff', 'org-staff', '  Dona@Example.PT ') AS made \gset
SELECT (:'made'::jsonb ->> 'organizationId') AS sorg, (:'made'::jsonb ->> 'inviteToken') AS inv \gset
SELECT ok(:'inv' ~ '^[0-9a-f]{64}$', 'the invite token is 64 hex');
SELECT is((SELECT count(*)::int FROM app.staff_invites
           WHERE token_hash = sha256(decode(:'inv', 'hex')) AND email = 'dona@example.pt'
             AND role = 'owner' AND expires_at BETWEEN now() + interval '71 hours 59 minutes'
                                                    AND now() + interval '72 hours'),
          1, 'only the token''s sha256 is kept, with the email lowercased, for 72 hours');
SELECT throws_ok(format($$SELECT admin.invite_member(%L, 'x@example.pt', 'promoter')$$, :'sorg'),
                 'PT400', NULL, 'a promoter invite needs the promoter');
SELECT throws_ok(format($$SELECT admin.invite_member(%L, 'x@example.pt', 'promoter', %L)$$,
                        :'sorg', :'pr'),
                 'PT404', NULL, 'a promoter of another organization is not there');
SELECT throws_ok(format($$SELECT admin.invite_member(%L, 'not-an-email', 'manager')$$, :'sorg'),
                 'PT400', NULL, 'a bad email is refused');

SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format($$SELECT api.accept_invite(%L, 'fraca', 'Dona')$$, :'inv'), 'PT400', NULL,
                 'a new account needs a strong password');
SELECT api.accept_invite(:'inv', 'Segredo123', 'Dona') AS sess \gset
SELECT ok((:'sess'::jsonb ->> 'sessionToken') ~ '^[0-9a-f]{64}$'
          AND (:'sess'::jsonb ->> 'expiresAt')::timestamptz = now() + interval '12 hours',
          'accepting opens a 12-hour session');
SELECT throws_ok(format($$SELECT api.accept_invite(%L, 'Segredo123', 'Dona')$$, :'inv'), 'PT404',
                 NULL, 'an invite opens nothing twice');
SELECT throws_ok($$SELECT api.accept_invite(repeat('a', 64), 'Segredo123', 'X')$$, 'PT404', NULL,
                 'an unknown invite is invalid');
RESET ROLE;
-- an existing account accepting a second invite must give its own password
SELECT admin.invite_member(:'sorg', 'dona@example.pt', 'manager') ->> 'inviteToken' AS inv2 \gset
SET LOCAL ROLE guestlist_web;
SELECT is(api.accept_invite(:'inv2', 'Outra123', 'X') ->> 'code', 'invalid_credentials',
          'an invite never sets an existing account''s password');
RESET ROLE;
SELECT is((SELECT failures FROM app.login_failures
           WHERE phone_hash = app._staff_lockout_hash('dona@example.pt')), 1,
          'and a wrong one counts as a failed login of the email');
DELETE FROM app.login_failures;
DELETE FROM app.login_client_failures;
SELECT is((SELECT role FROM app.staff_memberships m JOIN app.staff_accounts a ON a.id = m.staff_id
           WHERE a.email = 'dona@example.pt'), 'owner', 'so the role did not change');
UPDATE app.staff_invites SET expires_at = now() - interval '1 second', created_at = now() - interval '3 days'
WHERE token_hash = sha256(decode(:'inv2', 'hex'));
SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format($$SELECT api.accept_invite(%L, 'Segredo123', 'X')$$, :'inv2'), 'PT404', NULL,
                 'an expired invite is invalid');

-- --- login -----------------------------------------------------------------------------------
SELECT is(api.staff_login('DONA@example.pt', 'Errada123') - 'error',
          api.staff_login('ninguem@example.pt', 'Errada123') - 'error',
          'unknown email and wrong password answer alike');
SELECT is(api.staff_login('dona@example.pt', 'Errada123') ->> 'code', 'invalid_credentials',
          'a wrong password is invalid_credentials');
SELECT ok((api.staff_login(' Dona@Example.pt', 'Segredo123') ->> 'sessionToken') ~ '^[0-9a-f]{64}$',
          'the right password opens a session (email case and spaces ignored)');
SELECT count(*) AS n FROM (SELECT api.staff_login('dona@example.pt', 'Errada123', 'k9')
                           FROM generate_series(1, 5)) s \gset
SELECT is(api.staff_login('dona@example.pt', 'Segredo123', 'k9') ->> 'code', 'account_locked',
          'five failures lock the email for that client, the right password included');
SELECT ok((api.staff_login('dona@example.pt', 'Segredo123', 'k10') ->> 'retry_after')::int > 0,
          'past the free failures every client waits the email''s progressive delay');
RESET ROLE;
-- the failures' window passes
UPDATE app.login_failures SET last_failure_at = now() - interval '1 hour';
UPDATE app.login_client_failures SET last_failure_at = now() - interval '1 hour';
SET LOCAL ROLE guestlist_web;

-- --- sessions --------------------------------------------------------------------------------
SELECT api.staff_login('dona@example.pt', 'Segredo123') ->> 'sessionToken' AS t2 \gset
SELECT is(api.staff_me(:'t2') -> 'memberships' -> 0 ->> 'role', 'owner', 'staff_me names the role');
SELECT is(api.staff_logout(:'t2'), true, 'logout ends the session');
SELECT throws_ok(format('SELECT api.staff_me(%L)', :'t2'), 'PT401', NULL,
                 'an ended session is invalid');
SELECT is(api.staff_logout(:'t2'), false, 'logging out twice is no error');
SELECT ok(api.staff_logout_everywhere(:'sess'::jsonb ->> 'sessionToken') >= 2,
          'log out everywhere ends every live session');
SELECT throws_ok(format('SELECT api.console_events(%L)', :'sess'::jsonb ->> 'sessionToken'),
                 'PT401', NULL, 'including the one that asked');
RESET ROLE;
SELECT api.staff_login('dona@example.pt', 'Segredo123') ->> 'sessionToken' AS t3 \gset
UPDATE app.staff_sessions SET expires_at = now() - interval '1 second',
                              created_at = now() - interval '12 hours'
WHERE token_hash = sha256(decode(:'t3', 'hex'));
SELECT throws_ok(format('SELECT api.staff_me(%L)', :'t3'), 'PT401', NULL,
                 'an expired session is invalid');
SELECT ok((api.cleanup() ->> 'staff')::int >= 1, 'the cleanup deletes expired staff sessions');
SELECT is((SELECT count(*)::int FROM app.staff_sessions WHERE token_hash = sha256(decode(:'t3', 'hex'))),
          0, 'this one among them');

SELECT * FROM finish();
ROLLBACK;
