-- The console seen by an attacker inside an organization: an owner who is
-- about to be removed leaves no invite behind that would bring them back;
-- an invite never takes the organization's last owner away; the console
-- role, which runs the console's functions, can create nothing.
BEGIN;
SELECT plan(11);
\ir 00-fixture.psql

SELECT admin.invite_member(:'org', 'dona@example.pt', 'owner') ->> 'inviteToken' AS i_dona \gset
SELECT admin.invite_member(:'org', 'rogue@example.pt', 'owner') ->> 'inviteToken' AS i_rogue \gset
SET LOCAL ROLE guestlist_web;
SELECT api.accept_invite(:'i_dona', 'Segredo123', 'Dona') ->> 'sessionToken' AS dona \gset
SELECT api.accept_invite(:'i_rogue', 'Segredo123', 'Rogue') ->> 'sessionToken' AS rogue \gset
SELECT (api.staff_me(:'rogue') -> 'staff' ->> 'id') AS rogue_id \gset

-- before being removed, the rogue owner invites a second address of theirs, as owner and as
-- manager; the other owner invites someone too
SELECT api.console_invite_member(:'rogue', :'org', 'rogue.2@example.pt', 'owner') ->> 'inviteToken'
  AS back_owner \gset
SELECT api.console_invite_member(:'rogue', :'org', 'rogue.3@example.pt', 'manager') ->> 'inviteToken'
  AS back_manager \gset
SELECT api.console_invite_member(:'dona', :'org', 'gestor@example.pt', 'manager') ->> 'inviteToken'
  AS dona_invite \gset

SELECT is(api.console_member_remove(:'dona', :'org', :'rogue_id'::uuid), '{"removed": true}'::jsonb,
          'an owner removes another owner');
SELECT throws_ok(format('SELECT api.accept_invite(%L, %L, %L)', :'back_owner', 'Segredo123', 'R2'),
                 'PT404', NULL, 'the removed owner''s owner invite no longer opens the door');
SELECT throws_ok(format('SELECT api.accept_invite(%L, %L, %L)', :'back_manager', 'Segredo123', 'R3'),
                 'PT404', NULL, 'nor their manager invite');
SELECT is(jsonb_array_length(api.console_members(:'dona', :'org') -> 'invites'), 1,
          'the organization''s pending invites: only the remaining owner''s');
SELECT ok(api.accept_invite(:'dona_invite', 'Segredo123', 'Gestor') ? 'sessionToken',
          'the remaining owner''s invite still works');
SELECT is(jsonb_array_length(api.console_events(:'rogue') -> 'events'), 0,
          'and the removed owner''s session lists none of the organization''s events');

-- the last owner accepting an invite of their own address to a lesser role (as remove would
-- refuse: PT409 last_owner); the invite stays pending for when there is another owner
SELECT api.console_invite_member(:'dona', :'org', 'dona@example.pt', 'manager') ->> 'inviteToken'
  AS demote \gset
SELECT throws_ok(format('SELECT api.accept_invite(%L, %L, %L)', :'demote', 'Segredo123', 'Dona'),
                 'PT409', NULL, 'the last owner cannot become a manager through an invite');
SELECT is((SELECT m.role FROM api.staff_me(:'dona') x,
           jsonb_to_recordset(x -> 'memberships') AS m("organizationId" uuid, role text)
           WHERE m."organizationId" = :'org'::uuid), 'owner', 'and stays the owner');
SELECT is(jsonb_array_length(api.console_members(:'dona', :'org') -> 'invites'), 1,
          'the invite is still pending');

-- the console role owns its functions but needs no CREATE once they are handed over: code
-- running as it cannot add a function to api (which the web role may call) or a table to app
-- (which no policy would hold)
SELECT ok(NOT has_schema_privilege('guestlist_console', 'api', 'CREATE'),
          'the console role cannot create in api');
SELECT ok(NOT has_schema_privilege('guestlist_console', 'app', 'CREATE'),
          'nor in app');

SELECT * FROM finish();
ROLLBACK;
