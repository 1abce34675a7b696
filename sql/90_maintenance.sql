-- Housekeeping: the scheduled cleanup, readiness and project settings.
SET LOCAL ROLE guestlist_owner;

-- Delete what has expired: cache rows, past rate windows, sessions, failed
-- login counts past login_failure_window_seconds, expired password reset
-- links and past reset request windows, and finished jobs past
-- job_retention_seconds (when the queue exists), expired staff sessions and
-- old invites; then one batch of the
-- retention rules (guest rows anonymized, unused accounts erased:
-- sql/85_privacy.sql). pg_cron runs it every minute; without pg_cron the app
-- runs it on a timer. Returns the counts.
CREATE OR REPLACE FUNCTION api.cleanup()
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cache bigint;
  v_rates bigint;
  v_sessions bigint;
  v_logins bigint;
  v_count bigint;
  v_jobs bigint;
  v_resets bigint;
  v_retention jsonb;
BEGIN
  DELETE FROM app.phone_lookup_cache WHERE expires_at <= now();
  GET DIAGNOSTICS v_cache = ROW_COUNT;
  DELETE FROM app.rate_limit_counters WHERE window_start < now() - interval '1 minute';
  GET DIAGNOSTICS v_rates = ROW_COUNT;
  DELETE FROM app.guest_sessions WHERE expires_at <= now();
  GET DIAGNOSTICS v_sessions = ROW_COUNT;
  DELETE FROM app.login_failures f WHERE f.last_failure_at <= now() - make_interval(
    secs => app._config_int('login_failure_window_seconds', 900));
  GET DIAGNOSTICS v_logins = ROW_COUNT;
  DELETE FROM app.login_client_failures f WHERE f.last_failure_at <= now() - make_interval(
    secs => app._config_int('login_failure_window_seconds', 900));
  GET DIAGNOSTICS v_count = ROW_COUNT;
  v_logins := v_logins + v_count;
  v_jobs := app._cleanup_jobs();  -- sql/70_queue.sql
  v_resets := app._cleanup_password_resets();  -- sql/35_password_reset.sql
  v_retention := app._apply_retention();  -- sql/85_privacy.sql
  RETURN jsonb_build_object('cache', v_cache, 'rateCounters', v_rates,
                            'sessions', v_sessions, 'loginWindows', v_logins, 'jobs', v_jobs,
                            'passwordResets', v_resets, 'retention', v_retention,
                            'staff', app._cleanup_staff());  -- sql/61_staff.sql
END
$$;
GRANT EXECUTE ON FUNCTION api.cleanup() TO guestlist_web;

-- Ready when this answers: the schema is migrated. cleanupScheduled tells
-- the app whether pg_cron runs cleanup (else the app runs it on a timer).
CREATE OR REPLACE FUNCTION api.readiness()
RETURNS jsonb
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'ready', true,
    'cleanupScheduled', coalesce((SELECT value = 'true' FROM app.settings
                                  WHERE key = 'cleanup_scheduled'), false))
$$;
GRANT EXECUTE ON FUNCTION api.readiness() TO guestlist_web;

-- Record a project setting (migrate.py, as the migrating superuser).
CREATE OR REPLACE FUNCTION app._set_setting(p_key text, p_value text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO app.settings (key, value) VALUES (p_key, p_value)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value;
END
$$;
