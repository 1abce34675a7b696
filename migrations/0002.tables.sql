-- The guest-list data: organizations, events, promoters, teams, client
-- accounts and the guests on each event's list.
-- depends: 0001.setup

SET LOCAL ROLE guestlist_owner;

CREATE TABLE app.organizations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app.events (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id       uuid NOT NULL REFERENCES app.organizations (id),
  title                 text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 160),
  starts_at             timestamptz NOT NULL,
  location              text CHECK (length(location) <= 200),
  is_active             boolean NOT NULL DEFAULT true,
  guest_list_closes_at  timestamptz,
  guest_capacity        integer CHECK (guest_capacity > 0),
  -- kept by the trigger on app.guests; the capacity check reads it under the row lock
  guest_count           integer NOT NULL DEFAULT 0 CHECK (guest_count >= 0),
  created_at            timestamptz NOT NULL DEFAULT now(),
  CHECK (guest_capacity IS NULL OR guest_count <= guest_capacity)
);
CREATE INDEX events_organization_idx ON app.events (organization_id);

-- A slug names an event inside its organization; an event may keep old slugs.
CREATE TABLE app.event_slugs (
  organization_id  uuid NOT NULL REFERENCES app.organizations (id),
  slug             text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
  event_id         uuid NOT NULL REFERENCES app.events (id) ON DELETE CASCADE,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organization_id, slug)
);
CREATE INDEX event_slugs_event_idx ON app.event_slugs (event_id);

CREATE TABLE app.promoters (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
  display_name  text NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 80),
  is_active     boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app.teams (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL REFERENCES app.organizations (id),
  name             text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 80),
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (organization_id, name)
);

CREATE TABLE app.team_members (
  team_id      uuid NOT NULL REFERENCES app.teams (id) ON DELETE CASCADE,
  promoter_id  uuid NOT NULL REFERENCES app.promoters (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (team_id, promoter_id)
);
CREATE INDEX team_members_promoter_idx ON app.team_members (promoter_id);

-- A guest's account, shared by every event they join.
CREATE TABLE app.client_users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  phone          text NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),  -- E.164
  first_name     text NOT NULL CHECK (first_name = btrim(first_name) AND length(first_name) BETWEEN 1 AND 80),
  last_name      text NOT NULL CHECK (last_name = btrim(last_name) AND length(last_name) BETWEEN 1 AND 80),
  email          text NOT NULL CHECK (length(email) <= 254 AND email ~ '^[^[:space:]@]+@[^[:space:]@]+\.[^[:space:]@]+$'),
  birth_date     date CHECK (birth_date > date '1900-01-01'),
  gender         text CHECK (gender IN ('M', 'F', 'O')),  -- M male, F female, O other; NULL not said
  city           text CHECK (length(city) <= 80),
  password_hash  text NOT NULL CHECK (password_hash ~ '^\$2[abxy]\$[0-3][0-9]\$[./A-Za-z0-9]{53}$'),  -- bcrypt
  is_active      boolean NOT NULL DEFAULT true,
  is_verified    boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app.guests (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id        uuid NOT NULL REFERENCES app.events (id),
  client_user_id  uuid NOT NULL REFERENCES app.client_users (id),
  promoter_id     uuid REFERENCES app.promoters (id),
  team_id         uuid REFERENCES app.teams (id),
  name            text NOT NULL,
  phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  -- 128 random bits, hex: the door's only proof; never derived from anything else
  qr_code         text NOT NULL UNIQUE CHECK (qr_code ~ '^[0-9a-f]{32}$'),
  -- pending: on the list, not yet at the door; checked_in: entered; cancelled: removed
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'checked_in', 'cancelled')),
  checked_in      boolean NOT NULL DEFAULT false,
  checked_in_at   timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, client_user_id),
  CHECK (checked_in = (status = 'checked_in')),
  CHECK (checked_in = (checked_in_at IS NOT NULL))
);
CREATE INDEX guests_client_user_idx ON app.guests (client_user_id);
CREATE INDEX guests_promoter_idx ON app.guests (promoter_id);

-- A device that logged in or registered; only the token's sha256 is kept.
CREATE TABLE app.guest_sessions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_user_id  uuid NOT NULL REFERENCES app.client_users (id) ON DELETE CASCADE,
  token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL
);
CREATE INDEX guest_sessions_expires_idx ON app.guest_sessions (expires_at);
CREATE INDEX guest_sessions_client_user_idx ON app.guest_sessions (client_user_id);

-- Project settings written by migrate.py (e.g. whether pg_cron runs cleanup).
CREATE TABLE app.settings (
  key    text PRIMARY KEY,
  value  text NOT NULL
);
