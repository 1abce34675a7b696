-- Roles, schemas and extensions: the frame every other migration builds in.
-- Roles are cluster-wide: created only when missing, so several databases
-- (tests, demo, a DBA's copy) share one cluster.

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['guestlist_owner', 'guestlist_web', 'guestlist_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database's migration created it a moment ago
      END;
    END IF;
  END LOOP;
END
$$;

-- The login that runs migrations must be able to act as the owner.
DO $$
BEGIN
  IF NOT pg_catalog.pg_has_role(current_user, 'guestlist_owner', 'MEMBER') THEN
    EXECUTE format('GRANT guestlist_owner TO %I', current_user);
  END IF;
END
$$;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

-- app: tables, types and private helpers. api: what the web role may call.
-- admin: what organizers and DBAs call.
CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION guestlist_owner;
CREATE SCHEMA IF NOT EXISTS api AUTHORIZATION guestlist_owner;
CREATE SCHEMA IF NOT EXISTS admin AUTHORIZATION guestlist_owner;

REVOKE ALL ON SCHEMA app, api, admin FROM PUBLIC;
GRANT USAGE ON SCHEMA api TO guestlist_web, guestlist_admin;
GRANT USAGE ON SCHEMA admin TO guestlist_admin;

-- Nothing the owner creates is executable by PUBLIC; each function is
-- granted to its role right after it is defined (sql/).
ALTER DEFAULT PRIVILEGES FOR ROLE guestlist_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE guestlist_owner REVOKE ALL ON TABLES FROM PUBLIC;
