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

-- name: jobs_latency
-- Accepted submit → job finished, over every job that finished (ms): what a guest waited.
SELECT count(*)::bigint AS jobs,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::bigint AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms))::bigint AS p95_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::bigint AS p99_ms,
       round(max(ms))::bigint AS max_ms
FROM (SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms
      FROM app.guest_jobs WHERE finished_at IS NOT NULL) j

-- name: now
SELECT pg_catalog.clock_timestamp()

-- ─── the door scenario (bench database, as the superuser) ──────────────────

-- name: door_seed_guests
-- The door's guests: accounts +35196… (sharing the existing accounts' bcrypt hash) on the demo
-- event's list with promoter Miguel, each with a random QR code, the event's guest count kept
-- (bench/scenarios/door.py). Returns their QR codes in a random order: the order of the scans.
WITH accounts AS (
  INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
  SELECT '+35196' || lpad(n::text, 7, '0'), 'Porta', 'Convidado' || n, 'd' || n || '@bench.test',
         (SELECT password_hash FROM app.client_users ORDER BY phone LIMIT 1)
  FROM pg_catalog.generate_series(1, %(guests)s::integer) n
  RETURNING id, phone, first_name, last_name
), guests AS (
  INSERT INTO app.guests (event_id, client_user_id, promoter_id, team_id, name, phone, qr_code)
  SELECT %(event_id)s::uuid, a.id, %(promoter_id)s::uuid, %(team_id)s::uuid,
         a.first_name || ' ' || a.last_name, a.phone,
         pg_catalog.encode(public.gen_random_bytes(16), 'hex')
  FROM accounts a
  RETURNING qr_code
), counted AS (
  UPDATE app.events SET guest_count = guest_count + (SELECT count(*) FROM guests)
  WHERE id = %(event_id)s::uuid
)
SELECT pg_catalog.jsonb_agg(qr_code ORDER BY pg_catalog.random()) FROM guests

-- name: door_create_link
-- One door of the demo event: {"doorId", "token"}.
SELECT admin.create_door_link(p_event_id => %(event_id)s::uuid, p_label => %(label)s::text)

-- name: door_checked_in
-- The door's guests inside after the run (every one was scanned once: the rest are lost).
SELECT count(*) FILTER (WHERE checked_in)::bigint AS inside, count(*)::bigint AS guests
FROM app.guests
WHERE event_id = %(event_id)s::uuid AND phone LIKE '+35196%%'

-- ─── the console scenario (bench database, superuser) ──────────────────────

-- name: console_seed_guests
-- %(n)s guests of one event through its promoter, every third one inside, registrations spread
-- over the evening: the console's list and export at full size. Accounts share one dummy hash
-- (nobody logs in as them); phones +3519 2xxxxxxx stay clear of create_users' +35191….
WITH u AS (
  INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
  SELECT '+3519' || (20000000 + i)::text, 'Convidado', 'Número ' || i, 'c' || i || '@bench.test',
         '$2a$10$' || repeat('a', 53)
  FROM pg_catalog.generate_series(1, %(n)s::integer) i
  RETURNING id, phone, (substr(last_name, 8))::integer AS i
)
INSERT INTO app.guests (event_id, client_user_id, promoter_id, team_id, name, phone, qr_code,
                        status, checked_in, checked_in_at, created_at)
SELECT %(event_id)s::uuid, u.id, %(promoter_id)s::uuid, %(team_id)s::uuid,
       CASE WHEN u.i %% 3 = 1 THEN 'João Conceição ' ELSE 'Convidado ' END || u.i, u.phone,
       md5(u.id::text), CASE WHEN u.i %% 3 = 0 THEN 'checked_in' ELSE 'pending' END,
       u.i %% 3 = 0, CASE WHEN u.i %% 3 = 0 THEN now() - (u.i %% 240) * interval '1 minute' END,
       now() - interval '5 hours' + (u.i %% 300) * interval '1 minute'
FROM u

-- name: console_owner_invite
-- An owner's invite to the demo organization: {inviteToken, invitePath, expiresAt}.
SELECT admin.invite_member(%(organization_id)s::uuid, %(email)s::text, 'owner')

-- name: console_analyze
-- After the seed: the planner's statistics, and the visibility map the list's index-only
-- scans read (autovacuum would set both a little later on a real night).
VACUUM (ANALYZE) app.guests

-- ─── the organizers scenario (bench database, superuser) ───────────────────

-- name: organizers_owner_session
-- An owner of the event's organization, invited and accepted as the console's invite page
-- does it (admin.invite_member, api.accept_invite): the staff session token, the value of the
-- console's session cookie.
SELECT api.accept_invite(
  admin.invite_member((SELECT e.organization_id FROM app.events e WHERE e.id = %(event_id)s::uuid),
                      %(email)s::text, 'owner') ->> 'inviteToken',
  %(password)s::text, %(display_name)s::text) ->> 'sessionToken'

-- ─── bench/run.sh --cluster (the cluster's own database, as the superuser) ──

-- name: cluster_clear_jobs
-- The cluster serves one database for every scenario: each starts with no jobs, so the
-- accounting counts only its own.
DELETE FROM app.guest_jobs

-- name: sync_standby
-- The standbys a commit with synchronous_commit = remote_apply waits for ('' = none).
SELECT pg_catalog.current_setting('synchronous_standby_names')

-- name: guests_with_qr
-- Which of the QR codes the clients were handed are on the list of this (the new) primary.
SELECT g.qr_code FROM app.guests g WHERE g.qr_code = ANY(%(codes)s::text[])

-- name: jobs_with_id
-- Which of the job ids the clients were answered with are in this (the new) primary's queue.
SELECT j.id::text FROM app.guest_jobs j WHERE j.id = ANY(%(ids)s::uuid[])
