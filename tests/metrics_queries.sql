-- SQL the metrics tests run as the superuser (setting up jobs, counting them the direct way),
-- loaded with queries.load_queries(); the application's own statements are in ../queries.sql.

-- name: metrics_test_insert_job
-- A job in any state: created `age` seconds ago, finished `finished_ago` seconds ago when
-- completed or failed, claimable `run_in` seconds from now (a delayed retry when > 0).
INSERT INTO app.guest_jobs (kind, status, payload, dedupe_key, run_at, created_at, finished_at,
                            attempts)
SELECT 'login', s.status, '{"phone": "+351910000000", "event_id": "00000000-0000-0000-0000-000000000000"}',
       sha256(convert_to(gen_random_uuid()::text, 'UTF8')),
       now() + make_interval(secs => %(run_in)s::float8),
       now() - make_interval(secs => %(age)s::float8),
       CASE WHEN s.status IN ('completed', 'failed')
            THEN now() - make_interval(secs => %(finished_ago)s::float8) END,
       CASE WHEN s.status = 'failed' THEN 3 WHEN s.status = 'delayed' THEN 1 ELSE 0 END
FROM (SELECT %(status)s::text AS status) s
RETURNING id

-- name: metrics_test_hold_job
-- What a worker does to the job in hand (api.work_guest_job): the row lock and the advisory lock
-- that tells status and depth readers it is active. Run inside a transaction.
SELECT pg_advisory_xact_lock(7040, app._job_lock_key(j.id)) IS NOT NULL
FROM app.guest_jobs j
WHERE j.id = %(id)s::uuid
FOR UPDATE

-- name: metrics_test_delete_jobs
DELETE FROM app.guest_jobs WHERE id = ANY(%(ids)s::uuid[])

-- name: metrics_test_finished_last_minute
SELECT count(*) FROM app.guest_jobs WHERE finished_at > now() - interval '1 minute'

-- name: metrics_test_failed_last_minute
SELECT count(*) FROM app.guest_jobs
WHERE finished_at > now() - interval '1 minute' AND status = 'failed'

-- name: metrics_test_kept
-- [completed, failed] still in the table
SELECT ARRAY[count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed')]
FROM app.guest_jobs WHERE finished_at IS NOT NULL

-- name: metrics_test_finished_between
-- Jobs finished in [from, to) (epoch seconds).
SELECT count(*) FROM app.guest_jobs
WHERE finished_at >= to_timestamp(%(from)s::float8) AND finished_at < to_timestamp(%(to)s::float8)
