-- The door's tables are tenant tables too: row-level security ENABLED and
-- FORCED, like 0013.staff.sql's, so the console (guestlist_console, through
-- the policies of sql/61_staff.sql) sees and revokes only its own
-- organizations' door links and their scans and conflicts; the door's and the
-- operators' functions keep running as the owner (policy owner_all).
-- docs/tenancy.md lists every tenant table.
-- depends: 0015.instances

SET LOCAL ROLE guestlist_owner;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['door_links', 'door_scans', 'door_undos', 'door_conflicts'] LOOP
    EXECUTE format('ALTER TABLE app.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE app.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY owner_all ON app.%I AS PERMISSIVE FOR ALL TO guestlist_owner '
                   'USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$$;

-- What the console needs: create a link (never reading its hash back), end
-- it, and read the scans' counts and the conflicts. Nothing of door_undos.
GRANT SELECT (id, event_id, label, created_at, revoked_at) ON app.door_links TO guestlist_console;
GRANT INSERT (event_id, label, token_hash) ON app.door_links TO guestlist_console;
GRANT UPDATE (revoked_at) ON app.door_links TO guestlist_console;
GRANT SELECT (scan_id, door_id, event_id, scanned_at, received_at, result, guest_id, conflict)
  ON app.door_scans TO guestlist_console;
GRANT SELECT ON app.door_conflicts TO guestlist_console;
