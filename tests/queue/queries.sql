-- SQL the queue tests (tests/queue/) and bench/queue_drain.py run as the superuser, loaded with
-- queries.load_queries(); the app's own statements (queue_enqueue, queue_work, …) are in
-- ../queries.sql. {name} marks an identifier composed with psycopg.sql.

-- name: queue_test_weak_hash
-- bcrypt cost 4 in this database (tests of the queue, not of hashing): database settings,
-- read on every call, that only the owner's admin.set_setting writes.
SELECT admin.set_setting('allow_weak_hash_for_bench', 'on')

-- name: queue_test_bcrypt_cost
SELECT admin.set_setting('bcrypt_cost', '4')

-- name: queue_test_slow_hash
-- bcrypt cost 15 (some seconds a hash): a worker can be caught in the middle of one
SELECT admin.set_setting('bcrypt_cost', '15')

-- name: queue_test_jobs
SELECT j.id::text AS id, j.kind, j.status, j.attempts, j.worker, j.payload, j.result, j.error,
       j.run_at, j.processed_at, j.finished_at
FROM app.guest_jobs j
ORDER BY j.created_at, j.id

-- name: queue_test_job
SELECT j.id::text AS id, j.kind, j.status, j.attempts, j.worker, j.payload, j.result, j.error,
       j.run_at, j.processed_at, j.finished_at
FROM app.guest_jobs j
WHERE j.id = %(job_id)s::uuid

-- name: queue_test_finished_count
SELECT count(*) FROM app.guest_jobs j WHERE j.finished_at IS NOT NULL

-- name: queue_test_guests
-- Guests of an event with their account's phone: who is on the list, and how many times.
SELECT g.id::text AS guest_id, cu.phone, g.qr_code
FROM app.guests g
JOIN app.client_users cu ON cu.id = g.client_user_id
WHERE g.event_id = %(event_id)s::uuid
ORDER BY cu.phone

-- name: queue_test_accounts_with_phone
SELECT count(*) FROM app.client_users cu WHERE cu.phone = %(phone)s

-- name: queue_test_insert_job
-- A job whose payload makes the seed function raise (enqueue would refuse it): the
-- "unexpected error" path of work_guest_job. Its password goes to the side table, as enqueue's.
WITH job AS (
  INSERT INTO app.guest_jobs (kind, payload, dedupe_key)
  VALUES (%(kind)s, %(payload)s::jsonb - 'password',
          pg_catalog.sha256(pg_catalog.gen_random_uuid()::text::bytea))
  RETURNING id
)
INSERT INTO app.guest_job_secrets (job_id, password, submit_hash)
SELECT job.id, %(payload)s::jsonb ->> 'password',
       pg_catalog.sha256(pg_catalog.gen_random_uuid()::text::bytea)
FROM job
RETURNING job_id::text

-- name: queue_test_job_has_secret
-- Whether a job's password is still in the unlogged side table.
SELECT EXISTS (SELECT 1 FROM app.guest_job_secrets s WHERE s.job_id = %(job_id)s::uuid)

-- name: queue_test_delete_secret
-- What a server crash does to a pending job's secret (the unlogged table is emptied).
DELETE FROM app.guest_job_secrets s WHERE s.job_id = %(job_id)s::uuid

-- name: queue_test_rows_with_text
-- Job rows (any status), tokens and sessions whose text holds a string (a password, a token).
SELECT (SELECT count(*) FROM app.guest_jobs j
        WHERE pg_catalog.strpos(pg_catalog.row_to_json(j)::text, %(text)s) > 0)
     + (SELECT count(*) FROM app.guest_job_tokens t
        WHERE pg_catalog.strpos(pg_catalog.row_to_json(t)::text, %(text)s) > 0)
     + (SELECT count(*) FROM app.guest_sessions s
        WHERE pg_catalog.strpos(pg_catalog.row_to_json(s)::text, %(text)s) > 0)

-- name: queue_test_session_of
-- The phone of the account a session token (64 hex) belongs to, if any.
SELECT cu.phone FROM app.guest_sessions s JOIN app.client_users cu ON cu.id = s.client_user_id
WHERE s.token_hash = pg_catalog.sha256(pg_catalog.decode(%(token)s, 'hex'))

-- name: queue_test_wal_position
SELECT pg_catalog.pg_current_wal_insert_lsn()::text

-- name: queue_test_wal_switch
-- Ends the current WAL segment, its records written out to the file (the test server runs with
-- synchronous_commit off: a commit alone may leave them in the WAL buffers a while).
SELECT pg_catalog.pg_switch_wal()::text

-- name: queue_test_wal_since
-- The WAL written since a position, as bytes: the segment files from the one holding `since` to
-- the current one (superuser: pg_ls_waldir, pg_read_binary_file under the data directory).
SELECT pg_catalog.string_agg(pg_catalog.pg_read_binary_file('pg_wal/' || w.name), ''::bytea
                             ORDER BY w.name)
FROM pg_catalog.pg_ls_waldir() w
WHERE w.name ~ '^[0-9A-F]{24}$'
  AND w.name >= pg_catalog.pg_walfile_name(%(since)s::pg_lsn)
  AND w.name <= pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_insert_lsn())

-- name: queue_test_lock_event
-- Held by the test in an open transaction: a job creating a guest on this event blocks.
SELECT e.id FROM app.events e WHERE e.id = %(event_id)s::uuid FOR UPDATE

-- name: queue_test_worker_backends
-- Backends of worker processes (workers.make_worker_pool's application_name) in this database.
SELECT a.pid, a.wait_event_type
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = pg_catalog.current_database() AND a.application_name = 'guestlist-worker'

-- name: queue_test_hashing_worker
-- The backend of a worker process running its call with no wait event: on the CPU, inside
-- the job (the hash), not blocked.
SELECT a.pid
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = pg_catalog.current_database() AND a.application_name = 'guestlist-worker'
  AND a.state = 'active' AND a.wait_event_type IS NULL AND a.query LIKE '%%work_guest_jobs%%'

-- name: queue_test_backend_alive
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = %(pid)s)

-- name: queue_test_terminate_app_backends
-- Every guestlist backend of this database but ours (workers, listeners): a restart, seen
-- from the app's side.
SELECT count(pg_catalog.pg_terminate_backend(a.pid))
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = pg_catalog.current_database()
  AND a.application_name LIKE 'guestlist-%%'
  AND a.pid <> pg_catalog.pg_backend_pid()

-- name: queue_test_set_max_depth
SELECT admin.set_setting('queue_max_depth', %(depth)s)

-- name: queue_test_finished_with_password
-- Finished jobs whose row still holds the password (as a key or anywhere in its text), or whose
-- secret is still in the side table.
SELECT count(*)
FROM app.guest_jobs j
WHERE j.finished_at IS NOT NULL
  AND (j.payload ? 'password' OR pg_catalog.row_to_json(j)::text LIKE '%%' || %(password)s || '%%'
       OR EXISTS (SELECT 1 FROM app.guest_job_secrets s WHERE s.job_id = j.id))

-- name: queue_test_listen
LISTEN guestlist_jobs

-- name: queue_test_pending_counter
-- The trigger-kept counter and a real count: they must agree.
SELECT app._pending_jobs() AS counter,
       (SELECT count(*) FROM app.guest_jobs j
        WHERE j.status IN ('waiting', 'active', 'delayed')) AS counted

-- name: queue_test_job_due
-- Whether a delayed job's run_at has passed (by the server's clock).
SELECT j.run_at <= pg_catalog.clock_timestamp() FROM app.guest_jobs j WHERE j.id = %(job_id)s::uuid

-- name: queue_test_work_one
-- One job in one transaction, as a worker with WORKER_BATCH_MS=0 does it.
SELECT api.work_guest_job(p_worker => %(worker)s::text)

-- name: queue_test_job_transactions
-- How many transactions finished the jobs (jobs a worker did in one transaction share its xmin).
SELECT count(DISTINCT j.xmin::text) FROM app.guest_jobs j WHERE j.finished_at IS NOT NULL

-- name: queue_test_waits_for_lock
-- Whether a backend is waiting for a heavyweight lock (a row, a transaction id) right now.
SELECT coalesce((SELECT a.wait_event_type = 'Lock' FROM pg_catalog.pg_stat_activity a
                 WHERE a.pid = %(pid)s), false)

-- name: queue_test_lock_timeout
SELECT pg_catalog.set_config('lock_timeout', %(timeout)s, false)

-- name: queue_test_guestlist_backends_locked
-- Backends of any guestlist process (app pool or worker) in this database waiting on a lock.
SELECT a.pid
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = pg_catalog.current_database() AND a.application_name LIKE 'guestlist%%'
  AND a.wait_event_type = 'Lock'
