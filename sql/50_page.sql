-- What the guest page reads: the promoter link, a returning device's QR
-- code, and whether a QR code exists (for its image).
SET LOCAL ROLE guestlist_owner;

-- /promotor/<promoter>/<event> in one call: the event (by its slug inside
-- an organization the promoter works for), organization, promoter, the
-- promoter's team there, and whether the list takes guests now. Unknown
-- promoter or event, or a promoter not working that event: PT404.
-- Rate-limited per p_client_key. Slugs are stored lowercase and matched case-insensitively.
CREATE OR REPLACE FUNCTION api.resolve_guest_page(p_promoter_slug text, p_event_slug text,
                                                  p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_page jsonb;
BEGIN
  IF p_client_key IS NOT NULL THEN
    PERFORM app._enforce_rate_limit('page', p_client_key);
  END IF;
  SELECT jsonb_build_object(
           'event', app._event_json(e),
           'organization', jsonb_build_object('id', o.id, 'name', o.name,
             -- the privacy notice says how long the organization keeps what
             'accountRetentionMonths', o.account_retention_months,
             'guestRetentionMonths', o.guest_retention_months),
           'promoter', jsonb_build_object('id', p.id, 'displayName', p.display_name),
           'teamId', t.id,
           'guestListOpen', app._event_refusal(e) IS NULL,
           'closesAt', e.guest_list_closes_at)
    INTO v_page
  FROM app.promoters p
  JOIN app.team_members tm ON tm.promoter_id = p.id
  JOIN app.teams t ON t.id = tm.team_id
  JOIN app.event_slugs es ON es.organization_id = t.organization_id
                         AND es.slug = lower(p_event_slug)
  JOIN app.events e ON e.id = es.event_id
  JOIN app.organizations o ON o.id = e.organization_id
  WHERE p.slug = lower(p_promoter_slug) AND p.is_active AND e.is_active
  ORDER BY e.starts_at DESC, t.created_at, t.id
  LIMIT 1;
  IF v_page IS NULL THEN
    PERFORM app._raise(404, 'page_not_found', 'Página não encontrada. Confirma o link com quem to enviou.');
  END IF;
  RETURN v_page;
END
$$;
GRANT EXECUTE ON FUNCTION api.resolve_guest_page(text, text, text) TO guestlist_web;

-- A returning device: the guest's place on this event from its session
-- token, with the guest's full name (their own, to their own session: the
-- ticket they save bears it; no public answer carries a last name). Unknown or expired token: PT401 session_invalid; no place on this
-- event yet: PT404 event_not_found. Rate-limited per p_client_key.
CREATE OR REPLACE FUNCTION api.session_guest(p_session_token text, p_event_id uuid,
                                             p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user_id uuid;
  v_answer jsonb;
BEGIN
  IF p_client_key IS NOT NULL THEN
    PERFORM app._enforce_rate_limit('session', p_client_key);
  END IF;
  IF p_session_token ~ '^[0-9a-f]{64}$' THEN
    SELECT s.client_user_id INTO v_user_id
    FROM app.guest_sessions s
    JOIN app.client_users cu ON cu.id = s.client_user_id AND cu.is_active
    WHERE s.token_hash = sha256(decode(p_session_token, 'hex')) AND s.expires_at > now();
  END IF;
  IF v_user_id IS NULL THEN
    PERFORM app._raise(401, 'session_invalid', 'A tua sessão terminou ou expirou. Entra de novo com o teu número.');
  END IF;
  SELECT jsonb_build_object('success', true, 'guest_id', g.id, 'qr_code', g.qr_code,
                            'first_name', cu.first_name, 'last_name', cu.last_name,
                            'event', app._event_json(e))
    INTO v_answer
  FROM app.guests g
  JOIN app.events e ON e.id = g.event_id AND e.is_active
  JOIN app.client_users cu ON cu.id = g.client_user_id
  WHERE g.event_id = p_event_id AND g.client_user_id = v_user_id AND g.status <> 'cancelled';
  IF v_answer IS NULL THEN
    PERFORM app._raise(404, 'event_not_found', 'Ainda não estás na lista deste evento. Entra com o teu número para te juntares a ela.');
  END IF;
  RETURN v_answer;
END
$$;
GRANT EXECUTE ON FUNCTION api.session_guest(text, uuid, text) TO guestlist_web;

-- What the guest page asks on every visit: this device's place on the event
-- (the pass and the ticket: QR code, first and last name, event; only the
-- session's own guest ever gets it), or {"guest": null} when it has none (no token, an unknown, expired or ended
-- session, no place on this event yet), and whether the device holds a valid
-- session at all (session: a device whose session ended forgets the pass it
-- kept offline; one with a session but no place here holds another guest).
-- Unlike api.session_guest, "nobody" is an answer and not a refusal, so a
-- first visit logs no error in the browser. Rate-limited per p_client_key
-- (bucket session, as session_guest).
CREATE OR REPLACE FUNCTION api.session_pass(p_session_token text, p_event_id uuid,
                                            p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user_id uuid;
  v_guest jsonb;
BEGIN
  IF p_client_key IS NOT NULL THEN
    PERFORM app._enforce_rate_limit('session', p_client_key);
  END IF;
  v_user_id := app._session_user(p_session_token);
  IF v_user_id IS NOT NULL AND p_event_id IS NOT NULL THEN
    SELECT jsonb_build_object('guest_id', g.id, 'qr_code', g.qr_code,
                              'first_name', cu.first_name, 'last_name', cu.last_name,
                              'event', app._event_json(e))
      INTO v_guest
    FROM app.client_users cu
    JOIN app.guests g ON g.client_user_id = cu.id AND g.event_id = p_event_id
                     AND g.status <> 'cancelled'
    JOIN app.events e ON e.id = g.event_id AND e.is_active
    WHERE cu.id = v_user_id;
  END IF;
  RETURN jsonb_build_object('guest', v_guest, 'session', v_user_id IS NOT NULL);
END
$$;
GRANT EXECUTE ON FUNCTION api.session_pass(text, uuid, text) TO guestlist_web;

-- Whether a QR code belongs to a guest (the image route answers 404 if not).
-- Rate-limited per p_client_key.
CREATE OR REPLACE FUNCTION api.qr_code_exists(p_qr_code text, p_client_key text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_client_key IS NOT NULL THEN
    PERFORM app._enforce_rate_limit('qr', p_client_key);
  END IF;
  RETURN EXISTS (SELECT 1 FROM app.guests g
                 WHERE g.qr_code = p_qr_code AND g.status <> 'cancelled');
END
$$;
GRANT EXECUTE ON FUNCTION api.qr_code_exists(text, text) TO guestlist_web;
