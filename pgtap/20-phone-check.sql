-- api.check_phone_with_cache: first name only, hashed cache key, negative
-- answers cached, invalidated by a registration in the same transaction.
BEGIN;
SELECT plan(14);
\ir 00-fixture.psql

SELECT is(api.check_phone_with_cache('+351935886310'),
          '{"exists": false, "user": null, "source": "database"}'::jsonb,
          'an unknown phone does not exist');
SELECT is((api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
           'Segredo123', :'ev') ->> 'success')::boolean, true, 'registered');
SELECT is(api.check_phone_with_cache('+351 935-886-310'),
          '{"exists": true, "user": {"firstName": "Ana"}, "source": "database"}'::jsonb,
          'a registered phone answers its first name only, separators ignored');
SELECT is(api.check_phone_with_cache('00351935886310') -> 'user',
          '{"firstName": "Ana"}'::jsonb, '00 prefix is +');
SELECT throws_ok($$SELECT api.check_phone_with_cache('12ab')$$, 'PT400', NULL,
                 'a malformed phone is PT400');
SELECT throws_ok($$SELECT api.check_phone_with_cache(NULL)$$, 'PT400', NULL,
                 'a missing phone is PT400');

-- the cache path
SET LOCAL guestlist.phone_cache = 'on';
SELECT is(api.check_phone_with_cache('+351910000001') ->> 'source', 'database', 'miss goes to the table');
SELECT is(api.check_phone_with_cache('+351910000001'),
          '{"exists": false, "user": null, "source": "cache"}'::jsonb,
          'a negative answer is served from the cache');
SELECT is((SELECT count(*)::int FROM app.phone_lookup_cache
           WHERE phone_hash = sha256(convert_to('+351910000001', 'UTF8'))), 1,
          'the cache key is sha256 of the phone');
SELECT is((SELECT count(*)::int FROM app.phone_lookup_cache c
           WHERE encode(c.phone_hash, 'escape') LIKE '%351910000001%'), 0,
          'the phone itself is not stored in the cache');
SELECT is((api.register_and_create_guest_v2('+351910000001', 'Rui', 'Costa', 'rui@example.pt',
           'Segredo123', :'ev') ->> 'success')::boolean, true, 'the cached phone registers');
SELECT is(api.check_phone_with_cache('+351910000001'),
          '{"exists": true, "user": {"firstName": "Rui"}, "source": "database"}'::jsonb,
          'registration invalidated the negative entry');
SELECT is(api.check_phone_with_cache('+351910000001'),
          '{"exists": true, "user": {"firstName": "Rui"}, "source": "cache"}'::jsonb,
          'a positive answer is cached with the first name only');
SELECT is((SELECT count(*)::int FROM app.phone_lookup_cache c
           WHERE c.first_name IS NOT NULL AND c.expires_at > now()
             AND c.expires_at <= now() + interval '5 minutes'), 1,
          'entries expire within five minutes');

SELECT * FROM finish();
ROLLBACK;
