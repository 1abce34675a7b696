-- Logging a device out: its session ends server-side, not only in the browser.
SET LOCAL ROLE guestlist_owner;

-- End the session whose token is p_session_token (only its sha256 is
-- stored): the token no longer opens anything, even if a copy of the cookie
-- survives. Idempotent: an unknown, expired, malformed or NULL token ends
-- nothing and is no error. Returns whether a session was ended.
CREATE OR REPLACE FUNCTION api.guest_logout(p_session_token text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ended integer;
BEGIN
  IF p_session_token IS NULL OR p_session_token !~ '^[0-9a-f]{64}$' THEN
    RETURN false;
  END IF;
  DELETE FROM app.guest_sessions s WHERE s.token_hash = sha256(decode(p_session_token, 'hex'));
  GET DIAGNOSTICS v_ended = ROW_COUNT;
  RETURN v_ended > 0;
END
$$;
GRANT EXECUTE ON FUNCTION api.guest_logout(text) TO guestlist_web;
