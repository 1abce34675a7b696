-- SQL run by the bench runner (bench/runner.py), loaded with queries.load_queries();
-- the application's own statements are in ../queries.sql (bench/bare_app.py reuses
-- `web_check_phone` and the pool setup from there). {name} marks an identifier composed
-- with psycopg.sql.

-- ─── the server (maintenance database, autocommit; making and dropping databases:
-- tests/support/postgres.sql) ──

-- name: server_facts
SELECT pg_catalog.version() AS version,
       pg_catalog.current_setting('max_connections') AS max_connections,
       pg_catalog.current_setting('shared_buffers') AS shared_buffers,
       pg_catalog.current_setting('synchronous_commit') AS synchronous_commit,
       pg_catalog.current_setting('fsync') AS fsync

-- name: server_process
-- This connection's backend and the data directory, the postmaster's working directory: how
-- the runner finds the server's processes when it runs on this machine.
SELECT pg_catalog.pg_backend_pid(), pg_catalog.current_setting('data_directory')

-- ─── bench data (bench database, as the superuser) ─────────────────────────

-- name: create_users
-- Existing accounts for the login journeys and the phone checks: phones
-- +351910000001… (valid Portuguese mobiles), all sharing ONE real bcrypt hash
-- of the bench password at the cost the functions use (hashing thousands of
-- passwords one by one would take minutes and measure nothing the login does not).
INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
SELECT '+35191' || lpad(n::text, 7, '0'), 'Bench', 'User' || n, 'u' || n || '@bench.test', h.hash
FROM pg_catalog.generate_series(1, %(users)s::integer) n,
     (SELECT public.crypt(%(password)s::text, public.gen_salt('bf', app._bcrypt_cost())) AS hash) h
ON CONFLICT DO NOTHING

-- name: analyze_users
ANALYZE app.client_users

-- ─── the queue, seen from outside (bench database, superuser) ──────────────

-- name: jobs_pending
-- Waiting + active + delayed jobs: the sum of the queue's counter rows.
SELECT coalesce(sum(pending), 0)::bigint FROM app.guest_job_counts

-- name: jobs_finished_since
-- Jobs that ended after a moment (the finished-jobs index answers it).
SELECT count(*)::bigint,
       coalesce(max(finished_at), %(since)s::timestamptz)
FROM app.guest_jobs
WHERE finished_at > %(since)s::timestamptz

-- name: jobs_accounting
-- Every job of the run by status and outcome: what was accepted and what became of it.
SELECT status,
       coalesce(result ->> 'success', '') AS success,
       coalesce(result ->> 'code', '') AS code,
       count(*)::bigint AS jobs,
       coalesce(round(avg(extract(epoch FROM finished_at - created_at)) * 1000), 0)::bigint
         AS avg_ms,
       coalesce(round(max(extract(epoch FROM finished_at - created_at)) * 1000), 0)::bigint
         AS max_ms
FROM app.guest_jobs
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3

-- name: now
SELECT pg_catalog.clock_timestamp()

-- ─── bench/run.sh --cluster (the cluster's own database, as the superuser) ──

-- name: cluster_clear_jobs
-- The cluster serves one database for every scenario: each starts with no jobs, so the
-- accounting counts only its own.
DELETE FROM app.guest_jobs
