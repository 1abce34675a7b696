-- Guest creation: the one place a guest joins a list, the capacity and
-- closing rules enforced under the event's row lock, and guest sessions.
SET LOCAL ROLE guestlist_owner;

-- Keeps events.guest_count and refuses a guest past the event's capacity,
-- closing time or active flag, or past their promoter's quota on the event
-- (app.event_promoter_quotas). Runs under the event row's lock, so 60 guests
-- racing for 20 places get exactly 20, and 40 racing for a quota of 10 get 10.
CREATE OR REPLACE FUNCTION app._guests_count()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_event app.events;
  v_code text;
  v_quota integer;
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE app.events SET guest_count = guest_count - 1 WHERE id = OLD.event_id;
    RETURN OLD;
  END IF;
  SELECT * INTO v_event FROM app.events WHERE id = NEW.event_id FOR NO KEY UPDATE;
  v_code := app._event_refusal(v_event);
  IF v_code IS NOT NULL THEN
    PERFORM app._raise(CASE v_code WHEN 'event_not_found' THEN 404 ELSE 409 END,
                       v_code, app._message(v_code));
  END IF;
  -- a promoter's quota on this event, counted under the same lock: exact like the capacity
  IF NEW.promoter_id IS NOT NULL THEN
    SELECT q.quota INTO v_quota FROM app.event_promoter_quotas q
    WHERE q.event_id = NEW.event_id AND q.promoter_id = NEW.promoter_id;
    IF v_quota IS NOT NULL AND (SELECT count(*) FROM app.guests g
                                WHERE g.event_id = NEW.event_id AND g.promoter_id = NEW.promoter_id
                                  AND g.status <> 'cancelled') > v_quota THEN
      PERFORM app._raise(409, 'promoter_quota_full', app._message('promoter_quota_full'));
    END IF;
  END IF;
  UPDATE app.events SET guest_count = guest_count + 1 WHERE id = NEW.event_id;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER guests_count
AFTER INSERT OR DELETE ON app.guests
FOR EACH ROW EXECUTE FUNCTION app._guests_count();

-- The team a promoter works an organization's events with: p_team_id when
-- given and valid, else the promoter's first team there. Returns
-- (ok, team_id); ok is false when the promoter or team is not the event's.
CREATE OR REPLACE FUNCTION app._attribution(p_organization_id uuid, p_promoter_id uuid,
                                           p_team_id uuid, OUT ok boolean, OUT team_id uuid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_promoter_id IS NULL THEN
    SELECT t.id INTO team_id
    FROM app.teams t WHERE t.id = p_team_id AND t.organization_id = p_organization_id;
    ok := p_team_id IS NULL OR team_id IS NOT NULL;
    RETURN;
  END IF;
  SELECT t.id INTO team_id
  FROM app.team_members tm
  JOIN app.teams t ON t.id = tm.team_id
  JOIN app.promoters p ON p.id = tm.promoter_id
  WHERE tm.promoter_id = p_promoter_id
    AND p.is_active
    AND t.organization_id = p_organization_id
    AND (p_team_id IS NULL OR t.id = p_team_id)
  ORDER BY t.created_at, t.id
  LIMIT 1;
  ok := team_id IS NOT NULL;
END
$$;

-- Why an account cannot join an event with a minimum age (a refusal code),
-- or NULL: birth_date_required when the account has no birth date,
-- too_young when they are under the age on the event's day (Lisbon's date).
CREATE OR REPLACE FUNCTION app._age_refusal(p_event app.events, p_birth_date date)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_event.min_age IS NULL THEN
    RETURN NULL;
  ELSIF p_birth_date IS NULL THEN
    RETURN 'birth_date_required';
  ELSIF date_part('year', age((p_event.starts_at AT TIME ZONE 'Europe/Lisbon')::date,
                              p_birth_date)) < p_event.min_age THEN
    RETURN 'too_young';
  END IF;
  RETURN NULL;
END
$$;

-- Put a client on an event's list, or find them there already. Returns the
-- guest's id and qr_code and whether it was recovered. Raises PT409/PT404
-- from the trigger when the list cannot take a new guest.
CREATE OR REPLACE FUNCTION app._create_guest(p_event_id uuid, p_client_user_id uuid,
                                             p_promoter_id uuid, p_team_id uuid,
                                             OUT guest_id uuid, OUT qr_code text,
                                             OUT recovered boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  SELECT g.id, g.qr_code INTO guest_id, qr_code
  FROM app.guests g WHERE g.event_id = p_event_id AND g.client_user_id = p_client_user_id;
  recovered := FOUND;
  IF recovered THEN
    RETURN;
  END IF;
  INSERT INTO app.guests AS g (event_id, client_user_id, promoter_id, team_id, name, phone, qr_code)
  SELECT p_event_id, cu.id, p_promoter_id, p_team_id, cu.first_name || ' ' || cu.last_name,
         cu.phone, encode(public.gen_random_bytes(16), 'hex')
  FROM app.client_users cu WHERE cu.id = p_client_user_id
  ON CONFLICT ON CONSTRAINT guests_event_id_client_user_id_key DO NOTHING
  RETURNING g.id, g.qr_code INTO guest_id, qr_code;
  IF guest_id IS NULL THEN
    -- a concurrent call for the same client committed first: theirs is ours
    SELECT g.id, g.qr_code INTO guest_id, qr_code
    FROM app.guests g WHERE g.event_id = p_event_id AND g.client_user_id = p_client_user_id;
    recovered := true;
  END IF;
END
$$;

-- Open a session for a device; returns the token (64 hex) once. Only its
-- sha256 is stored. Sessions last 30 days.
CREATE OR REPLACE FUNCTION app._open_session(p_client_user_id uuid,
                                             OUT token text, OUT expires_at timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_raw bytea := public.gen_random_bytes(32);
BEGIN
  expires_at := now() + interval '30 days';
  INSERT INTO app.guest_sessions (client_user_id, token_hash, expires_at)
  VALUES (p_client_user_id, sha256(v_raw), expires_at);
  token := encode(v_raw, 'hex');
END
$$;

-- The success answer of login and register (the seed's keys, and more), with
-- a new session's token. A queued job's run (api.work_guest_job sets
-- guestlist.defer_session for its call) opens none: the job's result is
-- stored, and its owner gets a session when reading it (api.guest_job_status).
CREATE OR REPLACE FUNCTION app._guest_answer(p_guest_id uuid, p_qr_code text, p_recovered boolean,
                                             p_message text, p_first_name text,
                                             p_event app.events, p_client_user_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_answer jsonb;
  v_session record;
BEGIN
  v_answer := jsonb_build_object(
    'success', true,
    'guest_id', p_guest_id,
    'qr_code', p_qr_code,
    'message', p_message,
    'recovered', p_recovered,
    'first_name', p_first_name,
    'event', app._event_json(p_event));
  -- read as is (not app._setting): only whether this call opens a session
  IF current_setting('guestlist.defer_session', true) = 'on' THEN
    RETURN v_answer;
  END IF;
  SELECT * INTO v_session FROM app._open_session(p_client_user_id);
  RETURN v_answer || jsonb_build_object('session_token', v_session.token,
                                        'session_expires_at', v_session.expires_at);
END
$$;
