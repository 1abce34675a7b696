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

-- Count one hit for (bucket, client) in the current minute; returns 0 when
-- allowed, else the seconds until the window ends. NULL client = no limit.
CREATE OR REPLACE FUNCTION app._rate_limited(p_bucket text, p_client_key text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_limit integer := app._setting('guestlist.rate_limit_per_minute', '100')::integer;
  v_window timestamptz := date_trunc('minute', clock_timestamp());
  v_hits integer;
BEGIN
  IF p_client_key IS NULL OR v_limit <= 0 THEN
    RETURN 0;
  END IF;
  INSERT INTO app.rate_limit_counters AS c (bucket, client_key, window_start, hits)
  VALUES (p_bucket, left(p_client_key, 100), v_window, 1)
  ON CONFLICT (bucket, client_key, window_start) DO UPDATE SET hits = c.hits + 1
  RETURNING c.hits INTO v_hits;
  IF v_hits <= v_limit THEN
    RETURN 0;
  END IF;
  RETURN greatest(1, ceil(extract(epoch FROM v_window + interval '1 minute' - clock_timestamp())))::integer;
END
$$;

-- Raise PT429 rate_limited when the client is over its limit for p_bucket.
CREATE OR REPLACE FUNCTION app._enforce_rate_limit(p_bucket text, p_client_key text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_retry integer := app._rate_limited(p_bucket, p_client_key);
BEGIN
  IF v_retry > 0 THEN
    PERFORM app._raise(429, 'rate_limited', 'Demasiados pedidos. Tenta novamente daqui a pouco.',
                       jsonb_build_object('retry_after', v_retry));
  END IF;
END
$$;

-- bcrypt cost for new hashes: 10, unless a bench database explicitly allows
-- a lower one (guestlist.allow_weak_hash_for_bench = on) to measure the queue.
CREATE OR REPLACE FUNCTION app._bcrypt_cost()
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE WHEN app._setting('guestlist.allow_weak_hash_for_bench', 'off') = 'on'
              THEN least(greatest(app._setting('guestlist.bcrypt_cost', '10')::integer, 4), 31)
              ELSE greatest(app._setting('guestlist.bcrypt_cost', '10')::integer, 10) END;
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
    WHEN 'invalid_credentials' THEN 'Telemóvel ou palavra-passe incorretos.'
    WHEN 'account_locked' THEN 'Demasiadas tentativas falhadas. Tenta novamente mais tarde.'
    WHEN 'rate_limited' THEN 'Demasiados pedidos. Tenta novamente daqui a pouco.'
    WHEN 'event_not_found' THEN 'Evento não encontrado.'
    WHEN 'promoter_not_found' THEN 'Promotor ou equipa não trabalha este evento.'
    WHEN 'guest_list_closed' THEN 'A lista de convidados deste evento já fechou.'
    WHEN 'guest_list_full' THEN 'A lista de convidados deste evento está completa.'
    WHEN 'phone_exists' THEN 'Este telemóvel já está registado. Entra com a tua palavra-passe.'
    ELSE 'Pedido recusado.'
  END;
END
$$;
