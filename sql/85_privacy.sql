-- Data protection: a guest's export of everything stored about them, the
-- erasure of their account, the retention rules the cleanup applies, and
-- what an operator runs after restoring a backup (docs/privacy.md).
SET LOCAL ROLE guestlist_owner;

-- HMAC-SHA256 of an E.164 phone under the database's erasure key: what the
-- erasure log keeps instead of the phone (sha256 alone is guessed from the
-- few billion possible phones in minutes).
CREATE OR REPLACE FUNCTION app._subject_key(p_phone text)
RETURNS bytea
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
BEGIN
  SELECT s.value INTO v_key FROM app.settings s WHERE s.key = 'erasure_key';
  IF v_key IS NULL THEN
    RAISE EXCEPTION 'app.settings has no erasure_key (migration 0010)';
  END IF;
  RETURN public.hmac(convert_to(p_phone, 'UTF8'), decode(v_key, 'hex'), 'sha256');
END
$$;

-- Anonymize guest rows: no account, name, phone or QR code is left; event,
-- promoter, team, status and times stay (they are what the counts need), and
-- events.guest_count does not change (the count trigger fires on INSERT and
-- DELETE only). Before the link goes, each row's weight in its account's
-- retention (created_at + its organization's account months) moves to
-- client_users.retain_floor. Returns how many rows.
CREATE OR REPLACE FUNCTION app._anonymize_guests(p_guest_ids uuid[])
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_count bigint;
BEGIN
  UPDATE app.client_users cu
  SET retain_floor = greatest(cu.retain_floor, f.keep_until)
  FROM (SELECT g.client_user_id,
               max(g.created_at + make_interval(months => o.account_retention_months)) AS keep_until
        FROM app.guests g
        JOIN app.events e ON e.id = g.event_id
        JOIN app.organizations o ON o.id = e.organization_id
        WHERE g.id = ANY (p_guest_ids) AND g.client_user_id IS NOT NULL
        GROUP BY g.client_user_id) f
  WHERE cu.id = f.client_user_id;

  UPDATE app.guests g
  SET client_user_id = NULL, name = NULL, phone = NULL, qr_code = NULL, anonymized_at = now()
  WHERE g.id = ANY (p_guest_ids) AND g.anonymized_at IS NULL;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

-- Erase an account for good: its guest rows are anonymized (app._anonymize_guests),
-- and its sessions, its jobs (every app.guest_jobs row whose payload names the
-- phone, pending or finished; a job's secrets go with its row), its phone
-- cache entry, its login-attempt window, any rate counter keyed by the
-- phone's hash, its password reset link and the phone's count of reset
-- requests are deleted, then the account itself: the phone may register
-- again. Logs one app.erasures row (counts and the subject key only).
-- p_delete_jobs false: the caller made sure there are none (the retention
-- batch, which skips accounts with jobs). Returns the counts, or NULL when
-- the account no longer exists.
CREATE OR REPLACE FUNCTION app._erase_account(p_user_id uuid, p_reason text,
                                              p_delete_jobs boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text;
  v_hash bytea;
  v_jobs bigint := 0;
  v_guests bigint;
  v_sessions bigint;
  v_cache bigint;
  v_logins bigint;
  v_rates bigint;
  v_resets bigint;
  v_count bigint;
  v_counts jsonb;
BEGIN
  SELECT cu.phone INTO v_phone FROM app.client_users cu WHERE cu.id = p_user_id;
  IF v_phone IS NULL THEN
    RETURN NULL;
  END IF;
  IF p_delete_jobs THEN
    -- first, before the account's lock: a worker doing one of these jobs holds its row and
    -- may need the account (its guest row's foreign key); this waits for it to finish
    DELETE FROM app.guest_jobs j WHERE j.payload ->> 'phone' = v_phone;
    GET DIAGNOSTICS v_jobs = ROW_COUNT;
  END IF;
  -- from here on no guest row can be added for the account (the insert's foreign key
  -- check waits for this lock, then finds no account)
  PERFORM 1 FROM app.client_users cu WHERE cu.id = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  v_hash := app._phone_hash(v_phone);

  v_guests := app._anonymize_guests(ARRAY(
    SELECT g.id FROM app.guests g WHERE g.client_user_id = p_user_id));
  DELETE FROM app.guest_sessions s WHERE s.client_user_id = p_user_id;
  GET DIAGNOSTICS v_sessions = ROW_COUNT;
  DELETE FROM app.phone_lookup_cache c WHERE c.phone_hash = v_hash;
  GET DIAGNOSTICS v_cache = ROW_COUNT;
  DELETE FROM app.login_failures f WHERE f.phone_hash = v_hash;
  GET DIAGNOSTICS v_logins = ROW_COUNT;
  DELETE FROM app.login_client_failures f WHERE f.phone_hash = v_hash;
  GET DIAGNOSTICS v_rates = ROW_COUNT;
  v_logins := v_logins + v_rates;
  -- a counter keyed by a phone names it by the hex of app._phone_hash
  DELETE FROM app.rate_limit_counters r WHERE r.client_key = encode(v_hash, 'hex');
  GET DIAGNOSTICS v_rates = ROW_COUNT;
  -- a reset link (its token's hash, when and to whom it was mailed) and the phone's count
  -- of reset requests
  DELETE FROM app.password_resets r WHERE r.client_user_id = p_user_id;
  GET DIAGNOSTICS v_resets = ROW_COUNT;
  DELETE FROM app.password_reset_requests r WHERE r.phone_hash = v_hash;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  v_resets := v_resets + v_count;
  DELETE FROM app.client_users cu WHERE cu.id = p_user_id;

  v_counts := jsonb_build_object('accounts', 1, 'guestRows', v_guests, 'sessions', v_sessions,
                                 'jobs', v_jobs, 'cacheEntries', v_cache,
                                 'loginWindows', v_logins, 'rateCounters', v_rates,
                                 'passwordResets', v_resets);
  INSERT INTO app.erasures (reason, subject_key, counts)
  VALUES (p_reason, app._subject_key(v_phone), v_counts);
  RETURN v_counts;
END
$$;

-- The account a request speaks for, or a refusal (returned, not raised, so
-- that a counted login attempt is committed with it): by session token
-- (session_invalid), else by phone and password checked as the login checks
-- them (invalid_input, account_locked, invalid_credentials): the attempt is
-- counted first, and an unknown phone costs one bcrypt like a wrong password.
-- {user_id} on success.
CREATE OR REPLACE FUNCTION app._privacy_subject(p_phone text, p_password text,
                                               p_session_token text, p_client_key text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text;
  v_user_id uuid;
  v_errors jsonb := '[]'::jsonb;
  v_check record;
BEGIN
  IF p_session_token IS NOT NULL THEN
    v_user_id := app._session_user(p_session_token);
    IF v_user_id IS NULL THEN
      RETURN app._refusal('session_invalid', 'A tua sessão terminou ou expirou. Entra de novo com o teu número.');
    END IF;
    RETURN jsonb_build_object('user_id', v_user_id);
  END IF;

  v_phone := app._normalize_phone(p_phone);
  IF v_phone IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'phone', 'code', 'invalid',
      'message', 'Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310.');
  END IF;
  IF coalesce(p_password, '') = '' OR octet_length(p_password) > 72 THEN
    -- as the login's: no account has a password past bcrypt's 72 bytes
    v_errors := v_errors || jsonb_build_object('field', 'password', 'code', 'invalid',
      'message', 'Indica a tua palavra-passe.');
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN app._refusal('invalid_input', app._message('invalid_input'),
                        jsonb_build_object('errors', v_errors));
  END IF;

  -- the login's own check (sql/30_login.sql): the same lockout rules, the same counts
  SELECT * INTO v_check FROM app._check_password(v_phone, p_password, p_client_key, NULL);
  IF v_check.refusal IS NOT NULL THEN
    RETURN v_check.refusal;
  END IF;
  RETURN jsonb_build_object('user_id', v_check.user_id);
END
$$;

-- Everything stored about an account, as its owner downloads it: the
-- profile, each guest row (event, organization, promoter, team, status,
-- check-in, created), the sessions (times only), and the jobs whose payload
-- names the phone: kind, event, status and times only, since such a job may
-- be a stranger's attempt on this number (its names, email and address are
-- theirs, not this account's). Never a hash.
CREATE OR REPLACE FUNCTION app._account_export(p_user_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user app.client_users;
BEGIN
  SELECT * INTO v_user FROM app.client_users cu WHERE cu.id = p_user_id;
  RETURN jsonb_build_object(
    'exportedAt', now(),
    'account', jsonb_build_object(
      'id', v_user.id, 'phone', v_user.phone, 'firstName', v_user.first_name,
      'lastName', v_user.last_name, 'email', v_user.email, 'birthDate', v_user.birth_date,
      'gender', v_user.gender, 'city', v_user.city, 'isActive', v_user.is_active,
      'isVerified', v_user.is_verified, 'createdAt', v_user.created_at,
      'updatedAt', v_user.updated_at),
    'guestEntries', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'id', g.id, 'name', g.name, 'phone', g.phone, 'qrCode', g.qr_code,
               'status', g.status, 'checkedIn', g.checked_in, 'checkedInAt', g.checked_in_at,
               'createdAt', g.created_at,
               'event', app._event_json(e),
               'organization', jsonb_build_object('id', o.id, 'name', o.name),
               'promoter', CASE WHEN p.id IS NOT NULL THEN jsonb_build_object(
                             'id', p.id, 'displayName', p.display_name) END,
               'team', CASE WHEN t.id IS NOT NULL THEN jsonb_build_object(
                         'id', t.id, 'name', t.name) END)
             ORDER BY g.created_at, g.id)
      FROM app.guests g
      JOIN app.events e ON e.id = g.event_id
      JOIN app.organizations o ON o.id = e.organization_id
      LEFT JOIN app.promoters p ON p.id = g.promoter_id
      LEFT JOIN app.teams t ON t.id = g.team_id
      WHERE g.client_user_id = p_user_id), '[]'::jsonb),
    'sessions', coalesce((
      SELECT jsonb_agg(jsonb_build_object('createdAt', s.created_at, 'expiresAt', s.expires_at)
                       ORDER BY s.created_at, s.id)
      FROM app.guest_sessions s WHERE s.client_user_id = p_user_id), '[]'::jsonb),
    'jobs', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'id', j.id, 'kind', j.kind, 'status', j.status,
               'eventId', j.payload ->> 'event_id',
               'createdAt', j.created_at, 'finishedAt', j.finished_at)
             ORDER BY j.created_at, j.id)
      FROM app.guest_jobs j WHERE j.payload ->> 'phone' = v_user.phone), '[]'::jsonb));
END
$$;

-- A guest downloads everything stored about their account, authenticated by
-- their session (p_session_token) or by phone and password (counted as a login
-- attempt). Rate-limited per p_client_key (bucket privacy). Refusals are
-- returned like the login's, so a counted attempt is kept: invalid_input,
-- session_invalid, account_locked, invalid_credentials. {success, data}.
CREATE OR REPLACE FUNCTION api.guest_data_export(p_phone text DEFAULT NULL,
                                                 p_password text DEFAULT NULL,
                                                 p_session_token text DEFAULT NULL,
                                                 p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_subject jsonb;
BEGIN
  PERFORM app._enforce_rate_limit('privacy', p_client_key);
  v_subject := app._privacy_subject(p_phone, p_password, p_session_token, p_client_key);
  IF v_subject ? 'success' THEN
    RETURN v_subject;
  END IF;
  RETURN jsonb_build_object('success', true,
                            'data', app._account_export((v_subject ->> 'user_id')::uuid));
END
$$;
GRANT EXECUTE ON FUNCTION api.guest_data_export(text, text, text, text) TO guestlist_web;

-- A guest erases their account for good (app._erase_account), authenticated
-- like api.guest_data_export, once p_confirm is true (else PT400-like
-- invalid_input on field confirm, returned). Rate-limited per p_client_key
-- (bucket privacy). {success, erased: counts}.
CREATE OR REPLACE FUNCTION api.guest_erase(p_confirm boolean,
                                           p_phone text DEFAULT NULL,
                                           p_password text DEFAULT NULL,
                                           p_session_token text DEFAULT NULL,
                                           p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_subject jsonb;
  v_counts jsonb;
BEGIN
  PERFORM app._enforce_rate_limit('privacy', p_client_key);
  IF p_confirm IS DISTINCT FROM true THEN
    RETURN app._refusal('invalid_input', app._message('invalid_input'), jsonb_build_object(
      'errors', jsonb_build_array(jsonb_build_object('field', 'confirm', 'code', 'required',
        'message', 'Confirma que queres apagar a tua conta.'))));
  END IF;
  v_subject := app._privacy_subject(p_phone, p_password, p_session_token, p_client_key);
  IF v_subject ? 'success' THEN
    RETURN v_subject;
  END IF;
  v_counts := app._erase_account((v_subject ->> 'user_id')::uuid, 'guest_request');
  IF v_counts IS NULL THEN
    -- erased by a concurrent request a moment ago
    RETURN app._refusal('session_invalid', 'A tua sessão terminou ou expirou. Entra de novo com o teu número.');
  END IF;
  RETURN jsonb_build_object('success', true, 'erased', v_counts);
END
$$;
GRANT EXECUTE ON FUNCTION api.guest_erase(boolean, text, text, text, text) TO guestlist_web;

-- When an account may be erased: the latest of, over its guest rows in every
-- organization, created_at + that organization's account_retention_months,
-- and retain_floor (the same for rows since anonymized); an account with
-- neither: created_at + 24 months.
CREATE OR REPLACE FUNCTION app._account_retain_until(p_user_id uuid)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_until timestamptz;
BEGIN
  SELECT coalesce(greatest(cu.retain_floor, (
           SELECT max(g.created_at + make_interval(months => o.account_retention_months))
           FROM app.guests g
           JOIN app.events e ON e.id = g.event_id
           JOIN app.organizations o ON o.id = e.organization_id
           WHERE g.client_user_id = cu.id)),
         cu.created_at + interval '24 months')
    INTO v_until
  FROM app.client_users cu WHERE cu.id = p_user_id;
  RETURN v_until;
END
$$;

-- One batch of the retention rules (api.cleanup, every minute): guest rows
-- of events that started more than their organization's
-- guest_retention_months ago are anonymized (at most p_batch), then at most
-- p_batch accounts due a look (retain_until NULL or past, by the index) are
-- either given their next date or, when no guest row keeps them any more,
-- erased (reason retention). An account with a job in the queue is in use:
-- it is looked at again in an hour. Rows and accounts locked by someone
-- else are skipped this time. Last, erasure log rows older than
-- erasure_key_retention_days (app.settings, default 90: longer than any
-- backup is kept; never a GUC, or a web session calling api.cleanup could
-- strip every key and no restore could be erased again) lose their subject key: no restore can need it any more, and the
-- row is then anonymous. Returns {guestRows, accounts}.
CREATE OR REPLACE FUNCTION app._apply_retention(p_batch integer DEFAULT 100)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_guest_ids uuid[];
  v_event uuid;
  v_guests bigint := 0;
  v_due record;
  v_expired uuid[] := '{}'::uuid[];
  v_phones text[] := '{}'::text[];
  v_busy text[];
  v_until timestamptz;
  v_id uuid;
  v_accounts bigint := 0;
BEGIN
  -- event by event (the events table is small): the (event_id, client_user_id) index finds
  -- an old event's live rows (client_user_id IS NOT NULL), so an event whose rows are all
  -- anonymized costs one index probe, whatever the planner thinks of a join
  v_guest_ids := '{}'::uuid[];
  FOR v_event IN
    SELECT e.id FROM app.events e JOIN app.organizations o ON o.id = e.organization_id
    WHERE e.starts_at < now() - make_interval(months => o.guest_retention_months)
  LOOP
    v_guest_ids := v_guest_ids || ARRAY(
      SELECT g.id FROM app.guests g
      WHERE g.event_id = v_event AND g.client_user_id IS NOT NULL
      LIMIT p_batch - cardinality(v_guest_ids)
      FOR UPDATE SKIP LOCKED);
    EXIT WHEN cardinality(v_guest_ids) >= p_batch;
  END LOOP;
  IF cardinality(v_guest_ids) > 0 THEN
    v_guests := app._anonymize_guests(v_guest_ids);
    INSERT INTO app.erasures (reason, counts)
    VALUES ('retention', jsonb_build_object('guestRows', v_guests));
  END IF;

  FOR v_due IN
    SELECT cu.id, cu.phone FROM app.client_users cu
    WHERE cu.retain_until IS NULL OR cu.retain_until <= now()
    ORDER BY cu.retain_until NULLS FIRST
    LIMIT p_batch
    FOR NO KEY UPDATE SKIP LOCKED
  LOOP
    v_until := app._account_retain_until(v_due.id);
    IF v_until <= now() THEN
      v_expired := v_expired || v_due.id;
      v_phones := v_phones || v_due.phone;
    ELSE
      UPDATE app.client_users cu SET retain_until = v_until WHERE cu.id = v_due.id;
    END IF;
  END LOOP;
  UPDATE app.erasures x SET subject_key = NULL
  WHERE x.subject_key IS NOT NULL
    AND x.erased_at < now() - make_interval(
                                days => app._config_int('erasure_key_retention_days', 90));
  IF cardinality(v_expired) = 0 THEN
    RETURN jsonb_build_object('guestRows', v_guests, 'accounts', 0);
  END IF;

  -- one scan of the queue for the whole batch
  v_busy := ARRAY(SELECT DISTINCT j.payload ->> 'phone' FROM app.guest_jobs j
                  WHERE j.payload ->> 'phone' = ANY (v_phones));
  UPDATE app.client_users cu SET retain_until = now() + interval '1 hour'
  WHERE cu.id = ANY (v_expired) AND cu.phone = ANY (v_busy);
  FOR v_id IN SELECT cu.id FROM app.client_users cu
              WHERE cu.id = ANY (v_expired) AND NOT cu.phone = ANY (v_busy) LOOP
    IF app._erase_account(v_id, 'retention', false) IS NOT NULL THEN
      v_accounts := v_accounts + 1;
    END IF;
  END LOOP;
  RETURN jsonb_build_object('guestRows', v_guests, 'accounts', v_accounts);
END
$$;

-- Set how long an organization keeps its guests' data: accounts used only
-- there are erased p_account_months after their last guest row; guest rows
-- of its events are anonymized p_guest_months after the event. Each 1..120.
-- Accounts with a guest row there are looked at again by the next cleanups.
-- Unknown organization: PT404. Returns the organization's two settings.
CREATE OR REPLACE FUNCTION admin.set_retention(p_organization_id uuid, p_account_months integer,
                                               p_guest_months integer)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_account_months IS NULL OR p_account_months NOT BETWEEN 1 AND 120 THEN
    PERFORM app._invalid_field('account_months', 'Entre 1 e 120 meses. Corrige o número de meses.');
  END IF;
  IF p_guest_months IS NULL OR p_guest_months NOT BETWEEN 1 AND 120 THEN
    PERFORM app._invalid_field('guest_months', 'Entre 1 e 120 meses. Corrige o número de meses.');
  END IF;
  UPDATE app.organizations o
  SET account_retention_months = p_account_months, guest_retention_months = p_guest_months
  WHERE o.id = p_organization_id;
  IF NOT FOUND THEN
    PERFORM app._raise(404, 'organization_not_found', 'Organização não encontrada.');
  END IF;
  UPDATE app.client_users cu SET retain_until = NULL
  WHERE cu.retain_until IS NOT NULL AND EXISTS (
    SELECT 1 FROM app.guests g JOIN app.events e ON e.id = g.event_id
    WHERE g.client_user_id = cu.id AND e.organization_id = p_organization_id);
  RETURN jsonb_build_object('organizationId', p_organization_id,
                            'accountMonths', p_account_months, 'guestMonths', p_guest_months);
END
$$;
GRANT EXECUTE ON FUNCTION admin.set_retention(uuid, integer, integer) TO guestlist_admin;

-- After restoring a backup: erase again every account the erasure log names
-- (its subject key matches) that existed before that erasure (a phone that
-- registered again afterwards is a new account and stays). Load the newest
-- app.erasures rows into the restored database first (docs/privacy.md).
-- Returns {accounts}.
CREATE OR REPLACE FUNCTION admin.reapply_erasures()
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
  v_accounts bigint := 0;
BEGIN
  FOR v_id IN
    SELECT DISTINCT c.id
    FROM (SELECT cu.id, cu.created_at, app._subject_key(cu.phone) AS subject_key
          FROM app.client_users cu) c
    JOIN app.erasures x ON x.subject_key = c.subject_key AND x.erased_at > c.created_at
  LOOP
    IF app._erase_account(v_id, 'restore') IS NOT NULL THEN
      v_accounts := v_accounts + 1;
    END IF;
  END LOOP;
  RETURN jsonb_build_object('accounts', v_accounts);
END
$$;
GRANT EXECUTE ON FUNCTION admin.reapply_erasures() TO guestlist_admin;
