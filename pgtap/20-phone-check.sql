-- api.check_phone_with_cache: whether a phone exists, never its owner's name;
-- hashed cache key, negative answers cached, invalidated by a registration in
-- the same transaction; per-client, per-phone and unknown-number limits.
BEGIN;
SELECT plan(24);
\ir 00-fixture.psql

-- the DETAIL of a PT429 a statement raises (rate_limited, retry_after)
CREATE FUNCTION pg_temp.refusal(p_sql text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_detail text;
BEGIN
  EXECUTE p_sql;
  RETURN NULL;
EXCEPTION WHEN SQLSTATE 'PT429' THEN
  GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
  RETURN v_detail::jsonb;
END
$$;

SELECT is(api.check_phone_with_cache('+351935886310'),
          '{"exists": false, "user": null, "source": "database"}'::jsonb,
          'an unknown phone does not exist');
SELECT is((api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
           'Segredo123', :'ev') ->> 'success')::boolean, true, 'registered');
SELECT is(api.check_phone_with_cache('+351 935-886-310'),
          '{"exists": true, "user": null, "source": "database"}'::jsonb,
          'a registered phone exists, and nothing is said of its owner; separators ignored');
SELECT is(api.check_phone_with_cache('00351935886310') -> 'exists', 'true'::jsonb,
          '00 prefix is +');
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
          '{"exists": true, "user": null, "source": "database"}'::jsonb,
          'registration invalidated the negative entry');
SELECT is(api.check_phone_with_cache('+351910000001'),
          '{"exists": true, "user": null, "source": "cache"}'::jsonb,
          'a positive answer is cached, still without a name');
SELECT hasnt_column('app', 'phone_lookup_cache', 'first_name', 'the cache holds no first names');
SELECT is((SELECT count(*)::int FROM app.phone_lookup_cache c
           WHERE c.client_user_id IS NOT NULL AND c.expires_at > now()
             AND c.expires_at <= now() + interval '5 minutes'), 1,
          'entries expire within five minutes');
RESET guestlist.phone_cache;

-- per phone: phone_lookups_per_minute (10) whatever the client, keyed by the phone's hash
SELECT api.check_phone_with_cache('+351935886310', '10.1.0.' || i) IS NOT NULL AS ok
FROM generate_series(1, 10) i;
SELECT throws_ok($$SELECT api.check_phone_with_cache('+351935886310', '10.1.0.99')$$,
                 'PT429', NULL, 'the 11th lookup of one phone in a minute is refused, from any client');
SELECT is((SELECT count(*)::int FROM app.rate_limit_counters
           WHERE bucket = 'phone_lookup'
             AND client_key = encode(sha256(convert_to('+351935886310', 'UTF8')), 'hex')), 1,
          'counted under the phone''s hash, not the phone');
SELECT lives_ok($$SELECT api.check_phone_with_cache('+351935886311', '10.1.0.99')$$,
                'another phone from that client still answers');
SELECT lives_ok($$SELECT api.check_phone_with_cache('+351935886310')$$,
                'a DBA at psql (no client key) is not limited');

-- per client key: rate_limit.check_phone
SELECT admin.set_setting('rate_limit.check_phone', '2');
SELECT api.check_phone_with_cache('+35193588632' || i, '10.2.0.1') IS NOT NULL AS ok
FROM generate_series(1, 2) i;
SELECT throws_ok($$SELECT api.check_phone_with_cache('+351935886329', '10.2.0.1')$$,
                 'PT429', NULL, 'a client past its bucket limit is refused');
SELECT admin.set_setting('rate_limit.check_phone', NULL);

-- the global ceiling on unknown numbers: past it every lookup is refused, known ones too
SELECT admin.set_setting('unknown_phone_lookups_per_minute', '3');
DELETE FROM app.rate_limit_counters WHERE bucket = 'unknown_phone';  -- this minute's so far
SELECT api.check_phone_with_cache('+35192000000' || i, '10.3.0.' || i) IS NOT NULL AS ok
FROM generate_series(1, 2) i;
SELECT lives_ok($$SELECT api.check_phone_with_cache('+351910000001', '10.3.0.7')$$,
                'known numbers do not count towards it');
SELECT api.check_phone_with_cache('+351920000003', '10.3.0.3') IS NOT NULL AS ok;
SELECT throws_ok($$SELECT api.check_phone_with_cache('+351920000004', '10.3.0.4')$$,
                 'PT429', NULL, 'past the ceiling an unknown number is refused');
SELECT throws_ok($$SELECT api.check_phone_with_cache('+351910000001', '10.3.0.5')$$,
                 'PT429', NULL, 'and so is a known one: a refusal says nothing about the number');
SELECT ok((pg_temp.refusal($$SELECT api.check_phone_with_cache('+351910000001', '10.3.0.6')$$)
           ->> 'retry_after')::int BETWEEN 1 AND 60, 'with the seconds until the minute ends');

SELECT * FROM finish();
ROLLBACK;
