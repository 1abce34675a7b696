-- The console: what owners, managers and promoters do with their
-- organizations' events. Every function here takes the staff session first,
-- seals its scope (app._console_begin) and then reads and writes only through
-- the row-level security policies of sql/61_staff.sql: the functions belong
-- to guestlist_console (handed over at the end of this file), which has no
-- BYPASSRLS and is not the tables' owner. An id outside the caller's
-- organizations is simply not there: PT404 not_found, exactly as an id that
-- does not exist. A role that may see but not do: PT403 forbidden.
SET LOCAL ROLE guestlist_owner;

-- The console helpers call these owner-owned helpers.
GRANT EXECUTE ON FUNCTION app._raise(integer, text, text, jsonb), app._invalid_field(text, text),
  app._require_printable(text, text), app._printable_text(text), app._valid_slug(text),
  app._event_refusal(app.events), app._message(text), app._staff_email(text),
  app._config(text, text), app._config_int(text, integer)
  TO guestlist_console;

-- Raise PT404 not_found (the one answer for "not there" and "not yours").
CREATE OR REPLACE FUNCTION app._console_not_found()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app._raise(404, 'not_found', 'Não encontrado. Escolhe-o de novo na tua lista.');
END
$$;

-- Raise PT403 forbidden: the caller sees this but their role may not do it.
CREATE OR REPLACE FUNCTION app._console_forbidden()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app._raise(403, 'forbidden', 'O teu papel nesta organização não permite isto. Pede-o a um dono da organização.');
END
$$;

-- Whether the scope gives p_kind ('orgs', 'full', 'owner') over p_org.
CREATE OR REPLACE FUNCTION app._console_has(p_scope jsonb, p_kind text, p_org uuid)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(p_scope -> p_kind ? p_org::text, false);
END
$$;

-- An organization of the caller's (PT404 otherwise) on which their role is
-- at least p_kind (PT403 otherwise).
CREATE OR REPLACE FUNCTION app._console_org(p_scope jsonb, p_org uuid, p_kind text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_org IS NULL OR NOT EXISTS (SELECT 1 FROM app.organizations o WHERE o.id = p_org) THEN
    PERFORM app._console_not_found();
  END IF;
  IF NOT app._console_has(p_scope, p_kind, p_org) THEN
    PERFORM app._console_forbidden();
  END IF;
END
$$;

-- An event the caller sees (PT404 otherwise), on whose organization their
-- role is at least p_kind (PT403 otherwise); p_lock: FOR NO KEY UPDATE.
CREATE OR REPLACE FUNCTION app._console_event(p_scope jsonb, p_event_id uuid, p_kind text,
                                              p_lock boolean DEFAULT false)
RETURNS app.events
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_event app.events;
BEGIN
  IF p_lock THEN
    SELECT * INTO v_event FROM app.events e WHERE e.id = p_event_id FOR NO KEY UPDATE;
  ELSE
    SELECT * INTO v_event FROM app.events e WHERE e.id = p_event_id;
  END IF;
  IF v_event.id IS NULL THEN
    PERFORM app._console_not_found();
  END IF;
  IF NOT app._console_has(p_scope, p_kind, v_event.organization_id) THEN
    PERFORM app._console_forbidden();
  END IF;
  RETURN v_event;
END
$$;

-- A promoter that works for the organization (in one of its teams), else PT404.
CREATE OR REPLACE FUNCTION app._console_promoter(p_org uuid, p_promoter_id uuid)
RETURNS app.promoters
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_promoter app.promoters;
BEGIN
  SELECT p.* INTO v_promoter FROM app.promoters p
  WHERE p.id = p_promoter_id
    AND EXISTS (SELECT 1 FROM app.team_members tm JOIN app.teams t ON t.id = tm.team_id
                WHERE tm.promoter_id = p.id AND t.organization_id = p_org);
  IF v_promoter.id IS NULL THEN
    PERFORM app._console_not_found();
  END IF;
  RETURN v_promoter;
END
$$;

-- An event as the console shows it.
CREATE OR REPLACE FUNCTION app._console_event_json(p_event app.events)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN jsonb_build_object(
    'id', p_event.id, 'organizationId', p_event.organization_id, 'title', p_event.title,
    'slug', (SELECT s.slug FROM app.event_slugs s WHERE s.event_id = p_event.id
             ORDER BY s.created_at DESC, s.slug LIMIT 1),
    'startsAt', p_event.starts_at, 'location', p_event.location,
    'guestCapacity', p_event.guest_capacity, 'guestCount', p_event.guest_count,
    'guestListClosesAt', p_event.guest_list_closes_at, 'minAge', p_event.min_age,
    'isActive', p_event.is_active, 'listOpen', app._event_refusal(p_event) IS NULL,
    'updatedAt', p_event.updated_at);
END
$$;

-- The caller's events, soonest first (all of them, or one organization's):
-- {"events": [...]}. A promoter sees their organizations' events too (their links).
CREATE OR REPLACE FUNCTION api.console_events(p_session_token text,
                                              p_organization_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
BEGIN
  IF p_organization_id IS NOT NULL THEN
    PERFORM app._console_org(v_scope, p_organization_id, 'orgs');
  END IF;
  RETURN jsonb_build_object('events', coalesce((
    SELECT jsonb_agg(app._console_event_json(e) ORDER BY e.starts_at DESC, e.id)
    FROM app.events e
    WHERE p_organization_id IS NULL OR e.organization_id = p_organization_id), '[]'));
END
$$;
GRANT EXECUTE ON FUNCTION api.console_events(text, uuid) TO guestlist_web;

-- Check an event's fields (PT400 invalid_input naming the first bad one).
CREATE OR REPLACE FUNCTION app._console_event_fields(p_title text, p_slug text,
  p_starts_at timestamptz, p_location text, p_guest_capacity integer,
  p_guest_list_closes_at timestamptz, p_min_age integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF coalesce(length(btrim(p_title)), 0) NOT BETWEEN 1 AND 160 THEN
    PERFORM app._invalid_field('title', 'O título deve ter entre 1 e 160 caracteres. Corrige o título.');
  END IF;
  PERFORM app._require_printable('title', p_title);
  IF NOT app._valid_slug(p_slug) THEN
    PERFORM app._invalid_field('slug', 'Slug inválido. Usa só letras minúsculas, números e hífenes.');
  END IF;
  IF p_starts_at IS NULL THEN
    PERFORM app._invalid_field('starts_at', 'Data de início em falta. Indica quando começa o evento.');
  END IF;
  IF length(p_location) > 200 THEN
    PERFORM app._invalid_field('location', 'O local deve ter no máximo 200 caracteres. Encurta o local.');
  END IF;
  PERFORM app._require_printable('location', p_location);
  IF p_guest_capacity IS NOT NULL AND p_guest_capacity NOT BETWEEN 1 AND 1000000 THEN
    PERFORM app._invalid_field('guest_capacity', 'A capacidade deve estar entre 1 e 1 000 000. Corrige a capacidade.');
  END IF;
  IF p_min_age IS NOT NULL AND p_min_age NOT BETWEEN 1 AND 99 THEN
    PERFORM app._invalid_field('min_age', 'A idade mínima deve estar entre 1 e 99. Corrige a idade mínima.');
  END IF;
  IF p_guest_list_closes_at IS NOT NULL AND p_starts_at IS NOT NULL
     AND p_guest_list_closes_at > p_starts_at + interval '1 day' THEN
    PERFORM app._invalid_field('guest_list_closes_at',
      'A lista deve fechar até um dia depois do início do evento. Corrige a hora de fecho.');
  END IF;
END
$$;

-- Create (p_event_id NULL, in p_organization_id) or edit an event: title,
-- slug (a new slug is added, old links keep working), start, place,
-- capacity, list closing time, minimum age, active. Owner or manager.
-- Returns the event. A slug another event of the organization holds: PT409
-- slug_taken; a capacity below the guests already on the list: PT409
-- capacity_below_count.
CREATE OR REPLACE FUNCTION api.console_event_save(
  p_session_token text,
  p_event_id uuid DEFAULT NULL,
  p_organization_id uuid DEFAULT NULL,
  p_title text DEFAULT NULL,
  p_slug text DEFAULT NULL,
  p_starts_at timestamptz DEFAULT NULL,
  p_location text DEFAULT NULL,
  p_guest_capacity integer DEFAULT NULL,
  p_guest_list_closes_at timestamptz DEFAULT NULL,
  p_min_age integer DEFAULT NULL,
  p_is_active boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events;
  v_org uuid;
  v_holder uuid;
BEGIN
  IF p_event_id IS NULL THEN
    PERFORM app._console_org(v_scope, p_organization_id, 'full');
    v_org := p_organization_id;
  ELSE
    v_event := app._console_event(v_scope, p_event_id, 'full', true);
    v_org := v_event.organization_id;
  END IF;
  p_slug := lower(btrim(p_slug));
  PERFORM app._console_event_fields(p_title, p_slug, p_starts_at, p_location, p_guest_capacity,
                                    p_guest_list_closes_at, p_min_age);
  SELECT s.event_id INTO v_holder FROM app.event_slugs s
  WHERE s.organization_id = v_org AND s.slug = p_slug;
  IF v_holder IS NOT NULL AND v_holder IS DISTINCT FROM p_event_id THEN
    PERFORM app._raise(409, 'slug_taken', 'Já existe um evento com este endereço. Escolhe outro.');
  END IF;
  IF p_event_id IS NULL THEN
    INSERT INTO app.events (organization_id, title, starts_at, location, guest_capacity,
                            guest_list_closes_at, min_age, is_active)
    VALUES (v_org, btrim(p_title), p_starts_at, nullif(btrim(p_location), ''), p_guest_capacity,
            p_guest_list_closes_at, p_min_age, coalesce(p_is_active, true))
    RETURNING * INTO v_event;
  ELSE
    IF p_guest_capacity < v_event.guest_count THEN
      PERFORM app._raise(409, 'capacity_below_count',
        format('Já há %s convidados na lista: a capacidade não pode ser menor.', v_event.guest_count));
    END IF;
    UPDATE app.events e SET title = btrim(p_title), starts_at = p_starts_at,
      location = nullif(btrim(p_location), ''), guest_capacity = p_guest_capacity,
      guest_list_closes_at = p_guest_list_closes_at, min_age = p_min_age,
      is_active = coalesce(p_is_active, true), updated_at = now()
    WHERE e.id = p_event_id
    RETURNING * INTO v_event;
  END IF;
  -- the newest slug is the current one (clock_timestamp: two edits in one transaction differ)
  IF v_holder IS NULL THEN
    INSERT INTO app.event_slugs (organization_id, slug, event_id, created_at)
    VALUES (v_org, p_slug, v_event.id, clock_timestamp());
  ELSE
    -- the slug it already had becomes its current one again
    UPDATE app.event_slugs s SET created_at = clock_timestamp()
    WHERE s.organization_id = v_org AND s.slug = p_slug;
  END IF;
  RETURN app._console_event_json(v_event);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_event_save(text, uuid, uuid, text, text, timestamptz, text,
  integer, timestamptz, integer, boolean) TO guestlist_web;

-- Close the list now (closing time = now). Owner or manager. Returns the event.
CREATE OR REPLACE FUNCTION api.console_event_close_list(p_session_token text, p_event_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events;
BEGIN
  v_event := app._console_event(v_scope, p_event_id, 'full', true);
  UPDATE app.events e SET guest_list_closes_at = least(coalesce(e.guest_list_closes_at, now()), now()),
                          updated_at = now()
  WHERE e.id = v_event.id RETURNING * INTO v_event;
  RETURN app._console_event_json(v_event);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_event_close_list(text, uuid) TO guestlist_web;

-- Reopen the list (no closing time). Owner or manager. Returns the event.
CREATE OR REPLACE FUNCTION api.console_event_reopen_list(p_session_token text, p_event_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events;
BEGIN
  v_event := app._console_event(v_scope, p_event_id, 'full', true);
  UPDATE app.events e SET guest_list_closes_at = NULL, updated_at = now()
  WHERE e.id = v_event.id RETURNING * INTO v_event;
  RETURN app._console_event_json(v_event);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_event_reopen_list(text, uuid) TO guestlist_web;

-- The same event a week later (title, place, capacity, closing time and
-- minimum age shifted or copied, promoters' quotas copied), its slug
-- p_slug or the old one with the new date (YYYY-MM-DD). Owner or manager.
-- Returns the new event.
CREATE OR REPLACE FUNCTION api.console_event_duplicate(p_session_token text, p_event_id uuid,
                                                       p_slug text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_old app.events;
  v_new app.events;
  v_slug text;
BEGIN
  v_old := app._console_event(v_scope, p_event_id, 'full');
  v_slug := coalesce(lower(btrim(p_slug)), left(regexp_replace(
    (SELECT s.slug FROM app.event_slugs s WHERE s.event_id = v_old.id
     ORDER BY s.created_at DESC, s.slug LIMIT 1),
    '-[0-9]{4}-[0-9]{2}-[0-9]{2}$', ''), 69)
    || to_char((v_old.starts_at + interval '7 days') AT TIME ZONE 'Europe/Lisbon', '-YYYY-MM-DD'));
  IF NOT app._valid_slug(v_slug) THEN
    PERFORM app._invalid_field('slug', 'Slug inválido. Usa só letras minúsculas, números e hífenes.');
  END IF;
  IF EXISTS (SELECT 1 FROM app.event_slugs s
             WHERE s.organization_id = v_old.organization_id AND s.slug = v_slug) THEN
    PERFORM app._raise(409, 'slug_taken', 'Já existe um evento com este endereço. Escolhe outro.');
  END IF;
  INSERT INTO app.events (organization_id, title, starts_at, location, guest_capacity,
                          guest_list_closes_at, min_age, is_active)
  VALUES (v_old.organization_id, v_old.title, v_old.starts_at + interval '7 days', v_old.location,
          v_old.guest_capacity, v_old.guest_list_closes_at + interval '7 days', v_old.min_age, true)
  RETURNING * INTO v_new;
  INSERT INTO app.event_slugs (organization_id, slug, event_id)
  VALUES (v_new.organization_id, v_slug, v_new.id);
  INSERT INTO app.event_promoter_quotas (event_id, promoter_id, quota)
  SELECT v_new.id, q.promoter_id, q.quota FROM app.event_promoter_quotas q
  WHERE q.event_id = v_old.id;
  RETURN app._console_event_json(v_new);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_event_duplicate(text, uuid, text) TO guestlist_web;

-- An organization's promoters and teams: {"promoters": [{id, slug,
-- displayName, isActive, teams: [{id, name}], memberEmail}], "teams":
-- [{id, name}]}. Any member (a promoter sees the team ranking's names).
CREATE OR REPLACE FUNCTION api.console_promoters(p_session_token text, p_organization_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
BEGIN
  PERFORM app._console_org(v_scope, p_organization_id, 'orgs');
  RETURN jsonb_build_object(
    'promoters', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'id', p.id, 'slug', p.slug, 'displayName', p.display_name, 'isActive', p.is_active,
               'teams', (SELECT jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name)
                                          ORDER BY t.name)
                         FROM app.team_members tm JOIN app.teams t ON t.id = tm.team_id
                         WHERE tm.promoter_id = p.id AND t.organization_id = p_organization_id),
               'memberEmail', (SELECT a.email FROM app.staff_memberships m
                               JOIN app.staff_accounts a ON a.id = m.staff_id
                               WHERE m.organization_id = p_organization_id
                                 AND m.promoter_id = p.id LIMIT 1))
             ORDER BY p.display_name, p.id)
      FROM app.promoters p
      WHERE EXISTS (SELECT 1 FROM app.team_members tm JOIN app.teams t ON t.id = tm.team_id
                    WHERE tm.promoter_id = p.id AND t.organization_id = p_organization_id)),
      '[]'),
    'teams', coalesce((
      SELECT jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name) ORDER BY t.name)
      FROM app.teams t WHERE t.organization_id = p_organization_id), '[]'));
END
$$;
GRANT EXECUTE ON FUNCTION api.console_promoters(text, uuid) TO guestlist_web;

-- The organization's team called p_name (created when missing); its id.
CREATE OR REPLACE FUNCTION app._console_team(p_org uuid, p_name text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF coalesce(length(btrim(p_name)), 0) NOT BETWEEN 1 AND 80 THEN
    PERFORM app._invalid_field('team_name', 'O nome da equipa deve ter entre 1 e 80 caracteres. Corrige o nome da equipa.');
  END IF;
  PERFORM app._require_printable('team_name', p_name);
  SELECT t.id INTO v_id FROM app.teams t
  WHERE t.organization_id = p_org AND t.name = btrim(p_name);
  IF v_id IS NULL THEN
    v_id := gen_random_uuid();
    INSERT INTO app.teams (id, organization_id, name) VALUES (v_id, p_org, btrim(p_name))
    ON CONFLICT (organization_id, name) DO NOTHING;
    SELECT t.id INTO v_id FROM app.teams t
    WHERE t.organization_id = p_org AND t.name = btrim(p_name);
  END IF;
  RETURN v_id;
END
$$;

-- Add a promoter (slug: the first part of their link, unique across the
-- site) to the organization, in team p_team_name (created when missing).
-- Owner or manager. Returns {id, slug, displayName, teamId}. Slug taken: PT409 slug_taken.
CREATE OR REPLACE FUNCTION api.console_promoter_add(p_session_token text, p_organization_id uuid,
                                                    p_slug text, p_display_name text,
                                                    p_team_name text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_id uuid := gen_random_uuid();
  v_team uuid;
BEGIN
  PERFORM app._console_org(v_scope, p_organization_id, 'full');
  p_slug := lower(btrim(p_slug));
  IF NOT app._valid_slug(p_slug) THEN
    PERFORM app._invalid_field('slug', 'Slug inválido. Usa só letras minúsculas, números e hífenes.');
  END IF;
  IF coalesce(length(btrim(p_display_name)), 0) NOT BETWEEN 1 AND 80 THEN
    PERFORM app._invalid_field('display_name', 'O nome deve ter entre 1 e 80 caracteres. Corrige o nome.');
  END IF;
  PERFORM app._require_printable('display_name', p_display_name);
  v_team := app._console_team(p_organization_id, p_team_name);
  -- no RETURNING nor ON CONFLICT (both read the row back): the new promoter is not
  -- visible until it joins the team, and a slug of another organization's promoter is not
  -- visible at all, so only the unique index can say it is taken
  BEGIN
    INSERT INTO app.promoters (id, slug, display_name) VALUES (v_id, p_slug, btrim(p_display_name));
  EXCEPTION WHEN unique_violation THEN
    PERFORM app._raise(409, 'slug_taken', 'Já existe um promotor com este endereço. Escolhe outro.');
  END;
  INSERT INTO app.team_members (team_id, promoter_id) VALUES (v_team, v_id);
  RETURN jsonb_build_object('id', v_id, 'slug', p_slug, 'displayName', btrim(p_display_name),
                            'teamId', v_team);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_promoter_add(text, uuid, text, text, text) TO guestlist_web;

-- Put a promoter of the organization in team p_team_name (created when
-- missing) too. Owner or manager. Returns {promoterId, teamId}.
CREATE OR REPLACE FUNCTION api.console_promoter_team(p_session_token text, p_organization_id uuid,
                                                     p_promoter_id uuid, p_team_name text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_team uuid;
BEGIN
  PERFORM app._console_org(v_scope, p_organization_id, 'full');
  PERFORM app._console_promoter(p_organization_id, p_promoter_id);
  v_team := app._console_team(p_organization_id, p_team_name);
  INSERT INTO app.team_members (team_id, promoter_id) VALUES (v_team, p_promoter_id)
  ON CONFLICT DO NOTHING;
  RETURN jsonb_build_object('promoterId', p_promoter_id, 'teamId', v_team);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_promoter_team(text, uuid, uuid, text) TO guestlist_web;

-- A promoter's quota on an event (how many guests their link may bring;
-- NULL: no quota). Owner or manager; the promoter must work for the event's
-- organization. A quota below the guests they already brought is allowed
-- (it only stops new ones). Returns {eventId, promoterId, quota}.
CREATE OR REPLACE FUNCTION api.console_set_quota(p_session_token text, p_event_id uuid,
                                                 p_promoter_id uuid, p_quota integer)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events;
BEGIN
  v_event := app._console_event(v_scope, p_event_id, 'full');
  PERFORM app._console_promoter(v_event.organization_id, p_promoter_id);
  IF p_quota IS NOT NULL AND p_quota NOT BETWEEN 0 AND 1000000 THEN
    PERFORM app._invalid_field('quota', 'A quota deve estar entre 0 e 1 000 000. Corrige a quota.');
  END IF;
  IF p_quota IS NULL THEN
    DELETE FROM app.event_promoter_quotas q
    WHERE q.event_id = p_event_id AND q.promoter_id = p_promoter_id;
  ELSE
    INSERT INTO app.event_promoter_quotas AS q (event_id, promoter_id, quota)
    VALUES (p_event_id, p_promoter_id, p_quota)
    ON CONFLICT (event_id, promoter_id) DO UPDATE SET quota = excluded.quota, updated_at = now();
  END IF;
  RETURN jsonb_build_object('eventId', p_event_id, 'promoterId', p_promoter_id, 'quota', p_quota);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_set_quota(text, uuid, uuid, integer) TO guestlist_web;

-- A name as the console's search compares it: lower case, without accents
-- (the door's app._door_fold), blanks of any kind as one space, trimmed.
-- The owner's (the console role runs it without holding app._door_fold).
CREATE OR REPLACE FUNCTION app._search_fold(p_text text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN btrim(regexp_replace(app._door_fold(p_text), '\s+', ' ', 'g'));
END
$$;
GRANT EXECUTE ON FUNCTION app._search_fold(text) TO guestlist_console;

-- Keeps guests.search_name (migration 0017) from the guest's name; NULL once
-- anonymized (the name is then NULL).
CREATE OR REPLACE FUNCTION app._guests_search_name()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.search_name := app._search_fold(NEW.name);
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER guests_search_name
BEFORE INSERT OR UPDATE OF name ON app.guests
FOR EACH ROW EXECUTE FUNCTION app._guests_search_name();

-- One page of an event's guest list: {"total", "guests": [{id, name, phone,
-- promoterId, promoterName, teamName, status, checkedIn, checkedInAt,
-- createdAt}]}; total counts every guest matching the filters. p_query:
-- part of the name, accents and case ignored (app._search_fold on both
-- sides), or, for owners and managers, a query of digits (blanks and
-- + ( ) . - aside) is part of the phone; % and _ are literal. p_promoter_id,
-- p_checked_in: filters; p_sort: recent (newest first), name, arrival
-- (latest arrivals first). p_limit 1-200, p_offset 0-100000. A promoter
-- sees only their own guests, and only name and whether inside (no phone).
-- Each query below walks one of the covering guests_event_*_idx (migration
-- 0017) without visiting the table, whatever the search and filters; the
-- total is counted only when the page does not tell it.
CREATE OR REPLACE FUNCTION api.console_guests(
  p_session_token text,
  p_event_id uuid,
  p_query text DEFAULT NULL,
  p_limit integer DEFAULT 50,
  p_offset integer DEFAULT 0,
  p_promoter_id uuid DEFAULT NULL,
  p_checked_in boolean DEFAULT NULL,
  p_sort text DEFAULT 'recent')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- a list's plans are cheap; compiling them (JIT) would cost more than running them
SET jit = off
-- planned with this call's values, so the filters left out (NULL) drop out of the plan
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events;
  v_full boolean;
  v_name text;
  v_digits text;
  v_total bigint;
  v_ids uuid[];
  v_shown integer;
  v_guests jsonb;
BEGIN
  v_event := app._console_event(v_scope, p_event_id, 'orgs');
  v_full := app._console_has(v_scope, 'full', v_event.organization_id);
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 200 THEN
    PERFORM app._invalid_field('limit', 'O limite deve estar entre 1 e 200. Corrige o limite.');
  END IF;
  IF p_offset IS NULL OR p_offset NOT BETWEEN 0 AND 100000 THEN
    PERFORM app._invalid_field('offset', 'O deslocamento deve estar entre 0 e 100 000. Corrige o deslocamento.');
  END IF;
  IF coalesce(p_sort, '') NOT IN ('recent', 'name', 'arrival') THEN
    PERFORM app._invalid_field('sort', 'Ordem inválida. Escolhe recent, name ou arrival.');
  END IF;
  IF length(p_query) > 100 THEN
    PERFORM app._invalid_field('query', 'A pesquisa pode ter no máximo 100 caracteres. Encurta a pesquisa.');
  END IF;
  -- the search's LIKE patterns, name and phone (NULL: that side finds nobody; both NULL:
  -- no search); a query of blanks only is no search
  IF p_query ~ '[^[:space:]]' THEN
    v_name := app._search_fold(p_query);
    v_name := CASE WHEN v_name <> '' THEN
      '%' || replace(replace(replace(v_name, '\', '\\'), '%', '\%'), '_', '\_') || '%' END;
    v_digits := regexp_replace(p_query, '[[:space:]+().-]', '', 'g');
    v_digits := CASE WHEN v_full AND v_digits ~ '^[0-9]+$' THEN '%' || v_digits || '%' END;
    IF v_name IS NULL AND v_digits IS NULL THEN
      -- marks that fold to nothing, and no phone: nobody is called that
      RETURN jsonb_build_object('total', 0, 'guests', '[]'::jsonb);
    END IF;
  END IF;
  -- one query per sort, each walking its own index (guests_event_*_idx) to the page
  IF p_sort = 'name' THEN
    SELECT array_agg(g.id ORDER BY g.name, g.id) INTO v_ids FROM (
      SELECT g.id, g.name FROM app.guests g
      WHERE g.event_id = p_event_id AND g.status <> 'cancelled'
        AND ((v_name IS NULL AND v_digits IS NULL) OR g.search_name LIKE v_name
             OR g.phone LIKE v_digits)
        AND (p_promoter_id IS NULL OR g.promoter_id = p_promoter_id)
        AND (p_checked_in IS NULL OR g.checked_in = p_checked_in)
      ORDER BY g.name, g.id LIMIT p_limit OFFSET p_offset) g;
  ELSIF p_sort = 'arrival' THEN
    SELECT array_agg(g.id ORDER BY g.checked_in_at DESC NULLS LAST, g.created_at DESC, g.id)
      INTO v_ids FROM (
      SELECT g.id, g.checked_in_at, g.created_at FROM app.guests g
      WHERE g.event_id = p_event_id AND g.status <> 'cancelled'
        AND ((v_name IS NULL AND v_digits IS NULL) OR g.search_name LIKE v_name
             OR g.phone LIKE v_digits)
        AND (p_promoter_id IS NULL OR g.promoter_id = p_promoter_id)
        AND (p_checked_in IS NULL OR g.checked_in = p_checked_in)
      ORDER BY g.checked_in_at DESC NULLS LAST, g.created_at DESC, g.id
      LIMIT p_limit OFFSET p_offset) g;
  ELSE
    SELECT array_agg(g.id ORDER BY g.created_at DESC, g.id) INTO v_ids FROM (
      SELECT g.id, g.created_at FROM app.guests g
      WHERE g.event_id = p_event_id AND g.status <> 'cancelled'
        AND ((v_name IS NULL AND v_digits IS NULL) OR g.search_name LIKE v_name
             OR g.phone LIKE v_digits)
        AND (p_promoter_id IS NULL OR g.promoter_id = p_promoter_id)
        AND (p_checked_in IS NULL OR g.checked_in = p_checked_in)
      ORDER BY g.created_at DESC, g.id LIMIT p_limit OFFSET p_offset) g;
  END IF;
  v_shown := coalesce(cardinality(v_ids), 0);
  IF v_shown < p_limit AND (v_shown > 0 OR p_offset = 0) THEN
    -- a page that is not full holds the last match: the total is known without counting
    v_total := p_offset + v_shown;
  ELSE
    SELECT count(*) INTO v_total FROM app.guests g
    WHERE g.event_id = p_event_id AND g.status <> 'cancelled'
      AND ((v_name IS NULL AND v_digits IS NULL) OR g.search_name LIKE v_name
           OR g.phone LIKE v_digits)
      AND (p_promoter_id IS NULL OR g.promoter_id = p_promoter_id)
      AND (p_checked_in IS NULL OR g.checked_in = p_checked_in);
  END IF;
  SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'id', g.id, 'name', coalesce(g.name, '(anonimizado)'),
           'phone', CASE WHEN v_full THEN g.phone END,
           'promoterId', g.promoter_id, 'promoterName', p.display_name, 'teamName', t.name,
           'status', g.status, 'checkedIn', g.checked_in, 'checkedInAt', g.checked_in_at,
           'createdAt', g.created_at)) ORDER BY x.n), '[]')
    INTO v_guests
  FROM unnest(v_ids) WITH ORDINALITY AS x(id, n)
  JOIN app.guests g ON g.id = x.id
  LEFT JOIN app.promoters p ON p.id = g.promoter_id
  LEFT JOIN app.teams t ON t.id = g.team_id;
  IF NOT v_full THEN
    -- a promoter: name and whether inside, nothing else of the guest
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', e ->> 'id', 'name', e ->> 'name',
                                                 'checkedIn', (e ->> 'checkedIn')::boolean)), '[]')
      INTO v_guests FROM jsonb_array_elements(v_guests) e;
  END IF;
  RETURN jsonb_build_object('total', v_total, 'guests', v_guests);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_guests(text, uuid, text, integer, integer, uuid, boolean, text)
  TO guestlist_web;

-- An event's figures: {"onList", "inside", "capacity", "promoters": [{promoterId,
-- displayName, teamName, onList, inside, shareOfArrivals, quota}], "timeline":
-- [{at, registrations, arrivals}]} (15-minute buckets from the first
-- registration or arrival of the night's window to the last). Owner or
-- manager see every promoter; a promoter sees their own line only.
CREATE OR REPLACE FUNCTION api.console_figures(p_session_token text, p_event_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- a list's plans are cheap; compiling them (JIT) would cost more than running them
SET jit = off
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_event app.events;
  v_on bigint;
  v_in bigint;
  v_promoters jsonb;
  v_timeline jsonb;
BEGIN
  v_event := app._console_event(v_scope, p_event_id, 'orgs');
  SELECT count(*), count(*) FILTER (WHERE g.checked_in) INTO v_on, v_in
  FROM app.guests g WHERE g.event_id = p_event_id AND g.status <> 'cancelled';
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'promoterId', f.promoter_id, 'displayName', p.display_name, 'onList', f.on_list,
           'inside', f.inside,
           'shareOfArrivals', CASE WHEN v_in > 0 THEN round(f.inside::numeric / v_in, 4) ELSE 0 END,
           'quota', q.quota) ORDER BY f.on_list DESC, p.display_name), '[]')
    INTO v_promoters
  FROM (SELECT g.promoter_id, count(*) AS on_list, count(*) FILTER (WHERE g.checked_in) AS inside
        FROM app.guests g
        WHERE g.event_id = p_event_id AND g.status <> 'cancelled' AND g.promoter_id IS NOT NULL
        GROUP BY g.promoter_id) f
  JOIN app.promoters p ON p.id = f.promoter_id
  LEFT JOIN app.event_promoter_quotas q ON q.event_id = p_event_id AND q.promoter_id = f.promoter_id;
  SELECT coalesce(jsonb_agg(jsonb_build_object('at', b.at, 'registrations', b.registrations,
                                               'arrivals', b.arrivals) ORDER BY b.at), '[]')
    INTO v_timeline
  FROM (
    SELECT s.at, count(*) FILTER (WHERE s.kind = 'r') AS registrations,
           count(*) FILTER (WHERE s.kind = 'a') AS arrivals
    FROM (
      SELECT date_bin('15 minutes', g.created_at, v_event.starts_at) AS at, 'r' AS kind
      FROM app.guests g WHERE g.event_id = p_event_id AND g.status <> 'cancelled'
        AND g.created_at >= v_event.starts_at - interval '1 day'
      UNION ALL
      SELECT date_bin('15 minutes', g.checked_in_at, v_event.starts_at), 'a'
      FROM app.guests g WHERE g.event_id = p_event_id AND g.checked_in_at IS NOT NULL
        -- always true of an arrival (checked_in_at is set only with status checked_in), and
        -- it lets the arrivals be read from guests_event_arrival_idx alone
        AND g.status <> 'cancelled'
    ) s GROUP BY s.at) b;
  RETURN jsonb_build_object('onList', v_on, 'inside', v_in, 'capacity', v_event.guest_capacity,
                            'promoters', v_promoters, 'timeline', v_timeline);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_figures(text, uuid) TO guestlist_web;

-- The rows of an event's CSV export, newest first: name, phone, promoter,
-- team, status, arrival, registration. Owner or manager. A set-returning
-- function the app reads through a server-side cursor, a batch at a time.
CREATE OR REPLACE FUNCTION api.console_export_rows(p_session_token text, p_event_id uuid)
RETURNS TABLE (name text, phone text, promoter text, team text, status text,
               checked_in_at timestamptz, created_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- a list's plans are cheap; compiling them (JIT) would cost more than running them
SET jit = off
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
BEGIN
  PERFORM app._console_event(v_scope, p_event_id, 'full');
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
GRANT EXECUTE ON FUNCTION api.console_export_rows(text, uuid) TO guestlist_web;

-- An organization's members and pending invites (owner): {"members":
-- [{staffId, email, displayName, role, promoterId}], "invites": [{id,
-- email, role, promoterId, expiresAt}]}.
CREATE OR REPLACE FUNCTION api.console_members(p_session_token text, p_organization_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
BEGIN
  PERFORM app._console_org(v_scope, p_organization_id, 'owner');
  RETURN jsonb_build_object(
    'members', coalesce((
      SELECT jsonb_agg(jsonb_build_object('staffId', a.id, 'email', a.email,
                                          'displayName', a.display_name, 'role', m.role,
                                          'promoterId', m.promoter_id) ORDER BY a.email)
      FROM app.staff_memberships m JOIN app.staff_accounts a ON a.id = m.staff_id
      WHERE m.organization_id = p_organization_id), '[]'),
    'invites', coalesce((
      SELECT jsonb_agg(jsonb_build_object('id', i.id, 'email', i.email, 'role', i.role,
                                          'promoterId', i.promoter_id, 'expiresAt', i.expires_at)
                       ORDER BY i.created_at DESC)
      FROM app.staff_invites i
      WHERE i.organization_id = p_organization_id AND i.accepted_at IS NULL
        AND i.expires_at > now()), '[]'));
END
$$;
GRANT EXECUTE ON FUNCTION api.console_members(text, uuid) TO guestlist_web;

-- Invite a member (owner; a promoter with p_promoter_id, a promoter of the
-- organization): {"inviteToken", "invitePath", "expiresAt"} (72 h, single use).
CREATE OR REPLACE FUNCTION api.console_invite_member(p_session_token text, p_organization_id uuid,
                                                     p_email text, p_role text,
                                                     p_promoter_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_email text := app._staff_email(p_email);
  v_raw bytea := public.gen_random_bytes(32);
  v_expires timestamptz := now() + interval '72 hours';
BEGIN
  PERFORM app._console_org(v_scope, p_organization_id, 'owner');
  IF v_email IS NULL THEN
    PERFORM app._invalid_field('email', 'Email inválido. Escreve um email como nome@exemplo.pt.');
  END IF;
  IF p_role IS NULL OR p_role NOT IN ('owner', 'manager', 'promoter') THEN
    PERFORM app._invalid_field('role', 'Papel inválido. Escolhe owner, manager ou promoter.');
  END IF;
  IF (p_role = 'promoter') <> (p_promoter_id IS NOT NULL) THEN
    PERFORM app._invalid_field('promoter_id',
      'Um promotor é convidado com o seu promotor e os outros papéis sem nenhum. Escolhe o promotor só para o papel promoter.');
  END IF;
  IF p_promoter_id IS NOT NULL THEN
    PERFORM app._console_promoter(p_organization_id, p_promoter_id);
  END IF;
  INSERT INTO app.staff_invites (organization_id, email, role, promoter_id, token_hash,
                                 invited_by, expires_at)
  VALUES (p_organization_id, v_email, p_role, p_promoter_id, sha256(v_raw),
          (v_scope -> 'staff' ->> 0)::uuid, v_expires);
  RETURN jsonb_build_object('inviteToken', encode(v_raw, 'hex'),
                            'invitePath', '/organizador/convite#' || encode(v_raw, 'hex'),
                            'expiresAt', v_expires);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_invite_member(text, uuid, text, text, uuid) TO guestlist_web;

-- Remove a member from the organization (owner), or withdraw a pending
-- invite: {"removed": true}. A member of another organization, or none:
-- PT404 not_found. The last owner cannot be removed (PT409 last_owner): an
-- organization always has someone who can invite. Their pending invites to
-- the organization are withdrawn with them. The member's sessions
-- stay (they may belong to other organizations) but see nothing here from
-- their next call on.
CREATE OR REPLACE FUNCTION api.console_member_remove(p_session_token text, p_organization_id uuid,
                                                     p_staff_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_role text;
BEGIN
  PERFORM app._console_org(v_scope, p_organization_id, 'owner');
  SELECT m.role INTO v_role FROM app.staff_memberships m
  WHERE m.organization_id = p_organization_id AND m.staff_id = p_staff_id
  FOR UPDATE;
  IF v_role IS NULL THEN
    PERFORM app._console_not_found();
  END IF;
  -- owners take turns here, so two owners cannot remove each other at once
  PERFORM 1 FROM app.staff_memberships m
  WHERE m.organization_id = p_organization_id AND m.role = 'owner' FOR UPDATE;
  IF v_role = 'owner' AND (SELECT count(*) FROM app.staff_memberships m
                           WHERE m.organization_id = p_organization_id AND m.role = 'owner') = 1 THEN
    PERFORM app._raise(409, 'last_owner',
      'É o único dono da organização. Convida outro dono e tenta de novo.');
  END IF;
  DELETE FROM app.staff_memberships m
  WHERE m.organization_id = p_organization_id AND m.staff_id = p_staff_id;
  -- their pending invites to the organization go with them: an owner about to be removed
  -- could otherwise invite an address of their own and come back through it
  DELETE FROM app.staff_invites i
  WHERE i.organization_id = p_organization_id AND i.invited_by = p_staff_id
    AND i.accepted_at IS NULL;
  RETURN jsonb_build_object('removed', true);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_member_remove(text, uuid, uuid) TO guestlist_web;

-- Withdraw a pending invite of the organization (owner): {"removed": true};
-- an invite of another organization, used or unknown: PT404 not_found.
CREATE OR REPLACE FUNCTION api.console_invite_revoke(p_session_token text, p_organization_id uuid,
                                                     p_invite_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
  v_removed integer;
BEGIN
  PERFORM app._console_org(v_scope, p_organization_id, 'owner');
  DELETE FROM app.staff_invites i
  WHERE i.id = p_invite_id AND i.organization_id = p_organization_id AND i.accepted_at IS NULL;
  GET DIAGNOSTICS v_removed = ROW_COUNT;
  IF v_removed = 0 THEN
    PERFORM app._console_not_found();
  END IF;
  RETURN jsonb_build_object('removed', true);
END
$$;
GRANT EXECUTE ON FUNCTION api.console_invite_revoke(text, uuid, uuid) TO guestlist_web;

-- A promoter's own page: for each organization where the caller is a
-- promoter, its upcoming and recent events (from a week ago) with their link
-- path, their own figures (onList, inside, quota) and their team's ranking
-- (each promoter of the team: display name, onList, inside). Guests: see
-- api.console_guests (a promoter gets name and inside only).
CREATE OR REPLACE FUNCTION api.promoter_dashboard(p_session_token text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- a list's plans are cheap; compiling them (JIT) would cost more than running them
SET jit = off
AS $$
DECLARE
  v_scope jsonb := app._console_begin(p_session_token);
BEGIN
  RETURN jsonb_build_object('promoters', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'promoterId', p.id, 'slug', p.slug, 'displayName', p.display_name,
      'events', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
          'event', app._console_event_json(e),
          'linkPath', '/promotor/' || p.slug || '/' || (
            SELECT s.slug FROM app.event_slugs s WHERE s.event_id = e.id
            ORDER BY s.created_at DESC, s.slug LIMIT 1),
          'onList', (SELECT count(*) FROM app.guests g WHERE g.event_id = e.id
                     AND g.promoter_id = p.id AND g.status <> 'cancelled'),
          'inside', (SELECT count(*) FROM app.guests g WHERE g.event_id = e.id
                     AND g.promoter_id = p.id AND g.checked_in),
          'quota', (SELECT q.quota FROM app.event_promoter_quotas q
                    WHERE q.event_id = e.id AND q.promoter_id = p.id),
          'teamRanking', (SELECT app._console_team_ranking(e.id, p.id)))
          ORDER BY e.starts_at)
        FROM app.events e
        WHERE e.is_active AND e.starts_at > now() - interval '7 days'
          AND e.organization_id = ANY (SELECT t.organization_id FROM app.team_members tm
                                       JOIN app.teams t ON t.id = tm.team_id
                                       WHERE tm.promoter_id = p.id)
          AND app._console_has(v_scope, 'porgs', e.organization_id)), '[]'))
      ORDER BY p.display_name)
    FROM app.promoters p
    WHERE p.id = ANY (SELECT (jsonb_array_elements_text(v_scope -> 'promoters'))::uuid)), '[]'));
END
$$;
GRANT EXECUTE ON FUNCTION api.promoter_dashboard(text) TO guestlist_web;

-- The ranking of a promoter's team(s) on an event: [{displayName, onList,
-- inside, me}], most guests first. Counts only (a promoter cannot read the
-- other promoters' guests, so this runs as the owner: it is called only from
-- promoter_dashboard, for the caller's own promoter id).
CREATE OR REPLACE FUNCTION app._console_team_ranking(p_event_id uuid, p_promoter_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce((
    SELECT jsonb_agg(jsonb_build_object('displayName', r.display_name, 'onList', r.on_list,
                                        'inside', r.inside, 'me', r.id = p_promoter_id)
                     ORDER BY r.on_list DESC, r.display_name)
    FROM (
      SELECT p.id, p.display_name,
             (SELECT count(*) FROM app.guests g WHERE g.event_id = p_event_id
              AND g.promoter_id = p.id AND g.status <> 'cancelled') AS on_list,
             (SELECT count(*) FROM app.guests g WHERE g.event_id = p_event_id
              AND g.promoter_id = p.id AND g.checked_in) AS inside
      FROM app.promoters p
      WHERE p.id IN (SELECT tm2.promoter_id FROM app.team_members tm
                     JOIN app.teams t ON t.id = tm.team_id
                     JOIN app.events e ON e.id = p_event_id AND e.organization_id = t.organization_id
                     JOIN app.team_members tm2 ON tm2.team_id = tm.team_id
                     WHERE tm.promoter_id = p_promoter_id)) r), '[]');
END
$$;

-- Door links (create, revoke, list): sql/68_console_doors.sql.

-- Hand the console's functions to guestlist_console (idempotent): they run
-- as a role the policies hold. app._console_ids, app._console_begin and
-- app._console_team_ranking stay the owner's (they read what the console
-- role may not: the scope key, sessions, other promoters' counts). A new
-- owner needs CREATE on the schema, which the console role holds only while
-- sql/ is applied: sql/68_console_doors.sql, the last hand-over, takes it back.
GRANT CREATE ON SCHEMA app, api TO guestlist_console;
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE (n.nspname = 'api' AND (p.proname LIKE 'console\_%' OR p.proname = 'promoter_dashboard'))
       OR (n.nspname = 'app' AND p.proname LIKE '\_console\_%'
           AND p.proname NOT IN ('_console_ids', '_console_begin', '_console_seal',
                                 '_console_team_ranking'))
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO guestlist_console', f);
  END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION app._console_team_ranking(uuid, uuid) TO guestlist_console;
