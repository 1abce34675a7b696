-- SQL the queue tests (test_queue.py) and bench/queue_drain.py run as the superuser, loaded with
-- queries.load_queries(); the app's own statements (queue_enqueue, queue_work, …) are in
-- ../queries.sql. {name} marks an identifier composed with psycopg.sql.

-- name: queue_test_weak_hash
-- bcrypt cost 4 for new connections to this database (tests of the queue, not of hashing).
ALTER DATABASE {dbname} SET guestlist.allow_weak_hash_for_bench = on

-- name: queue_test_bcrypt_cost
ALTER DATABASE {dbname} SET guestlist.bcrypt_cost = '4'

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
-- "unexpected error" path of work_guest_job.
INSERT INTO app.guest_jobs (kind, payload, dedupe_key)
VALUES (%(kind)s, %(payload)s::jsonb, pg_catalog.sha256(pg_catalog.gen_random_uuid()::text::bytea))
RETURNING id::text

-- name: queue_test_lock_event
-- Held by the test in an open transaction: a job creating a guest on this event blocks.
SELECT e.id FROM app.events e WHERE e.id = %(event_id)s::uuid FOR UPDATE

-- name: queue_test_worker_backends
-- Backends of worker processes (workers.make_worker_pool's application_name) in this database.
SELECT a.pid, a.wait_event_type
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = pg_catalog.current_database() AND a.application_name = 'guestlist-worker'

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
SELECT pg_catalog.set_config('guestlist.queue_max_depth', %(depth)s, false)

-- name: queue_test_finished_with_password
-- Finished jobs whose row still holds the password, as a key or anywhere in its text.
SELECT count(*)
FROM app.guest_jobs j
WHERE j.finished_at IS NOT NULL
  AND (j.payload ? 'password' OR pg_catalog.row_to_json(j)::text LIKE '%%' || %(password)s || '%%')

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
