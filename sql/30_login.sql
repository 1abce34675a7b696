-- Login of an existing guest account onto an event's list (the seed's
-- authenticate_and_create_guest_v2, same parameters and result keys).
SET LOCAL ROLE guestlist_owner;

-- A valid bcrypt cost-10 hash that no password matches: unknown phones are
-- compared against it, so they cost the same work as a wrong password.
CREATE OR REPLACE FUNCTION app._dummy_password_hash()
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN '$2a$10$.NN.10MPuoIdeIpQ3roEYudSgIWlCgLEOh2pIMJILkJtK6cw9.fwK';
END
$$;

-- The account a device's session token (64 hex) belongs to, when the session
-- is valid and the account active; else NULL.
CREATE OR REPLACE FUNCTION app._session_user(p_session_token text)
RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user_id uuid;
BEGIN
  IF p_session_token IS NULL OR p_session_token !~ '^[0-9a-f]{64}$' THEN
    RETURN NULL;
  END IF;
  SELECT s.client_user_id INTO v_user_id
  FROM app.guest_sessions s
  JOIN app.client_users cu ON cu.id = s.client_user_id AND cu.is_active
  WHERE s.token_hash = sha256(decode(p_session_token, 'hex')) AND s.expires_at > now();
  RETURN v_user_id;
END
$$;

-- Seconds a login attempt on this phone from this client must still wait, or
-- 0. Two rules, both counted from failures only (a refused attempt counts
-- nothing, so waiting it out works) and forgotten login_failure_window_seconds
-- after the last failure:
-- * per phone and client key: past login_client_max_failures (5) that client
--   is refused for the phone until the window since its last failure ends;
-- * per phone across all clients: past login_phone_free_failures (3), each
--   further attempt waits 2^(failures - free + 1) seconds since the last
--   failure, at most login_phone_max_delay_seconds (300): a guesser gets about
--   12 tries an hour per phone, its owner waits minutes at worst, not 15.
-- A NULL client key (a DBA at psql) skips the per-client rule.
CREATE OR REPLACE FUNCTION app._login_wait(p_phone_hash bytea, p_client_key text)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_window interval := make_interval(secs => app._config_int('login_failure_window_seconds', 900));
  v_row record;
  v_free integer;
  v_until timestamptz;
BEGIN
  IF p_client_key IS NOT NULL THEN
    SELECT f.failures, f.last_failure_at INTO v_row
    FROM app.login_client_failures f
    WHERE f.phone_hash = p_phone_hash AND f.client_key = left(p_client_key, 100)
      AND f.last_failure_at > now() - v_window;
    IF FOUND AND v_row.failures >= app._config_int('login_client_max_failures', 5) THEN
      v_until := v_row.last_failure_at + v_window;
    END IF;
  END IF;
  SELECT f.failures, f.last_failure_at INTO v_row
  FROM app.login_failures f
  WHERE f.phone_hash = p_phone_hash AND f.last_failure_at > now() - v_window;
  v_free := app._config_int('login_phone_free_failures', 3);
  IF FOUND AND v_row.failures >= v_free THEN
    v_until := greatest(v_until, v_row.last_failure_at + make_interval(secs => least(
      app._config_int('login_phone_max_delay_seconds', 300)::double precision,
      power(2, least(v_row.failures - v_free + 1, 30)))));
  END IF;
  IF v_until IS NULL OR v_until <= now() THEN
    RETURN 0;
  END IF;
  RETURN greatest(1, ceil(extract(epoch FROM v_until - now())))::integer;
END
$$;

-- Record a failed login on this phone: its count across clients and, with a
-- client key, that client's count (each restarting after a quiet window).
CREATE OR REPLACE FUNCTION app._login_failed(p_phone_hash bytea, p_client_key text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_window interval := make_interval(secs => app._config_int('login_failure_window_seconds', 900));
BEGIN
  INSERT INTO app.login_failures AS f (phone_hash, failures, last_failure_at)
  VALUES (p_phone_hash, 1, now())
  ON CONFLICT (phone_hash) DO UPDATE SET
    failures = CASE WHEN f.last_failure_at > now() - v_window THEN f.failures + 1 ELSE 1 END,
    last_failure_at = now();
  IF p_client_key IS NOT NULL THEN
    INSERT INTO app.login_client_failures AS f (phone_hash, client_key, failures, last_failure_at)
    VALUES (p_phone_hash, left(p_client_key, 100), 1, now())
    ON CONFLICT (phone_hash, client_key) DO UPDATE SET
      failures = CASE WHEN f.last_failure_at > now() - v_window THEN f.failures + 1 ELSE 1 END,
      last_failure_at = now();
  END IF;
END
$$;

-- Every invalid login field at once: a jsonb array of {field, code,
-- message}, fields named by parameter without p_ (the queue checks with it too).
CREATE OR REPLACE FUNCTION app._login_errors(p_phone text, p_password text, p_event_id uuid)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_errors jsonb := '[]'::jsonb;
BEGIN
  IF app._normalize_phone(p_phone) IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'phone', 'code', 'invalid',
      'message', 'Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310.');
  END IF;
  IF coalesce(p_password, '') = '' THEN
    v_errors := v_errors || jsonb_build_object('field', 'password', 'code', 'invalid',
      'message', 'Indica a tua palavra-passe.');
  ELSIF octet_length(p_password) > 72 THEN
    -- bcrypt reads 72 bytes and registration refuses more: no account has such a password
    v_errors := v_errors || jsonb_build_object('field', 'password', 'code', 'too_long',
      'message', 'A palavra-passe tem mais de 72 bytes (letras acentuadas contam 2, emojis 4). Escreve uma mais curta.');
  END IF;
  IF p_event_id IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'event_id', 'code', 'required',
      'message', 'Evento em falta. Abre de novo o link que recebeste do promotor.');
  END IF;
  RETURN v_errors;
END
$$;

-- A right password (or a new one) clears the phone's failure counts: its
-- delay across clients and every client's lock on it.
CREATE OR REPLACE FUNCTION app._clear_login_failures(p_phone_hash bytea)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM app.login_failures f WHERE f.phone_hash = p_phone_hash;
  DELETE FROM app.login_client_failures f WHERE f.phone_hash = p_phone_hash;
END
$$;

-- A phone's password checked under the lockout rules, for the login and for
-- the guest's own data (sql/85_privacy.sql): the attempts on one phone take
-- turns (an advisory lock on its hash, to the end of the transaction), so a
-- burst cannot outrun the count; a client past its failures or inside the
-- phone's delay is refused before any hash is compared; then exactly one
-- bcrypt comparison whether or not the phone is known. p_lockout_key: the
-- client key the failures count under (NULL: only the per-phone delay).
-- p_device_user_id: the account of the device's valid session, checked by the
-- caller; when it is this phone's account the phone's delay and the address's
-- lock do not apply, but the device's own failures count under a key of its
-- own and lock it after login_client_max_failures (a held session - a lost
-- phone, a copied cookie - is no unlimited way to guess the password). A
-- right password clears the phone's counts. Returns the account's id, or NULL
-- with the refusal (account_locked with retry_after, invalid_credentials).
-- invalid_credentials under a lockout key carries attempts_left: the wrong
-- passwords this client may still try before it is locked out of the phone
-- (1: the next failure locks it; 0: it just did). It is the client's own
-- count, the same for a known and an unknown phone: it tells the client
-- nothing it could not count itself, and lets the page warn before the lock.
-- lock_minutes beside it: how long that lock lasts (login_failure_window_seconds,
-- in whole minutes, rounded up), so the warning can say it.
CREATE OR REPLACE FUNCTION app._check_password(p_phone text, p_password text,
                                               p_lockout_key text, p_device_user_id uuid,
                                               OUT user_id uuid, OUT refusal jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text := app._normalize_phone(p_phone);
  v_phone_hash bytea := app._phone_hash(v_phone);
  v_user app.client_users;
  v_retry integer;
  v_lockout_key text := p_lockout_key;
  v_left integer;
  v_window interval := make_interval(secs => app._config_int('login_failure_window_seconds', 900));
BEGIN
  -- class 7041: one attempt at a time per phone (hash collisions only make two phones take turns)
  PERFORM pg_advisory_xact_lock(7041, ('x' || left(encode(v_phone_hash, 'hex'), 8))::bit(32)::integer);
  SELECT * INTO v_user FROM app.client_users cu WHERE cu.phone = v_phone AND cu.is_active;
  IF p_device_user_id IS NOT NULL AND v_user.id = p_device_user_id THEN
    v_lockout_key := 'device:' || p_device_user_id::text;
    SELECT greatest(1, ceil(extract(epoch FROM f.last_failure_at + v_window - now())))::integer
      INTO v_retry
    FROM app.login_client_failures f
    WHERE f.phone_hash = v_phone_hash AND f.client_key = v_lockout_key
      AND f.last_failure_at > now() - v_window
      AND f.failures >= app._config_int('login_client_max_failures', 5);
  ELSE
    v_retry := app._login_wait(v_phone_hash, p_lockout_key);
  END IF;
  IF v_retry > 0 THEN
    refusal := app._refusal('account_locked', app._message('account_locked'),
                            jsonb_build_object('retry_after', v_retry));
    RETURN;
  END IF;

  IF public.crypt(p_password, coalesce(v_user.password_hash, app._dummy_password_hash()))
     IS DISTINCT FROM v_user.password_hash THEN
    PERFORM app._login_failed(v_phone_hash, v_lockout_key);
    SELECT greatest(0, app._config_int('login_client_max_failures', 5) - f.failures) INTO v_left
    FROM app.login_client_failures f
    WHERE f.phone_hash = v_phone_hash AND f.client_key = left(v_lockout_key, 100);
    refusal := app._refusal('invalid_credentials', app._message('invalid_credentials'),
      jsonb_strip_nulls(jsonb_build_object('attempts_left', v_left,
        'lock_minutes', CASE WHEN v_left IS NOT NULL
                             THEN ceil(extract(epoch FROM v_window) / 60)::integer END)));
    RETURN;
  END IF;
  PERFORM app._clear_login_failures(v_phone_hash);
  user_id := v_user.id;
END
$$;

-- Authenticate by phone and password, then put the client on the event's
-- list (or recover their existing place): the seed function's work, for the
-- synchronous route and the queue's worker. p_lockout_key: the client key the
-- failures are counted under (NULL: only the per-phone delay applies).
-- p_device_user_id: the account of the device's valid session, checked by
-- the caller (both as app._check_password takes them). Refusals are
-- returned, not raised.
CREATE OR REPLACE FUNCTION app._login(
  p_phone text,
  p_password text,
  p_event_id uuid,
  p_promoter_id uuid,
  p_team_id uuid,
  p_lockout_key text,
  p_device_user_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text := app._normalize_phone(p_phone);
  v_errors jsonb;
  v_check record;
  v_event app.events;
  v_attr record;
  v_user app.client_users;
  v_guest record;
  v_code text;
BEGIN
  v_errors := app._login_errors(p_phone, p_password, p_event_id);
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN app._refusal('invalid_input', app._message('invalid_input'),
                        jsonb_build_object('errors', v_errors));
  END IF;

  SELECT * INTO v_event FROM app.events e WHERE e.id = p_event_id AND e.is_active;
  IF NOT FOUND THEN
    RETURN app._refusal('event_not_found', app._message('event_not_found'));
  END IF;
  SELECT * INTO v_attr FROM app._attribution(v_event.organization_id, p_promoter_id, p_team_id);
  IF NOT v_attr.ok THEN
    RETURN app._refusal('promoter_not_found', app._message('promoter_not_found'));
  END IF;

  SELECT * INTO v_check FROM app._check_password(v_phone, p_password, p_lockout_key,
                                                 p_device_user_id);
  IF v_check.refusal IS NOT NULL THEN
    RETURN v_check.refusal;
  END IF;
  SELECT * INTO v_user FROM app.client_users cu WHERE cu.id = v_check.user_id;
  -- a minimum age: a new place needs a birth date old enough (api.guest_give_birth_date
  -- records one an account lacks); a place already held is recovered as it is
  v_code := app._age_refusal(v_event, v_user.birth_date);
  IF v_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM app.guests g
                                        WHERE g.event_id = v_event.id
                                          AND g.client_user_id = v_user.id) THEN
    RETURN app._refusal(v_code, app._message(v_code));
  END IF;

  BEGIN
    SELECT * INTO v_guest
    FROM app._create_guest(v_event.id, v_user.id, p_promoter_id, v_attr.team_id);
  EXCEPTION WHEN SQLSTATE 'PT409' OR SQLSTATE 'PT404' THEN
    GET STACKED DIAGNOSTICS v_code = PG_EXCEPTION_DETAIL;
    v_code := v_code::jsonb ->> 'code';
    RETURN app._refusal(v_code, app._message(v_code));
  END;

  RETURN app._guest_answer(
    v_guest.guest_id, v_guest.qr_code, v_guest.recovered,
    CASE WHEN v_guest.recovered THEN 'QR code existente recuperado.'
         ELSE 'Entrada na lista confirmada.' END,
    v_user.first_name, v_event, v_user.id);
END
$$;

-- The seed's login (same parameters and result keys): app._login for a web
-- request. Rate-limited per p_client_key (bucket login), failures counted
-- under it; p_session_token: the device's session (gl_session), which spares
-- its own account the lockout. Refusals are returned, not raised:
-- invalid_input, rate_limited, event_not_found, promoter_not_found,
-- account_locked, invalid_credentials, birth_date_required, too_young,
-- guest_list_closed, guest_list_full, promoter_quota_full.
-- Unknown phones and wrong passwords cost one bcrypt each and answer alike.
CREATE OR REPLACE FUNCTION api.authenticate_and_create_guest_v2(
  p_phone text,
  p_password text,
  p_event_id uuid,
  p_promoter_id uuid DEFAULT NULL,
  p_team_id uuid DEFAULT NULL,
  p_client_key text DEFAULT NULL,
  p_session_token text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_retry integer;
BEGIN
  v_retry := app._rate_limited('login', p_client_key);
  IF v_retry > 0 THEN
    RETURN app._refusal('rate_limited', app._message('rate_limited'),
                        jsonb_build_object('retry_after', v_retry));
  END IF;
  RETURN app._login(p_phone, p_password, p_event_id, p_promoter_id, p_team_id,
                    p_client_key, app._session_user(p_session_token));
END
$$;
GRANT EXECUTE ON FUNCTION api.authenticate_and_create_guest_v2(text, text, uuid, uuid, uuid, text, text)
  TO guestlist_web;

-- Record the birth date an account lacks, asked once when it logs in to an
-- event with a minimum age (the login answered birth_date_required): phone
-- and password checked under the login's lockout rules, then the page logs
-- in again. A date is never changed this way: an account that has one
-- answers birth_date_known. Refusals are returned, not raised (the failure
-- counts must commit): invalid_input, rate_limited, account_locked,
-- invalid_credentials, birth_date_known. {"success": true}.
CREATE OR REPLACE FUNCTION api.guest_give_birth_date(p_phone text, p_password text,
                                                     p_birth_date date,
                                                     p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_errors jsonb := '[]'::jsonb;
  v_retry integer;
  v_check record;
  v_updated integer;
BEGIN
  v_retry := app._rate_limited('login', p_client_key);
  IF v_retry > 0 THEN
    RETURN app._refusal('rate_limited', app._message('rate_limited'),
                        jsonb_build_object('retry_after', v_retry));
  END IF;
  v_errors := app._login_errors(p_phone, p_password, '00000000-0000-0000-0000-000000000000');
  IF p_birth_date IS NULL OR p_birth_date <= date '1900-01-01' OR p_birth_date >= current_date THEN
    v_errors := v_errors || jsonb_build_object('field', 'birth_date', 'code', 'invalid',
      'message', 'Indica a tua data de nascimento real (depois de 1900 e antes de hoje).');
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN app._refusal('invalid_input', app._message('invalid_input'),
                        jsonb_build_object('errors', v_errors));
  END IF;
  SELECT * INTO v_check FROM app._check_password(p_phone, p_password, p_client_key, NULL);
  IF v_check.refusal IS NOT NULL THEN
    RETURN v_check.refusal;
  END IF;
  UPDATE app.client_users cu SET birth_date = p_birth_date, updated_at = now()
  WHERE cu.id = v_check.user_id AND cu.birth_date IS NULL;
  GET DIAGNOSTICS v_updated = ROW_COUNT;
  IF v_updated = 0 THEN
    RETURN app._refusal('birth_date_known', 'A tua data de nascimento já está registada. Entra com a tua palavra-passe.');
  END IF;
  RETURN jsonb_build_object('success', true);
END
$$;
GRANT EXECUTE ON FUNCTION api.guest_give_birth_date(text, text, date, text) TO guestlist_web;
