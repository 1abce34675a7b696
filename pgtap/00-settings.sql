-- Security settings are rows of app.settings written by admin.set_setting:
-- checked keys and values, defaults per route bucket, and no GUC a session
-- (the web role's included) can SET changes them.
BEGIN;
SELECT plan(19);
\ir 00-fixture.psql

SELECT throws_ok($$SELECT admin.set_setting('no_such_setting', '1')$$, 'PT400', NULL,
                 'an unknown key is refused');
SELECT throws_ok($$SELECT admin.set_setting('bcrypt_cost', '3')$$, 'PT400', NULL,
                 'a bcrypt cost below 4 is refused');
SELECT throws_ok($$SELECT admin.set_setting('rate_limit.login', '-1')$$, 'PT400', NULL,
                 'a negative limit is refused');
SELECT throws_ok($$SELECT admin.set_setting('allow_weak_hash_for_bench', 'yes')$$, 'PT400', NULL,
                 'a switch takes on or off');
SELECT lives_ok($$SELECT admin.set_setting('rate_limit.status', '5000')$$, 'a bucket''s own limit');
SELECT is(app._bucket_limit('status'), 5000, 'is read back');
SELECT admin.set_setting('rate_limit.status', NULL);
SELECT is((SELECT count(*)::int FROM app.settings WHERE key = 'rate_limit.status'), 0,
          'NULL takes a setting back to its default');
SELECT is(ARRAY[app._bucket_limit('page'), app._bucket_limit('check_phone'), app._bucket_limit('login'),
                app._bucket_limit('register'), app._bucket_limit('status')],
          ARRAY[1200, 600, 600, 600, 3000], 'per-address defaults: ceilings against floods');
SELECT admin.set_setting('rate_limit_per_minute', '7');
SELECT admin.set_setting('rate_limit.qr', '9');
SELECT is(ARRAY[app._bucket_limit('page'), app._bucket_limit('qr')], ARRAY[7, 9],
          'rate_limit_per_minute replaces every default; a bucket''s own row wins over it');

-- bcrypt cost: 10 unless the database allows weak hashes
SELECT admin.set_setting('bcrypt_cost', '4');
SELECT is(app._bcrypt_cost(), 10, 'a cost below 10 is raised to 10 without the bench switch');
SELECT admin.set_setting('allow_weak_hash_for_bench', 'on');
SELECT is(app._bcrypt_cost(), 4, 'the bench switch lets it down to 4');
SELECT admin.set_setting('allow_weak_hash_for_bench', NULL);
SELECT admin.set_setting('bcrypt_cost', NULL);

-- the web role: GUCs of the old names change nothing, the settings are out of its reach
SET LOCAL ROLE guestlist_web;
SET LOCAL guestlist.allow_weak_hash_for_bench = 'on';
SET LOCAL guestlist.bcrypt_cost = '4';
SET LOCAL guestlist.rate_limit_per_minute = '0';
SELECT api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') ->> 'success' AS registered \gset
SELECT api.check_phone_with_cache('+35193588630' || i, '10.9.0.1') ->> 'exists'
FROM generate_series(1, 7) i;
SELECT throws_ok($$SELECT api.check_phone_with_cache('+351935886399', '10.9.0.1')$$, 'PT429', NULL,
                 'SET guestlist.rate_limit_per_minute = 0 as the web role does not lift the limit');
SELECT throws_ok($$SELECT admin.set_setting('rate_limit_per_minute', '0')$$, '42501', NULL,
                 'the web role may not call admin.set_setting');
SELECT throws_ok($$SELECT count(*) FROM app.settings$$, '42501', NULL,
                 'nor read app.settings');
SELECT throws_ok($$UPDATE app.settings SET value = '0'$$, '42501', NULL,
                 'nor write it');
RESET ROLE;
SELECT is(:'registered'::text, 'true', 'registered as the web role');
SELECT ok((SELECT password_hash FROM app.client_users WHERE phone = '+351935886310') ~ '^\$2a\$10\$',
          'SET guestlist.bcrypt_cost = 4 as the web role still hashes at cost 10');

SET LOCAL ROLE guestlist_admin;
SELECT lives_ok($$SELECT admin.set_setting('login_client_max_failures', '8')$$,
                'the admin role sets settings');
RESET ROLE;
SELECT is(app._config_int('login_client_max_failures', 5), 8, 'and the lockout reads them');

SELECT * FROM finish();
ROLLBACK;
