-- Private helpers shared by the api and admin functions.
SET LOCAL ROLE guestlist_owner;

-- A setting read from a GUC (guestlist.*), with a default when unset or empty.
-- (This file's helpers are PL/pgSQL, not SQL, because they run on every
-- request: a SQL function with SET search_path is never inlined, and is
-- parsed and planned again at every call; PL/pgSQL keeps its plans.)
CREATE OR REPLACE FUNCTION app._setting(p_name text, p_default text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(nullif(current_setting(p_name, true), ''), p_default);
END
$$;

-- A refusal as the seed's functions return it: success false, a stable code,
-- a Portuguese message, and any extra keys (errors, retry_after).
CREATE OR REPLACE FUNCTION app._refusal(p_code text, p_message text, p_extra jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN jsonb_build_object('success', false, 'code', p_code, 'error', p_message) || p_extra;
END
$$;

-- Raise a refusal: SQLSTATE PTxyz (xyz = the HTTP status), a Portuguese
-- message, and DETAIL = {"code": ..., plus p_extra} for the app's error mapper.
CREATE OR REPLACE FUNCTION app._raise(p_status integer, p_code text, p_message text,
                                      p_extra jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = 'PT' || p_status::text,
    MESSAGE = p_message,
    DETAIL = (jsonb_build_object('code', p_code) || p_extra)::text;
END
$$;

-- A phone in E.164, or NULL when it cannot be one. Separators are dropped and
-- a leading 00 becomes +; the app normalizes with libphonenumber before this.
CREATE OR REPLACE FUNCTION app._normalize_phone(p_phone text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v text := regexp_replace(regexp_replace(btrim(p_phone), '[\s().-]', '', 'g'), '^00', '+');
BEGIN
  RETURN CASE WHEN v ~ '^\+[1-9][0-9]{6,14}$' THEN v END;
END
$$;

-- The key under which a phone is cached and rate-limited: sha256 of E.164.
CREATE OR REPLACE FUNCTION app._phone_hash(p_phone text)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sha256(convert_to(p_phone, 'UTF8'));
END
$$;

-- A security setting: its row in app.settings (written by admin.set_setting or
-- migrate.py; only the owner writes the table), else p_default. Never a GUC:
-- any session may SET a GUC, the web role's included.
CREATE OR REPLACE FUNCTION app._config(p_key text, p_default text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_value text;
BEGIN
  SELECT s.value INTO v_value FROM app.settings s WHERE s.key = p_key;
  RETURN coalesce(v_value, p_default);
END
$$;

-- An integer security setting (see app._config).
CREATE OR REPLACE FUNCTION app._config_int(p_key text, p_default integer)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(app._config(p_key, NULL)::integer, p_default);
END
$$;

-- What a security setting may hold: NULL for an unknown key, else 'integer'
-- (with bounds) or the list of allowed words. admin.set_setting checks it.
CREATE OR REPLACE FUNCTION app._setting_rule(p_key text, OUT kind text, OUT low integer,
                                             OUT high integer, OUT words text[])
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  CASE
    WHEN p_key = 'bcrypt_cost' THEN
      kind := 'integer'; low := 4; high := 31;
    WHEN p_key IN ('allow_weak_hash_for_bench') THEN
      kind := 'word'; words := ARRAY['on', 'off'];
    WHEN p_key = 'cleanup_scheduled' THEN
      kind := 'word'; words := ARRAY['true', 'false'];
    -- rate_limit.<bucket>, the door's included: rate_limit.door (per door link) and
    -- rate_limit.door_client (per address, api.check_in)
    WHEN p_key IN ('rate_limit_per_minute', 'phone_lookups_per_minute',
                   'unknown_phone_lookups_per_minute', 'rate_limit.door', 'rate_limit.door_client')
         OR p_key ~ '^rate_limit\.[a-z_]{1,40}$' THEN
      kind := 'integer'; low := 0; high := 1000000;
    WHEN p_key IN ('login_client_max_failures', 'login_phone_free_failures') THEN
      kind := 'integer'; low := 1; high := 1000;
    WHEN p_key IN ('login_failure_window_seconds', 'login_phone_max_delay_seconds') THEN
      kind := 'integer'; low := 1; high := 604800;
    -- the queue's and the erasure log's bounds: what a password, a result or an erasure's
    -- subject key may outlive, and how many jobs the database accepts
    WHEN p_key = 'queue_max_depth' THEN
      kind := 'integer'; low := 1; high := 10000000;
    -- queue admission by drain rate (sql/76_queue_admission.sql): how long the page waits
    -- for a job and how much of that the backlog may fill, the window the rate is measured
    -- over, the capacity assumed until measured
    WHEN p_key = 'queue_hold_seconds' THEN
      kind := 'integer'; low := 1; high := 3600;
    -- the share of the hold the backlog may fill at the measured rate
    WHEN p_key = 'queue_fill_percent' THEN
      kind := 'integer'; low := 10; high := 100;
    WHEN p_key = 'queue_rate_window_seconds' THEN
      kind := 'integer'; low := 1; high := 300;
    WHEN p_key = 'queue_capacity_per_second' THEN
      kind := 'integer'; low := 1; high := 100000;
    -- how long a process's figures count after its last report (sql/76_instances.sql)
    WHEN p_key = 'instance_report_ttl_seconds' THEN
      kind := 'integer'; low := 5; high := 3600;
    WHEN p_key = 'job_pending_max_age_seconds' THEN
      kind := 'integer'; low := 1; high := 86400;
    WHEN p_key = 'job_retention_seconds' THEN
      kind := 'integer'; low := 1; high := 604800;
    WHEN p_key = 'erasure_key_retention_days' THEN
      kind := 'integer'; low := 1; high := 3650;
    -- password reset requests a phone may make in one window (sql/35_password_reset.sql)
    WHEN p_key = 'password_reset_per_phone' THEN
      kind := 'integer'; low := 1; high := 1000;
    WHEN p_key = 'password_reset_phone_window_seconds' THEN
      kind := 'integer'; low := 60; high := 86400;
    ELSE
      kind := NULL;
  END CASE;
END
$$;

-- Set a security setting (NULL: back to its default). Unknown keys and values
-- out of bounds: PT400 invalid_input. For DBAs (guestlist_admin) and migrate.py.
CREATE OR REPLACE FUNCTION admin.set_setting(p_key text, p_value text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_rule record;
  v_value text := btrim(p_value);
BEGIN
  SELECT * INTO v_rule FROM app._setting_rule(p_key);
  IF v_rule.kind IS NULL THEN
    PERFORM app._raise(400, 'invalid_input', 'Configuração desconhecida.', jsonb_build_object(
      'errors', jsonb_build_array(jsonb_build_object(
        'field', 'key', 'code', 'unknown', 'message', 'Configuração desconhecida.'))));
  END IF;
  IF v_value IS NULL THEN
    DELETE FROM app.settings s WHERE s.key = p_key;
    RETURN;
  END IF;
  IF (v_rule.kind = 'integer' AND (v_value !~ '^[0-9]{1,9}$'
                                   OR v_value::integer NOT BETWEEN v_rule.low AND v_rule.high))
     OR (v_rule.kind = 'word' AND NOT v_value = ANY (v_rule.words)) THEN
    PERFORM app._raise(400, 'invalid_input', 'Valor inválido para ' || p_key || '.',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'value', 'code', 'invalid',
        'message', CASE v_rule.kind
                     WHEN 'integer' THEN format('Um inteiro entre %s e %s.', v_rule.low, v_rule.high)
                     ELSE 'Um de: ' || array_to_string(v_rule.words, ', ') || '.' END))));
  END IF;
  INSERT INTO app.settings AS s (key, value) VALUES (p_key, v_value)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value;
END
$$;
GRANT EXECUTE ON FUNCTION admin.set_setting(text, text) TO guestlist_admin;

-- A client key's limit a minute on one route bucket: rate_limit.<bucket>,
-- else rate_limit_per_minute, else the bucket's default. The defaults are
-- ceilings against floods, not per-person limits: at the door hundreds of
-- guests share one address (venue Wi-Fi, carrier NAT), each costing about
-- two page loads, one phone check, one login or registration and a few status
-- reads, so 300 guests a minute behind one address pass with room to spare.
-- Per-phone limits and the login lockout carry the protection. 0 = no limit.
CREATE OR REPLACE FUNCTION app._bucket_limit(p_bucket text)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_value text;
BEGIN
  -- one index scan: the bucket's own row sorts first
  SELECT s.value INTO v_value FROM app.settings s
  WHERE s.key IN ('rate_limit.' || p_bucket, 'rate_limit_per_minute')
  ORDER BY s.key = 'rate_limit_per_minute'
  LIMIT 1;
  RETURN coalesce(v_value::integer, CASE p_bucket
    WHEN 'page' THEN 1200         -- the page and its JSON: two a guest
    WHEN 'check_phone' THEN 600   -- one a guest; also bounded per phone and globally
    WHEN 'login' THEN 600         -- bcrypt work: one a guest, a retry or two
    WHEN 'register' THEN 600
    WHEN 'session' THEN 1200      -- a returning device's pass
    WHEN 'qr' THEN 2400           -- the QR image, reloaded
    WHEN 'status' THEN 3000       -- a queued job's status, long-polled
    WHEN 'password_reset' THEN 60          -- a forgotten password: rare, and it sends mail
    WHEN 'password_reset_confirm' THEN 60  -- a new password from a mailed link (bcrypt work)
    -- the door (sql/66_door.sql): per door link (key door:<id>) a scan every 2 s with room
    -- for searches, the counter and the list; per address a ceiling for a venue's doors
    WHEN 'door' THEN 600
    WHEN 'door_client' THEN 6000
    ELSE 600 END);
END
$$;

-- Count one hit for (bucket, key) in the current minute against p_limit;
-- returns 0 when allowed, else the seconds until the window ends.
-- p_limit 0 = no limit (nothing counted).
CREATE OR REPLACE FUNCTION app._count_hit(p_bucket text, p_key text, p_limit integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_window timestamptz := date_trunc('minute', clock_timestamp());
  v_hits integer;
BEGIN
  IF p_key IS NULL OR coalesce(p_limit, 0) <= 0 THEN
    RETURN 0;
  END IF;
  INSERT INTO app.rate_limit_counters AS c (bucket, client_key, window_start, hits)
  VALUES (p_bucket, left(p_key, 100), v_window, 1)
  ON CONFLICT (bucket, client_key, window_start) DO UPDATE SET hits = c.hits + 1
  RETURNING c.hits INTO v_hits;
  IF v_hits <= p_limit THEN
    RETURN 0;
  END IF;
  RETURN greatest(1, ceil(extract(epoch FROM v_window + interval '1 minute' - clock_timestamp())))::integer;
END
$$;

-- Count one hit for (bucket, client) in the current minute; returns 0 when
-- allowed, else the seconds until the window ends. NULL client = no limit.
CREATE OR REPLACE FUNCTION app._rate_limited(p_bucket text, p_client_key text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_client_key IS NULL THEN
    RETURN 0;
  END IF;
  RETURN app._count_hit(p_bucket, p_client_key, app._bucket_limit(p_bucket));
END
$$;

-- Raise PT429 rate_limited with retry_after when p_retry > 0.
CREATE OR REPLACE FUNCTION app._raise_rate_limited(p_retry integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_retry > 0 THEN
    PERFORM app._raise(429, 'rate_limited', 'Demasiados pedidos. Tenta novamente daqui a pouco.',
                       jsonb_build_object('retry_after', p_retry));
  END IF;
END
$$;

-- Raise PT429 rate_limited when the client is over its limit for p_bucket.
CREATE OR REPLACE FUNCTION app._enforce_rate_limit(p_bucket text, p_client_key text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app._raise_rate_limited(app._rate_limited(p_bucket, p_client_key));
END
$$;

-- bcrypt cost for new hashes (app.settings bcrypt_cost): 10 or more, unless
-- the database explicitly allows a lower one (allow_weak_hash_for_bench = on)
-- to measure the queue. A GUC of the same name has no effect.
CREATE OR REPLACE FUNCTION app._bcrypt_cost()
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cost integer := app._config_int('bcrypt_cost', 10);
BEGIN
  RETURN CASE WHEN app._config('allow_weak_hash_for_bench', 'off') = 'on'
              THEN least(greatest(v_cost, 4), 31)
              ELSE least(greatest(v_cost, 10), 31) END;
END
$$;

-- The public face of an event, as every api answer shows it.
CREATE OR REPLACE FUNCTION app._event_json(p_event app.events)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN jsonb_build_object('id', p_event.id, 'title', p_event.title,
                            'startsAt', p_event.starts_at, 'location', p_event.location);
END
$$;

-- Why a new guest cannot join this event now (a refusal code), or NULL.
CREATE OR REPLACE FUNCTION app._event_refusal(p_event app.events)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE
    WHEN p_event.id IS NULL OR NOT p_event.is_active THEN 'event_not_found'
    WHEN p_event.guest_list_closes_at <= now() THEN 'guest_list_closed'
    WHEN p_event.guest_count >= p_event.guest_capacity THEN 'guest_list_full'
  END;
END
$$;

-- The Portuguese message for each refusal code.
CREATE OR REPLACE FUNCTION app._message(p_code text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE p_code
    WHEN 'invalid_input' THEN 'Dados inválidos. Corrige os campos assinalados.'
    WHEN 'invalid_credentials' THEN 'Telemóvel ou palavra-passe incorretos. Confirma-os e tenta de novo, ou escolhe «Esqueci-me da palavra-passe».'
    WHEN 'account_locked' THEN 'Demasiadas tentativas falhadas. Espera o tempo indicado e tenta de novo, ou define uma nova palavra-passe em «Esqueci-me da palavra-passe».'
    WHEN 'rate_limited' THEN 'Demasiados pedidos. Tenta novamente daqui a pouco.'
    WHEN 'event_not_found' THEN 'Evento não encontrado. Confirma o link com quem to enviou.'
    WHEN 'promoter_not_found' THEN 'Este promotor ou equipa não trabalha este evento. Pede um novo link ao teu promotor.'
    WHEN 'guest_list_closed' THEN 'A lista de convidados deste evento já fechou. Fala com o teu promotor.'
    WHEN 'guest_list_full' THEN 'A lista de convidados deste evento está completa. Fala com o teu promotor.'
    WHEN 'phone_exists' THEN 'Este telemóvel já está registado. Entra com a tua palavra-passe.'
    -- a promoter's quota on the event (sql/62_console.sql), and an event's minimum age
    WHEN 'promoter_quota_full' THEN 'A lista deste promotor para este evento está completa. Fala com o teu promotor.'
    WHEN 'too_young' THEN 'Este evento tem idade mínima e ainda não a tens. Fala com o teu promotor se for um erro.'
    WHEN 'birth_date_required' THEN 'Este evento tem idade mínima. Indica a tua data de nascimento.'
    ELSE 'Pedido recusado. Tenta novamente daqui a pouco.'
  END;
END
$$;
