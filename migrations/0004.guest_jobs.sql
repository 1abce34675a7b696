-- The guest job queue: login and register requests answered at once with a
-- job id and done by workers (api.work_guest_job), one job per transaction.
-- Pending jobs are counted in a few counter rows kept by a trigger, so the
-- enqueue's depth check reads 16 rows instead of counting the queue.
-- depends: 0003.counters

SET LOCAL ROLE guestlist_owner;

CREATE TABLE app.guest_jobs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- login: api.authenticate_and_create_guest_v2; register: api.register_and_create_guest_v2
  kind          text NOT NULL CHECK (kind IN ('login', 'register')),
  -- waiting: queued, claimable once run_at has passed;
  -- active: claimed by a worker (only inside the worker's transaction: a worker that dies
  --         rolls back to waiting; api.guest_job_status reports a locked job as active);
  -- delayed: an attempt failed unexpectedly, retried at run_at (exponential backoff);
  -- completed: done, result holds the function's answer (a refusal included);
  -- failed: max_attempts unexpected errors, kept as a dead letter (error says why, safely).
  status        text NOT NULL DEFAULT 'waiting'
                CHECK (status IN ('waiting', 'active', 'delayed', 'completed', 'failed')),
  -- the function's arguments by parameter name without p_; the plaintext password is
  -- removed in the transaction that completes or fails the job
  payload       jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  -- sha256(kind:E.164 phone:event id): one pending job per person, event and kind
  dedupe_key    bytea NOT NULL CHECK (length(dedupe_key) = 32),
  client_key    text CHECK (length(client_key) <= 100),
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
  run_at        timestamptz NOT NULL DEFAULT now(),
  result        jsonb,
  error         text,  -- a safe pt-PT message; the real error goes to the server log only
  worker        text CHECK (length(worker) <= 100),
  created_at    timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,  -- claimed by the attempt that finished it (or the last one)
  finished_at   timestamptz,  -- completed or failed
  CHECK ((status IN ('completed', 'failed')) = (finished_at IS NOT NULL)),
  CHECK (status NOT IN ('completed', 'failed') OR NOT payload ? 'password')
);

-- A second submission while one is pending finds the first (enqueue's ON CONFLICT).
CREATE UNIQUE INDEX guest_jobs_pending_dedupe_idx ON app.guest_jobs (dedupe_key)
  WHERE status IN ('waiting', 'active', 'delayed');
-- The claim: oldest claimable first.
CREATE INDEX guest_jobs_claim_idx ON app.guest_jobs (run_at, id)
  WHERE status IN ('waiting', 'delayed');
-- The cleanup of finished jobs past guestlist.job_retention.
CREATE INDEX guest_jobs_finished_idx ON app.guest_jobs (finished_at)
  WHERE finished_at IS NOT NULL;

-- Pending jobs (waiting, active, delayed), summed over slots. Each transaction
-- adds to the slot of its backend, so concurrent enqueues and workers rarely
-- wait on the same row; the sum is exact.
CREATE TABLE app.guest_job_counts (
  slot     smallint PRIMARY KEY CHECK (slot BETWEEN 0 AND 15),
  pending  bigint NOT NULL DEFAULT 0
);
INSERT INTO app.guest_job_counts (slot) SELECT s FROM generate_series(0, 15) s;
