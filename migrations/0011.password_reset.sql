-- Password reset by email: the one live reset link of each account (only its
-- token's sha256) and the per-phone count of reset requests (known phones or
-- not, so a limit says nothing about whether a number is registered).
-- depends: 0010.privacy

SET LOCAL ROLE guestlist_owner;

-- An account's pending reset: at most one (a newer request replaces it, its
-- use deletes it). The raw token left the database once, in the answer of
-- api.request_password_reset to the app that mails it; this row is the record
-- of that mail (to whom, when) and never holds the token itself.
CREATE TABLE app.password_resets (
  client_user_id  uuid PRIMARY KEY REFERENCES app.client_users (id) ON DELETE CASCADE,
  token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  CHECK (expires_at > created_at)
);
CREATE INDEX password_resets_expires_idx ON app.password_resets (expires_at);

-- Reset requests for a phone (sha256 of E.164, as app._phone_hash) in the
-- current window of password_reset_phone_window_seconds.
CREATE TABLE app.password_reset_requests (
  phone_hash    bytea PRIMARY KEY CHECK (length(phone_hash) = 32),
  window_start  timestamptz NOT NULL,
  requests      integer NOT NULL CHECK (requests > 0)
);
CREATE INDEX password_reset_requests_window_idx ON app.password_reset_requests (window_start);
