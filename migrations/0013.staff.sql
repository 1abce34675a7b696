-- Staff: the people who run an organization's nights (owners, managers,
-- promoters), their invites and sessions, each promoter's quota on an event,
-- an event's minimum age; and the tenancy seal: row-level security FORCED on
-- every table that belongs to an organization, so the console's functions
-- (owned by guestlist_console) see only the rows of the caller's
-- organizations. docs/tenancy.md explains the scheme.
-- depends: 0011.password_reset

-- The console's role: owns the console functions, holds no BYPASSRLS, never
-- logs in. The owner is a member so that it can hand those functions over.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'guestlist_console') THEN
    BEGIN
      CREATE ROLE guestlist_console NOLOGIN NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- another database's migration created it a moment ago
    END;
  END IF;
  IF NOT pg_catalog.pg_has_role('guestlist_owner', 'guestlist_console', 'MEMBER') THEN
    GRANT guestlist_console TO guestlist_owner;
  END IF;
END
$$;

SET LOCAL ROLE guestlist_owner;

-- The console role owns functions in api and app (handed over by sql/62_console.sql) and
-- calls the admin functions it shares with operators.
GRANT USAGE, CREATE ON SCHEMA app, api TO guestlist_console;
GRANT USAGE ON SCHEMA admin TO guestlist_console;

-- A staff member's account: one per email (stored lowercase), bcrypt cost 10.
CREATE TABLE app.staff_accounts (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email          text NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND length(email) <= 254
                                             AND email ~ '^[^[:space:]@]+@[^[:space:]@]+\.[^[:space:]@]+$'),
  display_name   text NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 80),
  password_hash  text NOT NULL CHECK (password_hash ~ '^\$2[abxy]\$[0-3][0-9]\$[./A-Za-z0-9]{53}$'),
  is_active      boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- What a staff member is in an organization. owner: everything, members
-- included; manager: events, promoters, doors, exports; promoter: their own
-- links and guests (promoter_id says which promoter they are).
CREATE TABLE app.staff_memberships (
  organization_id  uuid NOT NULL REFERENCES app.organizations (id) ON DELETE CASCADE,
  staff_id         uuid NOT NULL REFERENCES app.staff_accounts (id) ON DELETE CASCADE,
  role             text NOT NULL CHECK (role IN ('owner', 'manager', 'promoter')),
  promoter_id      uuid REFERENCES app.promoters (id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organization_id, staff_id),
  CHECK ((role = 'promoter') = (promoter_id IS NOT NULL))
);
CREATE INDEX staff_memberships_staff_idx ON app.staff_memberships (staff_id);

-- A one-time invitation (72 h): only its token's sha256 is kept; accepting
-- it sets accepted_at, so it opens nothing twice.
CREATE TABLE app.staff_invites (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL REFERENCES app.organizations (id) ON DELETE CASCADE,
  email            text NOT NULL CHECK (email = lower(btrim(email)) AND length(email) <= 254),
  role             text NOT NULL CHECK (role IN ('owner', 'manager', 'promoter')),
  promoter_id      uuid REFERENCES app.promoters (id),
  token_hash       bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  invited_by       uuid REFERENCES app.staff_accounts (id) ON DELETE SET NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  accepted_at      timestamptz,
  CHECK ((role = 'promoter') = (promoter_id IS NOT NULL)),
  CHECK (expires_at > created_at)
);
CREATE INDEX staff_invites_organization_idx ON app.staff_invites (organization_id);
CREATE INDEX staff_invites_expires_idx ON app.staff_invites (expires_at);

-- A staff device's session (12 h): only the token's sha256; revoked_at ends
-- it before its time (log out, log out everywhere).
CREATE TABLE app.staff_sessions (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  staff_id     uuid NOT NULL REFERENCES app.staff_accounts (id) ON DELETE CASCADE,
  token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX staff_sessions_staff_idx ON app.staff_sessions (staff_id);
CREATE INDEX staff_sessions_expires_idx ON app.staff_sessions (expires_at);

-- How many guests a promoter's link may bring to an event (cancelled guests
-- do not count). Checked under the event row's lock, like the capacity.
CREATE TABLE app.event_promoter_quotas (
  event_id     uuid NOT NULL REFERENCES app.events (id) ON DELETE CASCADE,
  promoter_id  uuid NOT NULL REFERENCES app.promoters (id) ON DELETE CASCADE,
  quota        integer NOT NULL CHECK (quota BETWEEN 0 AND 1000000),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, promoter_id)
);

-- An event's minimum age (at its start, Lisbon's date): registration then
-- needs the birth date. updated_at: when the console last changed it.
ALTER TABLE app.events
  ADD COLUMN min_age integer CHECK (min_age BETWEEN 1 AND 99),
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- The console's list, figures and the quota's count, at 20,000 guests an event.
-- One index per sort of the list (newest, name, latest arrivals), each exactly its ORDER BY.
CREATE INDEX guests_event_created_idx ON app.guests (event_id, created_at DESC, id);
CREATE INDEX guests_event_name_idx ON app.guests (event_id, name, id);
CREATE INDEX guests_event_arrival_idx
  ON app.guests (event_id, checked_in_at DESC NULLS LAST, created_at DESC, id);
CREATE INDEX guests_event_promoter_idx ON app.guests (event_id, promoter_id);

-- What the console role may touch at all; the policies below narrow it to
-- the caller's organizations. It never reads accounts' phones or passwords
-- (client_users), sessions or settings.
GRANT SELECT ON app.organizations, app.guests TO guestlist_console;
GRANT SELECT, INSERT, UPDATE ON app.events, app.event_slugs, app.teams, app.promoters
  TO guestlist_console;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.team_members, app.event_promoter_quotas,
  app.staff_memberships, app.staff_invites TO guestlist_console;
GRANT SELECT (id, email, display_name, is_active) ON app.staff_accounts TO guestlist_console;

-- The key that seals the console's scope (app._console_begin): 32 random
-- bytes, made once per database, readable by the owner only.
INSERT INTO app.settings (key, value)
VALUES ('console_scope_key', encode(public.gen_random_bytes(32), 'hex'))
ON CONFLICT (key) DO NOTHING;

-- Every tenant table: RLS enabled and FORCED (the owner is held too). The
-- owner's policy lets the guest-side and admin functions work as before;
-- the console's reads the scope app._console_scope() vouches for.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations', 'events', 'event_slugs', 'teams', 'team_members',
                           'promoters', 'guests', 'event_promoter_quotas', 'staff_memberships',
                           'staff_invites', 'staff_accounts'] LOOP
    EXECUTE format('ALTER TABLE app.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE app.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY owner_all ON app.%I AS PERMISSIVE FOR ALL TO guestlist_owner '
                   'USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$$;
