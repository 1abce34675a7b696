-- SQL run by bench/queue_drain.py (as the superuser, on its own database), loaded with
-- queries.load_queries(); the workers' and enqueue's own statements are in ../queries.sql,
-- database creation and pg_cron bookkeeping in bench/queries.sql.
-- {name} marks an identifier composed with psycopg.sql.

-- name: bench_queue_demo
SELECT admin.load_demo() ->> 'eventId'

-- name: bench_queue_reset
-- Empty the queue and the guest list between runs (TRUNCATE fires no row trigger: the
-- counters it keeps are reset by hand).
TRUNCATE app.guest_jobs, app.guest_job_tokens, app.guest_job_secrets, app.guests,
         app.guest_sessions, app.login_failures, app.login_client_failures, app.client_users;
UPDATE app.guest_job_counts SET pending = 0;
UPDATE app.events SET guest_count = 0

-- name: bench_queue_vacuum
VACUUM ANALYZE app.guest_jobs, app.guest_job_counts, app.events

-- name: bench_queue_weak_hash
-- bcrypt cost 4 from now on in this database (its settings, read on every call)
SELECT admin.set_setting('allow_weak_hash_for_bench', 'on')

-- name: bench_queue_bcrypt_cost
SELECT admin.set_setting('bcrypt_cost', '4')

-- name: bench_queue_drain_stats
-- Jobs by outcome and the drain's span: first claim to last finish (database clock).
SELECT count(*) FILTER (WHERE j.status = 'completed' AND (j.result ->> 'success')::boolean)
         AS completed,
       count(*) FILTER (WHERE j.status = 'completed') AS finished,
       count(*) FILTER (WHERE j.status <> 'completed') AS other,
       extract(epoch FROM max(j.finished_at) - min(j.processed_at))::float8 AS seconds
FROM app.guest_jobs j

-- name: bench_queue_backend_pid
SELECT pg_catalog.pg_backend_pid()

-- name: bench_queue_backends
-- The backends of this database opened by one kind of client (e.g. guestlist-worker).
SELECT a.pid FROM pg_catalog.pg_stat_activity a
WHERE a.datname = pg_catalog.current_database() AND a.application_name = %(app)s

-- name: bench_queue_crypt
-- One bcrypt hash at the given cost (what a register job computes once).
SELECT public.crypt('Segredo123', public.gen_salt('bf', %(cost)s::integer))
