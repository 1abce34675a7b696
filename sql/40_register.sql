-- Registration of a new guest account and its place on an event's list (the
-- seed's register_and_create_guest_v2, same parameters and result keys).
SET LOCAL ROLE guestlist_owner;

-- The error of a new password (field password: too_long past 72 bytes,
-- which bcrypt would cut; weak below 8 characters or without a lower case
-- letter, an upper case letter and a digit), or NULL when it is acceptable:
-- the registration's rule, and the password reset's.
CREATE OR REPLACE FUNCTION app._new_password_error(p_password text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF octet_length(p_password) > 72 THEN
    RETURN jsonb_build_object('field', 'password', 'code', 'too_long',
      'message', 'A palavra-passe tem mais de 72 bytes (letras acentuadas contam 2, emojis 4). Escreve uma mais curta.');
  ELSIF p_password IS NULL OR length(p_password) < 8
     OR p_password !~ '[a-z]' OR p_password !~ '[A-Z]' OR p_password !~ '[0-9]' THEN
    RETURN jsonb_build_object('field', 'password', 'code', 'weak',
      'message', 'Escolhe uma palavra-passe com pelo menos 8 caracteres, com maiúsculas, minúsculas e números.');
  END IF;
  RETURN NULL;
END
$$;

-- Every invalid registration field at once: a jsonb array of
-- {field, code, message}, fields named by parameter without p_. One error
-- per field; inputs.py applies the same rules in the same order (tests
-- compare the two). Codes: required, length, invalid, weak, too_long,
-- invalid_characters (control or invisible formatting characters, see
-- app._printable_text: they spoof names on the door's screen and in exports).
CREATE OR REPLACE FUNCTION app._registration_errors(
  p_phone text, p_first_name text, p_last_name text, p_email text, p_password text,
  p_event_id uuid, p_birth_date date, p_gender text, p_city text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_errors jsonb := '[]'::jsonb;
  v_chars constant text := 'Tem caracteres invisíveis ou de controlo, que não são permitidos. Escreve o texto à mão, sem o colar.';
  -- whitespace an email cannot hold: ASCII's and Unicode's spaces (Zs), spelled out so the
  -- rule does not depend on the database's locale; other invisibles are invalid_characters
  v_email_re constant text := '^[^@ \t\n\v\f\r\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+'
    '@[^@ \t\n\v\f\r\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+'
    '\.[^@ \t\n\v\f\r\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+$';
BEGIN
  IF app._normalize_phone(p_phone) IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'phone', 'code', 'invalid',
      'message', 'Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310.');
  END IF;
  IF coalesce(length(btrim(p_first_name)), 0) NOT BETWEEN 1 AND 80 THEN
    v_errors := v_errors || jsonb_build_object('field', 'first_name', 'code', 'length',
      'message', 'Indica o teu nome, com 80 caracteres no máximo.');
  ELSIF NOT app._printable_text(p_first_name) THEN
    v_errors := v_errors || jsonb_build_object('field', 'first_name',
      'code', 'invalid_characters', 'message', v_chars);
  END IF;
  IF coalesce(length(btrim(p_last_name)), 0) NOT BETWEEN 1 AND 80 THEN
    v_errors := v_errors || jsonb_build_object('field', 'last_name', 'code', 'length',
      'message', 'Indica o teu apelido, com 80 caracteres no máximo.');
  ELSIF NOT app._printable_text(p_last_name) THEN
    v_errors := v_errors || jsonb_build_object('field', 'last_name',
      'code', 'invalid_characters', 'message', v_chars);
  END IF;
  IF p_email IS NULL OR length(btrim(p_email)) > 254 OR btrim(p_email) !~ v_email_re THEN
    v_errors := v_errors || jsonb_build_object('field', 'email', 'code', 'invalid',
      'message', 'Indica um email válido, como nome@exemplo.pt.');
  ELSIF NOT app._printable_text(p_email) THEN
    v_errors := v_errors || jsonb_build_object('field', 'email',
      'code', 'invalid_characters', 'message', v_chars);
  END IF;
  -- bcrypt reads only the first 72 bytes: a longer password is refused, not cut
  v_errors := v_errors || coalesce(app._new_password_error(p_password), '[]'::jsonb);
  IF p_event_id IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'event_id', 'code', 'required',
      'message', 'Evento em falta. Abre de novo o link que recebeste do promotor.');
  END IF;
  IF p_birth_date IS NOT NULL AND p_birth_date <= date '1900-01-01' THEN
    v_errors := v_errors || jsonb_build_object('field', 'birth_date', 'code', 'invalid',
      'message', 'Indica uma data de nascimento real, depois de 1900, ou deixa o campo em branco.');
  ELSIF p_birth_date IS NOT NULL AND p_birth_date >= current_date THEN
    v_errors := v_errors || jsonb_build_object('field', 'birth_date', 'code', 'invalid',
      'message', 'A data de nascimento tem de ser anterior a hoje. Corrige-a ou deixa-a em branco.');
  END IF;
  IF p_gender IS NOT NULL AND p_gender NOT IN ('M', 'F', 'O') THEN
    v_errors := v_errors || jsonb_build_object('field', 'gender', 'code', 'invalid',
      'message', 'Escolhe uma das opções de género.');
  END IF;
  IF p_city IS NOT NULL AND length(btrim(p_city)) > 80 THEN
    v_errors := v_errors || jsonb_build_object('field', 'city', 'code', 'length',
      'message', 'Encurta a cidade para 80 caracteres no máximo, ou deixa-a em branco.');
  ELSIF NOT app._printable_text(p_city) THEN
    v_errors := v_errors || jsonb_build_object('field', 'city',
      'code', 'invalid_characters', 'message', v_chars);
  END IF;
  RETURN v_errors;
END
$$;

-- Create the account (bcrypt cost 10, never the password itself) and put
-- the guest on the event's list, atomically: a refused place leaves no
-- account behind. Refusals are returned: invalid_input (every bad field; a
-- missing birth date when the event has a minimum age), rate_limited,
-- event_not_found, promoter_not_found, too_young, guest_list_closed,
-- guest_list_full, promoter_quota_full, phone_exists.
CREATE OR REPLACE FUNCTION api.register_and_create_guest_v2(
  p_phone text,
  p_first_name text,
  p_last_name text,
  p_email text,
  p_password text,
  p_event_id uuid,
  p_promoter_id uuid DEFAULT NULL,
  p_team_id uuid DEFAULT NULL,
  p_birth_date date DEFAULT NULL,
  p_gender text DEFAULT NULL,
  p_city text DEFAULT NULL,
  p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_phone text := app._normalize_phone(p_phone);
  v_errors jsonb;
  v_retry integer;
  v_event app.events;
  v_attr record;
  v_code text;
  v_hash text;
  v_user app.client_users;
  v_guest record;
BEGIN
  v_retry := app._rate_limited('register', p_client_key);
  IF v_retry > 0 THEN
    RETURN app._refusal('rate_limited', app._message('rate_limited'),
                        jsonb_build_object('retry_after', v_retry));
  END IF;

  v_errors := app._registration_errors(p_phone, p_first_name, p_last_name, p_email, p_password,
                                       p_event_id, p_birth_date, p_gender, p_city);
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN app._refusal('invalid_input', app._message('invalid_input'),
                        jsonb_build_object('errors', v_errors));
  END IF;

  -- cheap refusals first, before any bcrypt work is spent
  SELECT * INTO v_event FROM app.events e WHERE e.id = p_event_id;
  v_code := app._event_refusal(v_event);
  IF v_code IS NOT NULL THEN
    RETURN app._refusal(v_code, app._message(v_code));
  END IF;
  SELECT * INTO v_attr FROM app._attribution(v_event.organization_id, p_promoter_id, p_team_id);
  IF NOT v_attr.ok THEN
    RETURN app._refusal('promoter_not_found', app._message('promoter_not_found'));
  END IF;
  -- an event with a minimum age needs the birth date, and refuses the under-aged
  v_code := app._age_refusal(v_event, p_birth_date);
  IF v_code = 'birth_date_required' THEN
    RETURN app._refusal('invalid_input', app._message('invalid_input'), jsonb_build_object(
      'errors', jsonb_build_array(jsonb_build_object('field', 'birth_date', 'code', 'required',
        'message', app._message('birth_date_required')))));
  ELSIF v_code IS NOT NULL THEN
    RETURN app._refusal(v_code, app._message(v_code));
  END IF;
  IF EXISTS (SELECT 1 FROM app.client_users cu WHERE cu.phone = v_phone) THEN
    RETURN app._refusal('phone_exists', app._message('phone_exists'));
  END IF;

  v_hash := public.crypt(p_password, public.gen_salt('bf', app._bcrypt_cost()));

  BEGIN
    INSERT INTO app.client_users AS cu
      (phone, first_name, last_name, email, password_hash, birth_date, gender, city)
    VALUES (v_phone, btrim(p_first_name), btrim(p_last_name), lower(btrim(p_email)), v_hash,
            p_birth_date, p_gender, nullif(btrim(p_city), ''))
    ON CONFLICT (phone) DO NOTHING
    RETURNING * INTO v_user;
    IF v_user.id IS NULL THEN
      -- a concurrent registration of this phone committed first
      RETURN app._refusal('phone_exists', app._message('phone_exists'));
    END IF;
    DELETE FROM app.phone_lookup_cache WHERE phone_hash = app._phone_hash(v_phone);
    SELECT * INTO v_guest
    FROM app._create_guest(v_event.id, v_user.id, p_promoter_id, v_attr.team_id);
  EXCEPTION WHEN SQLSTATE 'PT409' OR SQLSTATE 'PT404' THEN
    -- the list filled or closed meanwhile: the account is rolled back too
    GET STACKED DIAGNOSTICS v_code = PG_EXCEPTION_DETAIL;
    v_code := v_code::jsonb ->> 'code';
    RETURN app._refusal(v_code, app._message(v_code));
  END;

  RETURN app._guest_answer(v_guest.guest_id, v_guest.qr_code, false,
                           'Registo concluído e entrada na lista confirmada.',
                           v_user.first_name, v_event, v_user.id)
         || jsonb_build_object('client_id', v_user.id);
END
$$;
GRANT EXECUTE ON FUNCTION api.register_and_create_guest_v2(
  text, text, text, text, text, uuid, uuid, uuid, date, text, text, text) TO guestlist_web;
