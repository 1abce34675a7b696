-- Every SQL statement the Python code runs, one per `-- name: <name>` header
-- (loaded by queries.py; comment lines under a header describe the query).
-- Parameters use psycopg's %(name)s style; {name} marks an identifier composed
-- with psycopg.sql.

-- ─── migrate.py ────────────────────────────────────────────────────────────

-- name: current_database
SELECT pg_catalog.current_database() AS dbname

-- name: cron_database_name
-- The database pg_cron's launcher runs in; NULL when pg_cron is not preloaded.
SELECT pg_catalog.current_setting('cron.database_name', true) AS cron_database

-- name: cron_create_extension
CREATE EXTENSION IF NOT EXISTS pg_cron

-- name: cron_schedule_cleanup
-- Run from the pg_cron database. Same job name = the existing job is replaced.
SELECT cron.schedule_in_database(
    'guestlist-cleanup-' || %(dbname)s,
    '* * * * *',
    'SELECT api.cleanup()',
    %(dbname)s
) AS jobid

-- name: cron_schedule_prune_history
-- Run from the pg_cron database; one job per cluster (same name: replaced). pg_cron keeps every
-- run's row in cron.job_run_details forever and the cleanup adds one a minute per database:
-- each night, the rows of guestlist's jobs older than 7 days go (other jobs' history is left).
SELECT cron.schedule(
    'guestlist-prune-cron-history',
    '17 3 * * *',
    $$DELETE FROM cron.job_run_details d USING cron.job j
      WHERE d.jobid = j.jobid AND left(j.jobname, 10) = 'guestlist-'
        AND d.end_time < now() - interval '7 days'$$
) AS jobid

-- name: set_cleanup_scheduled
-- Tells api.readiness() whether pg_cron runs the cleanup (else the app does, on a timer).
SELECT app._set_setting('cleanup_scheduled', %(value)s)

-- name: set_setting
-- A security setting from migrate's environment (GUESTLIST_SETTINGS), checked by admin.set_setting.
SELECT admin.set_setting(%(key)s::text, %(value)s::text)

-- ─── demo.py ───────────────────────────────────────────────────────────────

-- name: demo_load
-- Creates or refreshes the demo organization, event, promoter and team.
SELECT admin.load_demo() AS demo

-- === web ===
-- app.py: one statement per route (see routes.py), plus the pool's per-connection setup.

-- name: web_set_role
-- Run by the pool's configure on every new connection: the app never acts as the owner.
SET ROLE guestlist_web

-- name: web_check_phone
SELECT api.check_phone_with_cache(p_phone => %(phone)s::text, p_client_key => %(client_key)s::text)

-- name: web_login
SELECT api.authenticate_and_create_guest_v2(
    p_phone => %(phone)s::text,
    p_password => %(password)s::text,
    p_event_id => %(event_id)s::uuid,
    p_promoter_id => %(promoter_id)s::uuid,
    p_team_id => %(team_id)s::uuid,
    p_client_key => %(client_key)s::text,
    p_session_token => %(session_token)s::text)

-- name: web_register
SELECT api.register_and_create_guest_v2(
    p_phone => %(phone)s::text,
    p_first_name => %(first_name)s::text,
    p_last_name => %(last_name)s::text,
    p_email => %(email)s::text,
    p_password => %(password)s::text,
    p_event_id => %(event_id)s::uuid,
    p_promoter_id => %(promoter_id)s::uuid,
    p_team_id => %(team_id)s::uuid,
    p_birth_date => %(birth_date)s::date,
    p_gender => %(gender)s::text,
    p_city => %(city)s::text,
    p_client_key => %(client_key)s::text)

-- name: web_resolve_page
SELECT api.resolve_guest_page(
    p_promoter_slug => %(promoter)s::text,
    p_event_slug => %(event)s::text,
    p_client_key => %(client_key)s::text)

-- name: web_session_guest
SELECT api.session_guest(
    p_session_token => %(session_token)s::text,
    p_event_id => %(event_id)s::uuid,
    p_client_key => %(client_key)s::text)

-- name: web_session_pass
-- GET /api/guest/session/{event_id}: this device's pass, or {"guest": null} (no cookie: NULL).
SELECT api.session_pass(
    p_session_token => %(session_token)s::text,
    p_event_id => %(event_id)s::uuid,
    p_client_key => %(client_key)s::text)

-- name: web_guest_logout
-- POST /api/guest/logout: end the session of the cookie's token (NULL: nothing to end).
SELECT api.guest_logout(p_session_token => %(session_token)s::text)

-- name: web_qr_code_exists
SELECT api.qr_code_exists(p_qr_code => %(qr_code)s::text, p_client_key => %(client_key)s::text)

-- name: web_guest_data_export
-- GET /api/guest/data (session cookie) and POST /api/guest/data (phone + password): everything
-- stored about the account; refusals returned ({success: false, code, …}).
SELECT api.guest_data_export(
    p_phone => %(phone)s::text,
    p_password => %(password)s::text,
    p_session_token => %(session_token)s::text,
    p_client_key => %(client_key)s::text)

-- name: web_guest_erase
-- POST /api/guest/erase: erase the account (phone + password, or the session cookie) once
-- confirmed; {success, erased: counts} or a refusal.
SELECT api.guest_erase(
    p_confirm => %(confirm)s::boolean,
    p_phone => %(phone)s::text,
    p_password => %(password)s::text,
    p_session_token => %(session_token)s::text,
    p_client_key => %(client_key)s::text)

-- name: web_password_reset_request
-- POST /api/guest/password-reset: a reset link for the phone's account, if any; the answer's
-- `mail` (the raw token) goes to the mail sender only, never to the client.
SELECT api.request_password_reset(
    p_phone => %(phone)s::text,
    p_event_id => %(event_id)s::uuid,
    p_promoter_id => %(promoter_id)s::uuid,
    p_client_key => %(client_key)s::text)

-- name: web_password_reset_confirm
-- POST /api/guest/password-reset/confirm: a new password from a mailed link's token.
SELECT api.confirm_password_reset(
    p_token => %(token)s::text,
    p_password => %(password)s::text,
    p_client_key => %(client_key)s::text)

-- name: web_readiness
SELECT api.readiness()

-- name: web_cleanup
-- Run on a timer by the app when readiness() says pg_cron does not schedule it.
SELECT api.cleanup()

-- === queue ===
-- The job queue: web/jobs.py, queue/workers.py, queue/listener.py, bench/queue_drain.py.

-- name: queue_enqueue
-- POST /api/guest/login-v2 and /register-v2: validate, rate-limit and queue (or join the same
-- submission's pending job); {jobId, jobToken, duplicate, estimatedSeconds}.
SELECT api.enqueue_guest_job(
    p_kind => %(kind)s::text,
    p_payload => %(payload)s::jsonb,
    p_client_key => %(client_key)s::text,
    p_session_token => %(session_token)s::text)

-- name: queue_job_status
-- GET /api/guest/status/{job_id} with X-Job-Token: {id, status, result, error, createdAt,
-- processedAt, finishedAt}. client_key NULL for the re-reads of one long-poll (counted once).
SELECT api.guest_job_status(p_job_id => %(job_id)s::uuid, p_job_token => %(job_token)s::text,
                            p_client_key => %(client_key)s::text)

-- name: queue_work
-- A worker: claim jobs and do them in this one transaction, one after another while they are
-- quick (at most max_jobs, no claim after budget_ms); NULL when nothing is claimable.
SELECT api.work_guest_jobs(p_worker => %(worker)s::text, p_max_jobs => %(max_jobs)s::integer,
                           p_budget_ms => %(budget_ms)s::integer)

-- name: queue_depth
-- The autoscaler, once a second: {waiting, active, delayed}.
SELECT api.queue_depth()

-- name: queue_worker_setup
-- Worker connections (standalone, and the app's pool that carries the in-process workers): a
-- backend whose client process died notices within a second (even while it waits on a lock)
-- and rolls its job back to waiting.
SELECT pg_catalog.set_config('client_connection_check_interval', '1s', false)

-- name: queue_listen_done
-- notify.JobWaiter: a job completed or failed (payload: its id).
LISTEN guestlist_jobs

-- name: queue_listen_new
-- notify.JobWaiter: a job was queued (idle workers wake).
LISTEN guestlist_jobs_new

-- name: queue_listener_heartbeat
-- notify.JobWaiter, when its channels have been quiet a while: is the server still there?
SELECT 1

-- === metrics ===
-- monitor/figures.py / web/monitoring.py: the queue's figures for GET /api/admin/metrics, GET /metrics
-- and the load monitor's sampler (every 5 s).

-- name: metrics_queue
-- {waiting, active, delayed, completedLastMinute, failedLastMinute, finishedLastMinute, p50Ms,
--  p95Ms, totalCompleted, totalFailed, finished: [[bucket epoch, completed, failed], …], at}
SELECT api.queue_metrics()

-- === figures across app instances (monitor/instances.py, sql/76_instances.sql) ===

-- name: metrics_report_instance
-- This process's request figures, written every few seconds.
SELECT api.report_instance(%(instance)s, %(figures)s)

-- name: metrics_withdraw_instance
-- A stopping process takes its figures away.
SELECT api.withdraw_instance(%(instance)s)

-- name: metrics_instance_figures
-- {instances, ids, <counts summed>, latencyBins} over the instances reporting.
SELECT api.instance_figures()
