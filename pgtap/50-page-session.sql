-- api.resolve_guest_page, api.session_guest, api.session_pass and api.qr_code_exists.
BEGIN;
SELECT plan(31);
\ir 00-fixture.psql

SELECT api.resolve_guest_page('promo-teste', 'noite-teste') AS page \gset
SELECT is(:'page'::jsonb #>> '{event,id}', :'ev', 'the event by promoter and event slug');
SELECT is(:'page'::jsonb -> 'organization', jsonb_build_object('id', :'org'::uuid, 'name', 'Org Teste',
            'accountRetentionMonths', 24, 'guestRetentionMonths', 12),
          'its organization, with its retention periods (the privacy notice)');
SELECT is(:'page'::jsonb -> 'promoter', jsonb_build_object('id', :'pr'::uuid, 'displayName', 'Promo'),
          'the promoter');
SELECT is(:'page'::jsonb ->> 'teamId', :'tm', 'the promoter''s team');
SELECT is(:'page'::jsonb -> 'guestListOpen', 'true'::jsonb, 'the list is open');
SELECT ok(:'page'::jsonb ?& ARRAY['closesAt'] AND :'page'::jsonb -> 'event' ?& ARRAY['title', 'startsAt', 'location'],
          'the contract''s keys');
SELECT is(api.resolve_guest_page('Promo-Teste', 'NOITE-teste') #>> '{event,id}', :'ev',
          'slugs are matched case-insensitively');
SELECT throws_ok($$SELECT admin.create_promoter('Maiusculas', 'Maiúsculas')$$, 'PT400', NULL,
                 'a slug is stored lowercase: an upper-case one is refused');
SELECT throws_ok($$SELECT api.resolve_guest_page('ninguem', 'noite-teste')$$, 'PT404', NULL,
                 'unknown promoter: PT404');
SELECT throws_ok($$SELECT api.resolve_guest_page('promo-teste', 'nada')$$, 'PT404', NULL,
                 'unknown event: PT404');
SELECT admin.create_promoter('alheio', 'Alheio') AS stranger \gset
SELECT admin.add_team_member(:'other_tm', :'stranger') IS NOT NULL AS added \gset
SELECT throws_ok($$SELECT api.resolve_guest_page('alheio', 'noite-teste')$$, 'PT404', NULL,
                 'a promoter not working that event: PT404');

SELECT api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') AS reg \gset
SELECT is(api.session_guest(:'reg'::jsonb ->> 'session_token', :'ev') ->> 'qr_code',
          :'reg'::jsonb ->> 'qr_code', 'a returning device gets its QR code from the session');
SELECT throws_ok(format('SELECT api.session_guest(%L, %L)', repeat('0', 64), :'ev'), 'PT401', NULL,
                 'an unknown token: PT401');
-- the full name, to the session's own guest only: the ticket they save bears it
SELECT is(api.session_guest(:'reg'::jsonb ->> 'session_token', :'ev') ->> 'last_name', 'Silva',
          'a returning device gets its guest''s last name');
SELECT is(api.session_pass(:'reg'::jsonb ->> 'session_token', :'ev') #>> '{guest,last_name}',
          'Silva', 'so does the page''s pass');
SELECT ok(position('Silva' IN api.resolve_guest_page('promo-teste', 'noite-teste')::text) = 0
          AND NOT :'reg'::jsonb ? 'last_name',
          'the public page and the registration answer carry no last name');
SELECT function_returns('api', 'session_pass', ARRAY['text', 'uuid', 'text'], 'jsonb',
                        'api.session_pass(token, event, client key) → jsonb');
SELECT ok(has_function_privilege('guestlist_web', 'api.session_pass(text, uuid, text)', 'EXECUTE'),
          'the web role may ask for a device''s pass');
SELECT is(api.session_pass(:'reg'::jsonb ->> 'session_token', :'ev') #>> '{guest,qr_code}',
          :'reg'::jsonb ->> 'qr_code', 'a returning device gets its pass');
SELECT is(api.session_pass(NULL, :'ev'), '{"guest": null, "session": false}'::jsonb,
          'no token: guest null, not a refusal');
SELECT is(api.session_pass(repeat('0', 64), :'ev'), '{"guest": null, "session": false}'::jsonb,
          'an unknown token: guest null');
SELECT is(api.session_pass('not-a-token', :'ev'), '{"guest": null, "session": false}'::jsonb,
          'a malformed token: guest null');
SELECT is(api.session_pass(:'reg'::jsonb ->> 'session_token', gen_random_uuid()),
          '{"guest": null, "session": true}'::jsonb,
          'no place on that event: guest null, with a session (another guest''s device)');
UPDATE app.guest_sessions SET expires_at = now() - interval '1 second';
SELECT throws_ok(format('SELECT api.session_guest(%L, %L)', :'reg'::jsonb ->> 'session_token', :'ev'),
                 'PT401', NULL, 'an expired token: PT401');
SELECT is(api.session_pass(:'reg'::jsonb ->> 'session_token', :'ev'),
          '{"guest": null, "session": false}'::jsonb, 'an expired session: guest null, no session');
SELECT is(api.qr_code_exists(:'reg'::jsonb ->> 'qr_code'), true, 'a guest''s QR code exists');
SELECT is(api.qr_code_exists(repeat('a', 32)), false, 'another does not');

SELECT admin.set_setting('rate_limit_per_minute', '1');
SELECT api.resolve_guest_page('promo-teste', 'noite-teste', '10.0.0.9') IS NOT NULL AS first \gset
SELECT throws_ok($$SELECT api.resolve_guest_page('promo-teste', 'noite-teste', '10.0.0.9')$$,
                 'PT429', NULL, 'the page is rate-limited per client');
SELECT api.qr_code_exists(repeat('a', 32), '10.0.0.9') IS NOT NULL AS first \gset
SELECT throws_ok(format('SELECT api.qr_code_exists(%L, %L)', repeat('a', 32), '10.0.0.9'),
                 'PT429', NULL, 'so is the QR lookup');
SELECT throws_ok(format('SELECT api.session_guest(%L, %L, %L)', repeat('0', 64), :'ev', '10.0.0.9'),
                 'PT401', NULL, 'and the session lookup counts apart (its first call answers)');

SELECT api.session_pass(NULL, :'ev', '10.0.0.9') IS NOT NULL AS first \gset
SELECT throws_ok(format('SELECT api.session_pass(NULL, %L, %L)', :'ev', '10.0.0.9'),
                 'PT429', NULL, 'the pass lookup is rate-limited too, with or without a token');
SELECT * FROM finish();
ROLLBACK;
