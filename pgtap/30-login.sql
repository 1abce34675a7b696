-- api.authenticate_and_create_guest_v2: one bcrypt for known and unknown
-- phones alike, the same answer, the 5-attempt lock, recovery of a place.
BEGIN;
SELECT plan(24);
\ir 00-fixture.psql
SET LOCAL track_functions = 'all';

SELECT api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') AS reg \gset

-- bcrypt calls counted by the statistics collector, per statement
CREATE TEMP TABLE crypt_calls AS
  SELECT coalesce((SELECT calls FROM pg_stat_xact_user_functions
                   WHERE schemaname = 'public' AND funcname = 'crypt'), 0) AS n;
CREATE FUNCTION pg_temp.crypt_delta() RETURNS bigint LANGUAGE sql AS $$
  WITH now_n AS (SELECT coalesce((SELECT calls FROM pg_stat_xact_user_functions
                                  WHERE schemaname = 'public' AND funcname = 'crypt'), 0) AS n),
       upd AS (UPDATE crypt_calls SET n = (SELECT n FROM now_n) RETURNING 0)
  SELECT (SELECT n FROM now_n) - (SELECT n FROM crypt_calls) FROM (SELECT count(*) FROM upd) u
$$;
SELECT pg_temp.crypt_delta() IS NOT NULL AS reset \gset

SELECT api.authenticate_and_create_guest_v2('+351911111111', 'Segredo123', :'ev') AS unknown \gset
SELECT is(pg_temp.crypt_delta(), 1::bigint, 'an unknown phone costs one bcrypt');
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Errada123', :'ev') AS wrong \gset
SELECT is(pg_temp.crypt_delta(), 1::bigint, 'a wrong password costs one bcrypt');
SELECT is(:'unknown'::jsonb, :'wrong'::jsonb, 'unknown phone and wrong password answer alike');
SELECT is(:'wrong'::jsonb ->> 'code', 'invalid_credentials', 'code invalid_credentials');
SELECT ok(app._dummy_password_hash() ~ '^\$2a\$10\$[./A-Za-z0-9]{53}$',
          'the dummy hash is a valid bcrypt cost-10 hash');
SELECT is(public.crypt('x', app._dummy_password_hash()) ~ '^\$2a\$10\$', true,
          'comparing against the dummy hash does real cost-10 work');

-- success, then recovery of the same place
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev', :'pr', :'tm') AS ok1 \gset
SELECT is((:'ok1'::jsonb ->> 'success')::boolean, true, 'the right password logs in');
SELECT is(:'ok1'::jsonb ->> 'qr_code', :'reg'::jsonb ->> 'qr_code',
          'a login after registering recovers the same QR code');
SELECT is((:'ok1'::jsonb ->> 'recovered')::boolean, true, 'flagged as recovered');
SELECT matches(:'ok1'::jsonb ->> 'message', 'recuperado', 'the message says it was recovered');
SELECT is(:'ok1'::jsonb ->> 'first_name', 'Ana', 'the answer carries the first name');
SELECT ok(NOT (:'ok1'::jsonb ? 'email') AND NOT (:'ok1'::jsonb ? 'phone')
          AND position('Silva' IN :'ok1') = 0, 'no email, phone or last name in the answer');
SELECT is((SELECT count(*)::int FROM app.login_failures
           WHERE phone_hash = app._phone_hash('+351935886310')), 0,
          'a successful login clears the attempt window');

-- the lock: 5 attempts in 15 minutes, then refused even with the right password
SELECT pg_temp.crypt_delta() IS NOT NULL AS reset \gset
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Errada' || i || 'A', :'ev') ->> 'code'
FROM generate_series(1, 5) i;
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev') ->> 'code',
          'account_locked', 'after 5 failures even the right password is refused');
SELECT is(pg_temp.crypt_delta(), 5::bigint, 'a locked attempt spends no bcrypt');
SELECT cmp_ok((api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev')
              ->> 'retry_after')::int, '>', 800, 'the lock says how long it lasts');
SELECT api.authenticate_and_create_guest_v2('+351922222222', 'Errada' || i || 'A', :'ev') ->> 'code'
FROM generate_series(1, 5) i;
SELECT is(api.authenticate_and_create_guest_v2('+351922222222', 'Whatever1', :'ev') ->> 'code',
          'account_locked', 'unknown phones lock the same way');
UPDATE app.login_failures SET window_starts_at = now() - interval '16 minutes';
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev') ->> 'success',
          'true', 'the lock ends with its window');

-- refusals
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123',
          gen_random_uuid()) ->> 'code', 'event_not_found', 'unknown event');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev', :'pr',
          :'other_tm') ->> 'code', 'promoter_not_found', 'a team of another organization is refused');
SELECT is(api.authenticate_and_create_guest_v2('bad', '', NULL) -> 'errors',
  '[{"code": "invalid", "field": "phone", "message": "Número de telemóvel inválido."},
    {"code": "invalid", "field": "password", "message": "Indica a tua palavra-passe."},
    {"code": "required", "field": "event_id", "message": "Evento em falta."}]'::jsonb,
  'every invalid field at once, named without p_');
SELECT is((SELECT count(*)::int FROM app.guests), 1, 'one guest in the end');

-- rate limit by client key
SET LOCAL guestlist.rate_limit_per_minute = 2;
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev', p_client_key => '10.0.0.1') ->> 'code'
FROM generate_series(1, 2);
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.0.1') ->> 'code', 'rate_limited', 'the third call in a minute is limited');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.0.2') ->> 'success', 'true', 'another client is not');

SELECT * FROM finish();
ROLLBACK;
