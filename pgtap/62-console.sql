-- The console's functions: events (create, edit, close, reopen, duplicate),
-- promoters and teams, quotas, the guest list (search, filters, sort, pages),
-- figures, the export's rows, members and invites; and the guest flow's
-- promoter quota and minimum age, with the birth date asked once.
BEGIN;
SELECT plan(55);
\ir 00-fixture.psql

SELECT function_returns('api', f, a, 'jsonb', 'api.' || f || ' returns jsonb')
FROM (VALUES ('console_events', ARRAY['text', 'uuid']),
             ('console_guests', ARRAY['text', 'uuid', 'text', 'integer', 'integer', 'uuid', 'boolean', 'text']),
             ('console_set_quota', ARRAY['text', 'uuid', 'uuid', 'integer']),
             ('console_figures', ARRAY['text', 'uuid']),
             ('promoter_dashboard', ARRAY['text']),
             ('guest_give_birth_date', ARRAY['text', 'text', 'date', 'text'])) v(f, a);
SELECT ok(has_function_privilege('guestlist_web', 'api.console_export_rows(text, uuid)', 'EXECUTE'),
          'the web role may read the export''s rows');

SELECT admin.invite_member(:'org', 'dona@example.pt', 'owner') ->> 'inviteToken' AS io \gset
SELECT admin.invite_member(:'org', 'gestor@example.pt', 'manager') ->> 'inviteToken' AS im \gset
SET LOCAL ROLE guestlist_web;
SELECT api.accept_invite(:'io', 'Segredo123', 'Dona') ->> 'sessionToken' AS t \gset
SELECT api.accept_invite(:'im', 'Segredo123', 'Gestor') ->> 'sessionToken' AS tm2 \gset

-- --- events ------------------------------------------------------------------------------------
SELECT api.console_event_save(:'t', NULL, :'org', 'Sábado', 'Sabado-1', '2030-06-01 23:00+01', 'Porto',
                              3, NULL, 18) AS e \gset
SELECT (:'e'::jsonb ->> 'id') AS e1 \gset
SELECT is(:'e'::jsonb ->> 'slug', 'sabado-1', 'a new event, its slug lowercased');
SELECT is((:'e'::jsonb ->> 'minAge')::int, 18, 'with its minimum age');
SELECT throws_ok(format($$SELECT api.console_event_save(%L, NULL, %L, 'X', 'sabado-1', now())$$,
                        :'t', :'org'), 'PT409', NULL, 'a slug of the organization is taken');
SELECT throws_ok(format($$SELECT api.console_event_save(%L, NULL, %L, '', 'x-1', now())$$,
                        :'t', :'org'), 'PT400', NULL, 'a title is required');
SELECT throws_ok(format($$SELECT api.console_event_save(%L, NULL, %L, 'X', 'x-2', now(), NULL, 0)$$,
                        :'t', :'org'), 'PT400', NULL, 'a capacity is positive');
SELECT throws_ok(format($$SELECT api.console_event_save(%L, NULL, %L, 'X', 'x-3', now(), NULL, NULL,
                                                        NULL, 120)$$, :'t', :'org'),
                 'PT400', NULL, 'a minimum age is 1 to 99');
SELECT is(api.console_event_save(:'t', :'e1', NULL, 'Sábado à noite', 'sabado-noite',
                                 '2030-06-01 23:00+01', 'Porto', 3, NULL, 18) ->> 'slug',
          'sabado-noite', 'an edit with a new slug makes it the current one');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM app.event_slugs WHERE event_id = :'e1'), 2,
          'and the old slug keeps working');
SET LOCAL ROLE guestlist_web;
SELECT ok(NOT (api.console_event_close_list(:'tm2', :'e1') ->> 'listOpen')::boolean,
          'a manager closes the list now');
SELECT ok((api.console_event_reopen_list(:'tm2', :'e1') ->> 'listOpen')::boolean,
          'and reopens it');
SELECT api.console_event_duplicate(:'t', :'e1') AS d \gset
SELECT is((:'d'::jsonb ->> 'startsAt')::timestamptz, '2030-06-08 23:00+01'::timestamptz,
          'a duplicate is a week later');
SELECT is(:'d'::jsonb ->> 'slug', 'sabado-noite-2030-06-08', 'its slug carries its date');
SELECT throws_ok(format('SELECT api.console_event_duplicate(%L, %L)', :'t', :'e1'), 'PT409', NULL,
                 'duplicating twice to the same date is a taken slug');
SELECT is(jsonb_array_length(api.console_events(:'t', :'org') -> 'events'), 3,
          'the organization''s events: the fixture''s, the new one, its duplicate');

-- --- promoters, teams, quotas ------------------------------------------------------------------
SELECT api.console_promoter_add(:'t', :'org', 'Rita', 'Rita', 'Equipa R') ->> 'id' AS rita \gset
SELECT throws_ok(format($$SELECT api.console_promoter_add(%L, %L, 'promo-teste', 'X', 'T')$$,
                        :'t', :'org'), 'PT409', NULL,
                 'a promoter slug is unique across the site (even one of no visible team)');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(
             api.console_promoters(:'t', :'org') -> 'promoters')), 2,
          'the organization''s promoters: the fixture''s and Rita');
SELECT is(api.console_promoter_team(:'t', :'org', :'rita', 'Equipa Teste') ->> 'teamId', :'tm',
          'a promoter joins an existing team by its name');
SELECT is((api.console_set_quota(:'t', :'e1', :'rita', 1) ->> 'quota')::int, 1, 'a quota is set');
SELECT throws_ok(format('SELECT api.console_set_quota(%L, %L, %L, -1)', :'t', :'e1', :'rita'),
                 'PT400', NULL, 'a quota is not negative');

-- --- the guest flow: minimum age and quota -------------------------------------------------------
SELECT is(api.register_and_create_guest_v2('+351920000001', 'Sem', 'Data', 's@example.pt',
          'Segredo123', :'e1', :'rita') -> 'errors' -> 0 ->> 'field', 'birth_date',
          'an event with a minimum age needs the birth date');
SELECT is(api.register_and_create_guest_v2('+351920000001', 'Novo', 'Demais', 's@example.pt',
          'Segredo123', :'e1', :'rita', NULL, '2015-01-01') ->> 'code', 'too_young',
          'and refuses the under-aged');
SELECT is(api.register_and_create_guest_v2('+351920000001', 'Quase', 'Lá', 's@example.pt',
          'Segredo123', :'e1', :'rita', NULL, '2012-06-02') ->> 'code', 'too_young',
          'one day short of 18 on the event''s date is under-aged');
SELECT ok((api.register_and_create_guest_v2('+351920000001', 'Rita', 'Convidada', 'r@example.pt',
           'Segredo123', :'e1', :'rita', NULL, '2012-06-01') ->> 'success')::boolean,
          '18 on the event''s date is old enough');
SELECT is(api.register_and_create_guest_v2('+351920000002', 'Mais', 'Um', 'm@example.pt',
          'Segredo123', :'e1', :'rita', NULL, '1990-01-01') ->> 'code', 'promoter_quota_full',
          'the promoter''s quota of 1 is full');
SELECT ok((api.register_and_create_guest_v2('+351920000002', 'Mais', 'Um', 'm@example.pt',
           'Segredo123', :'e1', :'pr', NULL, '1990-01-01') ->> 'success')::boolean,
          'another promoter''s link still takes guests');
-- an account without a birth date, logging in to the age-limited event
SELECT ok((api.register_and_create_guest_v2('+351920000003', 'Velho', 'Conta', 'v@example.pt',
           'Segredo123', :'ev') ->> 'success')::boolean, 'an account made without a birth date');
SELECT is(api.authenticate_and_create_guest_v2('+351920000003', 'Segredo123', :'e1', :'pr')
          ->> 'code', 'birth_date_required', 'is asked for it on an age-limited event');
SELECT is(api.guest_give_birth_date('+351920000003', 'Errada123', '1990-01-01') ->> 'code',
          'invalid_credentials', 'giving it takes the right password');
SELECT is(api.guest_give_birth_date('+351920000003', 'Segredo123', '2999-01-01') ->> 'code',
          'invalid_input', 'and a real date');
SELECT is(api.guest_give_birth_date('+351920000003', 'Segredo123', '1990-01-01'),
          '{"success": true}'::jsonb, 'the birth date is recorded');
SELECT is(api.guest_give_birth_date('+351920000003', 'Segredo123', '2015-01-01') ->> 'code',
          'birth_date_known', 'once: it is never changed this way');
SELECT ok((api.authenticate_and_create_guest_v2('+351920000003', 'Segredo123', :'e1', :'pr')
           ->> 'success')::boolean, 'then the login joins the list');
SELECT ok((api.authenticate_and_create_guest_v2('+351920000001', 'Segredo123', :'e1', :'rita')
           ->> 'recovered')::boolean, 'a guest already on the list recovers their place');

-- --- the list, figures, export -------------------------------------------------------------------
SELECT is((api.console_guests(:'t', :'e1') ->> 'total')::int, 3, 'the list counts every guest');
SELECT is(api.console_guests(:'t', :'e1', 'conv') -> 'guests' -> 0 ->> 'name', 'Rita Convidada',
          'a search finds part of a name, any case');
SELECT is((api.console_guests(:'t', :'e1', '%') ->> 'total')::int, 0,
          'a search''s wildcards are literal');
SELECT is(api.console_guests(:'t', :'e1', '920000002') -> 'guests' -> 0 ->> 'name', 'Mais Um',
          'an owner searches phones too');
SELECT is((api.console_guests(:'t', :'e1', p_promoter_id => :'rita') ->> 'total')::int, 1,
          'filter by promoter');
SELECT is((api.console_guests(:'t', :'e1', p_checked_in => true) ->> 'total')::int, 0,
          'filter by checked-in');
SELECT is((SELECT array_agg(g ->> 'name') FROM jsonb_array_elements(
             api.console_guests(:'t', :'e1', p_sort => 'name') -> 'guests') g),
          ARRAY['Mais Um', 'Rita Convidada', 'Velho Conta'], 'sorted by name');
SELECT is(jsonb_array_length(api.console_guests(:'t', :'e1', NULL, 2, 2) -> 'guests'), 1,
          'a page: limit and offset');
SELECT throws_ok(format('SELECT api.console_guests(%L, %L, NULL, 201)', :'t', :'e1'), 'PT400', NULL,
                 'a page holds at most 200');
SELECT throws_ok(format('SELECT api.console_guests(%L, %L, p_sort => %L)', :'t', :'e1', 'x'),
                 'PT400', NULL, 'an unknown sort is refused');
SELECT is((api.console_figures(:'t', :'e1') -> 'promoters' -> 0 ->> 'onList')::int, 2,
          'figures per promoter (most guests first)');
SELECT is(jsonb_array_length(api.console_figures(:'t', :'e1') -> 'timeline'), 0,
          'the night''s chart leaves out registrations made weeks before it');
SELECT is((SELECT count(*)::int FROM api.console_export_rows(:'t', :'e1')), 3,
          'the export has a row per guest');
SELECT is(api.console_members(:'t', :'org') -> 'members' -> 0 ->> 'email', 'dona@example.pt',
          'the owner lists the members');
SELECT throws_ok(format('SELECT api.console_members(%L, %L)', :'tm2', :'org'), 'PT403', NULL,
                 'a manager does not');

SELECT * FROM finish();
ROLLBACK;
