-- SQL the web tests run on their own database as the superuser (admin-side setup),
-- loaded with queries.load_queries(); the app's own statements are in ../queries.sql.

-- name: web_test_create_event
-- An event of the demo organization (so /promotor/miguel/<slug> reaches it).
SELECT admin.create_event(
    p_organization_id => %(organization_id)s::uuid,
    p_title => %(title)s::text,
    p_slug => %(slug)s::text,
    p_starts_at => now() + interval '7 days',
    p_location => 'Lisboa',
    p_guest_capacity => %(capacity)s::integer,
    p_guest_list_closes_at => %(closes_at)s::timestamptz)

-- name: web_test_close_event_now
-- Closes an event's list a moment ago.
SELECT admin.create_event(
    p_organization_id => %(organization_id)s::uuid,
    p_title => %(title)s::text,
    p_slug => %(slug)s::text,
    p_starts_at => now() + interval '7 days',
    p_location => 'Lisboa',
    p_guest_capacity => NULL,
    p_guest_list_closes_at => now() - interval '1 minute')

-- name: web_test_whoami
-- What a pooled app connection acts as, and the GUCs the app set on it (no rate-limit GUC:
-- limits are database settings).
SELECT current_user::text AS role,
       current_setting('guestlist.rate_limit_per_minute', true) AS rate_limit,
       current_setting('client_connection_check_interval') AS check_interval

-- name: web_test_set_setting
-- A security setting of the test's database (NULL: back to the default).
SELECT admin.set_setting(%(key)s::text, %(value)s::text)

-- name: web_test_hits_of_client
-- What one client key was counted for, by route bucket: {bucket: [hits in all windows, most in one]}.
SELECT coalesce(jsonb_object_agg(bucket, jsonb_build_array(total, most)), '{}')
FROM (SELECT bucket, sum(hits)::int AS total, max(hits) AS most
      FROM app.rate_limit_counters WHERE client_key = %(client_key)s GROUP BY bucket) b

-- name: web_test_forget_unknown_lookups
-- This minute's count of unknown-number lookups starts again (the ceiling tests).
WITH gone AS (DELETE FROM app.rate_limit_counters WHERE bucket = 'unknown_phone' RETURNING 1)
SELECT count(*) FROM gone

-- name: web_test_admin_call
-- Something only guestlist_admin may run: the web role must be refused.
SELECT admin.load_demo()

-- name: web_test_backend_pid
-- The server process behind a pooled connection.
SELECT pg_catalog.pg_backend_pid()

-- name: web_test_terminate_backend
-- Kills one server process, as a restart or a DBA would (superuser).
SELECT pg_catalog.pg_terminate_backend(%(pid)s::integer)

-- name: web_test_flaky_sequence
-- Counts the calls of web_test_flaky (a sequence: a rolled-back call still counts).
CREATE SEQUENCE public.test_flaky_calls

-- name: web_test_flaky_function
-- Fails with SQLSTATE p_state on its first p_failures calls, then answers its call's number.
CREATE FUNCTION public.test_flaky(p_failures integer, p_state text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_call bigint := nextval('public.test_flaky_calls');
BEGIN
  IF v_call <= p_failures THEN
    RAISE EXCEPTION 'flaky call %', v_call USING ERRCODE = p_state;
  END IF;
  RETURN v_call;
END
$$

-- name: web_test_flaky_grant
GRANT EXECUTE ON FUNCTION public.test_flaky(integer, text) TO guestlist_web

-- name: web_test_flaky
SELECT public.test_flaky(%(failures)s::integer, %(state)s::text)

-- name: web_test_flaky_calls
SELECT last_value FROM public.test_flaky_calls

-- name: web_test_phone_traces
-- Rows that still name a phone: its account, its guest rows and its queued jobs.
SELECT (SELECT count(*) FROM app.client_users WHERE phone = %(phone)s::text)
     + (SELECT count(*) FROM app.guests WHERE phone = %(phone)s::text)
     + (SELECT count(*) FROM app.guest_jobs WHERE payload ->> 'phone' = %(phone)s::text)

-- name: web_test_event_guest_count
-- An event's guest count as the capacity check reads it.
SELECT guest_count FROM app.events WHERE id = %(event_id)s::uuid

-- === the door (tests/http/test_door.py) ===

-- name: web_test_door_link
-- A door link for an event: {doorId, token, path, label}.
SELECT admin.create_door_link(p_event_id => %(event_id)s::uuid, p_label => %(label)s::text)

-- name: web_test_door_revoke
SELECT admin.revoke_door_link(p_door_id => %(door_id)s::uuid)

-- name: web_test_door_admissions
-- How many scans of a guest stand as its admission, and whether the guest is inside.
SELECT jsonb_build_object(
    'admissions', (SELECT count(*) FROM app.door_scans s
                   WHERE s.guest_id = %(guest_id)s::uuid AND s.result = 'admitted'),
    'inside', (SELECT g.checked_in FROM app.guests g WHERE g.id = %(guest_id)s::uuid))

-- === the door page (tests/browser/test_door_page.py) ===

-- name: web_test_guest_checked_in
-- Whether a guest is inside now (set by the door's check-in, cleared by its undo).
SELECT checked_in FROM app.guests WHERE id = %(guest_id)s::uuid

-- ─── staff and console ─────────────────────────────────────────────────────

-- name: web_test_create_organization
-- A new organization with its owner's invite: {organizationId, inviteToken, ...}.
SELECT admin.create_organization(%(name)s::text, %(slug)s::text, %(owner_email)s::text)

-- name: web_test_invite_member
SELECT admin.invite_member(%(organization_id)s::uuid, %(email)s::text, %(role)s::text,
                           %(promoter_id)s::uuid)

-- name: web_test_expire_staff_sessions
-- Every staff session of an email ends its 12 hours now.
UPDATE app.staff_sessions SET expires_at = now() - interval '1 second', created_at = now() - interval '12 hours'
WHERE staff_id = (SELECT id FROM app.staff_accounts WHERE email = %(email)s::text)
RETURNING 1

-- name: web_test_guest_birth_date
SELECT birth_date FROM app.client_users WHERE phone = %(phone)s::text

-- name: web_test_set_min_age
-- An event's minimum age (the console sets it; this is the admin-side shortcut).
UPDATE app.events SET min_age = %(min_age)s::integer WHERE id = %(event_id)s::uuid RETURNING id

-- ─── the console's export and pages ────────────────────────────────────────

-- name: web_test_seed_guests
-- n guests of an event through a promoter, named %(name)s (n = 1) or "%(name)s <i>", every
-- %(inside_every)s-th one inside; phones +3519<base + i>. Returns how many were added.
WITH u AS (
  INSERT INTO app.client_users (phone, first_name, last_name, email, password_hash)
  SELECT '+3519' || lpad((%(base)s::integer + i)::text, 8, '0'), 'Teste', 'Exportado' || i,
         'export' || (%(base)s::integer + i) || '@example.pt', '$2a$10$' || repeat('a', 53)
  FROM generate_series(1, %(n)s::integer) i
  RETURNING id, phone, last_name
), g AS (
  INSERT INTO app.guests (event_id, client_user_id, promoter_id, team_id, name, phone, qr_code,
                          status, checked_in, checked_in_at)
  SELECT %(event_id)s::uuid, u.id, %(promoter_id)s::uuid, %(team_id)s::uuid,
         CASE WHEN %(n)s::integer = 1 THEN %(name)s::text
              ELSE %(name)s::text || ' ' || substr(u.last_name, 10) END,
         u.phone, md5(u.id::text || random()::text),
         CASE WHEN substr(u.last_name, 10)::integer %% %(inside_every)s::integer = 0
              THEN 'checked_in' ELSE 'pending' END,
         substr(u.last_name, 10)::integer %% %(inside_every)s::integer = 0,
         CASE WHEN substr(u.last_name, 10)::integer %% %(inside_every)s::integer = 0
              THEN now() END
  FROM u
  RETURNING 1
)
SELECT count(*) FROM g
