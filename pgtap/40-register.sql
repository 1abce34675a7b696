-- api.register_and_create_guest_v2: bcrypt cost 10, every invalid field at
-- once, phone_exists, an atomic account + place, a session token.
BEGIN;
SELECT plan(29);
\ir 00-fixture.psql

SELECT api.register_and_create_guest_v2('+351935886310', ' Ana ', 'Silva', 'Ana@Example.pt',
  'Segredo123', :'ev', :'pr', :'tm', '1995-04-01', 'F', 'Lisboa') AS reg \gset
SELECT is((:'reg'::jsonb ->> 'success')::boolean, true, 'a new guest registers');
SELECT ok(:'reg'::jsonb ?& ARRAY['guest_id', 'qr_code', 'message', 'client_id', 'session_token'],
          'the seed''s keys and a session token');
SELECT matches(:'reg'::jsonb ->> 'qr_code', '^[0-9a-f]{32}$', 'qr_code is 128 bits of hex');
SELECT isnt(:'reg'::jsonb ->> 'qr_code', :'reg'::jsonb ->> 'guest_id', 'qr_code is not the guest id');
SELECT ok((SELECT password_hash ~ '^\$2a\$10\$' AND password_hash = public.crypt('Segredo123', password_hash)
           FROM app.client_users WHERE phone = '+351935886310'), 'a bcrypt cost-10 hash is stored');
SELECT is((SELECT count(*)::int FROM app.client_users cu
           WHERE row_to_json(cu)::text LIKE '%Segredo123%'), 0, 'the password itself is stored nowhere');
SELECT is((SELECT first_name || '|' || email || '|' || gender || '|' || city FROM app.client_users
           WHERE phone = '+351935886310'), 'Ana|ana@example.pt|F|Lisboa', 'fields trimmed and kept');
SELECT is((SELECT row(promoter_id, team_id, status, checked_in)::text FROM app.guests),
          row(:'pr'::uuid, :'tm'::uuid, 'pending', false)::text, 'the guest is attributed and pending');
SELECT is((SELECT count(*)::int FROM app.guest_sessions
           WHERE token_hash = sha256(decode(:'reg'::jsonb ->> 'session_token', 'hex'))), 1,
          'only the session token''s hash is stored');
SELECT is((SELECT count(*)::int FROM app.guest_sessions s
           WHERE encode(s.token_hash, 'hex') = :'reg'::jsonb ->> 'session_token'), 0,
          'the token itself is not stored');

SELECT is(api.register_and_create_guest_v2('+351935886310', 'Outra', 'Pessoa', 'o@example.pt',
          'Segredo123', :'ev') ->> 'code', 'phone_exists', 'the same phone cannot register twice');

SELECT is(api.register_and_create_guest_v2('x', repeat('a', 81), '  ', 'not-an-email', 'abcdefgh',
          NULL, NULL, NULL, current_date + 1, 'X', repeat('c', 81)) -> 'errors',
  '[{"code": "invalid", "field": "phone", "message": "Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310."},
    {"code": "length", "field": "first_name", "message": "Indica o teu nome, com 80 caracteres no máximo."},
    {"code": "length", "field": "last_name", "message": "Indica o teu apelido, com 80 caracteres no máximo."},
    {"code": "invalid", "field": "email", "message": "Indica um email válido, como nome@exemplo.pt."},
    {"code": "weak", "field": "password", "message": "Escolhe uma palavra-passe com pelo menos 8 caracteres, com maiúsculas, minúsculas e números."},
    {"code": "required", "field": "event_id", "message": "Evento em falta. Abre de novo o link que recebeste do promotor."},
    {"code": "invalid", "field": "birth_date", "message": "A data de nascimento tem de ser anterior a hoje. Corrige-a ou deixa-a em branco."},
    {"code": "invalid", "field": "gender", "message": "Escolhe uma das opções de género."},
    {"code": "length", "field": "city", "message": "Encurta a cidade para 80 caracteres no máximo, ou deixa-a em branco."}]'::jsonb,
  'every invalid field at once, in order, named without p_');
SELECT is(api.register_and_create_guest_v2('+351910000002', 'A', 'B', 'a@b.pt', 'segredo123', :'ev')
          -> 'errors' -> 0 ->> 'field', 'password', 'a password without upper case is weak');
SELECT is(api.register_and_create_guest_v2('+351910000002', 'A', 'B', 'a@b.pt', 'Segredo123', :'ev',
          NULL, NULL, date '1850-06-01') -> 'errors' -> 0,
  '{"code": "invalid", "field": "birth_date", "message": "Indica uma data de nascimento real, depois de 1900, ou deixa o campo em branco."}'::jsonb,
  'a birth date before 1900 asks for a real one, not for a past one');
SELECT is(api.register_and_create_guest_v2('+351910000002', 'A', 'B', 'a@b.pt', 'SEGREDO123', :'ev')
          -> 'errors' -> 0 ->> 'field', 'password', 'a password without lower case is weak');
SELECT is(api.register_and_create_guest_v2('+351910000002', 'A', 'B', 'a@b.pt', 'SegredoXyz', :'ev')
          -> 'errors' -> 0 ->> 'field', 'password', 'a password without a digit is weak');
SELECT is(api.register_and_create_guest_v2('+351910000002', 'A', 'B', 'a@b.pt', 'Segr3do', :'ev')
          -> 'errors' -> 0 ->> 'field', 'password', 'a 7-character password is weak');
SELECT is(api.register_and_create_guest_v2('+351910000002', repeat('a', 80), 'B', 'a@b.pt',
          'Segredo123', :'ev') ->> 'success', 'true', 'an 80-character name is fine, gender optional');
SELECT is(api.register_and_create_guest_v2('+351910000003', 'A', 'B', 'a@b.pt', 'Segredo123',
          :'ev', p_gender => 'O', p_birth_date => current_date) -> 'errors' -> 0 ->> 'field',
          'birth_date', 'a birth date today is not in the past');
SELECT is(api.register_and_create_guest_v2('+351910000004', 'A', 'B', 'a@b.pt', 'Segredo123',
          gen_random_uuid()) ->> 'code', 'event_not_found', 'an unknown event is refused');
SELECT is((SELECT count(*)::int FROM app.client_users WHERE phone = '+351910000004'), 0,
          'a refused registration leaves no account');

-- invisible characters spoof names at the door: refused by code, field by field
SELECT is(api.register_and_create_guest_v2('+351910000005', E'Ana\u202Egis', E'Sil\u200Bva',
          E'a\u2066b@example.pt', 'Segredo123', :'ev', p_city => E'Porto\u0007') -> 'errors',
  '[{"code": "invalid_characters", "field": "first_name", "message": "Tem caracteres invisíveis ou de controlo, que não são permitidos. Escreve o texto à mão, sem o colar."},
    {"code": "invalid_characters", "field": "last_name", "message": "Tem caracteres invisíveis ou de controlo, que não são permitidos. Escreve o texto à mão, sem o colar."},
    {"code": "invalid_characters", "field": "email", "message": "Tem caracteres invisíveis ou de controlo, que não são permitidos. Escreve o texto à mão, sem o colar."},
    {"code": "invalid_characters", "field": "city", "message": "Tem caracteres invisíveis ou de controlo, que não são permitidos. Escreve o texto à mão, sem o colar."}]'::jsonb,
  'bidi overrides, isolates, zero-width spaces and controls are refused in every name');
SELECT is(api.register_and_create_guest_v2('+351910000005', E'Ana\tMaria', 'B', E'a\u00A0b@b.pt',
          'Segredo123', :'ev') -> 'errors',
  '[{"code": "invalid_characters", "field": "first_name", "message": "Tem caracteres invisíveis ou de controlo, que não são permitidos. Escreve o texto à mão, sem o colar."},
    {"code": "invalid", "field": "email", "message": "Indica um email válido, como nome@exemplo.pt."}]'::jsonb,
  'a tab is a control character; a no-break space is no email');
SELECT is(api.register_and_create_guest_v2('+351910000006', 'Maria-João', 'Ñúñez O''Brien',
          'mj@example.pt', 'Segredo123', :'ev', p_city => 'São João da Madeira') ->> 'success',
          'true', 'accents, hyphens and apostrophes are fine');
SELECT throws_ok($$INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
                   VALUES ('+351910000007', E'Ana\u202E', 'B', 'a@b.pt',
                           '$2a$10$.NN.10MPuoIdeIpQ3roEYudSgIWlCgLEOh2pIMJILkJtK6cw9.fwK')$$,
                 '23514', NULL, 'the table refuses such a name from any other writer');

-- bcrypt reads 72 bytes: a longer password is refused, never silently cut
SELECT is(api.register_and_create_guest_v2('+351910000008', 'A', 'B', 'a@b.pt',
          'Aa1' || repeat('x', 70), :'ev') -> 'errors',
  '[{"code": "too_long", "field": "password", "message": "A palavra-passe tem mais de 72 bytes (letras acentuadas contam 2, emojis 4). Escreve uma mais curta."}]'::jsonb,
  'a 73-byte password is too long');
SELECT is(api.register_and_create_guest_v2('+351910000008', 'A', 'B', 'a@b.pt',
          'Aa1' || repeat('é', 35), :'ev') -> 'errors' -> 0 ->> 'code', 'too_long',
          '38 characters can be 73 bytes: the limit counts bytes');
SELECT is(api.register_and_create_guest_v2('+351910000008', 'A', 'B', 'a@b.pt',
          'Aa1' || repeat('x', 69), :'ev') ->> 'success', 'true', 'exactly 72 bytes is fine');
SELECT is(api.register_and_create_guest_v2('', '', ' ', 'x', 'a', :'ev') -> 'errors',
  '[{"code": "invalid", "field": "phone", "message": "Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310."},
    {"code": "length", "field": "first_name", "message": "Indica o teu nome, com 80 caracteres no máximo."},
    {"code": "length", "field": "last_name", "message": "Indica o teu apelido, com 80 caracteres no máximo."},
    {"code": "invalid", "field": "email", "message": "Indica um email válido, como nome@exemplo.pt."},
    {"code": "weak", "field": "password", "message": "Escolhe uma palavra-passe com pelo menos 8 caracteres, com maiúsculas, minúsculas e números."}]'::jsonb,
  'empty names, email x and password a: every field named at once');

SELECT * FROM finish();
ROLLBACK;
