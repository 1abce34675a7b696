-- Password reset by email: the link is single use, expires, is replaced by a
-- newer one, ends the account's sessions and clears its lockout; unknown
-- phones answer alike; rate limits per client and per phone; privileges.
BEGIN;
SELECT plan(39);
\ir 00-fixture.psql

-- --- structure and privileges --------------------------------------------------------------
SELECT has_table('app', 'password_resets', 'app.password_resets exists');
SELECT has_table('app', 'password_reset_requests', 'app.password_reset_requests exists');
SELECT function_returns('api', 'request_password_reset', ARRAY['text', 'uuid', 'uuid', 'text'],
                        'jsonb', 'api.request_password_reset returns jsonb');
SELECT function_returns('api', 'confirm_password_reset', ARRAY['text', 'text', 'text'], 'jsonb',
                        'api.confirm_password_reset returns jsonb');
SELECT ok(has_function_privilege('guestlist_web', 'api.request_password_reset(text, uuid, uuid, text)',
                                 'EXECUTE')
          AND has_function_privilege('guestlist_web', 'api.confirm_password_reset(text, text, text)',
                                     'EXECUTE'), 'the web role may call both');
SELECT ok(NOT has_function_privilege('guestlist_web', 'app._cleanup_password_resets()', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web', 'app._count_reset_request(bytea)', 'EXECUTE')
          AND NOT has_function_privilege('guestlist_web', 'app._new_password_error(text)', 'EXECUTE'),
          'nor any private helper');
SET LOCAL ROLE guestlist_web;
SELECT throws_ok('SELECT * FROM app.password_resets', '42501', NULL,
                 'the web role cannot read the reset links');
SELECT throws_ok('DELETE FROM app.password_reset_requests', '42501', NULL,
                 'nor touch the request counts');
RESET ROLE;

-- --- a guest with two devices and a lockout --------------------------------------------------
SELECT api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') AS reg \gset
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev') AS other \gset
SELECT count(*) AS failures
FROM (SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Errada123', :'ev', NULL, NULL, 'k1')
      FROM generate_series(1, 5)) s \gset
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev', NULL, NULL, 'k1')
          ->> 'code', 'account_locked', 'five wrong passwords lock the phone for this client');

-- --- the request: the same answer for known and unknown phones --------------------------------
SET LOCAL ROLE guestlist_web;
SELECT api.request_password_reset('+351935886399', :'ev', :'pr') AS unknown \gset
SELECT api.request_password_reset('+351935886310', :'ev', :'pr') AS first \gset
SELECT api.request_password_reset('+351935886310', :'ev', :'pr') AS second \gset
RESET ROLE;
SELECT is(:'unknown'::jsonb, jsonb_build_object('pagePath', '/promotor/promo-teste/noite-teste',
                                                'mail', NULL),
          'an unknown phone: the page to come back to, no mail');
SELECT is(ARRAY(SELECT jsonb_object_keys(:'first'::jsonb) ORDER BY 1),
          ARRAY(SELECT jsonb_object_keys(:'unknown'::jsonb) ORDER BY 1),
          'a known phone: the same keys');
SELECT is(:'first'::jsonb -> 'mail' ->> 'to', 'ana@example.pt', 'the mail goes to the account''s email');
SELECT is(:'first'::jsonb -> 'mail' ->> 'firstName', 'Ana', 'greeting her by name');
SELECT matches(:'first'::jsonb -> 'mail' ->> 'token', '^[0-9a-f]{64}$', 'a 256-bit token, in hex');
SELECT isnt(:'first'::jsonb -> 'mail' ->> 'token', :'second'::jsonb -> 'mail' ->> 'token',
            'each request makes a new token');
SELECT is((SELECT count(*)::int FROM app.password_resets), 1,
          'one live link per account: the newer replaced the older');
SELECT is((SELECT token_hash FROM app.password_resets),
          sha256(decode(:'second'::jsonb -> 'mail' ->> 'token', 'hex')),
          'only the token''s sha256 is stored');
SELECT is((SELECT count(*)::int FROM app.password_resets r
           WHERE r::text LIKE '%' || (:'second'::jsonb -> 'mail' ->> 'token') || '%'), 0,
          'never the token itself');
SELECT is((SELECT expires_at - created_at FROM app.password_resets), interval '30 minutes',
          'valid 30 minutes');

-- --- the confirmation ------------------------------------------------------------------------
SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format('SELECT api.confirm_password_reset(%L, %L)',
                        :'first'::jsonb -> 'mail' ->> 'token', 'NovaSenha456'),
                 'PT404', NULL, 'the older link no longer works');
SELECT throws_ok(format('SELECT api.confirm_password_reset(%L, %L)',
                        :'second'::jsonb -> 'mail' ->> 'token', 'fraca'),
                 'PT400', NULL, 'a weak password is refused');
SELECT throws_ok(format('SELECT api.confirm_password_reset(%L, %L)',
                        :'second'::jsonb -> 'mail' ->> 'token', repeat('Aa1', 25)),
                 'PT400', NULL, 'so is one past 72 bytes');
SELECT throws_ok('SELECT api.confirm_password_reset(''abc'', ''NovaSenha456'')',
                 'PT400', NULL, 'and a malformed token');
SELECT is(api.confirm_password_reset(:'second'::jsonb -> 'mail' ->> 'token', 'NovaSenha456'),
          '{"success": true, "sessionsEnded": 2}',
          'a refused password did not spend the link; the new one is set, both sessions ended');
SELECT throws_ok(format('SELECT api.confirm_password_reset(%L, %L)',
                        :'second'::jsonb -> 'mail' ->> 'token', 'OutraSenha789'),
                 'PT404', NULL, 'the link works once');
SELECT throws_ok(format('SELECT api.session_guest(%L, %L)', :'reg'::jsonb ->> 'session_token', :'ev'),
                 'PT401', NULL, 'the first device''s session is over');
SELECT throws_ok(format('SELECT api.session_guest(%L, %L)', :'other'::jsonb ->> 'session_token', :'ev'),
                 'PT401', NULL, 'and the second''s');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM app.login_failures WHERE phone_hash = app._phone_hash('+351935886310'))
          + (SELECT count(*)::int FROM app.login_client_failures
             WHERE phone_hash = app._phone_hash('+351935886310')), 0, 'the lockout counts are cleared');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev', NULL, NULL, 'k2')
          ->> 'code', 'invalid_credentials', 'the old password no longer opens the account');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'NovaSenha456', :'ev', NULL, NULL, 'k1')
          ->> 'success', 'true', 'the new one does, from the client that was locked out');

-- --- expiry ----------------------------------------------------------------------------------
SELECT api.request_password_reset('+351935886310', :'ev', :'pr') -> 'mail' ->> 'token' AS late \gset
UPDATE app.password_resets SET created_at = now() - interval '31 minutes',
                               expires_at = now() - interval '1 minute';
SELECT throws_ok(format('SELECT api.confirm_password_reset(%L, %L)', :'late', 'NovaSenha456'),
                 'PT404', NULL, 'an expired link is refused');
SELECT is(api.cleanup() -> 'passwordResets', '1', 'the cleanup deletes it');

-- --- refusals and rate limits ----------------------------------------------------------------
SELECT throws_ok(format('SELECT api.request_password_reset(%L, %L, %L)', 'abc', :'ev', :'pr'),
                 'PT400', NULL, 'an invalid phone');
SELECT throws_ok(format('SELECT api.request_password_reset(%L, %L, %L)', '+351935886310', :'ev',
                        gen_random_uuid()), 'PT404', NULL, 'a promoter not on the event');
SELECT admin.set_setting('password_reset_per_phone', '2') IS NULL AS set1 \gset
SELECT lives_ok(format('SELECT api.request_password_reset(%L, %L, %L)', '+351935886388', :'ev', :'pr')
                || '; ' || format('SELECT api.request_password_reset(%L, %L, %L)', '+351935886388', :'ev', :'pr'),
                'an unknown phone: two requests within the limit');
SELECT throws_ok(format('SELECT api.request_password_reset(%L, %L, %L)', '+351935886388', :'ev', :'pr'),
                 'PT429', NULL, 'the third is refused, as for a known phone');
SELECT throws_ok(format('SELECT api.request_password_reset(%L, %L, %L)', '+351935886310', :'ev', :'pr'),
                 'PT429', NULL, 'the known phone (two requests this hour) is refused alike');
SELECT admin.set_setting('rate_limit.password_reset', '1') IS NULL AS set2 \gset
SELECT throws_ok(format('SELECT api.request_password_reset(%L, %L, %L, %L); '
                        'SELECT api.request_password_reset(%L, %L, %L, %L)',
                        '+351935886301', :'ev', :'pr', 'c1', '+351935886302', :'ev', :'pr', 'c1'),
                 'PT429', NULL, 'one client past its limit a minute, whatever the phone');

-- --- the registration's password rules ---------------------------------------------------------
SELECT is(ARRAY(SELECT app._new_password_error(p) ->> 'code' FROM unnest(ARRAY[
            'Segredo123', 'segredo123', 'SEGREDO123', 'Segredoo', 'Se1', repeat('Aa1', 24),
            repeat('Aa1', 25), 'Ááá1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']) p),
          ARRAY(SELECT (SELECT e ->> 'code' FROM jsonb_array_elements(app._registration_errors(
                  '+351935886310', 'Ana', 'Silva', 'ana@example.pt', p, :'ev', NULL, NULL, NULL)) e
                WHERE e ->> 'field' = 'password')
                FROM unnest(ARRAY['Segredo123', 'segredo123', 'SEGREDO123', 'Segredoo', 'Se1',
                  repeat('Aa1', 24), repeat('Aa1', 25),
                  'Ááá1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']) p),
          'a new password follows the registration''s rules');

SELECT * FROM finish();
ROLLBACK;
