-- Step one of the guest page: is this phone registered? Answers whether it
-- exists and nothing about its owner (no name, email or phone).
SET LOCAL ROLE guestlist_owner;

-- {exists, user: null, source: cache | database}. `user` keeps the seed's
-- shape and is always null: a name would tell anyone a stranger's name from a
-- phone number (the page greets by name after the password instead). With
-- guestlist.phone_cache = on, answers (negative ones too) are cached five
-- minutes under sha256(phone); a registration drops its phone's entry in the
-- same transaction. Off by default: measured slower than the plain indexed
-- lookup it saves (see bench/README.md). Bad phone: PT400 invalid_input.
-- A web request (p_client_key given) is limited three ways, each PT429
-- rate_limited with retry_after: per client key (bucket check_phone), per
-- phone (phone_lookups_per_minute, keyed by the phone's hash) and by a global
-- ceiling on lookups of unknown numbers (unknown_phone_lookups_per_minute).
-- Past that ceiling every lookup is refused until the minute ends, known
-- numbers too, so a refusal never tells which numbers are unknown.
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
  v_unknown_limit integer;
  v_window timestamptz;
BEGIN
  IF p_client_key IS NOT NULL THEN
    PERFORM app._enforce_rate_limit('check_phone', p_client_key);
  END IF;
  v_phone := app._normalize_phone(p_phone);
  IF v_phone IS NULL THEN
    PERFORM app._raise(400, 'invalid_input', app._message('invalid_input'), jsonb_build_object(
      'errors', jsonb_build_array(jsonb_build_object(
        'field', 'phone', 'code', 'invalid', 'message', 'Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310.'))));
  END IF;
  v_hash := app._phone_hash(v_phone);

  IF p_client_key IS NOT NULL THEN
    PERFORM app._raise_rate_limited(app._count_hit(
      'phone_lookup', encode(v_hash, 'hex'), app._config_int('phone_lookups_per_minute', 10)));
    v_unknown_limit := app._config_int('unknown_phone_lookups_per_minute', 1800);
    IF v_unknown_limit > 0 THEN
      v_window := date_trunc('minute', clock_timestamp());
      IF (SELECT c.hits FROM app.rate_limit_counters c
          WHERE c.bucket = 'unknown_phone' AND c.client_key = '*'
            AND c.window_start = v_window) >= v_unknown_limit THEN
        PERFORM app._raise_rate_limited(greatest(1, ceil(extract(epoch FROM
          v_window + interval '1 minute' - clock_timestamp())))::integer);
      END IF;
    END IF;
  END IF;

  IF current_setting('guestlist.phone_cache', true) = 'on' THEN
    SELECT c.client_user_id INTO v_user_id
    FROM app.phone_lookup_cache c
    WHERE c.phone_hash = v_hash AND c.expires_at > now();
    IF FOUND THEN
      IF v_user_id IS NULL THEN
        PERFORM app._count_hit('unknown_phone', '*', v_unknown_limit);
      END IF;
      RETURN jsonb_build_object('exists', v_user_id IS NOT NULL, 'user', NULL, 'source', 'cache');
    END IF;
  END IF;

  SELECT cu.id INTO v_user_id
  FROM app.client_users cu
  WHERE cu.phone = v_phone AND cu.is_active;

  IF current_setting('guestlist.phone_cache', true) = 'on' THEN
    INSERT INTO app.phone_lookup_cache AS c (phone_hash, client_user_id, expires_at)
    VALUES (v_hash, v_user_id, now() + interval '5 minutes')
    ON CONFLICT (phone_hash) DO UPDATE
      SET client_user_id = excluded.client_user_id, expires_at = excluded.expires_at;
  END IF;
  -- counted last, after the lookup: the one hot row is held only to the commit
  IF v_user_id IS NULL THEN
    PERFORM app._count_hit('unknown_phone', '*', v_unknown_limit);
  END IF;

  RETURN jsonb_build_object('exists', v_user_id IS NOT NULL, 'user', NULL, 'source', 'database');
END
$$;
GRANT EXECUTE ON FUNCTION api.check_phone_with_cache(text, text) TO guestlist_web;
