-- A queued job belongs to its submitter. Each submission gets a job token
-- (only its sha256 is kept, in app.guest_job_tokens) and the job's status is
-- read with it; the session is opened when the token's holder reads a
-- successful result, so no raw session token is stored. Passwords leave the
-- logged job row for an UNLOGGED side table (never in the WAL), which also
-- holds the hash that recognises a submitter's identical resubmission; a
-- pending job whose side row is gone (a crash empties unlogged tables) fails.
-- depends: 0006.guest_jobs_claim

-- sql/70_queue.sql creates the new signatures: the status read takes the job's
-- token and the client key, the job runner the password from the side table.
DROP FUNCTION IF EXISTS api.guest_job_status(uuid);
DROP FUNCTION IF EXISTS app._run_guest_job(text, jsonb);

SET LOCAL ROLE guestlist_owner;

-- The secrets of a pending job, deleted in the transaction that finishes it
-- (ON DELETE CASCADE covers a job deleted first). UNLOGGED: a password is
-- never written to the WAL, nor reaches a replica or a WAL archive; after a
-- crash the table is empty and the workers fail its jobs as job_expired.
CREATE UNLOGGED TABLE app.guest_job_secrets (
  job_id       uuid PRIMARY KEY REFERENCES app.guest_jobs (id) ON DELETE CASCADE,
  -- the seed function's p_password, as the guest typed it
  password     text NOT NULL,
  -- sha256(kind:the whole payload, password included): the same submission again,
  -- e.g. a page retrying after a lost answer, finds its pending job here
  submit_hash  bytea NOT NULL UNIQUE CHECK (length(submit_hash) = 32)
);

-- Who may read a job: the sha256 of each token handed out for it (the first
-- submission's, and one per identical resubmission). session_opened_at: when
-- this token's holder read the successful result and got a session (once).
CREATE TABLE app.guest_job_tokens (
  job_id             uuid NOT NULL REFERENCES app.guest_jobs (id) ON DELETE CASCADE,
  token_hash         bytea NOT NULL CHECK (length(token_hash) = 32),
  created_at         timestamptz NOT NULL DEFAULT now(),
  session_opened_at  timestamptz,
  PRIMARY KEY (job_id, token_hash)
);

-- Pending passwords move to the side table (under the hash api.enqueue_guest_job
-- computes), finished results lose a session token still unread.
INSERT INTO app.guest_job_secrets (job_id, password, submit_hash)
SELECT j.id, j.payload ->> 'password', sha256(convert_to(j.kind || ':' || j.payload::text, 'UTF8'))
FROM app.guest_jobs j
WHERE j.payload ? 'password'
ON CONFLICT (submit_hash) DO NOTHING;
UPDATE app.guest_jobs SET payload = payload - 'password' WHERE payload ? 'password';
UPDATE app.guest_jobs SET result = result - 'session_token' - 'session_expires_at'
WHERE result ? 'session_token';

ALTER TABLE app.guest_jobs
  ADD CONSTRAINT guest_jobs_payload_no_password CHECK (NOT payload ? 'password');

-- Different submissions about the same phone and event are separate jobs now.
DROP INDEX app.guest_jobs_pending_dedupe_idx;

COMMENT ON COLUMN app.guest_jobs.dedupe_key IS
  'sha256(kind:E.164 phone:event id): which person, event and kind the job is about. Not '
  'unique: only a submitter''s identical resubmission shares a job '
  '(app.guest_job_secrets.submit_hash).';
COMMENT ON COLUMN app.guest_jobs.payload IS
  'The seed function''s arguments by parameter name without p_, except the password '
  '(app.guest_job_secrets, unlogged).';
