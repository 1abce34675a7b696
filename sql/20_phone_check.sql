-- Step one of the guest page: is this phone registered? Answers the first
-- name only, never email, phone or last name.
SET LOCAL ROLE guestlist_owner;

-- {exists, user: {firstName} | null, source: cache | database}. With
-- guestlist.phone_cache = on, answers (negative ones too) are cached five
-- minutes under sha256(phone); a registration drops its phone's entry in the
-- same transaction. Off by default: measured slower than the plain indexed
-- lookup it saves (see bench/README.md). Bad phone: PT400 invalid_input.
CREATE OR REPLACE FUNCTION api.check_phone_with_cache(p_phone text, p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text;
  v_hash bytea;
  v_user_id uuid;
  v_first_name text;
BEGIN
  IF p_client_key IS NOT NULL THEN
    PERFORM app._enforce_rate_limit('check_phone', p_client_key);
  END IF;
  v_phone := app._normalize_phone(p_phone);
  IF v_phone IS NULL THEN
    PERFORM app._raise(400, 'invalid_input', app._message('invalid_input'), jsonb_build_object(
      'errors', jsonb_build_array(jsonb_build_object(
        'field', 'phone', 'code', 'invalid', 'message', 'Número de telemóvel inválido.'))));
  END IF;

  IF current_setting('guestlist.phone_cache', true) = 'on' THEN
    v_hash := app._phone_hash(v_phone);
    SELECT c.client_user_id, c.first_name INTO v_user_id, v_first_name
    FROM app.phone_lookup_cache c
    WHERE c.phone_hash = v_hash AND c.expires_at > now();
    IF FOUND THEN
      RETURN jsonb_build_object(
        'exists', v_user_id IS NOT NULL,
        'user', CASE WHEN v_user_id IS NOT NULL THEN jsonb_build_object('firstName', v_first_name) END,
        'source', 'cache');
    END IF;
  END IF;

  SELECT cu.id, cu.first_name INTO v_user_id, v_first_name
  FROM app.client_users cu
  WHERE cu.phone = v_phone AND cu.is_active;

  IF v_hash IS NOT NULL THEN
    INSERT INTO app.phone_lookup_cache AS c (phone_hash, client_user_id, first_name, expires_at)
    VALUES (v_hash, v_user_id, v_first_name, now() + interval '5 minutes')
    ON CONFLICT (phone_hash) DO UPDATE
      SET client_user_id = excluded.client_user_id, first_name = excluded.first_name,
          expires_at = excluded.expires_at;
  END IF;

  RETURN jsonb_build_object(
    'exists', v_user_id IS NOT NULL,
    'user', CASE WHEN v_user_id IS NOT NULL THEN jsonb_build_object('firstName', v_first_name) END,
    'source', 'database');
END
$$;
GRANT EXECUTE ON FUNCTION api.check_phone_with_cache(text, text) TO guestlist_web;
