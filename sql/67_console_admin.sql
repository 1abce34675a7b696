-- What an operator scripts about the console (`guestlist admin …`): an
-- event with the console's fields, a promoter in a team in one call, and an
-- event's guest list for the CSV export. Operators only (guestlist_admin);
-- the web role reaches none of it.

-- A new event of an organization with a minimum age (NULL: none, else
-- 1-99): admin.create_event's checks and answers, then the age. Returns the
-- event's id.
CREATE OR REPLACE FUNCTION admin.create_console_event(
  p_organization_id uuid,
  p_title text,
  p_slug text,
  p_starts_at timestamptz,
  p_location text DEFAULT NULL,
  p_guest_capacity integer DEFAULT NULL,
  p_guest_list_closes_at timestamptz DEFAULT NULL,
  p_min_age integer DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF p_min_age IS NOT NULL AND p_min_age NOT BETWEEN 1 AND 99 THEN
    PERFORM app._invalid_field('min_age', 'A idade mínima deve estar entre 1 e 99. Corrige a idade mínima.');
  END IF;
  v_id := admin.create_event(p_organization_id, p_title, p_slug, p_starts_at, p_location,
                             p_guest_capacity, p_guest_list_closes_at);
  UPDATE app.events SET min_age = p_min_age WHERE id = v_id;
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_console_event(uuid, text, text, timestamptz, text, integer,
                                                     timestamptz, integer) TO guestlist_admin;

-- A new promoter (their link's slug, unique across the site) in the
-- organization's team p_team_name (created when missing):
-- {"promoterId", "teamId", "slug"}. A taken slug: PT409 slug_taken; an
-- unknown organization: PT404 organization_not_found.
CREATE OR REPLACE FUNCTION admin.create_team_promoter(p_organization_id uuid, p_slug text,
                                                      p_display_name text, p_team_name text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_team uuid;
  v_promoter uuid;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app.organizations o WHERE o.id = p_organization_id) THEN
    PERFORM app._raise(404, 'organization_not_found', 'Organização não encontrada.');
  END IF;
  SELECT t.id INTO v_team FROM app.teams t
  WHERE t.organization_id = p_organization_id AND t.name = btrim(p_team_name);
  IF v_team IS NULL THEN
    v_team := admin.create_team(p_organization_id, p_team_name);
  END IF;
  v_promoter := admin.create_promoter(p_slug, p_display_name);
  PERFORM admin.add_team_member(v_team, v_promoter);
  RETURN jsonb_build_object('promoterId', v_promoter, 'teamId', v_team, 'slug', p_slug);
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_team_promoter(uuid, text, text, text) TO guestlist_admin;

-- The rows of an event's CSV export, newest first, as api.console_export_rows
-- answers an owner: name, phone, promoter, team, status, arrival,
-- registration. An unknown event: PT404 event_not_found.
CREATE OR REPLACE FUNCTION admin.export_rows(p_event_id uuid)
RETURNS TABLE (name text, phone text, promoter text, team text, status text,
               checked_in_at timestamptz, created_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app.events e WHERE e.id = p_event_id) THEN
    PERFORM app._raise(404, 'event_not_found', 'Evento não encontrado. Verifica o identificador do evento.');
  END IF;
  RETURN QUERY
  SELECT coalesce(g.name, '(anonimizado)'), g.phone, p.display_name, t.name, g.status,
         g.checked_in_at, g.created_at
  FROM app.guests g
  LEFT JOIN app.promoters p ON p.id = g.promoter_id
  LEFT JOIN app.teams t ON t.id = g.team_id
  WHERE g.event_id = p_event_id AND g.status <> 'cancelled'
  ORDER BY g.created_at DESC, g.id;
END
$$;
GRANT EXECUTE ON FUNCTION admin.export_rows(uuid) TO guestlist_admin;
