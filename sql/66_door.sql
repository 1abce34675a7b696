-- The door: a staff phone holding a door link scans guests' QR codes
-- (api.check_in), syncs the scans it judged offline (api.door_sync), finds
-- and admits a guest by hand (api.door_search, api.door_admit), undoes a
-- mistaken admission (api.door_undo), and shows the counts (api.door_summary)
-- and keeps the event's list for offline judging (api.door_list).
-- Every scan is logged (app.door_scans) under the door's own scan id: the
-- same scan sent again gets the answer it got the first time. A code opens
-- the door once: the guest's row is locked while a scan is judged, and the
-- earliest scan of a code (by scannedAt, across doors) is its admission.
-- docs/door.md describes the contract and the offline design.
SET LOCAL ROLE guestlist_owner;

-- A name as the door's search compares it: lower case, without accents.
CREATE OR REPLACE FUNCTION app._door_fold(p_text text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN lower(public.unaccent('public.unaccent'::regdictionary, p_text));
END
$$;

-- Keeps guests.door_first and door_last (the folded names the door searches)
-- from the guest's account; NULL once the row is anonymized.
CREATE OR REPLACE FUNCTION app._guests_door_names()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.client_user_id IS NULL OR NEW.anonymized_at IS NOT NULL THEN
    NEW.door_first := NULL;
    NEW.door_last := NULL;
  ELSE
    SELECT app._door_fold(cu.first_name), app._door_fold(cu.last_name)
    INTO NEW.door_first, NEW.door_last
    FROM app.client_users cu WHERE cu.id = NEW.client_user_id;
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER guests_door_names
BEFORE INSERT OR UPDATE OF client_user_id, anonymized_at ON app.guests
FOR EACH ROW EXECUTE FUNCTION app._guests_door_names();

-- An anonymized guest leaves nothing personal in the scan log: the answers
-- the doors got lose the guest's names and the scans their code's hash.
CREATE OR REPLACE FUNCTION app._door_forget_guest()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE app.door_scans s
  SET answer = jsonb_set(s.answer, '{guest}', jsonb_build_object('id', NEW.id)),
      qr_hash = NULL
  WHERE s.guest_id = NEW.id;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER guests_door_forget
AFTER UPDATE OF anonymized_at ON app.guests
FOR EACH ROW WHEN (OLD.anonymized_at IS NULL AND NEW.anonymized_at IS NOT NULL)
EXECUTE FUNCTION app._door_forget_guest();

-- Raise PT401 door_invalid (unknown, revoked or expired door link).
CREATE OR REPLACE FUNCTION app._door_invalid()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app._raise(401, 'door_invalid',
    'Este link da porta não é válido (foi revogado ou o evento já terminou). Pede um novo ao '
    'organizador.');
END
$$;

-- The door link of a token: live (not revoked), its event active and started
-- less than 12 hours ago (or still to come); else PT401 door_invalid. Counts
-- one request in the door's own rate-limit bucket (door, key door:<id>).
CREATE OR REPLACE FUNCTION app._door(p_token text)
RETURNS app.door_links
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_door app.door_links;
BEGIN
  IF p_token IS NULL OR p_token !~ '^[A-Za-z0-9_-]{43,128}$' THEN
    PERFORM app._door_invalid();
  END IF;
  SELECT d.* INTO v_door
  FROM app.door_links d JOIN app.events e ON e.id = d.event_id
  WHERE d.token_hash = sha256(convert_to(p_token, 'UTF8')) AND d.revoked_at IS NULL
    AND e.is_active AND now() < e.starts_at + interval '12 hours';
  IF v_door.id IS NULL THEN
    PERFORM app._door_invalid();
  END IF;
  PERFORM app._enforce_rate_limit('door', 'door:' || v_door.id::text);
  RETURN v_door;
END
$$;

-- Whether a guest may be inside by the event's minimum age, for the door:
-- true when the event has none or the birth date shows the age at the
-- event's start (app._age_refusal, registration's rule), false when under
-- it, NULL when the account holds no birth date. The date itself never
-- leaves the database.
CREATE OR REPLACE FUNCTION app._door_age_ok(p_event app.events, p_birth_date date)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE app._age_refusal(p_event, p_birth_date)
           WHEN 'too_young' THEN false
           WHEN 'birth_date_required' THEN NULL
           ELSE true END;
END
$$;

-- What the door shows of a guest: {id, firstName, lastName, promoter,
-- checkedInAt, ageOk} (the door may see the full name; public routes never
-- do; ageOk: app._door_age_ok, never the birth date).
CREATE OR REPLACE FUNCTION app._door_guest(p_guest app.guests)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT jsonb_build_object('id', p_guest.id, 'firstName', cu.first_name,
                            'lastName', cu.last_name, 'promoter', p.display_name,
                            'checkedInAt', p_guest.checked_in_at,
                            'ageOk', app._door_age_ok(e, cu.birth_date))
  INTO v
  FROM app.client_users cu
  JOIN app.events e ON e.id = p_guest.event_id
  LEFT JOIN app.promoters p ON p.id = p_guest.promoter_id
  WHERE cu.id = p_guest.client_user_id;
  RETURN v;
END
$$;

-- A door's label.
CREATE OR REPLACE FUNCTION app._door_label(p_door_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v text;
BEGIN
  SELECT d.label INTO v FROM app.door_links d WHERE d.id = p_door_id;
  RETURN v;
END
$$;

-- The stored answer of a scan id sent again by the door that sent it first;
-- another door's scan id is refused (PT409 scan_id_taken): a scan id is the
-- door's own, and another door's answer is not this door's to read.
CREATE OR REPLACE FUNCTION app._door_replay(p_scan app.door_scans, p_door app.door_links)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_scan.door_id <> p_door.id THEN
    PERFORM app._raise(409, 'scan_id_taken', 'Este identificador de leitura já foi usado por '
      'outra porta. Lê o código de novo.', jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'scanId', 'code', 'taken', 'message', 'Identificador de leitura já usado. Lê o código de novo.'))));
  END IF;
  RETURN p_scan.answer;
END
$$;

-- Judge one scan at a door and log it; the caller holds nothing, or (sync)
-- already holds the row locks of the guests its scans name. p_kind 'scan'
-- (p_qr_code as read) or 'manual' (p_guest_id, this event's guests only).
-- p_offline: the scan comes from door_sync, judged at p_scanned_at; an
-- earlier offline scan of an already admitted code takes over the admission
-- (the later one becomes already_in) and the pair is a conflict, as is a later
-- offline scan the door had judged admitted itself (p_offline_result, else:
-- admitted at another door that had not yet told the server when this scan
-- was made). Answers {result, scanId, guest, door: {label}, event: {title},
-- conflict}; the stored answer when the scan id was judged before.
CREATE OR REPLACE FUNCTION app._door_judge(p_door app.door_links, p_kind text, p_qr_code text,
                                           p_guest_id uuid, p_scan_id uuid,
                                           p_scanned_at timestamptz, p_offline boolean,
                                           p_offline_result text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_prev app.door_scans;
  v_guest app.guests;
  v_admission app.door_scans;
  v_code text := lower(btrim(p_qr_code));
  v_at timestamptz := coalesce(p_scanned_at, now());
  v_result text;
  v_conflict boolean := false;
  v_takes_over boolean := false;
  v_answer jsonb;
  v_title text;
  v_inserted bigint;
BEGIN
  IF p_scan_id IS NULL THEN
    PERFORM app._invalid_field('scanId', 'Identificador de leitura em falta. Lê o código de novo.');
  END IF;
  SELECT * INTO v_prev FROM app.door_scans s WHERE s.scan_id = p_scan_id;
  IF v_prev.id IS NOT NULL THEN
    RETURN app._door_replay(v_prev, p_door);
  END IF;

  IF p_offline AND v_at > now() + interval '2 minutes' THEN
    v_result := 'in_future';
  ELSIF p_offline AND v_at < now() - interval '24 hours' THEN
    v_result := 'too_old';
  ELSIF NOT p_offline THEN
    -- online: the server's clock decides; the phone's is kept only when plausible
    v_at := CASE WHEN v_at BETWEEN now() - interval '24 hours' AND now() THEN v_at ELSE now() END;
  END IF;

  IF v_result IS NULL THEN
    IF p_kind = 'manual' THEN
      SELECT * INTO v_guest FROM app.guests g
      WHERE g.id = p_guest_id AND g.event_id = p_door.event_id FOR UPDATE;
    ELSIF v_code ~ '^[0-9a-f]{32}$' THEN
      SELECT * INTO v_guest FROM app.guests g WHERE g.qr_code = v_code FOR UPDATE;
    END IF;
    -- a concurrent scan with this id may have been judged while we waited for the lock
    SELECT * INTO v_prev FROM app.door_scans s WHERE s.scan_id = p_scan_id;
    IF v_prev.id IS NOT NULL THEN
      RETURN app._door_replay(v_prev, p_door);
    END IF;

    IF v_guest.id IS NULL OR v_guest.anonymized_at IS NOT NULL OR v_guest.status = 'cancelled' THEN
      v_result := 'not_found';
      v_guest := NULL;
    ELSIF v_guest.event_id <> p_door.event_id THEN
      v_result := 'wrong_event';
      -- another organization's event stays unnamed
      SELECT e.title INTO v_title FROM app.events e JOIN app.events mine ON mine.id = p_door.event_id
      WHERE e.id = v_guest.event_id AND e.organization_id = mine.organization_id;
      v_guest := NULL;
    ELSIF NOT v_guest.checked_in THEN
      v_result := 'admitted';
    ELSE
      SELECT * INTO v_admission FROM app.door_scans s WHERE s.scan_id = v_guest.checked_in_scan_id;
      IF p_offline AND v_admission.id IS NOT NULL AND v_at < v_guest.checked_in_at THEN
        v_result := 'admitted';
        v_takes_over := true;
        v_conflict := true;
      ELSE
        v_result := 'already_in';
        -- without the door's own judgement: a conflict when the admission was at another
        -- door and reached the server after this scan, unless this door had scanned the
        -- guest before (its copy then knew they were in: a rescan, not a second admission)
        v_conflict := p_offline AND v_admission.id IS NOT NULL AND CASE
          WHEN p_offline_result IS NOT NULL THEN p_offline_result = 'admitted'
          ELSE v_admission.door_id <> p_door.id AND v_admission.received_at > v_at
               AND NOT EXISTS (SELECT 1 FROM app.door_scans s
                               WHERE s.guest_id = v_guest.id AND s.door_id = p_door.id
                                 AND s.scanned_at < v_at) END;
      END IF;
    END IF;
  END IF;

  IF v_result = 'admitted' THEN
    v_guest.checked_in_at := v_at;
  END IF;
  v_answer := jsonb_build_object(
    'result', v_result,
    'scanId', p_scan_id,
    'scannedAt', v_at,
    'guest', CASE WHEN v_guest.id IS NOT NULL THEN app._door_guest(v_guest) END,
    'door', CASE v_result
              WHEN 'admitted' THEN jsonb_build_object('label', p_door.label)
              WHEN 'already_in' THEN jsonb_build_object(
                'label', app._door_label(v_guest.checked_in_door_id)) END,
    'event', CASE WHEN v_result = 'wrong_event' THEN jsonb_build_object('title', v_title) END,
    'conflict', v_conflict);

  INSERT INTO app.door_scans AS s (scan_id, door_id, event_id, kind, qr_hash, scanned_at,
                                   offline, result, guest_id, conflict, answer)
  VALUES (p_scan_id, p_door.id, p_door.event_id, p_kind,
          CASE WHEN p_kind = 'scan' THEN sha256(convert_to(coalesce(p_qr_code, ''), 'UTF8')) END,
          v_at, p_offline, v_result, v_guest.id, v_conflict, v_answer)
  ON CONFLICT (scan_id) DO NOTHING
  RETURNING s.id INTO v_inserted;
  IF v_inserted IS NULL THEN
    -- the same scan id, judged by a concurrent call that committed first
    SELECT * INTO v_prev FROM app.door_scans s WHERE s.scan_id = p_scan_id;
    RETURN app._door_replay(v_prev, p_door);
  END IF;

  IF v_result = 'admitted' THEN
    IF v_takes_over THEN
      UPDATE app.door_scans s SET result = 'already_in', conflict = true
      WHERE s.scan_id = v_admission.scan_id;
      INSERT INTO app.door_conflicts (event_id, guest_id, admitted_scan, later_scan)
      VALUES (p_door.event_id, v_guest.id, p_scan_id, v_admission.scan_id)
      ON CONFLICT (later_scan) DO NOTHING;
    END IF;
    UPDATE app.guests g
    SET checked_in = true, status = 'checked_in', checked_in_at = v_at,
        checked_in_door_id = p_door.id, checked_in_scan_id = p_scan_id
    WHERE g.id = v_guest.id;
  ELSIF v_conflict THEN
    INSERT INTO app.door_conflicts (event_id, guest_id, admitted_scan, later_scan)
    VALUES (p_door.event_id, v_guest.id, v_admission.scan_id, p_scan_id)
    ON CONFLICT (later_scan) DO NOTHING;
  END IF;
  RETURN v_answer;
END
$$;

-- A new door link for an event the caller may see (the callers check which:
-- admin.create_door_link any, api.console_door_link_create their own):
-- {doorId, token, path, label, expiresAt}. The token (43 characters,
-- base64url of 256 random bits) is returned this once; only its sha256 is
-- kept. The link works until revoked, and at most until 12 hours after the
-- event starts (expiresAt, as the event's start is now). PT400 invalid_input
-- (label: 1 to 60 printable characters).
CREATE OR REPLACE FUNCTION app._create_door_link(p_event_id uuid, p_label text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_token text := rtrim(translate(encode(public.gen_random_bytes(32), 'base64'), '+/', '-_'), '=');
  v_label text := btrim(p_label);
  v_id uuid;
  v_starts timestamptz;
BEGIN
  IF coalesce(length(v_label), 0) NOT BETWEEN 1 AND 60 THEN
    PERFORM app._invalid_field('label', 'O nome da porta deve ter entre 1 e 60 caracteres. Corrige o nome da porta.');
  END IF;
  PERFORM app._require_printable('label', v_label);
  SELECT e.starts_at INTO v_starts FROM app.events e WHERE e.id = p_event_id;
  IF now() >= v_starts + interval '12 hours' THEN
    -- it would be born expired: say so instead of handing out a link that opens nothing
    PERFORM app._raise(409, 'event_over', 'Este evento começou há mais de 12 horas: um link da porta já não abriria. Escolhe um evento por vir.');
  END IF;
  INSERT INTO app.door_links (event_id, label, token_hash)
  VALUES (p_event_id, v_label, sha256(convert_to(v_token, 'UTF8')))
  RETURNING id INTO v_id;
  RETURN jsonb_build_object('doorId', v_id, 'token', v_token, 'path', '/porta/' || v_token,
                            'label', v_label, 'expiresAt', v_starts + interval '12 hours');
END
$$;

-- An operator's door link for any event: app._create_door_link's answer.
-- PT404 event_not_found; PT409 event_over (more than 12 hours after its
-- start: the link would never open); PT400 invalid_input.
CREATE OR REPLACE FUNCTION admin.create_door_link(p_event_id uuid, p_label text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app.events e WHERE e.id = p_event_id) THEN
    PERFORM app._raise(404, 'event_not_found', app._message('event_not_found'));
  END IF;
  RETURN app._create_door_link(p_event_id, p_label);
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_door_link(uuid, text) TO guestlist_admin;

-- End a door link the caller may see at once (its next request gets
-- door_invalid): the first revocation's time (revoking twice changes
-- nothing), or NULL when there is no such link.
CREATE OR REPLACE FUNCTION app._revoke_door_link(p_door_id uuid)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_at timestamptz;
BEGIN
  UPDATE app.door_links d SET revoked_at = coalesce(d.revoked_at, now())
  WHERE d.id = p_door_id RETURNING d.revoked_at INTO v_at;
  RETURN v_at;
END
$$;

-- An operator ends any door link: {doorId, revokedAt}. PT404 door_not_found.
CREATE OR REPLACE FUNCTION admin.revoke_door_link(p_door_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_at timestamptz := app._revoke_door_link(p_door_id);
BEGIN
  IF v_at IS NULL THEN
    PERFORM app._raise(404, 'door_not_found', 'Porta não encontrada. Verifica o identificador da porta.');
  END IF;
  RETURN jsonb_build_object('doorId', p_door_id, 'revokedAt', v_at);
END
$$;
GRANT EXECUTE ON FUNCTION admin.revoke_door_link(uuid) TO guestlist_admin;

-- An event's codes admitted at two doors, newest first, for the organizer.
CREATE OR REPLACE FUNCTION app._door_conflict_list(p_event_id uuid, p_limit integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT coalesce(jsonb_agg(x.item ORDER BY x.created_at DESC, x.id DESC), '[]'::jsonb) INTO v
  FROM (
    SELECT c.id, c.created_at, jsonb_build_object(
             'guest', jsonb_build_object('id', g.id, 'firstName', cu.first_name,
                                         'lastName', cu.last_name),
             'admitted', jsonb_build_object('scanId', a.scan_id, 'door', da.label,
                                            'scannedAt', a.scanned_at),
             'later', jsonb_build_object('scanId', l.scan_id, 'door', dl.label,
                                         'scannedAt', l.scanned_at),
             'recordedAt', c.created_at) AS item
    FROM app.door_conflicts c
    JOIN app.guests g ON g.id = c.guest_id
    LEFT JOIN app.client_users cu ON cu.id = g.client_user_id
    JOIN app.door_scans a ON a.scan_id = c.admitted_scan
    JOIN app.door_links da ON da.id = a.door_id
    JOIN app.door_scans l ON l.scan_id = c.later_scan
    JOIN app.door_links dl ON dl.id = l.door_id
    WHERE c.event_id = p_event_id
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT p_limit) x;
  RETURN v;
END
$$;

-- The organizer's view of an event's conflicts (codes admitted at two doors).
CREATE OR REPLACE FUNCTION admin.door_conflicts(p_event_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN app._door_conflict_list(p_event_id, 1000);
END
$$;
GRANT EXECUTE ON FUNCTION admin.door_conflicts(uuid) TO guestlist_admin;

-- Scan a QR code at a door (online): {result: admitted | already_in |
-- wrong_event | not_found, scanId, scannedAt, guest, door, event, conflict}.
-- Idempotent by p_scan_id (the same scan again: the stored answer, nothing
-- changes). p_scanned_at: the phone's time, kept when plausible (not in the
-- future, not a day old). Rate limits: the door's own (bucket door), and a
-- ceiling per client address (bucket door_client, p_client_key) against
-- floods from one place. PT401 door_invalid, PT429 rate_limited,
-- PT409 scan_id_taken (another door's scan id).
CREATE OR REPLACE FUNCTION api.check_in(p_door_token text, p_qr_code text, p_scan_id uuid,
                                        p_scanned_at timestamptz DEFAULT NULL,
                                        p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app._enforce_rate_limit('door_client', p_client_key);
  RETURN app._door_judge(app._door(p_door_token), 'scan', left(p_qr_code, 200), NULL,
                         p_scan_id, p_scanned_at, false);
END
$$;
GRANT EXECUTE ON FUNCTION api.check_in(text, text, uuid, timestamptz, text) TO guestlist_web;

-- Parse a timestamp, NULL when it is none.
CREATE OR REPLACE FUNCTION app._try_timestamptz(p_text text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN p_text::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;

-- The scans a door judged offline: p_scans = [{scanId, qrCode, scannedAt,
-- offlineResult?}] (at most 500; offlineResult: what the door showed).
-- {results: [one answer per scan, in the batch's order]}. The scans are
-- judged in scannedAt order (app._door_judge: the earliest scan of a code
-- admits, across doors); one dated more than 2 minutes ahead of the server or
-- over 24 hours old is refused alone (result in_future / too_old). Replaying a
-- batch returns the stored answers and changes nothing. PT401 door_invalid,
-- PT413 too_many_scans, PT400 invalid_input (a malformed scan, named
-- scans[i].key), PT409 scan_id_taken.
CREATE OR REPLACE FUNCTION api.door_sync(p_door_token text, p_scans jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_door app.door_links := app._door(p_door_token);
  v_errors jsonb := '[]'::jsonb;
  v_scan record;
  v_out jsonb[] := '{}'::jsonb[];
  v_n integer;
BEGIN
  IF jsonb_typeof(p_scans) IS DISTINCT FROM 'array' THEN
    PERFORM app._invalid_field('scans', 'Falta a lista de leituras. Envia as leituras numa lista.');
  END IF;
  v_n := jsonb_array_length(p_scans);
  IF v_n > 500 THEN
    PERFORM app._raise(413, 'too_many_scans', 'No máximo 500 leituras de cada vez. Envia-as em lotes mais pequenos.');
  END IF;
  FOR v_scan IN SELECT s.value AS item, s.i FROM jsonb_array_elements(p_scans)
                WITH ORDINALITY AS s(value, i) LOOP
    IF jsonb_typeof(v_scan.item) IS DISTINCT FROM 'object' THEN
      v_errors := v_errors || jsonb_build_object('field', format('scans[%s]', v_scan.i - 1),
        'code', 'wrong_type', 'message', 'Cada leitura é um objeto. Envia {scanId, qrCode, scannedAt}.');
      CONTINUE;
    END IF;
    IF coalesce(v_scan.item ->> 'scanId', '') !~*
       '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
      v_errors := v_errors || jsonb_build_object('field', format('scans[%s].scanId', v_scan.i - 1),
        'code', 'invalid', 'message', 'Identificador de leitura inválido. Envia um UUID.');
    END IF;
    IF jsonb_typeof(v_scan.item -> 'qrCode') IS DISTINCT FROM 'string'
       OR length(v_scan.item ->> 'qrCode') NOT BETWEEN 1 AND 200 THEN
      v_errors := v_errors || jsonb_build_object('field', format('scans[%s].qrCode', v_scan.i - 1),
        'code', 'invalid', 'message', 'Código em falta ou demasiado longo. Lê o código de novo.');
    END IF;
    IF jsonb_typeof(v_scan.item -> 'scannedAt') IS DISTINCT FROM 'string'
       OR app._try_timestamptz(v_scan.item ->> 'scannedAt') IS NULL THEN
      v_errors := v_errors || jsonb_build_object('field',
        format('scans[%s].scannedAt', v_scan.i - 1),
        'code', 'invalid', 'message', 'Data da leitura inválida. Envia uma data ISO 8601 com fuso horário.');
    END IF;
    IF v_scan.item ? 'offlineResult' AND jsonb_typeof(v_scan.item -> 'offlineResult') <> 'null'
       AND coalesce(v_scan.item ->> 'offlineResult', '') NOT IN
           ('admitted', 'already_in', 'wrong_event', 'not_found') THEN
      v_errors := v_errors || jsonb_build_object('field',
        format('scans[%s].offlineResult', v_scan.i - 1),
        'code', 'invalid', 'message', 'Resultado inválido. Envia admitted, already_in, wrong_event ou not_found.');
    END IF;
  END LOOP;
  IF jsonb_array_length(v_errors) > 0 THEN
    PERFORM app._raise(400, 'invalid_input', app._message('invalid_input'),
                       jsonb_build_object('errors', v_errors));
  END IF;

  -- a scan id another door holds is refused before anything is judged or locked, naming
  -- each such scan (the door can drop it and send the rest)
  SELECT jsonb_agg(jsonb_build_object('field', format('scans[%s].scanId', s.i - 1), 'code', 'taken',
                     'message', 'Identificador de leitura já usado. Lê o código de novo.') ORDER BY s.i)
  INTO v_errors
  FROM jsonb_array_elements(p_scans) WITH ORDINALITY AS s(value, i)
  JOIN app.door_scans d ON d.scan_id = (s.value ->> 'scanId')::uuid
  WHERE d.door_id <> v_door.id;
  IF v_errors IS NOT NULL THEN
    PERFORM app._raise(409, 'scan_id_taken', 'Este identificador de leitura já foi usado por '
      'outra porta. Lê o código de novo.', jsonb_build_object('errors', v_errors));
  END IF;

  -- every guest the batch names, locked in one order: two batches never deadlock
  PERFORM 1 FROM app.guests g
  WHERE g.qr_code IN (SELECT lower(btrim(s.value ->> 'qrCode'))
                      FROM jsonb_array_elements(p_scans) s)
  ORDER BY g.id FOR UPDATE;

  FOR v_scan IN SELECT s.i, (s.value ->> 'scanId')::uuid AS scan_id, s.value ->> 'qrCode' AS code,
                       (s.value ->> 'scannedAt')::timestamptz AS scanned_at,
                       s.value ->> 'offlineResult' AS offline_result
                FROM jsonb_array_elements(p_scans) WITH ORDINALITY AS s(value, i)
                ORDER BY 4, 2 LOOP
    v_out[v_scan.i] := app._door_judge(v_door, 'scan', v_scan.code, NULL, v_scan.scan_id,
                                       v_scan.scanned_at, true, v_scan.offline_result);
  END LOOP;
  RETURN jsonb_build_object('results', coalesce(
    (SELECT jsonb_agg(x.a ORDER BY x.i) FROM unnest(v_out) WITH ORDINALITY AS x(a, i)),
    '[]'::jsonb));
END
$$;
GRANT EXECUTE ON FUNCTION api.door_sync(text, jsonb) TO guestlist_web;

-- Find guests of the door's event without their phone: a prefix of the first
-- or last name (or of "first last"), accents and case ignored, or the last 4
-- digits of the phone. At most 20: {guests: [{id, firstName, lastName,
-- promoter, checkedIn, checkedInAt, ageOk}]}. PT400 invalid_input (q: 1 to 80
-- characters), PT401 door_invalid.
CREATE OR REPLACE FUNCTION api.door_search(p_door_token text, p_query text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_door app.door_links := app._door(p_door_token);
  v_q text := btrim(p_query);
  v_first text;
  v_result jsonb;
BEGIN
  IF coalesce(length(v_q), 0) NOT BETWEEN 1 AND 80 THEN
    PERFORM app._invalid_field('q', 'Escreve entre 1 e 80 caracteres.');
  END IF;
  -- blanks of any kind (tabs, line breaks) are one space, and a query that folds to
  -- nothing (blanks, combining marks alone) is refused: it would match every name
  v_q := btrim(regexp_replace(app._door_fold(v_q), '\s+', ' ', 'g'));
  IF v_q = '' THEN
    PERFORM app._invalid_field('q', 'Escreve entre 1 e 80 caracteres.');
  END IF;
  v_first := split_part(v_q, ' ', 1);
  WITH found AS (
    SELECT g.id FROM app.guests g
    WHERE v_q ~ '^[0-9]{4}$' AND g.event_id = v_door.event_id AND right(g.phone, 4) = v_q
    UNION
    SELECT g.id FROM app.guests g
    WHERE g.event_id = v_door.event_id AND g.door_first IS NOT NULL
      AND g.door_first >= v_first AND g.door_first < v_first || U&'\+10FFFF'
      AND starts_with(g.door_first || ' ' || g.door_last, v_q)
    UNION
    SELECT g.id FROM app.guests g
    WHERE g.event_id = v_door.event_id AND g.door_last IS NOT NULL
      AND g.door_last >= v_q AND g.door_last < v_q || U&'\+10FFFF'
      AND starts_with(g.door_last, v_q)
  )
  SELECT coalesce(jsonb_agg(app._door_guest(g) || jsonb_build_object('checkedIn', g.checked_in)
                            ORDER BY g.door_last, g.door_first, g.id), '[]'::jsonb)
  INTO v_result
  FROM (SELECT g.* FROM app.guests g JOIN found f ON f.id = g.id
        WHERE g.anonymized_at IS NULL AND g.status <> 'cancelled'
        ORDER BY g.door_last, g.door_first, g.id LIMIT 20) g;
  RETURN jsonb_build_object('guests', v_result);
END
$$;
GRANT EXECUTE ON FUNCTION api.door_search(text, text) TO guestlist_web;

-- Check a guest of the door's event in by hand (found by api.door_search):
-- the answers of api.check_in, idempotent by p_scan_id. Another event's or an
-- erased guest: not_found.
CREATE OR REPLACE FUNCTION api.door_admit(p_door_token text, p_guest_id uuid, p_scan_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN app._door_judge(app._door(p_door_token), 'manual', NULL, p_guest_id, p_scan_id,
                         NULL, false);
END
$$;
GRANT EXECUTE ON FUNCTION api.door_admit(text, uuid, uuid) TO guestlist_web;

-- Undo a mistaken check-in of a guest of the door's event: the guest is on
-- the list again, not inside; the undo is recorded (app.door_undos) and the
-- scan log keeps the admission. {undone: false} when the guest was not
-- inside. {undone, guest}. PT404 guest_not_found, PT401 door_invalid.
CREATE OR REPLACE FUNCTION api.door_undo(p_door_token text, p_guest_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_door app.door_links := app._door(p_door_token);
  v_guest app.guests;
BEGIN
  SELECT * INTO v_guest FROM app.guests g
  WHERE g.id = p_guest_id AND g.event_id = v_door.event_id AND g.anonymized_at IS NULL
  FOR UPDATE;
  IF v_guest.id IS NULL THEN
    PERFORM app._raise(404, 'guest_not_found', 'Convidado não encontrado. Procura-o de novo pelo nome.');
  END IF;
  IF NOT v_guest.checked_in THEN
    RETURN jsonb_build_object('undone', false, 'guest', app._door_guest(v_guest));
  END IF;
  INSERT INTO app.door_undos (guest_id, door_id, scan_id, admitted_by, checked_in_at)
  VALUES (v_guest.id, v_door.id, v_guest.checked_in_scan_id, v_guest.checked_in_door_id,
          v_guest.checked_in_at);
  UPDATE app.guests g
  SET checked_in = false, status = 'pending', checked_in_at = NULL, checked_in_door_id = NULL,
      checked_in_scan_id = NULL
  WHERE g.id = v_guest.id
  RETURNING * INTO v_guest;
  RETURN jsonb_build_object('undone', true, 'guest', app._door_guest(v_guest));
END
$$;
GRANT EXECUTE ON FUNCTION api.door_undo(text, uuid) TO guestlist_web;

-- The door's counts: {event {id, title, startsAt, minAge}, door {id, label}, onList,
-- inside, byPromoter [{promoter, onList, inside}], conflicts (how many codes
-- were admitted at two doors), conflictList (the latest 20), lastScans (the
-- event's latest 20 scans at any door)}. PT401 door_invalid.
CREATE OR REPLACE FUNCTION api.door_summary(p_door_token text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_door app.door_links := app._door(p_door_token);
  v_out jsonb;
BEGIN
  SELECT jsonb_build_object(
    'event', jsonb_build_object('id', e.id, 'title', e.title, 'startsAt', e.starts_at,
                                'minAge', e.min_age),
    'door', jsonb_build_object('id', v_door.id, 'label', v_door.label),
    'onList', coalesce(sum(p.on_list), 0),
    'inside', coalesce(sum(p.inside), 0),
    'byPromoter', coalesce(jsonb_agg(jsonb_build_object('promoter', p.promoter,
                                                        'onList', p.on_list,
                                                        'inside', p.inside)
                                     ORDER BY p.promoter NULLS LAST)
                           FILTER (WHERE p.on_list IS NOT NULL), '[]'::jsonb))
  INTO v_out
  FROM app.events e
  LEFT JOIN (SELECT pr.display_name AS promoter, count(*) AS on_list,
                    count(*) FILTER (WHERE g.checked_in) AS inside
             FROM app.guests g LEFT JOIN app.promoters pr ON pr.id = g.promoter_id
             WHERE g.event_id = v_door.event_id AND g.status <> 'cancelled'
             GROUP BY pr.display_name) p ON true
  WHERE e.id = v_door.event_id
  GROUP BY e.id;
  RETURN v_out || jsonb_build_object(
    'conflicts', (SELECT count(*) FROM app.door_conflicts c WHERE c.event_id = v_door.event_id),
    'conflictList', app._door_conflict_list(v_door.event_id, 20),
    'lastScans', (
      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'scanId', s.scan_id, 'result', s.result, 'door', d.label,
               'scannedAt', s.scanned_at, 'receivedAt', s.received_at, 'offline', s.offline,
               'conflict', s.conflict,
               'guest', CASE WHEN g.anonymized_at IS NULL AND g.id IS NOT NULL
                          THEN jsonb_build_object('id', g.id, 'firstName', cu.first_name,
                                                  'lastName', cu.last_name) END)
             ORDER BY s.received_at DESC, s.id DESC), '[]'::jsonb)
      FROM (SELECT * FROM app.door_scans s WHERE s.event_id = v_door.event_id
            ORDER BY s.received_at DESC, s.id DESC LIMIT 20) s
      JOIN app.door_links d ON d.id = s.door_id
      LEFT JOIN app.guests g ON g.id = s.guest_id
      LEFT JOIN app.client_users cu ON cu.id = g.client_user_id));
END
$$;
GRANT EXECUTE ON FUNCTION api.door_summary(text) TO guestlist_web;

-- The door's copy of its event's list, for judging scans while offline:
-- {event {id, title, startsAt, minAge}, door {id, label}, fetchedAt, guests:
-- [{id, qrHash, firstName, lastName, promoter, checkedIn, checkedInAt, ageOk}]}, live
-- guests only. qrHash is the sha256 (hex) of the QR code, never the code: a
-- lost door phone holds no code that would open the door (docs/door.md).
CREATE OR REPLACE FUNCTION api.door_list(p_door_token text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_door app.door_links := app._door(p_door_token);
  v_out jsonb;
BEGIN
  SELECT jsonb_build_object(
    'event', jsonb_build_object('id', e.id, 'title', e.title, 'startsAt', e.starts_at,
                                'minAge', e.min_age),
    'door', jsonb_build_object('id', v_door.id, 'label', v_door.label),
    'fetchedAt', now(),
    'guests', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'id', g.id, 'qrHash', encode(sha256(convert_to(g.qr_code, 'UTF8')), 'hex'),
               'firstName', cu.first_name, 'lastName', cu.last_name,
               'promoter', pr.display_name, 'checkedIn', g.checked_in,
               'checkedInAt', g.checked_in_at, 'ageOk', app._door_age_ok(e, cu.birth_date))
             ORDER BY g.id)
      FROM app.guests g
      JOIN app.client_users cu ON cu.id = g.client_user_id
      LEFT JOIN app.promoters pr ON pr.id = g.promoter_id
      WHERE g.event_id = v_door.event_id AND g.anonymized_at IS NULL
        AND g.status <> 'cancelled'), '[]'::jsonb))
  INTO v_out
  FROM app.events e WHERE e.id = v_door.event_id;
  RETURN v_out;
END
$$;
GRANT EXECUTE ON FUNCTION api.door_list(text) TO guestlist_web;
