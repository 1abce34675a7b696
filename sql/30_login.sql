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

-- Count a login attempt for this phone in its 15-minute window, before any
-- hash is compared (so a burst cannot outrun the count). Returns the seconds
-- the phone stays locked when this is past the 5th attempt, else 0. The row
-- lock taken here also serializes attempts on one phone.
CREATE OR REPLACE FUNCTION app._count_login_attempt(p_phone_hash bytea)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row app.login_failures;
BEGIN
  INSERT INTO app.login_failures AS f (phone_hash, window_starts_at, attempts)
  VALUES (p_phone_hash, now(), 1)
  ON CONFLICT (phone_hash) DO UPDATE SET
    attempts = CASE WHEN f.window_starts_at <= now() - interval '15 minutes' THEN 1
                    ELSE f.attempts + 1 END,
    window_starts_at = CASE WHEN f.window_starts_at <= now() - interval '15 minutes' THEN now()
                            ELSE f.window_starts_at END
  RETURNING * INTO v_row;
  IF v_row.attempts <= 5 THEN
    RETURN 0;
  END IF;
  RETURN greatest(1, ceil(extract(epoch FROM
    v_row.window_starts_at + interval '15 minutes' - now())))::integer;
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
      'message', 'Número de telemóvel inválido.');
  END IF;
  IF coalesce(p_password, '') = '' THEN
    v_errors := v_errors || jsonb_build_object('field', 'password', 'code', 'invalid',
      'message', 'Indica a tua palavra-passe.');
  ELSIF octet_length(p_password) > 72 THEN
    -- bcrypt reads 72 bytes and registration refuses more: no account has such a password
    v_errors := v_errors || jsonb_build_object('field', 'password', 'code', 'too_long',
      'message', 'A palavra-passe pode ter no máximo 72 bytes (letras acentuadas contam 2, emojis 4).');
  END IF;
  IF p_event_id IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'event_id', 'code', 'required',
      'message', 'Evento em falta.');
  END IF;
  RETURN v_errors;
END
$$;

-- Authenticate by phone and password, then put the client on the event's
-- list (or recover their existing place). Refusals are returned, not raised:
-- invalid_input, rate_limited, event_not_found, promoter_not_found,
-- account_locked, invalid_credentials, guest_list_closed, guest_list_full.
-- Unknown phones and wrong passwords cost one bcrypt each and answer alike.
CREATE OR REPLACE FUNCTION api.authenticate_and_create_guest_v2(
  p_phone text,
  p_password text,
  p_event_id uuid,
  p_promoter_id uuid DEFAULT NULL,
  p_team_id uuid DEFAULT NULL,
  p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text := app._normalize_phone(p_phone);
  v_errors jsonb;
  v_retry integer;
  v_event app.events;
  v_attr record;
  v_user app.client_users;
  v_guest record;
  v_code text;
BEGIN
  v_retry := app._rate_limited('login', p_client_key);
  IF v_retry > 0 THEN
    RETURN app._refusal('rate_limited', app._message('rate_limited'),
                        jsonb_build_object('retry_after', v_retry));
  END IF;

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

  v_retry := app._count_login_attempt(app._phone_hash(v_phone));
  IF v_retry > 0 THEN
    RETURN app._refusal('account_locked', app._message('account_locked'),
                        jsonb_build_object('retry_after', v_retry));
  END IF;

  SELECT * INTO v_user FROM app.client_users cu WHERE cu.phone = v_phone AND cu.is_active;
  -- exactly one bcrypt comparison whether or not the phone is known
  IF public.crypt(p_password, coalesce(v_user.password_hash, app._dummy_password_hash()))
     IS DISTINCT FROM v_user.password_hash THEN
    RETURN app._refusal('invalid_credentials', app._message('invalid_credentials'));
  END IF;
  DELETE FROM app.login_failures WHERE phone_hash = app._phone_hash(v_phone);

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
GRANT EXECUTE ON FUNCTION api.authenticate_and_create_guest_v2(text, text, uuid, uuid, uuid, text)
  TO guestlist_web;
