-- Enumeration, lockout and settings the web role cannot change:
-- * the phone cache keeps no first name (the phone check answers no name);
-- * failed logins are counted per phone (a progressive delay for everyone)
--   and per phone and client key (one client's lock), instead of a 15-minute
--   lock of the phone for everyone;
-- * login and enqueue take the device's session (a trailing parameter): the
--   old signatures go here, or a call without it would be ambiguous.
-- Security settings (bcrypt cost, rate limits, lockout) are rows of
-- app.settings, written by admin.set_setting or migrate.py: never GUCs.
-- depends: 0007.guest_jobs_owner

SET LOCAL ROLE guestlist_owner;

ALTER TABLE app.phone_lookup_cache DROP COLUMN first_name;

DROP TABLE app.login_failures;

-- Failed logins of a phone (known or not) across every client: the progressive
-- delay before its next attempt. Cleared by a correct password.
CREATE TABLE app.login_failures (
  phone_hash       bytea PRIMARY KEY CHECK (length(phone_hash) = 32),
  failures         integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  last_failure_at  timestamptz
);
CREATE INDEX login_failures_last_idx ON app.login_failures (last_failure_at);

-- Failed logins of a phone from one client key (an IPv4 address or an IPv6
-- /64): past the limit that client is refused for that phone for a while.
CREATE TABLE app.login_client_failures (
  phone_hash       bytea NOT NULL CHECK (length(phone_hash) = 32),
  client_key       text NOT NULL CHECK (length(client_key) <= 100),
  failures         integer NOT NULL CHECK (failures > 0),
  last_failure_at  timestamptz NOT NULL,
  PRIMARY KEY (phone_hash, client_key)
);
CREATE INDEX login_client_failures_last_idx ON app.login_client_failures (last_failure_at);

DROP FUNCTION IF EXISTS app._count_login_attempt(bytea);
DROP FUNCTION IF EXISTS api.authenticate_and_create_guest_v2(text, text, uuid, uuid, uuid, text);
DROP FUNCTION IF EXISTS api.enqueue_guest_job(text, jsonb, text);
