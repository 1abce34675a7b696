-- Short-lived state: the phone lookup cache, rate-limit counters and failed
-- logins. Cache and rate counters are UNLOGGED (losing them on a crash is
-- harmless); failed logins are logged, since they guard accounts.
-- depends: 0002.tables

SET LOCAL ROLE guestlist_owner;

-- Keyed by sha256(E.164 phone); client_user_id NULL caches a negative answer.
CREATE UNLOGGED TABLE app.phone_lookup_cache (
  phone_hash      bytea PRIMARY KEY CHECK (length(phone_hash) = 32),
  client_user_id  uuid,
  first_name      text,
  expires_at      timestamptz NOT NULL,
  CHECK ((client_user_id IS NULL) = (first_name IS NULL))
);
CREATE INDEX phone_lookup_cache_expires_idx ON app.phone_lookup_cache (expires_at);

-- Fixed one-minute windows per route bucket and client key (an IP).
CREATE UNLOGGED TABLE app.rate_limit_counters (
  bucket        text NOT NULL,
  client_key    text NOT NULL CHECK (length(client_key) <= 100),
  window_start  timestamptz NOT NULL,
  hits          integer NOT NULL,
  PRIMARY KEY (bucket, client_key, window_start)
);
CREATE INDEX rate_limit_counters_window_idx ON app.rate_limit_counters (window_start);

-- Login attempts per phone (known or not) in a fixed 15-minute window from
-- the first one; an attempt counts before its hash is compared.
CREATE TABLE app.login_failures (
  phone_hash        bytea PRIMARY KEY CHECK (length(phone_hash) = 32),
  window_starts_at  timestamptz NOT NULL,
  attempts          integer NOT NULL CHECK (attempts > 0)
);
CREATE INDEX login_failures_window_idx ON app.login_failures (window_starts_at);
