-- api.authenticate_and_create_guest_v2: one bcrypt for known and unknown
-- phones alike, the same answer, recovery of a place, the lockout per client
-- and the progressive delay per phone, a device's own session.
BEGIN;
SELECT plan(50);
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
SELECT ok(NOT :'wrong'::jsonb ? 'attempts_left', 'no client key (psql), no attempts_left');
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
          'a successful login clears the failure count');

-- per client key: 5 failures lock that client out of that phone, and only that client
SELECT admin.set_setting('login_phone_free_failures', '1000');  -- the per-phone delay apart
SELECT pg_temp.crypt_delta() IS NOT NULL AS reset \gset
-- each refusal says how many wrong passwords this client has left before the lock
SELECT is(array_agg(r ->> 'code' || ':' || (r ->> 'attempts_left') ORDER BY i),
          ARRAY['invalid_credentials:4', 'invalid_credentials:3', 'invalid_credentials:2',
                'invalid_credentials:1', 'invalid_credentials:0'],
          'invalid_credentials counts down attempts_left: 1 = the next failure locks, 0 = locked')
FROM (SELECT i, api.authenticate_and_create_guest_v2('+351935886310', 'Errada' || i || 'A', :'ev',
                                                     p_client_key => '10.0.0.1') AS r
      FROM generate_series(1, 5) i) tries;
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
                                            p_client_key => '10.0.0.1') AS locked \gset
SELECT is(:'locked'::jsonb ->> 'code', 'account_locked',
          'after 5 failures that client is refused, even with the right password');
SELECT is(pg_temp.crypt_delta(), 5::bigint, 'a refused attempt spends no bcrypt');
SELECT cmp_ok((:'locked'::jsonb ->> 'retry_after')::int, '>', 800, 'the refusal says how long it lasts');
SELECT ok(NOT :'locked'::jsonb ? 'attempts_left', 'the lock itself carries no attempts_left');
-- the warning before the lock says how long it lasts: the window, in whole minutes
SELECT ok(NOT :'wrong'::jsonb ? 'lock_minutes', 'no client key (psql), no lock_minutes');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Errada1A', :'ev',
          p_client_key => '10.0.0.4') -> 'lock_minutes', '15'::jsonb,
          'invalid_credentials carries lock_minutes: 900 s = 15 minutes');
SELECT admin.set_setting('login_failure_window_seconds', '61');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Errada1A', :'ev',
          p_client_key => '10.0.0.5') -> 'lock_minutes', '2'::jsonb,
          'lock_minutes follows the setting, rounded up (61 s: 2 minutes)');
SELECT admin.set_setting('login_failure_window_seconds', NULL);
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Errada1A', :'ev',
          p_client_key => '10.0.0.3') ->> 'attempts_left', '4',
          'another client''s count is its own');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.0.2') ->> 'success', 'true',
          'another client logs in with the right password: one address cannot lock a guest out');
SELECT is((SELECT count(*)::int FROM app.login_client_failures
           WHERE phone_hash = app._phone_hash('+351935886310')), 0,
          'the right password clears every client''s count for the phone');
SELECT is(array_agg((api.authenticate_and_create_guest_v2('+351922222222', 'Errada' || i || 'A',
                      :'ev', p_client_key => '10.0.0.1') ->> 'attempts_left')::int ORDER BY i),
          ARRAY[4, 3, 2, 1, 0], 'an unknown phone counts down alike: attempts_left reveals no account')
FROM generate_series(1, 5) i;
SELECT is(api.authenticate_and_create_guest_v2('+351922222222', 'Whatever1', :'ev',
          p_client_key => '10.0.0.1') ->> 'code', 'account_locked', 'unknown phones lock the same way');
UPDATE app.login_client_failures SET last_failure_at = now() - interval '16 minutes';
SELECT is(api.authenticate_and_create_guest_v2('+351922222222', 'Whatever1', :'ev',
          p_client_key => '10.0.0.1') ->> 'code', 'invalid_credentials',
          'the client''s lock ends 15 minutes after its last failure');
SELECT admin.set_setting('login_phone_free_failures', NULL);
DELETE FROM app.login_failures;
DELETE FROM app.login_client_failures;

-- per phone across clients: after 3 failures each attempt waits 2, 4, 8 ... s (at most 300)
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Errada' || i || 'A', :'ev',
                                            p_client_key => '10.0.1.' || i) ->> 'code'
FROM generate_series(1, 3) i;
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
                                            p_client_key => '10.0.1.9') AS delayed \gset
SELECT is(:'delayed'::jsonb ->> 'code', 'account_locked',
          'a third failure makes the next attempt wait, from any client, right password included');
SELECT is((:'delayed'::jsonb ->> 'retry_after')::int, 2, 'two seconds after the third failure');
UPDATE app.login_failures SET last_failure_at = now() - interval '3 seconds';
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Errada9A', :'ev',
          p_client_key => '10.0.1.9') ->> 'code', 'invalid_credentials', 'once waited, it is tried');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Errada9A', :'ev',
          p_client_key => '10.0.1.9') ->> 'retry_after', '4', 'the wait doubles with each failure');
UPDATE app.login_failures SET failures = 40;
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.1.8') ->> 'retry_after', '300', 'and is capped at five minutes');

-- a device holding a valid session of the account is never locked out of it
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Errada9A', :'ev',
          p_client_key => '10.0.1.8', p_session_token => :'reg'::jsonb ->> 'session_token') ->> 'code',
          'invalid_credentials', 'its own session spares it the wait, not the password check');
SELECT api.register_and_create_guest_v2('+351933333333', 'Rui', 'Costa', 'rui@example.pt',
                                        'Segredo123', :'ev') AS other \gset
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.1.8', p_session_token => :'other'::jsonb ->> 'session_token') ->> 'code',
          'account_locked', 'another account''s session does not');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.1.8', p_session_token => :'reg'::jsonb ->> 'session_token') ->> 'success',
          'true', 'with its own session and the right password the guest gets in');
SELECT is((SELECT count(*)::int FROM app.login_failures
           WHERE phone_hash = app._phone_hash('+351935886310')), 0, 'and the delay is cleared');
-- the session spares the device others' failures, not its own: holding a session (a lost
-- phone, a copied cookie) is no unlimited way to guess the account's password
SELECT is(array_agg((api.authenticate_and_create_guest_v2('+351935886310', 'Errada' || i || 'B',
          :'ev', p_client_key => '10.0.1.8', p_session_token => :'reg'::jsonb ->> 'session_token')
          ->> 'attempts_left')::int ORDER BY i),
          ARRAY[4, 3, 2, 1, 0], 'a device with the session counts down its own attempts the same way')
FROM generate_series(1, 5) i;
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Errada6B', :'ev',
          p_client_key => '10.0.1.99', p_session_token => :'reg'::jsonb ->> 'session_token') ->> 'code',
          'account_locked', 'five wrong passwords with the session lock that session''s device, '
          'whatever its address');
-- its failures are guesses like any: they feed the phone's (short) delay too
UPDATE app.login_failures SET last_failure_at = now() - interval '1 minute';
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.1.7') ->> 'success', 'true',
          'the device''s own lock does not hold the owner back on another device');

-- refusals
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123',
          gen_random_uuid()) ->> 'code', 'event_not_found', 'unknown event');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev', :'pr',
          :'other_tm') ->> 'code', 'promoter_not_found', 'a team of another organization is refused');
SELECT is(api.authenticate_and_create_guest_v2('bad', '', NULL) -> 'errors',
  '[{"code": "invalid", "field": "phone", "message": "Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310."},
    {"code": "invalid", "field": "password", "message": "Indica a tua palavra-passe."},
    {"code": "required", "field": "event_id", "message": "Evento em falta. Abre de novo o link que recebeste do promotor."}]'::jsonb,
  'every invalid field at once, named without p_');
SELECT is((SELECT count(*)::int FROM app.guests), 2, 'two guests in the end (Ana and Rui)');

-- a queued login: the session is checked at enqueue; the payload keeps the account, not the token
INSERT INTO app.login_failures (phone_hash, failures, last_failure_at)
VALUES (app._phone_hash('+351935886310'), 40, now());
SELECT api.enqueue_guest_job('login', jsonb_build_object('phone', '+351935886310',
         'password', 'Segredo123', 'event_id', :'ev'), '10.5.0.1',
         :'reg'::jsonb ->> 'session_token') ->> 'jobId' AS own_job \gset
SELECT payload AS own_payload FROM app.guest_jobs WHERE id = :'own_job' \gset
SELECT is(:'own_payload'::jsonb - 'password' - 'event_id',
          jsonb_build_object('phone', '+351935886310', 'lockout_key', '10.5.0.1',
                             'device_user_id', (SELECT id FROM app.client_users
                                                WHERE phone = '+351935886310')),
          'the job keeps the client key and the session''s account, never the session token');
SELECT admin.create_event(:'org', 'Outra Noite', 'outra-noite', now() + interval '8 days',
                          'Porto') AS ev2 \gset
SELECT api.enqueue_guest_job('login', jsonb_build_object('phone', '+351935886310',
         'password', 'Segredo123', 'event_id', :'ev2'), '10.5.0.2',
         :'other'::jsonb ->> 'session_token') ->> 'jobId' AS other_job \gset
SELECT payload AS other_payload FROM app.guest_jobs WHERE id = :'other_job' \gset
SELECT ok(NOT :'other_payload'::jsonb ? 'device_user_id',
          'another account''s session marks nothing');
SELECT is(app._run_guest_job('login', :'other_payload'::jsonb, 'Segredo123') ->> 'code', 'account_locked',
          'the worker applies the phone''s delay to a job without its device');
SELECT is(app._run_guest_job('login', :'own_payload'::jsonb, 'Segredo123') ->> 'success', 'true',
          'and spares the device holding the account''s session');

-- rate limit by client key (bucket login)
SELECT admin.set_setting('rate_limit.login', '2');
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev', p_client_key => '10.0.0.1') ->> 'code'
FROM generate_series(1, 2);
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.0.1') ->> 'code', 'rate_limited', 'the third call in a minute is limited');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev',
          p_client_key => '10.0.0.2') ->> 'success', 'true', 'another client is not');

SELECT * FROM finish();
ROLLBACK;
