-- What organizers and DBAs call to set up events (role guestlist_admin).
-- Bad input raises PT400 invalid_input with the field; duplicates PT409.
SET LOCAL ROLE guestlist_owner;

-- Raise PT400 invalid_input naming one bad field.
CREATE OR REPLACE FUNCTION app._invalid_field(p_field text, p_message text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app._raise(400, 'invalid_input', p_message, jsonb_build_object('errors',
    jsonb_build_array(jsonb_build_object('field', p_field, 'code', 'invalid', 'message', p_message))));
END
$$;

-- Raise PT400 invalid_input naming p_field when p_text holds control or
-- invisible formatting characters (app._printable_text): a name shown on the
-- guest page, the door's screen and in exports must read as what it is.
CREATE OR REPLACE FUNCTION app._require_printable(p_field text, p_text text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_message constant text := 'Contém caracteres de controlo ou invisíveis, que não são permitidos.';
BEGIN
  IF NOT app._printable_text(p_text) THEN
    PERFORM app._raise(400, 'invalid_input', v_message, jsonb_build_object('errors',
      jsonb_build_array(jsonb_build_object('field', p_field, 'code', 'invalid_characters',
                                           'message', v_message))));
  END IF;
END
$$;

-- Whether a slug is lowercase words joined by hyphens, at most 80 characters.
CREATE OR REPLACE FUNCTION app._valid_slug(p_slug text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(p_slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(p_slug) <= 80, false);
END
$$;

-- A new organization; returns its id.
CREATE OR REPLACE FUNCTION admin.create_organization(p_name text, p_slug text)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF coalesce(length(btrim(p_name)), 0) NOT BETWEEN 1 AND 120 THEN
    PERFORM app._invalid_field('name', 'O nome deve ter entre 1 e 120 caracteres.');
  END IF;
  PERFORM app._require_printable('name', p_name);
  IF NOT app._valid_slug(p_slug) THEN
    PERFORM app._invalid_field('slug', 'Slug inválido (letras minúsculas, números e hífenes).');
  END IF;
  INSERT INTO app.organizations (name, slug) VALUES (btrim(p_name), p_slug)
  ON CONFLICT (slug) DO NOTHING RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    PERFORM app._raise(409, 'slug_taken', 'Já existe uma organização com este slug.');
  END IF;
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_organization(text, text) TO guestlist_admin;

-- A new event of an organization, reachable by p_slug; returns its id.
CREATE OR REPLACE FUNCTION admin.create_event(
  p_organization_id uuid,
  p_title text,
  p_slug text,
  p_starts_at timestamptz,
  p_location text DEFAULT NULL,
  p_guest_capacity integer DEFAULT NULL,
  p_guest_list_closes_at timestamptz DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app.organizations o WHERE o.id = p_organization_id) THEN
    PERFORM app._raise(404, 'organization_not_found', 'Organização não encontrada.');
  END IF;
  IF coalesce(length(btrim(p_title)), 0) NOT BETWEEN 1 AND 160 THEN
    PERFORM app._invalid_field('title', 'O título deve ter entre 1 e 160 caracteres.');
  END IF;
  PERFORM app._require_printable('title', p_title);
  IF NOT app._valid_slug(p_slug) THEN
    PERFORM app._invalid_field('slug', 'Slug inválido (letras minúsculas, números e hífenes).');
  END IF;
  IF p_starts_at IS NULL THEN
    PERFORM app._invalid_field('starts_at', 'Data de início em falta.');
  END IF;
  IF length(p_location) > 200 THEN
    PERFORM app._invalid_field('location', 'O local deve ter no máximo 200 caracteres.');
  END IF;
  PERFORM app._require_printable('location', p_location);
  IF p_guest_capacity <= 0 THEN
    PERFORM app._invalid_field('guest_capacity', 'A capacidade deve ser positiva.');
  END IF;
  IF EXISTS (SELECT 1 FROM app.event_slugs s
             WHERE s.organization_id = p_organization_id AND s.slug = p_slug) THEN
    PERFORM app._raise(409, 'slug_taken', 'Já existe um evento com este slug.');
  END IF;
  INSERT INTO app.events (organization_id, title, starts_at, location, guest_capacity,
                          guest_list_closes_at)
  VALUES (p_organization_id, btrim(p_title), p_starts_at, nullif(btrim(p_location), ''),
          p_guest_capacity, p_guest_list_closes_at)
  RETURNING id INTO v_id;
  INSERT INTO app.event_slugs (organization_id, slug, event_id)
  VALUES (p_organization_id, p_slug, v_id);
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_event(uuid, text, text, timestamptz, text, integer, timestamptz)
  TO guestlist_admin;

-- A new promoter, whose slug is the first part of their link; returns its id.
CREATE OR REPLACE FUNCTION admin.create_promoter(p_slug text, p_display_name text)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF NOT app._valid_slug(p_slug) THEN
    PERFORM app._invalid_field('slug', 'Slug inválido (letras minúsculas, números e hífenes).');
  END IF;
  IF coalesce(length(btrim(p_display_name)), 0) NOT BETWEEN 1 AND 80 THEN
    PERFORM app._invalid_field('display_name', 'O nome deve ter entre 1 e 80 caracteres.');
  END IF;
  PERFORM app._require_printable('display_name', p_display_name);
  INSERT INTO app.promoters (slug, display_name) VALUES (p_slug, btrim(p_display_name))
  ON CONFLICT (slug) DO NOTHING RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    PERFORM app._raise(409, 'slug_taken', 'Já existe um promotor com este slug.');
  END IF;
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_promoter(text, text) TO guestlist_admin;

-- A new team of an organization; returns its id.
CREATE OR REPLACE FUNCTION admin.create_team(p_organization_id uuid, p_name text)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app.organizations o WHERE o.id = p_organization_id) THEN
    PERFORM app._raise(404, 'organization_not_found', 'Organização não encontrada.');
  END IF;
  IF coalesce(length(btrim(p_name)), 0) NOT BETWEEN 1 AND 80 THEN
    PERFORM app._invalid_field('name', 'O nome deve ter entre 1 e 80 caracteres.');
  END IF;
  PERFORM app._require_printable('name', p_name);
  INSERT INTO app.teams (organization_id, name) VALUES (p_organization_id, btrim(p_name))
  ON CONFLICT (organization_id, name) DO NOTHING RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    PERFORM app._raise(409, 'team_exists', 'Já existe uma equipa com este nome.');
  END IF;
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_team(uuid, text) TO guestlist_admin;

-- Make a promoter a member of a team (idempotent); returns the team's id.
CREATE OR REPLACE FUNCTION admin.add_team_member(p_team_id uuid, p_promoter_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app.teams t WHERE t.id = p_team_id) THEN
    PERFORM app._raise(404, 'team_not_found', 'Equipa não encontrada.');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM app.promoters p WHERE p.id = p_promoter_id) THEN
    PERFORM app._raise(404, 'promoter_not_found', 'Promotor não encontrado.');
  END IF;
  INSERT INTO app.team_members (team_id, promoter_id) VALUES (p_team_id, p_promoter_id)
  ON CONFLICT DO NOTHING;
  RETURN p_team_id;
END
$$;
GRANT EXECUTE ON FUNCTION admin.add_team_member(uuid, uuid) TO guestlist_admin;

-- The demo: organization noites-lisboa, event festa-verao, promoter miguel
-- in "Equipa Miguel". Idempotent; each load moves the event 14 days ahead
-- and leaves it active, open and uncapped. Returns the ids.
CREATE OR REPLACE FUNCTION admin.load_demo()
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_org uuid;
  v_event uuid;
  v_promoter uuid;
  v_team uuid;
  v_starts timestamptz := ((current_date + 14)::timestamp + time '23:00') AT TIME ZONE 'Europe/Lisbon';
BEGIN
  SELECT id INTO v_org FROM app.organizations WHERE slug = 'noites-lisboa';
  IF v_org IS NULL THEN
    v_org := admin.create_organization('Noites de Lisboa', 'noites-lisboa');
  END IF;
  SELECT event_id INTO v_event FROM app.event_slugs
  WHERE organization_id = v_org AND slug = 'festa-verao';
  IF v_event IS NULL THEN
    v_event := admin.create_event(v_org, 'Festa de Verão', 'festa-verao', v_starts,
                                  'Lx Factory, Lisboa');
  END IF;
  UPDATE app.events
  SET starts_at = v_starts, is_active = true, guest_capacity = NULL, guest_list_closes_at = NULL
  WHERE id = v_event;
  SELECT id INTO v_promoter FROM app.promoters WHERE slug = 'miguel';
  IF v_promoter IS NULL THEN
    v_promoter := admin.create_promoter('miguel', 'Miguel');
  END IF;
  UPDATE app.promoters SET is_active = true WHERE id = v_promoter;
  SELECT id INTO v_team FROM app.teams WHERE organization_id = v_org AND name = 'Equipa Miguel';
  IF v_team IS NULL THEN
    v_team := admin.create_team(v_org, 'Equipa Miguel');
  END IF;
  PERFORM admin.add_team_member(v_team, v_promoter);
  RETURN jsonb_build_object('organizationId', v_org, 'eventId', v_event,
                            'promoterId', v_promoter, 'teamId', v_team);
END
$$;
GRANT EXECUTE ON FUNCTION admin.load_demo() TO guestlist_admin;
