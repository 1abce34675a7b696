-- SQL run by the test harness (support/database.py and the infrastructure tests), loaded
-- with queries.load_queries(); the application's own statements are in ../queries.sql.
-- {name} marks an identifier composed with psycopg.sql.

-- ─── extensions (run in the maintenance database, autocommit; making and dropping
-- databases: support/postgres.sql) ──

-- name: create_extension_pgtap
CREATE EXTENSION IF NOT EXISTS pgtap

-- name: create_extension_plpgsql_check
CREATE EXTENSION IF NOT EXISTS plpgsql_check

-- name: extension_available
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = %(name)s)

-- ─── roles and demo ────────────────────────────────────────────────────────

-- name: set_role_web
SET ROLE guestlist_web

-- name: set_role_admin
SET ROLE guestlist_admin

-- name: load_demo
SELECT admin.load_demo()

-- ─── pg_cron (run in the cron.database_name database) ─────────────────────

-- name: cron_jobs_for_database
SELECT jobname, schedule, command, database, active
FROM cron.job
WHERE database = %(dbname)s
ORDER BY jobid

-- name: cron_prune_job
SELECT schedule, command FROM cron.job WHERE jobname = 'guestlist-prune-cron-history'

-- name: cron_test_other_job
-- A job of another application on the same cluster.
SELECT cron.schedule('other-app-test', '0 0 1 1 *', 'SELECT 1')

-- name: cron_test_unschedule_other_job
SELECT cron.unschedule('other-app-test')

-- name: cron_test_add_run
-- A run of job %(jobid)s that ended %(age)s ago.
INSERT INTO cron.job_run_details (jobid, job_pid, database, username, command, status,
                                  return_message, start_time, end_time)
VALUES (%(jobid)s, 0, 'test', 'postgres', 'SELECT 1', 'succeeded', 'SELECT 1',
        now() - %(age)s::interval, now() - %(age)s::interval)
RETURNING runid

-- name: cron_test_runs_left
SELECT runid FROM cron.job_run_details WHERE runid = ANY(%(runids)s) ORDER BY runid

-- name: cron_jobs_ids_for_database
SELECT jobid FROM cron.job WHERE database = %(dbname)s ORDER BY jobid

-- ─── test_migrate.py ──────────────────────────────────────────────────────

-- name: project_roles
SELECT rolname, rolcanlogin
FROM pg_catalog.pg_roles
WHERE rolname IN ('guestlist_owner', 'guestlist_web', 'guestlist_admin')
ORDER BY rolname

-- name: yoyo_applied_count
SELECT count(*) FROM public._yoyo_migration

-- name: readiness
SELECT api.readiness()

-- name: cleanup
SELECT api.cleanup()

-- name: project_function_count
SELECT count(*)
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('app', 'api', 'admin')

-- ─── test_plpgsql_check.py ────────────────────────────────────────────────

-- name: plpgsql_functions
-- Every PL/pgSQL function of the project, with the table of a trigger that uses it
-- (plpgsql_check needs one to check a trigger function; NULL for the others).
SELECT p.oid::regprocedure::text AS signature,
       p.oid AS oid,
       p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype AS is_trigger,
       (SELECT t.tgrelid FROM pg_catalog.pg_trigger t
        WHERE t.tgfoid = p.oid ORDER BY t.oid LIMIT 1) AS trigger_relid
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE n.nspname IN ('app', 'api', 'admin')
  AND l.lanname = 'plpgsql'
ORDER BY 1

-- name: plpgsql_check_function
SELECT level, sqlstate, message, detail, hint, lineno, statement, query, context
FROM public.plpgsql_check_function_tb(%(oid)s::pg_catalog.oid::pg_catalog.regprocedure,
                                      relid => coalesce(%(relid)s::pg_catalog.oid, 0)::pg_catalog.regclass,
                                      fatal_errors => false,
                                      extra_warnings => true)

-- === races (tests/db/test_races.py) ===

-- name: race_create_event
-- A fresh open event on a throwaway organization, with an optional capacity.
SELECT admin.create_event(
    admin.create_organization('Org ' || gen_random_uuid(), 'org-' || gen_random_uuid()),
    'Noite', 'noite', now() + interval '7 days', NULL, %(capacity)s::int)

-- name: race_count_client_users
SELECT count(*) FROM app.client_users

-- name: race_count_guests
SELECT count(*) FROM app.guests WHERE event_id = %(event_id)s::uuid

-- name: race_event_guest_count
SELECT guest_count FROM app.events WHERE id = %(event_id)s::uuid

-- name: test_create_login_role
CREATE ROLE {role} LOGIN

-- name: test_drop_role
DROP ROLE IF EXISTS {role}

-- name: extension_installed
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = %(name)s)

-- name: table_exists
SELECT pg_catalog.to_regclass(%(name)s) IS NOT NULL

-- === privacy races (tests/db/test_privacy_races.py) ===

-- name: privacy_phone_traces
-- Rows that still name a phone: its account and its guest rows.
SELECT (SELECT count(*) FROM app.client_users WHERE phone = %(phone)s::text)
     + (SELECT count(*) FROM app.guests WHERE phone = %(phone)s::text)

-- name: privacy_erasure_count
SELECT count(*) FROM app.erasures

-- name: privacy_counts_agree
-- Every event's guest_count equals its rows (anonymized rows included).
SELECT bool_and(e.guest_count = (SELECT count(*) FROM app.guests g WHERE g.event_id = e.id))
FROM app.events e

-- name: privacy_backend_waits_on_lock
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity
               WHERE pid = %(pid)s::integer AND wait_event_type = 'Lock')

-- name: security_settings
-- The database's security settings (test_migrate): {key: value}, migrate's own record left out.
SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM app.settings WHERE key NOT IN ('cleanup_scheduled', 'erasure_key', 'console_scope_key')

-- === quota races (tests/db/test_quota_races.py) ===

-- name: quota_race_setup
-- An event (optional capacity) of a throwaway organization, a promoter in its team and that
-- promoter's quota on the event: {eventId, promoterId}.
WITH org AS (
  SELECT admin.create_organization('Org ' || gen_random_uuid(), 'org-' || gen_random_uuid()) AS id
), ev AS (
  SELECT org.id AS org_id,
         admin.create_event(org.id, 'Noite', 'noite', now() + interval '7 days', NULL,
                            %(capacity)s::int) AS id
  FROM org
), pr AS (
  SELECT admin.create_promoter('p-' || gen_random_uuid(), 'Promotor') AS id
), tm AS (
  SELECT admin.add_team_member(admin.create_team(ev.org_id, 'Equipa'), pr.id) AS id FROM ev, pr
), q AS (
  INSERT INTO app.event_promoter_quotas (event_id, promoter_id, quota)
  SELECT ev.id, pr.id, %(quota)s::int FROM ev, pr, tm
  RETURNING event_id, promoter_id
)
SELECT jsonb_build_object('eventId', q.event_id, 'promoterId', q.promoter_id) FROM q

-- name: quota_race_count
-- Guests of an event, and those of one promoter.
SELECT count(*), count(*) FILTER (WHERE promoter_id = %(promoter_id)s::uuid)
FROM app.guests WHERE event_id = %(event_id)s::uuid
