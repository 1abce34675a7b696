-- Password reset by email: a guest who forgot their password asks for a
-- link by phone; the account's email receives a single-use link valid 30
-- minutes; following it sets a new password, ends the account's sessions and
-- clears its failed-login counts. SQL sends no mail: the request returns the
-- raw token to the app once (only its sha256 is stored) and the app mails it.
SET LOCAL ROLE guestlist_owner;

-- How long a reset link is valid.
CREATE OR REPLACE FUNCTION app._password_reset_lifetime()
RETURNS interval
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN interval '30 minutes';
END
$$;

-- Count one reset request for a phone (known or not: the limit must not tell
-- them apart) in its window of password_reset_phone_window_seconds (3600);
-- returns 0 when within password_reset_per_phone (3), else the seconds until
-- the window ends. A refused request is rolled back with its refusal, so
-- waiting it out works.
CREATE OR REPLACE FUNCTION app._count_reset_request(p_phone_hash bytea)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_window interval := make_interval(
    secs => app._config_int('password_reset_phone_window_seconds', 3600));
  v_row record;
BEGIN
  INSERT INTO app.password_reset_requests AS r (phone_hash, window_start, requests)
  VALUES (p_phone_hash, now(), 1)
  ON CONFLICT (phone_hash) DO UPDATE SET
    window_start = CASE WHEN r.window_start > now() - v_window THEN r.window_start ELSE now() END,
    requests = CASE WHEN r.window_start > now() - v_window THEN r.requests + 1 ELSE 1 END
  RETURNING r.requests, r.window_start INTO v_row;
  IF v_row.requests <= app._config_int('password_reset_per_phone', 3) THEN
    RETURN 0;
  END IF;
  RETURN greatest(1, ceil(extract(epoch FROM v_row.window_start + v_window - now())))::integer;
END
$$;

-- A guest forgot their password: a reset link for the account of p_phone,
-- to be mailed by the app. p_event_id and p_promoter_id name the guest page
-- the link opens (pagePath), so the guest lands back on the event they came
-- from. Every phone gets the same work and the same kind of answer except
-- for `mail`, which the app must never show: {pagePath, mail: null} when no
-- active account has this phone, else {pagePath, mail: {to, firstName,
-- token (64 hex, 256 random bits, returned this once), expiresAt}}. A new
-- request replaces the account's previous link. Raises PT429 rate_limited
-- (per p_client_key, bucket password_reset; per phone, known or not), PT400
-- invalid_input (phone), PT404 page_not_found (event or promoter).
CREATE OR REPLACE FUNCTION api.request_password_reset(p_phone text, p_event_id uuid,
                                                      p_promoter_id uuid,
                                                      p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text := app._normalize_phone(p_phone);
  v_path text;
  v_raw bytea;
  v_user app.client_users;
  v_expires timestamptz := now() + app._password_reset_lifetime();
BEGIN
  PERFORM app._enforce_rate_limit('password_reset', p_client_key);
  IF v_phone IS NULL THEN
    PERFORM app._raise(400, 'invalid_input', app._message('invalid_input'), jsonb_build_object(
      'errors', jsonb_build_array(jsonb_build_object('field', 'phone', 'code', 'invalid',
        'message', 'Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310.'))));
  END IF;
  SELECT '/promotor/' || p.slug || '/' || es.slug INTO v_path
  FROM app.events e
  JOIN app.event_slugs es ON es.event_id = e.id
  JOIN app.teams t ON t.organization_id = e.organization_id
  JOIN app.team_members tm ON tm.team_id = t.id
  JOIN app.promoters p ON p.id = tm.promoter_id AND p.is_active
  WHERE e.id = p_event_id AND e.is_active AND p.id = p_promoter_id
  ORDER BY es.created_at DESC, es.slug
  LIMIT 1;
  IF v_path IS NULL THEN
    PERFORM app._raise(404, 'page_not_found', 'Página não encontrada. Confirma o link com quem to enviou.');
  END IF;
  PERFORM app._raise_rate_limited(app._count_reset_request(app._phone_hash(v_phone)));

  -- the token is made for unknown phones too: the same work either way
  v_raw := public.gen_random_bytes(32);
  SELECT * INTO v_user FROM app.client_users cu WHERE cu.phone = v_phone AND cu.is_active;
  IF v_user.id IS NULL THEN
    PERFORM sha256(v_raw);
    RETURN jsonb_build_object('pagePath', v_path, 'mail', NULL);
  END IF;
  INSERT INTO app.password_resets AS r (client_user_id, token_hash, created_at, expires_at)
  VALUES (v_user.id, sha256(v_raw), now(), v_expires)
  ON CONFLICT (client_user_id) DO UPDATE SET
    token_hash = excluded.token_hash, created_at = excluded.created_at,
    expires_at = excluded.expires_at;
  RETURN jsonb_build_object('pagePath', v_path, 'mail', jsonb_build_object(
    'to', v_user.email, 'firstName', v_user.first_name,
    'token', encode(v_raw, 'hex'), 'expiresAt', v_expires));
END
$$;
GRANT EXECUTE ON FUNCTION api.request_password_reset(text, uuid, uuid, text) TO guestlist_web;

-- Set a new password from a reset link's token (64 hex): the link is used up
-- (deleted), the password replaced (bcrypt, the registration's rules), every
-- session of the account ended and the phone's failed-login counts cleared.
-- Rate-limited per p_client_key (bucket password_reset_confirm). Raises PT400
-- invalid_input (token, password; checked before the link is used, so a weak
-- password does not spend it) and PT404 reset_link_invalid (unknown, used,
-- replaced or expired link: it is no longer there). {success, sessionsEnded}.
CREATE OR REPLACE FUNCTION api.confirm_password_reset(p_token text, p_password text,
                                                      p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_errors jsonb := '[]'::jsonb;
  v_password_error jsonb := app._new_password_error(p_password);
  v_reset record;
  v_user app.client_users;
  v_sessions integer;
BEGIN
  PERFORM app._enforce_rate_limit('password_reset_confirm', p_client_key);
  IF p_token IS NULL OR p_token !~ '^[0-9a-f]{64}$' THEN
    v_errors := v_errors || jsonb_build_object('field', 'token', 'code', 'invalid',
      'message', 'Link de recuperação inválido. Pede um novo.');
  END IF;
  IF v_password_error IS NOT NULL THEN
    v_errors := v_errors || v_password_error;
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    PERFORM app._raise(400, 'invalid_input', app._message('invalid_input'),
                       jsonb_build_object('errors', v_errors));
  END IF;

  -- used up here: of two concurrent uses, the second finds no row
  DELETE FROM app.password_resets r WHERE r.token_hash = sha256(decode(p_token, 'hex'))
  RETURNING r.client_user_id, r.expires_at INTO v_reset;
  IF v_reset.client_user_id IS NOT NULL THEN
    SELECT * INTO v_user FROM app.client_users cu
    WHERE cu.id = v_reset.client_user_id AND cu.is_active FOR UPDATE;
  END IF;
  IF v_user.id IS NULL OR v_reset.expires_at <= now() THEN
    PERFORM app._raise(404, 'reset_link_invalid',
      'Este link de recuperação já não é válido (foi usado, substituído por um mais recente ou '
      'passaram 30 minutos). Pede um novo em «Esqueci-me da palavra-passe».');
  END IF;

  UPDATE app.client_users cu
  SET password_hash = public.crypt(p_password, public.gen_salt('bf', app._bcrypt_cost())),
      updated_at = now()
  WHERE cu.id = v_user.id;
  DELETE FROM app.guest_sessions s WHERE s.client_user_id = v_user.id;
  GET DIAGNOSTICS v_sessions = ROW_COUNT;
  PERFORM app._clear_login_failures(app._phone_hash(v_user.phone));
  RETURN jsonb_build_object('success', true, 'sessionsEnded', v_sessions);
END
$$;
GRANT EXECUTE ON FUNCTION api.confirm_password_reset(text, text, text) TO guestlist_web;

-- Expired reset links and past request windows, for api.cleanup; returns
-- how many rows went.
CREATE OR REPLACE FUNCTION app._cleanup_password_resets()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_links bigint;
  v_windows bigint;
BEGIN
  DELETE FROM app.password_resets r WHERE r.expires_at <= now();
  GET DIAGNOSTICS v_links = ROW_COUNT;
  DELETE FROM app.password_reset_requests r WHERE r.window_start <= now() - make_interval(
    secs => app._config_int('password_reset_phone_window_seconds', 3600));
  GET DIAGNOSTICS v_windows = ROW_COUNT;
  RETURN v_links + v_windows;
END
$$;
