-- Tenancy: the isolation matrix. For every console function and every kind
-- of id (event, organization, promoter, door link), a member of organization A asking
-- about organization B's gets PT404 not_found with the same message as an id
-- that does not exist; a promoter asking for another promoter's guests gets
-- nothing; the web role touches no table; row-level security is FORCED on
-- every tenant table, and the scope the policies read cannot be forged.
BEGIN;
SELECT plan(106);
\ir 00-fixture.psql

-- A: the fixture's organization (event ev, promoter pr in team tm) with owner ta, a second
-- promoter pr2, and pr's staff member tp. B: other_org with event evb, promoter pb, owner tb.
SELECT admin.invite_member(:'org', 'a@example.pt', 'owner') ->> 'inviteToken' AS ia \gset
SELECT admin.invite_member(:'other_org', 'b@example.pt', 'owner') ->> 'inviteToken' AS ib \gset
SELECT admin.create_event(:'other_org', 'Noite B', 'noite-b', now() + interval '7 days') AS evb \gset
SELECT admin.create_promoter('promo-b', 'Promo B') AS pb \gset
SELECT admin.add_team_member(:'other_tm', :'pb') IS NOT NULL AS added \gset
SELECT admin.create_promoter('promo-dois', 'Promo Dois') AS pr2 \gset
SELECT admin.add_team_member(:'tm', :'pr2') IS NOT NULL AS added \gset
SELECT admin.invite_member(:'org', 'p@example.pt', 'promoter', :'pr') ->> 'inviteToken' AS ip \gset
SELECT api.accept_invite(:'ia', 'Segredo123', 'A') ->> 'sessionToken' AS ta \gset
SELECT api.accept_invite(:'ib', 'Segredo123', 'B') ->> 'sessionToken' AS tb \gset
SELECT api.accept_invite(:'ip', 'Segredo123', 'P') ->> 'sessionToken' AS tp \gset
SELECT api.register_and_create_guest_v2('+351910000001', 'Um', 'Pr', 'u@example.pt', 'Segredo123',
                                        :'ev', :'pr') ->> 'guest_id' AS g1 \gset
SELECT api.register_and_create_guest_v2('+351910000002', 'Dois', 'Pr2', 'd@example.pt', 'Segredo123',
                                        :'ev', :'pr2') ->> 'guest_id' AS g2 \gset
SELECT api.register_and_create_guest_v2('+351910000003', 'Tres', 'B', 't@example.pt', 'Segredo123',
                                        :'evb', :'pb') ->> 'guest_id' AS g3 \gset
SELECT gen_random_uuid() AS nx \gset
SELECT admin.create_door_link(:'ev', 'Porta A') ->> 'doorId' AS door_a \gset
SELECT admin.create_door_link(:'evb', 'Porta B') ->> 'doorId' AS door_b \gset

-- --- the matrix: %1$L the token, %2$L the id; B's id and a missing id answer alike -------------
CREATE TEMP TABLE matrix (label text, kind text, tmpl text) ON COMMIT DROP;
GRANT SELECT ON matrix TO guestlist_web;
INSERT INTO matrix VALUES
  ('console_guests', 'event', 'SELECT api.console_guests(%1$L, %2$L)'),
  ('console_figures', 'event', 'SELECT api.console_figures(%1$L, %2$L)'),
  ('console_event_save (edit)', 'event',
   'SELECT api.console_event_save(%1$L, %2$L, NULL, ''T'', ''t-x'', now() + interval ''1 day'')'),
  ('console_event_close_list', 'event', 'SELECT api.console_event_close_list(%1$L, %2$L)'),
  ('console_event_reopen_list', 'event', 'SELECT api.console_event_reopen_list(%1$L, %2$L)'),
  ('console_event_duplicate', 'event', 'SELECT api.console_event_duplicate(%1$L, %2$L)'),
  ('console_set_quota (event)', 'event',
   'SELECT api.console_set_quota(%1$L, %2$L, ' || quote_literal(:'pr') || ', 1)'),
  ('console_export_rows', 'event', 'SELECT * FROM api.console_export_rows(%1$L, %2$L)'),
  ('console_door_links', 'event', 'SELECT api.console_door_links(%1$L, %2$L)'),
  ('console_door_link_create', 'event', 'SELECT api.console_door_link_create(%1$L, %2$L, ''Porta X'')'),
  ('console_door_link_revoke', 'door', 'SELECT api.console_door_link_revoke(%1$L, %2$L)'),
  ('console_events', 'organization', 'SELECT api.console_events(%1$L, %2$L)'),
  ('console_event_save (create)', 'organization',
   'SELECT api.console_event_save(%1$L, NULL, %2$L, ''T'', ''t-y'', now() + interval ''1 day'')'),
  ('console_promoters', 'organization', 'SELECT api.console_promoters(%1$L, %2$L)'),
  ('console_promoter_add', 'organization',
   'SELECT api.console_promoter_add(%1$L, %2$L, ''novo-p'', ''Novo'', ''Equipa'')'),
  ('console_promoter_team (organization)', 'organization',
   'SELECT api.console_promoter_team(%1$L, %2$L, ' || quote_literal(:'pr') || ', ''Equipa'')'),
  ('console_members', 'organization', 'SELECT api.console_members(%1$L, %2$L)'),
  ('console_invite_member', 'organization',
   'SELECT api.console_invite_member(%1$L, %2$L, ''x@example.pt'', ''manager'')'),
  ('console_member_remove', 'organization',
   'SELECT api.console_member_remove(%1$L, %2$L, gen_random_uuid())'),
  ('console_invite_revoke', 'organization',
   'SELECT api.console_invite_revoke(%1$L, %2$L, gen_random_uuid())'),
  ('console_set_quota (promoter)', 'promoter',
   'SELECT api.console_set_quota(%1$L, ' || quote_literal(:'ev') || ', %2$L, 1)'),
  ('console_promoter_team (promoter)', 'promoter',
   'SELECT api.console_promoter_team(%1$L, ' || quote_literal(:'org') || ', %2$L, ''Equipa'')'),
  ('console_invite_member (promoter)', 'promoter',
   'SELECT api.console_invite_member(%1$L, ' || quote_literal(:'org')
   || ', ''y@example.pt'', ''promoter'', %2$L)');

SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format(m.tmpl, :'ta', CASE m.kind WHEN 'event' THEN :'evb'
                                                    WHEN 'organization' THEN :'other_org'
                                                    WHEN 'door' THEN :'door_b'
                                                    ELSE :'pb' END),
                 'PT404', 'Não encontrado. Escolhe-o de novo na tua lista.', m.label || ': B''s ' || m.kind || ' is not found by A')
FROM matrix m ORDER BY m.label;
SELECT throws_ok(format(m.tmpl, :'ta', :'nx'), 'PT404', 'Não encontrado. Escolhe-o de novo na tua lista.',
                 m.label || ': a missing ' || m.kind || ' answers the same')
FROM matrix m ORDER BY m.label;
-- and the other way round, for the event and organization ids
SELECT throws_ok(format(m.tmpl, :'tb', CASE m.kind WHEN 'event' THEN :'ev'
                                                    WHEN 'door' THEN :'door_a' ELSE :'org' END),
                 'PT404', 'Não encontrado. Escolhe-o de novo na tua lista.', m.label || ': A''s ' || m.kind || ' is not found by B')
FROM matrix m WHERE m.kind <> 'promoter' ORDER BY m.label;
-- a member or an invite of B, asked for under A's own organization
SELECT throws_ok(format('SELECT api.console_member_remove(%L, %L, %L)', :'ta', :'org',
                        (api.staff_me(:'tb') -> 'staff' ->> 'id')),
                 'PT404', 'Não encontrado. Escolhe-o de novo na tua lista.',
                 'console_member_remove: B''s member is not found under A');
RESET ROLE;
SELECT admin.invite_member(:'other_org', 'z@example.pt', 'manager') IS NOT NULL AS invited \gset
SELECT id AS b_invite FROM app.staff_invites
WHERE organization_id = :'other_org' AND accepted_at IS NULL \gset
SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format('SELECT api.console_invite_revoke(%L, %L, %L)', :'ta', :'org', :'b_invite'),
                 'PT404', 'Não encontrado. Escolhe-o de novo na tua lista.',
                 'console_invite_revoke: B''s pending invite is not found under A');
SELECT is((api.console_invite_revoke(:'tb', :'other_org', :'b_invite') ->> 'removed')::boolean, true,
          'while B''s owner withdraws it');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM app.event_promoter_quotas WHERE event_id IN (:'ev', :'evb')), 0,
          'none of it wrote a quota');
SELECT is((SELECT closes FROM (SELECT guest_list_closes_at AS closes FROM app.events
                               WHERE id = :'evb') s), NULL, 'nor closed B''s list');
SELECT is((SELECT array_agg(label || ':' || (revoked_at IS NULL)::text ORDER BY label)
           FROM app.door_links WHERE event_id IN (:'ev', :'evb')),
          ARRAY['Porta A:true', 'Porta B:true'], 'nor made or revoked a door link');

-- --- what each one sees --------------------------------------------------------------------------
SET LOCAL ROLE guestlist_web;
SELECT is(api.console_events(:'ta') -> 'events' -> 0 ->> 'id', :'ev', 'A sees only A''s event');
SELECT is(jsonb_array_length(api.console_events(:'ta') -> 'events'), 1, 'and only one');
SELECT is((api.console_guests(:'ta', :'ev') ->> 'total')::int, 2, 'A''s owner sees both promoters'' guests');
SELECT is((api.console_guests(:'tp', :'ev') ->> 'total')::int, 1,
          'a promoter sees only their own guests');
SELECT is(api.console_guests(:'tp', :'ev') -> 'guests' -> 0 ->> 'id', :'g1', 'this one');
SELECT is(api.console_guests(:'tp', :'ev', p_promoter_id => :'pr2'),
          '{"total": 0, "guests": []}'::jsonb,
          'asking for another promoter''s guests gets nothing');
SELECT is(api.console_guests(:'tp', :'ev', 'Dois'), '{"total": 0, "guests": []}'::jsonb,
          'nor does searching for them by name');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(
            api.console_guests(:'tp', :'ev') -> 'guests' -> 0) k),
          ARRAY['checkedIn', 'id', 'name'], 'a promoter gets name and inside, never phone or email');
SELECT is((api.console_figures(:'tp', :'ev') ->> 'onList')::int, 1,
          'a promoter''s figures count their own guests');
SELECT is(jsonb_array_length(api.console_figures(:'tp', :'ev') -> 'promoters'), 1,
          'and show their own line only');
SELECT throws_ok(format('SELECT * FROM api.console_export_rows(%L, %L)', :'tp', :'ev'), 'PT403',
                 NULL, 'a promoter cannot export the list');
SELECT throws_ok(format('SELECT api.console_set_quota(%L, %L, %L, 99)', :'tp', :'ev', :'pr'),
                 'PT403', NULL, 'nor set their own quota');
SELECT throws_ok(format('SELECT api.console_members(%L, %L)', :'tp', :'org'), 'PT403', NULL,
                 'nor list the members');
SELECT throws_ok(format('SELECT api.console_guests(%L, %L)', :'tp', :'evb'), 'PT404', NULL,
                 'nor see another organization''s event');
SELECT throws_ok(format('SELECT api.console_door_links(%L, %L)', :'tp', :'ev'), 'PT404',
                 'Não encontrado. Escolhe-o de novo na tua lista.',
                 'a promoter''s own event has no door links to see (not_found)');
SELECT throws_ok(format('SELECT api.console_door_link_create(%L, %L, ''P'')', :'tp', :'ev'), 'PT404',
                 'Não encontrado. Escolhe-o de novo na tua lista.', 'nor to make');
SELECT throws_ok(format('SELECT api.console_door_link_revoke(%L, %L)', :'tp', :'door_a'), 'PT404',
                 'Não encontrado. Escolhe-o de novo na tua lista.', 'nor to revoke');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(
             api.promoter_dashboard(:'tp') -> 'promoters' -> 0 -> 'events' -> 0 -> 'teamRanking')),
          2, 'the dashboard ranks the promoter''s team (counts only)');

-- --- the web role touches no table; RLS is forced; the console functions run as their role --
SELECT throws_ok(format('SELECT * FROM app.%I', t), '42501', NULL, 'the web role cannot read app.' || t)
FROM unnest(ARRAY['staff_accounts', 'staff_sessions', 'staff_invites', 'staff_memberships',
                  'event_promoter_quotas', 'door_links', 'door_scans', 'door_undos',
                  'door_conflicts']) t;
RESET ROLE;
SELECT is(
  (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
   WHERE c.relnamespace = 'app'::regnamespace
     AND c.relname IN ('organizations', 'events', 'event_slugs', 'teams', 'team_members',
                       'promoters', 'guests', 'event_promoter_quotas', 'staff_memberships',
                       'staff_invites', 'staff_accounts', 'door_links', 'door_scans',
                       'door_undos', 'door_conflicts')
     AND c.relrowsecurity AND c.relforcerowsecurity),
  ARRAY['door_conflicts', 'door_links', 'door_scans', 'door_undos', 'event_promoter_quotas',
        'event_slugs', 'events', 'guests', 'organizations', 'promoters', 'staff_accounts',
        'staff_invites', 'staff_memberships', 'team_members', 'teams'],
  'row-level security is enabled and FORCED on every tenant table');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'api' AND (p.proname LIKE 'console\_%' OR p.proname = 'promoter_dashboard')
     AND p.proowner <> 'guestlist_console'::regrole),
  0, 'every console function runs as guestlist_console');
SELECT ok(NOT pg_has_role('guestlist_web', 'guestlist_console', 'MEMBER')
          AND NOT pg_has_role('guestlist_web', 'guestlist_owner', 'MEMBER'),
          'the web role cannot become the console or the owner');

-- --- the scope cannot be forged --------------------------------------------------------------
SELECT set_config('guestlist.console_scope',
                  jsonb_build_object('orgs', jsonb_build_array(:'org', :'other_org'),
                                     'full', jsonb_build_array(:'org', :'other_org'),
                                     'pid', pg_backend_pid(), 'at', now())::text, true) IS NOT NULL
       AS forged \gset
SELECT set_config('guestlist.console_seal', repeat('0', 64), true) IS NOT NULL AS forged \gset
SET LOCAL ROLE guestlist_console;
SELECT is((SELECT count(*)::int FROM app.events), 0, 'a scope set by hand without its seal opens nothing');
RESET ROLE;
SELECT set_config('guestlist.console_scope',
                  jsonb_build_object('orgs', jsonb_build_array(:'org'), 'pid', pg_backend_pid(),
                                     'at', now() - interval '1 second')::text, true) IS NOT NULL
       AS forged \gset
SELECT set_config('guestlist.console_seal',
                  app._console_seal(current_setting('guestlist.console_scope')), true) IS NOT NULL
       AS sealed \gset
SET LOCAL ROLE guestlist_console;
SELECT is((SELECT count(*)::int FROM app.events), 0,
          'a sealed scope of another transaction opens nothing');
RESET ROLE;
SELECT set_config('guestlist.console_scope',
                  jsonb_build_object('orgs', jsonb_build_array(:'org'), 'pid', pg_backend_pid(),
                                     'at', now())::text, true) IS NOT NULL AS forged \gset
SELECT set_config('guestlist.console_seal',
                  app._console_seal(current_setting('guestlist.console_scope')), true) IS NOT NULL
       AS sealed \gset
SET LOCAL ROLE guestlist_console;
SELECT is((SELECT count(*)::int FROM app.events), 1,
          'only a scope sealed with the key, in this transaction, opens its organizations');
SELECT throws_ok($$UPDATE app.events SET title = 'x'$$, '42501', NULL,
                 'and a read-only member of it (no "full") cannot write');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
