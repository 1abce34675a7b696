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

-- name: demo_door_link
-- A new door link for the demo event (its token is returned this once).
SELECT admin.create_door_link(p_event_id => %(event_id)s::uuid, p_label => 'Porta demo') AS door

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

-- === door ===
-- The door (/api/door/…, a staff phone holding a door link): one statement per route, each
-- naming the door by its token (sql/66_door.sql).

-- name: web_door_check_in
-- POST /api/door/check-in: judge one scanned code; the same scanId again gets the same answer.
SELECT api.check_in(
    p_door_token => %(door_token)s::text,
    p_qr_code => %(qr_code)s::text,
    p_scan_id => %(scan_id)s::uuid,
    p_scanned_at => %(scanned_at)s::timestamptz,
    p_client_key => %(client_key)s::text)

-- name: web_door_sync
-- POST /api/door/sync: the scans a door judged offline, {results: [...]} in the batch's order.
SELECT api.door_sync(p_door_token => %(door_token)s::text, p_scans => %(scans)s::jsonb)

-- name: web_door_search
-- GET /api/door/search?q=: at most 20 guests of the door's event.
SELECT api.door_search(p_door_token => %(door_token)s::text, p_query => %(q)s::text)

-- name: web_door_admit
-- POST /api/door/admit: check a guest in by hand (idempotent by scanId).
SELECT api.door_admit(
    p_door_token => %(door_token)s::text,
    p_guest_id => %(guest_id)s::uuid,
    p_scan_id => %(scan_id)s::uuid)

-- name: web_door_undo
-- POST /api/door/undo: undo a mistaken check-in (recorded).
SELECT api.door_undo(p_door_token => %(door_token)s::text, p_guest_id => %(guest_id)s::uuid)

-- name: web_door_summary
-- GET /api/door/summary: the door's counts, conflicts and latest scans.
SELECT api.door_summary(p_door_token => %(door_token)s::text)

-- name: web_door_list
-- GET /api/door/list: the event's live guests for offline judging (codes as sha256).
SELECT api.door_list(p_door_token => %(door_token)s::text)

-- ─── staff and console (web/console.py readers; every console function takes the session
-- token first and answers only within the caller's organizations, docs/tenancy.md) ──────────

-- name: web_staff_login
SELECT api.staff_login(p_email => %(email)s::text, p_password => %(password)s::text,
                       p_client_key => %(client_key)s::text)

-- name: web_staff_accept_invite
SELECT api.accept_invite(p_invite_token => %(token)s::text, p_password => %(password)s::text,
                         p_display_name => %(display_name)s::text,
                         p_client_key => %(client_key)s::text)

-- name: web_staff_logout
SELECT api.staff_logout(p_session_token => %(session_token)s::text)

-- name: web_staff_logout_everywhere
SELECT api.staff_logout_everywhere(p_session_token => %(session_token)s::text)

-- name: web_staff_me
SELECT api.staff_me(p_session_token => %(session_token)s::text)

-- name: web_console_events
SELECT api.console_events(p_session_token => %(session_token)s::text,
                          p_organization_id => %(organization_id)s::uuid)

-- name: web_console_event_create
SELECT api.console_event_save(
    p_session_token => %(session_token)s::text,
    p_event_id => NULL,
    p_organization_id => %(organization_id)s::uuid,
    p_title => %(title)s::text,
    p_slug => %(slug)s::text,
    p_starts_at => %(starts_at)s::timestamptz,
    p_location => %(location)s::text,
    p_guest_capacity => %(guest_capacity)s::integer,
    p_guest_list_closes_at => %(guest_list_closes_at)s::timestamptz,
    p_min_age => %(min_age)s::integer,
    p_is_active => coalesce(%(is_active)s::boolean, true))

-- name: web_console_event_update
SELECT api.console_event_save(
    p_session_token => %(session_token)s::text,
    p_event_id => %(event_id)s::uuid,
    p_organization_id => NULL,
    p_title => %(title)s::text,
    p_slug => %(slug)s::text,
    p_starts_at => %(starts_at)s::timestamptz,
    p_location => %(location)s::text,
    p_guest_capacity => %(guest_capacity)s::integer,
    p_guest_list_closes_at => %(guest_list_closes_at)s::timestamptz,
    p_min_age => %(min_age)s::integer,
    p_is_active => coalesce(%(is_active)s::boolean, true))

-- name: web_console_event_close
SELECT api.console_event_close_list(p_session_token => %(session_token)s::text,
                                    p_event_id => %(event_id)s::uuid)

-- name: web_console_event_reopen
SELECT api.console_event_reopen_list(p_session_token => %(session_token)s::text,
                                     p_event_id => %(event_id)s::uuid)

-- name: web_console_event_duplicate
SELECT api.console_event_duplicate(p_session_token => %(session_token)s::text,
                                   p_event_id => %(event_id)s::uuid, p_slug => %(slug)s::text)

-- name: web_console_guests
SELECT api.console_guests(
    p_session_token => %(session_token)s::text,
    p_event_id => %(event_id)s::uuid,
    p_query => %(query)s::text,
    p_limit => coalesce(%(limit)s::integer, 50),
    p_offset => coalesce(%(offset)s::integer, 0),
    p_promoter_id => %(promoter_id)s::uuid,
    p_checked_in => %(checked_in)s::boolean,
    p_sort => coalesce(%(sort)s::text, 'recent'))

-- name: web_console_figures
SELECT api.console_figures(p_session_token => %(session_token)s::text,
                           p_event_id => %(event_id)s::uuid)

-- name: web_console_set_quota
SELECT api.console_set_quota(p_session_token => %(session_token)s::text,
                             p_event_id => %(event_id)s::uuid,
                             p_promoter_id => %(promoter_id)s::uuid,
                             p_quota => %(quota)s::integer)

-- name: web_console_promoters
SELECT api.console_promoters(p_session_token => %(session_token)s::text,
                             p_organization_id => %(organization_id)s::uuid)

-- name: web_console_promoter_add
SELECT api.console_promoter_add(p_session_token => %(session_token)s::text,
                                p_organization_id => %(organization_id)s::uuid,
                                p_slug => %(slug)s::text, p_display_name => %(display_name)s::text,
                                p_team_name => %(team_name)s::text)

-- name: web_console_promoter_team
SELECT api.console_promoter_team(p_session_token => %(session_token)s::text,
                                 p_organization_id => %(organization_id)s::uuid,
                                 p_promoter_id => %(promoter_id)s::uuid,
                                 p_team_name => %(team_name)s::text)

-- name: web_console_members
SELECT api.console_members(p_session_token => %(session_token)s::text,
                           p_organization_id => %(organization_id)s::uuid)

-- name: web_console_invite_member
SELECT api.console_invite_member(p_session_token => %(session_token)s::text,
                                 p_organization_id => %(organization_id)s::uuid,
                                 p_email => %(email)s::text, p_role => %(role)s::text,
                                 p_promoter_id => %(promoter_id)s::uuid)

-- name: web_console_member_remove
SELECT api.console_member_remove(p_session_token => %(session_token)s::text,
                                 p_organization_id => %(organization_id)s::uuid,
                                 p_staff_id => %(staff_id)s::uuid)

-- name: web_console_invite_revoke
SELECT api.console_invite_revoke(p_session_token => %(session_token)s::text,
                                 p_organization_id => %(organization_id)s::uuid,
                                 p_invite_id => %(invite_id)s::uuid)

-- name: web_console_door_links
SELECT api.console_door_links(p_session_token => %(session_token)s::text,
                              p_event_id => %(event_id)s::uuid)

-- name: web_console_door_link_create
SELECT api.console_door_link_create(p_session_token => %(session_token)s::text,
                                    p_event_id => %(event_id)s::uuid,
                                    p_label => %(label)s::text)

-- name: web_console_door_link_revoke
SELECT api.console_door_link_revoke(p_session_token => %(session_token)s::text,
                                    p_door_id => %(door_id)s::uuid)

-- name: web_promoter_dashboard
SELECT api.promoter_dashboard(p_session_token => %(session_token)s::text)

-- name: web_console_export_rows
-- The CSV export's rows, read through a server-side cursor a batch at a time.
SELECT name, phone, promoter, team, status, checked_in_at, created_at
FROM api.console_export_rows(p_session_token => %(session_token)s::text,
                             p_event_id => %(event_id)s::uuid)

-- name: web_guest_give_birth_date
-- POST /api/guest/birth-date: the birth date an account lacks, for an event with a minimum age.
SELECT api.guest_give_birth_date(p_phone => %(phone)s::text, p_password => %(password)s::text,
                                 p_birth_date => %(birth_date)s::date,
                                 p_client_key => %(client_key)s::text)

-- ─── `guestlist admin …` (guestlist/admin_cli.py): an operator's console scripts ───────────────

-- name: admin_create_organization
-- {organizationId, inviteToken, invitePath, expiresAt}: the owner's invite link, once.
SELECT admin.create_organization(p_name => %(name)s::text, p_slug => %(slug)s::text,
                                 p_owner_email => %(owner_email)s::text)

-- name: admin_invite_member
SELECT admin.invite_member(p_organization_id => %(organization_id)s::uuid,
                           p_email => %(email)s::text, p_role => %(role)s::text,
                           p_promoter_id => %(promoter_id)s::uuid)

-- name: admin_create_event
SELECT admin.create_console_event(
    p_organization_id => %(organization_id)s::uuid, p_title => %(title)s::text,
    p_slug => %(slug)s::text, p_starts_at => %(starts_at)s::timestamptz,
    p_location => %(location)s::text, p_guest_capacity => %(capacity)s::integer,
    p_guest_list_closes_at => %(closes_at)s::timestamptz, p_min_age => %(min_age)s::integer)

-- name: admin_create_promoter
-- {promoterId, teamId, slug}
SELECT admin.create_team_promoter(p_organization_id => %(organization_id)s::uuid,
                                  p_slug => %(slug)s::text,
                                  p_display_name => %(display_name)s::text,
                                  p_team_name => %(team_name)s::text)

-- name: admin_door_link_create
-- {doorId, token, path, label, expiresAt}: the token, once.
SELECT admin.create_door_link(p_event_id => %(event_id)s::uuid, p_label => %(label)s::text)

-- name: admin_door_link_revoke
-- {doorId, revokedAt}
SELECT admin.revoke_door_link(p_door_id => %(door_id)s::uuid)

-- name: admin_export_rows
-- The CSV export's rows, streamed (single-row mode) to stdout or a file.
SELECT name, phone, promoter, team, status, checked_in_at, created_at
FROM admin.export_rows(p_event_id => %(event_id)s::uuid)

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
