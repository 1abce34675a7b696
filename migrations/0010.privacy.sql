-- Data protection: guest rows that outlive their guest's personal data
-- (anonymized: event, promoter, team, status and times only), per-organization
-- retention periods, the cache of when an account may next be erased, and the
-- erasure log (no personal data: a keyed hash of the phone, for re-erasing
-- after a restore).
-- depends: 0009.printable_names

SET LOCAL ROLE guestlist_owner;

-- An anonymized guest row has no account, name, phone or QR code; a live one
-- has all four. UNIQUE (event_id, client_user_id) treats the NULLs as
-- distinct, so an event keeps any number of anonymized rows. The count
-- trigger fires on INSERT and DELETE only: anonymizing (an UPDATE) leaves
-- events.guest_count as it was.
ALTER TABLE app.guests
  ALTER COLUMN client_user_id DROP NOT NULL,
  ALTER COLUMN name DROP NOT NULL,
  ALTER COLUMN phone DROP NOT NULL,
  ALTER COLUMN qr_code DROP NOT NULL,
  ADD COLUMN anonymized_at timestamptz,
  ADD CONSTRAINT guests_anonymized_check CHECK (CASE WHEN anonymized_at IS NULL
    THEN client_user_id IS NOT NULL AND name IS NOT NULL AND phone IS NOT NULL
         AND qr_code IS NOT NULL
    ELSE client_user_id IS NULL AND name IS NULL AND phone IS NULL AND qr_code IS NULL END);

COMMENT ON COLUMN app.guests.anonymized_at IS
  'When the row lost its account, name, phone and QR code (the guest''s erasure, or the '
  'retention of its organization); NULL while it is personal data.';

-- How long an organization keeps what its guests leave behind (admin.set_retention).
ALTER TABLE app.organizations
  ADD COLUMN account_retention_months integer NOT NULL DEFAULT 24
    CHECK (account_retention_months BETWEEN 1 AND 120),
  ADD COLUMN guest_retention_months integer NOT NULL DEFAULT 12
    CHECK (guest_retention_months BETWEEN 1 AND 120);

COMMENT ON COLUMN app.organizations.account_retention_months IS
  'An account is kept while one of its guest rows here is younger than this (docs/privacy.md).';
COMMENT ON COLUMN app.organizations.guest_retention_months IS
  'Guest rows of this organization''s events that started longer ago than this are anonymized.';

-- retain_floor: the latest keep-until date its already anonymized guest rows
-- gave the account (their link is gone, their weight is not). retain_until:
-- when the cleanup next looks at the account (NULL: not yet worked out); it
-- is recomputed then, never trusted to erase.
ALTER TABLE app.client_users
  ADD COLUMN retain_floor timestamptz,
  ADD COLUMN retain_until timestamptz;
CREATE INDEX client_users_retain_until_idx ON app.client_users (retain_until NULLS FIRST);

-- One row per erasure, never personal data: when, why, how many rows of each
-- table, and subject_key = HMAC-SHA256(E.164 phone, the erasure key) so that
-- admin.reapply_erasures can erase the account again in a restored backup.
CREATE TABLE app.erasures (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  erased_at    timestamptz NOT NULL DEFAULT now(),
  -- guest_request: the guest asked (api.guest_erase); retention: the cleanup's
  -- retention rules; restore: admin.reapply_erasures after a restore
  reason       text NOT NULL CHECK (reason IN ('guest_request', 'retention', 'restore')),
  -- NULL when only guest rows were anonymized (no account was erased)
  subject_key  bytea CHECK (length(subject_key) = 32),
  counts       jsonb NOT NULL CHECK (jsonb_typeof(counts) = 'object')
);
-- the cleanup drops subject keys once no backup can still hold the account
CREATE INDEX erasures_subject_key_age_idx ON app.erasures (erased_at) WHERE subject_key IS NOT NULL;

-- The erasure key: 32 random bytes, made once per database. Kept in
-- app.settings (owner only); docs/privacy.md says to keep a copy outside the
-- backups.
INSERT INTO app.settings (key, value)
VALUES ('erasure_key', encode(public.gen_random_bytes(32), 'hex'))
ON CONFLICT (key) DO NOTHING;
