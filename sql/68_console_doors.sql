-- The console's door links: an owner or manager creates a link that makes a
-- staff phone an event's door (/porta/<token>, shown once), lists the
-- event's links with their scans and the codes admitted at two doors, and
-- revokes a link. Like every console function (sql/62_console.sql) these take
-- the staff session first, seal its scope and run as guestlist_console, held
-- by the door tables' row-level security (sql/61_staff.sql): a promoter, or
-- an id of another organization, finds nothing (PT404 not_found).
SET LOCAL ROLE guestlist_owner;

-- The shared door-link helpers (sql/66_door.sql) run as their caller: here,
-- the console role under its policies.
GRANT EXECUTE ON FUNCTION app._create_door_link(uuid, text), app._revoke_door_link(uuid)
  TO guestlist_console;

-- An event whose doors the caller runs (owner or manager of its
-- organization), else PT404 not_found: a promoter's event answers as another
-- organization's, since door links are none of a promoter's business.
CREATE OR REPLACE FUNCTION app._console_door_event(p_scope jsonb, p_event_id uuid)
RETURNS app.events
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_event app.events;
BEGIN
  SELECT * INTO v_event FROM app.events e WHERE e.id = p_event_id;
  IF v_event.id IS NULL OR NOT app._console_has(p_scope, 'full', v_event.organization_id) THEN
    PERFORM app._console_not_found();
  END IF;
  RETURN v_event;
END
$$;

-- A door link for the event (owner or manager): {doorId, token, path, label,
-- expiresAt}; the token leaves this once (only its sha256 is stored). PT400
-- invalid_input (label: 1 to 60 printable characters), PT404 not_found.
CREATE OR REPLACE FUNCTION api.console_door_link_create(p_session_token text, p_event_id uuid,
                                                        p_label text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events := app._console_door_event(v_scope, p_event_id);
BEGIN
  RETURN app._create_door_link(v_event.id, p_label);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_door_link_create(text, uuid, text) TO guestlist_web;

-- End a door link of one of the caller's events at once (owner or manager):
-- {doorId, revokedAt} (revoking twice keeps the first time). PT404
-- not_found: no such link, or not the caller's to see.
CREATE OR REPLACE FUNCTION api.console_door_link_revoke(p_session_token text, p_door_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_at timestamptz;
BEGIN
  PERFORM app._console_begin(p_session_token);
  -- the policies leave only the links of events the caller runs to update
  v_at := app._revoke_door_link(p_door_id);
  IF v_at IS NULL THEN
    PERFORM app._console_not_found();
  END IF;
  RETURN jsonb_build_object('doorId', p_door_id, 'revokedAt', v_at);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_door_link_revoke(text, uuid) TO guestlist_web;

-- The event's door links and what the doors saw (owner or manager), newest
-- first: {doors: [{doorId, label, createdAt, expiresAt, revokedAt, live,
-- lastScanAt, scans}], conflicts (how many codes two doors admitted),
-- conflictList: [{guest {id, name}, admitted {scanId, door, scannedAt},
-- later {…}, recordedAt}] (the latest 100)}. Never a token or its hash.
-- PT404 not_found.
CREATE OR REPLACE FUNCTION api.console_door_links(p_session_token text, p_event_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events := app._console_door_event(v_scope, p_event_id);
  v_expires timestamptz := v_event.starts_at + interval '12 hours';
BEGIN
  RETURN jsonb_build_object(
    'doors', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'doorId', d.id, 'label', d.label, 'createdAt', d.created_at,
               'expiresAt', v_expires, 'revokedAt', d.revoked_at,
               'live', d.revoked_at IS NULL AND v_event.is_active AND now() < v_expires,
               'lastScanAt', s.last_scan_at, 'scans', coalesce(s.scans, 0))
             ORDER BY d.created_at DESC, d.id)
      FROM app.door_links d
      LEFT JOIN (SELECT sc.door_id, count(*) AS scans, max(sc.scanned_at) AS last_scan_at
                 FROM app.door_scans sc WHERE sc.event_id = v_event.id
                 GROUP BY sc.door_id) s ON s.door_id = d.id
      WHERE d.event_id = v_event.id), '[]'::jsonb),
    'conflicts', (SELECT count(*) FROM app.door_conflicts c WHERE c.event_id = v_event.id),
    'conflictList', coalesce((
      SELECT jsonb_agg(x.item ORDER BY x.created_at DESC, x.id DESC)
      FROM (
        SELECT c.id, c.created_at, jsonb_build_object(
                 'guest', jsonb_build_object('id', g.id, 'name', g.name),
                 'admitted', jsonb_build_object('scanId', a.scan_id, 'door', da.label,
                                                'scannedAt', a.scanned_at),
                 'later', jsonb_build_object('scanId', l.scan_id, 'door', dl.label,
                                             'scannedAt', l.scanned_at),
                 'recordedAt', c.created_at) AS item
        FROM app.door_conflicts c
        JOIN app.guests g ON g.id = c.guest_id
        JOIN app.door_scans a ON a.scan_id = c.admitted_scan
        JOIN app.door_links da ON da.id = a.door_id
        JOIN app.door_scans l ON l.scan_id = c.later_scan
        JOIN app.door_links dl ON dl.id = l.door_id
        WHERE c.event_id = v_event.id
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT 100) x), '[]'::jsonb));
END
$$;
GRANT EXECUTE ON FUNCTION api.console_door_links(text, uuid) TO guestlist_web;

-- These run as the console role, like the rest of the console (sql/62_console.sql hands the
-- others over; it runs before this file on a fresh database).
ALTER FUNCTION app._console_door_event(jsonb, uuid) OWNER TO guestlist_console;
ALTER FUNCTION api.console_door_link_create(text, uuid, text) OWNER TO guestlist_console;
ALTER FUNCTION api.console_door_link_revoke(text, uuid) OWNER TO guestlist_console;
ALTER FUNCTION api.console_door_links(text, uuid) OWNER TO guestlist_console;
-- The last hand-over: the console role keeps its functions but may create nothing in app or
-- api (sql/62_console.sql grants CREATE again for the hand-over on the next migrate).
REVOKE CREATE ON SCHEMA app, api FROM guestlist_console;
