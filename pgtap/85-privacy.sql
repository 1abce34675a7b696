-- Data protection: the export, the erasure (nothing personal left in any
-- app table), the retention rules of api.cleanup, and who may call what.
BEGIN;
SELECT plan(73);
\ir 00-fixture.psql

-- Every app table (views and the like excluded) with a row whose text holds
-- one of the needles (ILIKE patterns): where a person's data still is.
CREATE FUNCTION pg_temp.traces(p_needles text[])
RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
  v_rel regclass;
  v_hit boolean;
  v_out text[] := '{}';
BEGIN
  FOR v_rel IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') ORDER BY 1 LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s x WHERE x::text ILIKE ANY ($1))', v_rel)
      INTO v_hit USING p_needles;
    IF v_hit THEN
      v_out := v_out || v_rel::text;
    END IF;
  END LOOP;
  RETURN v_out;
END
$$;

-- --- structure and privileges ---------------------------------------------------------------
SELECT has_table('app', 'erasures', 'table app.erasures');
SELECT has_column('app', 'guests', 'anonymized_at', 'guests.anonymized_at');
SELECT function_returns('api', 'guest_data_export', ARRAY['text', 'text', 'text', 'text'], 'jsonb');
SELECT function_returns('api', 'guest_erase', ARRAY['boolean', 'text', 'text', 'text', 'text'],
                        'jsonb');
SELECT function_returns('admin', 'set_retention', ARRAY['uuid', 'integer', 'integer'], 'jsonb');
SELECT function_returns('admin', 'reapply_erasures', ARRAY[]::text[], 'jsonb');
SELECT function_privs_are('api', 'guest_data_export', ARRAY['text', 'text', 'text', 'text'],
                          'guestlist_web', ARRAY['EXECUTE'], 'the web role may export');
SELECT function_privs_are('api', 'guest_erase', ARRAY['boolean', 'text', 'text', 'text', 'text'],
                          'guestlist_web', ARRAY['EXECUTE'], 'the web role may erase');
SELECT function_privs_are('admin', 'set_retention', ARRAY['uuid', 'integer', 'integer'],
                          'guestlist_web', ARRAY[]::text[], 'the web role may not set retention');
SELECT function_privs_are('admin', 'set_retention', ARRAY['uuid', 'integer', 'integer'],
                          'guestlist_admin', ARRAY['EXECUTE'], 'the admin role sets retention');
SELECT function_privs_are('admin', 'reapply_erasures', ARRAY[]::text[],
                          'guestlist_web', ARRAY[]::text[], 'the web role may not reapply erasures');

-- --- people ---------------------------------------------------------------------------------
-- Zulmira: on two events (checked in at one), a session, a queued job, a cache entry, a
-- failed login, a phone-keyed rate counter. Bea: someone else, never in Zulmira's export.
SELECT admin.create_event(:'org', 'Outra Noite', 'outra-noite', now() + interval '8 days')
  AS ev2 \gset
SELECT r ->> 'session_token' AS zu_token, r ->> 'client_id' AS zu_id, r ->> 'qr_code' AS zu_qr
FROM (SELECT api.register_and_create_guest_v2('+351935886310', 'Zulmira', 'Quaresma',
        'zulmira@example.pt', 'Segredo123', :'ev', :'pr', :'tm', date '1990-05-04', 'F',
        'Porto') AS r) s \gset
SELECT api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev2') ->> 'qr_code'
  AS zu_qr2 \gset
SELECT api.register_and_create_guest_v2('+351935886311', 'Beatriz', 'Lobato',
  'beatriz@example.pt', 'Segredo123', :'ev') ->> 'client_id' AS bea_id \gset
UPDATE app.guests SET status = 'checked_in', checked_in = true, checked_in_at = now()
WHERE client_user_id = :'zu_id' AND event_id = :'ev';
SELECT api.enqueue_guest_job('login', jsonb_build_object('phone', '+351935886310',
  'password', 'Segredo123', 'event_id', :'ev2')) ->> 'jobId' AS zu_job \gset
INSERT INTO app.phone_lookup_cache (phone_hash, expires_at)
VALUES (app._phone_hash('+351935886310'), now() + interval '5 minutes');
INSERT INTO app.rate_limit_counters (bucket, client_key, window_start, hits)
VALUES ('phone', encode(app._phone_hash('+351935886310'), 'hex'), date_trunc('minute', now()), 1);
SELECT guest_count AS ev_count FROM app.events WHERE id = :'ev' \gset

-- --- export -----------------------------------------------------------------------------------
SELECT api.guest_data_export('+351 935 886 310', 'Segredo123') AS zu_export \gset
SELECT is((:'zu_export'::jsonb) ->> 'success', 'true', 'export by phone and password');
SELECT is((:'zu_export'::jsonb) #>> '{data,account,phone}', '+351935886310', 'the account''s phone');
SELECT is((:'zu_export'::jsonb) #>> '{data,account,birthDate}', '1990-05-04', 'every profile field');
SELECT is(jsonb_array_length((:'zu_export'::jsonb) #> '{data,guestEntries}'), 2,
          'both guest rows');
SELECT jsonb_path_query_first(:'zu_export', '$.data.guestEntries[*] ? (@.event.id == $ev)',
                              jsonb_build_object('ev', :'ev')) AS zu_entry \gset
SELECT is((:'zu_entry'::jsonb) #>> '{event,title}', 'Noite Teste', 'a guest row names its event');
SELECT is((:'zu_entry'::jsonb) #>> '{promoter,displayName}', 'Promo', 'and its promoter');
SELECT is((:'zu_entry'::jsonb) ->> 'checkedIn', 'true', 'and the check-in');
SELECT is(jsonb_array_length((:'zu_export'::jsonb) #> '{data,sessions}'), 2,
          'the sessions (register, login)');
SELECT is((:'zu_export'::jsonb) #>> '{data,jobs,0,eventId}', :'ev2', 'the queued job');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(
             (:'zu_export'::jsonb) #> '{data,jobs,0}') k),
          ARRAY['createdAt', 'eventId', 'finishedAt', 'id', 'kind', 'status'],
          'the job without its request: a phone''s job may be a stranger''s attempt');
SELECT ok(:'zu_export' NOT ILIKE ALL (ARRAY['%935886311%', '%beatriz%', '%lobato%']),
          'nothing of another person');
SELECT ok(:'zu_export' !~ '\$2[abxy]\$' AND :'zu_export' !~ '[0-9a-f]{64}'
          AND :'zu_export' NOT LIKE '%Segredo123%',
          'no password, hash or token');
SELECT is((api.guest_data_export(p_session_token => :'zu_token') -> 'data') - 'exportedAt',
          ((:'zu_export'::jsonb) -> 'data') - 'exportedAt', 'the same export by session');
SELECT is(api.guest_data_export(p_session_token => repeat('ab', 32)) ->> 'code',
          'session_invalid', 'an unknown session is refused');
SELECT is(api.guest_data_export('+351935886310', 'Errada123') ->> 'code', 'invalid_credentials',
          'a wrong password is refused like the login''s');
SELECT is(api.guest_data_export('+351935886399', 'Segredo123') ->> 'code', 'invalid_credentials',
          'an unknown phone alike');
SELECT is((SELECT failures FROM app.login_failures
           WHERE phone_hash = app._phone_hash('+351935886310')), 1,
          'the wrong password counted as a login attempt');
SELECT is(api.guest_data_export('12', '') -> 'errors',
          '[{"field": "phone", "code": "invalid", "message": "Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310."},
            {"field": "password", "code": "invalid", "message": "Indica a tua palavra-passe."}]',
          'every bad field at once');
SELECT count(*) AS bea_failures
FROM (SELECT api.guest_data_export('+351935886311', 'Errada123') FROM generate_series(1, 5)) s \gset
SELECT is(api.guest_data_export('+351935886311', 'Segredo123') ->> 'code', 'account_locked',
          'past the free failures the export waits like the login');
SELECT is(api.authenticate_and_create_guest_v2('+351935886311', 'Segredo123', :'ev') ->> 'code',
          'account_locked', 'and the login with it: one lockout');
DELETE FROM app.login_failures WHERE phone_hash = app._phone_hash('+351935886311');
DELETE FROM app.login_client_failures WHERE phone_hash = app._phone_hash('+351935886311');

-- --- erasure ----------------------------------------------------------------------------------
SELECT ok(api.request_password_reset('+351935886310', :'ev', :'pr') -> 'mail' ->> 'token'
          IS NOT NULL, 'a reset link for her account: a link row and a request count to erase');
SELECT ok(cardinality(pg_temp.traces(ARRAY['%935886310%', '%zulmira%', '%quaresma%',
            '%' || encode(app._phone_hash('+351935886310'), 'hex') || '%', '%' || :'zu_qr' || '%']))
          >= 6, 'before: the search finds her in accounts, guests, jobs, cache, logins, counters');
SELECT is(api.guest_erase(false, p_session_token => :'zu_token') -> 'errors' -> 0 ->> 'field',
          'confirm', 'no erasure without confirmation');
SELECT is(api.guest_erase(true, '+351935886310', 'Errada123') ->> 'code', 'invalid_credentials',
          'nor with a wrong password');
SELECT api.guest_erase(true, p_session_token => :'zu_token') AS zu_erased \gset
SELECT is((:'zu_erased'::jsonb) -> 'erased',
          '{"accounts": 1, "guestRows": 2, "sessions": 2, "jobs": 1, "cacheEntries": 1,
            "loginWindows": 1, "rateCounters": 1, "passwordResets": 2}',
          'erasure by session: every kind of row counted');
SELECT is(pg_temp.traces(ARRAY['%935886310%', '%zulmira%', '%quaresma%', '%porto%',
            '%' || encode(app._phone_hash('+351935886310'), 'hex') || '%',
            '%' || :'zu_qr' || '%', '%' || :'zu_qr2' || '%', '%' || :'zu_id' || '%',
            '%' || :'zu_job' || '%']),
          '{}'::text[], 'after: no app table holds her phone, names, email, hash, QR, ids or job');
SELECT is((SELECT count(*)::int FROM app.password_resets) +
          (SELECT count(*)::int FROM app.password_reset_requests
           WHERE phone_hash = app._phone_hash('+351935886310')), 0,
          'her reset link and her phone''s reset requests are gone');
SELECT is((SELECT guest_count FROM app.events WHERE id = :'ev'), :'ev_count'::int,
          'the event''s guest count is unchanged');
SELECT is((SELECT count(*)::int FROM app.guests WHERE event_id = :'ev'), :'ev_count'::int,
          'her guest row is still counted');
SELECT results_eq(
  format('SELECT promoter_id, team_id, status, checked_in, checked_in_at IS NOT NULL
          FROM app.guests WHERE event_id = %L AND anonymized_at IS NOT NULL', :'ev'),
  format('VALUES (%L::uuid, %L::uuid, %L, true, true)', :'pr', :'tm', 'checked_in'),
  'the anonymized row keeps promoter, team and check-in');
SELECT results_eq(
  $$SELECT reason, counts ->> 'accounts', subject_key = app._subject_key('+351935886310')
    FROM app.erasures$$,
  $$VALUES ('guest_request', '1', true)$$,
  'the erasure is logged with a keyed hash of the phone, not the phone');
SELECT is(api.guest_data_export('+351935886310', 'Segredo123') ->> 'code', 'invalid_credentials',
          'after erasure the export fails');
SELECT is(api.guest_data_export(p_session_token => :'zu_token') ->> 'code', 'session_invalid',
          'and the old session');
SELECT is(api.authenticate_and_create_guest_v2('+351935886310', 'Segredo123', :'ev') ->> 'code',
          'invalid_credentials', 'and the login');
SELECT is(api.guest_erase(true, p_session_token => :'zu_token') ->> 'code', 'session_invalid',
          'a second erasure finds nothing');
SELECT is((SELECT count(*)::int FROM app.client_users WHERE id = :'bea_id'), 1,
          'someone else''s account stays');
SELECT is(api.register_and_create_guest_v2('+351935886310', 'Zulmira', 'Quaresma',
            'zulmira@example.pt', 'Nova12345', :'ev') ->> 'success', 'true',
          'the phone registers again');
SELECT is((SELECT guest_count FROM app.events WHERE id = :'ev'), :'ev_count'::int + 1,
          'as a new guest of the event');
SELECT is(admin.reapply_erasures(), '{"accounts": 0}',
          'a re-registration after the erasure is not re-erased after a restore');
SELECT is(api.guest_erase(true, '+351935886310', 'Nova12345') -> 'erased' ->> 'guestRows', '1',
          'erasure by phone and password');

-- --- retention --------------------------------------------------------------------------------
-- Org Teste keeps the defaults (24 months of accounts, 12 of guest rows); Outra Org sets
-- 6 and 3. Carla: only on an Outra Org event that started 4 months ago (row anonymized,
-- account kept 6 months from the row). Dora: on a future Outra Org event (untouched). Eva:
-- last guest row 30 months ago at Org Teste (erased). Fabio: an Outra Org row 7 months old
-- (past its 6) but an Org Teste row 10 months old (within its 24): kept.
SELECT admin.create_promoter('promo-outra', 'Outro') AS pr2 \gset
SELECT admin.add_team_member(:'other_tm', :'pr2') IS NOT NULL AS added \gset
SELECT admin.create_event(:'other_org', 'Velha', 'velha', now() - interval '4 months') AS old_ev \gset
SELECT admin.create_event(:'other_org', 'Nova', 'nova', now() + interval '4 days') AS new_ev \gset
SELECT throws_ok(format('SELECT admin.set_retention(%L, 0, 3)', :'other_org'), 'PT400',
                 NULL, 'retention months below 1 are refused');
SELECT throws_ok(format('SELECT admin.set_retention(%L, 6, 121)', :'other_org'), 'PT400',
                 NULL, 'above 120 too');
SELECT throws_ok('SELECT admin.set_retention(gen_random_uuid(), 6, 3)', 'PT404', NULL,
                 'an unknown organization');
SELECT is(admin.set_retention(:'other_org', 6, 3) ->> 'guestMonths', '3', 'retention set');
SELECT api.register_and_create_guest_v2('+351935886320', 'Carla', 'Carvalho', 'c@example.pt',
  'Segredo123', :'old_ev') ->> 'client_id' AS carla \gset
SELECT api.register_and_create_guest_v2('+351935886321', 'Dora', 'Dias', 'd@example.pt',
  'Segredo123', :'new_ev') ->> 'client_id' AS dora \gset
SELECT api.register_and_create_guest_v2('+351935886322', 'Eva', 'Esteves', 'e@example.pt',
  'Segredo123', :'ev') ->> 'client_id' AS eva \gset
SELECT api.register_and_create_guest_v2('+351935886323', 'Fabio', 'Faria', 'f@example.pt',
  'Segredo123', :'new_ev') ->> 'client_id' AS fabio \gset
SELECT api.authenticate_and_create_guest_v2('+351935886323', 'Segredo123', :'ev') IS NOT NULL
  AS fabio_in \gset
UPDATE app.client_users SET created_at = now() - interval '30 months' WHERE id = :'eva';
UPDATE app.guests SET created_at = now() - interval '30 months' WHERE client_user_id = :'eva';
UPDATE app.client_users SET created_at = now() - interval '11 months' WHERE id = :'fabio';
UPDATE app.guests SET created_at = now() - interval '7 months'
WHERE client_user_id = :'fabio' AND event_id = :'new_ev';
UPDATE app.guests SET created_at = now() - interval '10 months'
WHERE client_user_id = :'fabio' AND event_id = :'ev';
CREATE TEMP TABLE counts_before AS SELECT id, guest_count FROM app.events;

SELECT is(api.cleanup() -> 'retention', '{"guestRows": 1, "accounts": 1}',
          'cleanup anonymizes one guest row and erases one account');
SELECT is((SELECT client_user_id FROM app.guests WHERE event_id = :'old_ev'), NULL,
          'the old event''s row is anonymized');
SELECT is((SELECT count(*)::int FROM app.client_users WHERE id = :'carla'), 1,
          'its account stays: the row was recent');
SELECT is((SELECT retain_until FROM app.client_users WHERE id = :'carla'),
          now() + interval '6 months', 'until 6 months after that row');
SELECT is((SELECT count(*)::int FROM app.guests WHERE client_user_id = :'dora'), 1,
          'a future event''s row stays');
SELECT is((SELECT count(*)::int FROM app.client_users WHERE id = :'eva'), 0,
          'an account unused for 30 months is erased');
SELECT is((SELECT count(*)::int FROM app.guests WHERE event_id = :'ev' AND name = 'Eva Esteves'), 0,
          'with its guest row anonymized');
SELECT is((SELECT retain_until FROM app.client_users WHERE id = :'fabio'),
          now() - interval '10 months' + interval '24 months',
          'an account kept by another organization''s longer retention');
SELECT is((SELECT count(*)::int FROM app.events e JOIN counts_before b USING (id)
           WHERE e.guest_count <> b.guest_count), 0, 'no event''s guest count changed');
SELECT is((SELECT array_agg(counts ORDER BY id) FROM app.erasures WHERE reason = 'retention'),
          ARRAY['{"guestRows": 1}'::jsonb,
                '{"accounts": 1, "guestRows": 1, "sessions": 1, "jobs": 0, "cacheEntries": 0,
                  "loginWindows": 0, "rateCounters": 0, "passwordResets": 0}'::jsonb],
          'retention logs its erasures');
SELECT is(api.cleanup() -> 'retention', '{"guestRows": 0, "accounts": 0}',
          'the next cleanup finds nothing more');

-- Past erasure_key_retention_days (90) an erasure keeps its counts, not its subject key.
UPDATE app.erasures SET erased_at = erased_at - interval '91 days'
WHERE reason = 'guest_request';
SELECT is(api.cleanup() #> '{retention,accounts}', '0', 'a cleanup later');
SELECT results_eq(
  'SELECT reason, subject_key IS NULL, counts ? ''accounts'' FROM app.erasures ORDER BY id',
  $$VALUES ('guest_request', true, true), ('guest_request', true, true),
           ('retention', true, false), ('retention', false, true)$$,
  'the old erasures lost their subject keys, the recent account erasure kept its key');

-- A restored backup brings Eva's account back: the erasure log erases it again.
INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash, created_at)
VALUES ('+351935886322', 'Eva', 'Esteves', 'e@example.pt',
        public.crypt('x', public.gen_salt('bf', 4)), now() - interval '30 months');
SELECT is(admin.reapply_erasures(), '{"accounts": 1}', 'reapply erases a restored account');
SELECT is((SELECT count(*)::int FROM app.client_users WHERE phone = '+351935886322'), 0,
          'it is gone again');

-- --- the web role touches no table ------------------------------------------------------------
SET LOCAL ROLE guestlist_web;
SELECT throws_ok('SELECT count(*) FROM app.erasures', '42501', NULL,
                 'the web role cannot read the erasure log');
SELECT throws_ok('UPDATE app.guests SET anonymized_at = now()', '42501', NULL,
                 'nor write guest rows');
SELECT throws_ok(format('SELECT admin.set_retention(%L, 6, 3)', :'org'), '42501', NULL,
                 'nor set retention');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
