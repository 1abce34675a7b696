-- The door: links that make a staff phone an event's door (only a hash of
-- each token), the log of every scan (kept, never rewritten but for its
-- current judgement), who admitted a guest and when, the undone check-ins and
-- the codes admitted at two doors. Functions: sql/66_door.sql.
-- depends: 0011.password_reset

-- accent-insensitive search of names at the door (trusted: no superuser needed)
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;

SET LOCAL ROLE guestlist_owner;

-- A door link: /porta/<token>. The raw token (base64url of 32 random bytes)
-- left the database once, in admin.create_door_link's answer; a link works
-- until revoked_at, and never later than 12 hours after its event starts
-- (worked out from events.starts_at at each call, so a moved event moves it).
CREATE TABLE app.door_links (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id    uuid NOT NULL REFERENCES app.events (id),
  label       text NOT NULL CHECK (label = btrim(label) AND length(label) BETWEEN 1 AND 60
                                   AND app._printable_text(label)),
  token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX door_links_event_idx ON app.door_links (event_id);

-- Every scan a door sent, one row per scan_id (the door's own uuid for it:
-- a retry of the same scan finds this row and gets `answer` again).
-- qr_hash: sha256 of the code as scanned (NULL for a manual admission);
-- result: the scan's judgement now (an offline admission can turn into
-- already_in when an earlier scan of the same code at another door arrives
-- later); answer: what the door was told, never changed but for the guest's
-- name when the guest's data is erased.
CREATE TABLE app.door_scans (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scan_id      uuid NOT NULL UNIQUE,
  door_id      uuid NOT NULL REFERENCES app.door_links (id),
  event_id     uuid NOT NULL REFERENCES app.events (id),
  -- scan: a QR code; manual: found by search and admitted by hand
  kind         text NOT NULL CHECK (kind IN ('scan', 'manual')),
  qr_hash      bytea CHECK (length(qr_hash) = 32),
  scanned_at   timestamptz NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  offline      boolean NOT NULL DEFAULT false,
  result       text NOT NULL CHECK (result IN ('admitted', 'already_in', 'wrong_event',
                                               'not_found', 'too_old', 'in_future')),
  guest_id     uuid REFERENCES app.guests (id),
  conflict     boolean NOT NULL DEFAULT false,
  answer       jsonb NOT NULL CHECK (jsonb_typeof(answer) = 'object')
);
CREATE INDEX door_scans_event_received_idx ON app.door_scans (event_id, received_at DESC);
CREATE INDEX door_scans_guest_idx ON app.door_scans (guest_id) WHERE guest_id IS NOT NULL;
CREATE INDEX door_scans_door_idx ON app.door_scans (door_id);

-- A guest's check-in: which door and which scan admitted them (the columns
-- checked_in, checked_in_at and status exist since 0002). door_first and
-- door_last: first and last name folded for the door's search (lower case,
-- no accents), kept by a trigger (sql/66_door.sql); NULL once anonymized.
-- C collation: a prefix is a byte range, so the (event, name) indexes serve it.
ALTER TABLE app.guests
  ADD COLUMN checked_in_door_id uuid REFERENCES app.door_links (id),
  ADD COLUMN checked_in_scan_id uuid REFERENCES app.door_scans (scan_id),
  ADD COLUMN door_first text COLLATE "C",
  ADD COLUMN door_last text COLLATE "C";

UPDATE app.guests g
SET door_first = lower(public.unaccent('public.unaccent'::regdictionary, cu.first_name)),
    door_last = lower(public.unaccent('public.unaccent'::regdictionary, cu.last_name))
FROM app.client_users cu
WHERE cu.id = g.client_user_id AND g.anonymized_at IS NULL;

CREATE INDEX guests_door_first_idx ON app.guests (event_id, door_first) WHERE door_first IS NOT NULL;
CREATE INDEX guests_door_last_idx ON app.guests (event_id, door_last) WHERE door_last IS NOT NULL;
-- a guest without a phone at hand is found by their number's last 4 digits
CREATE INDEX guests_phone_last4_idx ON app.guests (event_id, right(phone, 4)) WHERE phone IS NOT NULL;

-- A check-in undone at a door (a mistaken admission): recorded, not erased.
CREATE TABLE app.door_undos (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  guest_id       uuid NOT NULL REFERENCES app.guests (id),
  door_id        uuid NOT NULL REFERENCES app.door_links (id),
  undone_at      timestamptz NOT NULL DEFAULT now(),
  -- the admission undone: its scan, door and time
  scan_id        uuid REFERENCES app.door_scans (scan_id),
  admitted_by    uuid REFERENCES app.door_links (id),
  checked_in_at  timestamptz NOT NULL
);
CREATE INDEX door_undos_guest_idx ON app.door_undos (guest_id);

-- A code admitted at two doors: the admission that stands (the earlier scan)
-- and the one that, had the doors been online, would have been already_in.
-- Both doors (api.door_summary) and the organizer (admin.door_conflicts) see it.
CREATE TABLE app.door_conflicts (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id       uuid NOT NULL REFERENCES app.events (id),
  guest_id       uuid NOT NULL REFERENCES app.guests (id),
  admitted_scan  uuid NOT NULL REFERENCES app.door_scans (scan_id),
  later_scan     uuid NOT NULL UNIQUE REFERENCES app.door_scans (scan_id),
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX door_conflicts_event_idx ON app.door_conflicts (event_id);

-- The web role touches no table: everything goes through api.* functions.
REVOKE ALL ON app.door_links, app.door_scans, app.door_undos, app.door_conflicts
  FROM PUBLIC, guestlist_web;
