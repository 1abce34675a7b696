-- The queue's claim no longer writes status 'active' (api.work_guest_job sets
-- only attempts, processed_at and worker: a HOT update). Pages keep room for
-- it, and the status column says what each value means now.
-- depends: 0005.page_functions_client_key

SET LOCAL ROLE guestlist_owner;

ALTER TABLE app.guest_jobs SET (fillfactor = 85);

COMMENT ON COLUMN app.guest_jobs.status IS
  'waiting: queued, claimable once run_at has passed. '
  'active: a worker holds it - reported by api.guest_job_status and api.queue_depth from the '
  'worker''s advisory lock (class 7040, app._job_lock_key), never stored by api.work_guest_job: '
  'the claim and the work are one transaction, so the row reads waiting to everyone else until '
  'it ends, and a worker that dies leaves it waiting. '
  'delayed: an attempt failed unexpectedly, retried at run_at (1 s, 2 s, 4 s...). '
  'completed: done, result holds the seed function''s answer (a refusal included). '
  'failed: max_attempts unexpected errors, kept as a dead letter with a generic error.';
