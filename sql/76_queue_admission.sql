-- Queue admission by drain rate: a job is admitted only while the backlog,
-- at the rate the workers drain it, finishes within queue_fill_percent of the
-- time the page holds (queue_hold_seconds): the rest of the hold is the
-- margin for the rate falling after it was measured (a flood of refusals
-- takes CPU from the hashes on a shared machine; racing submits read the
-- same backlog). The rate is measured over the last
-- queue_rate_window_seconds from the finished jobs (app.guest_jobs_finished_idx);
-- while the workers have had no backlog to prove their speed on (cold start,
-- a quiet queue) the configured capacity queue_capacity_per_second is the
-- prior. Table: app.queue_drain_rate (migrations/0014.queue_admission.sql).
SET LOCAL ROLE guestlist_owner;

-- The drain rate in jobs per second: the last measurement if it is less than
-- a second old, else a new one, taken by one transaction at a time (the
-- others read the previous figure rather than wait for its row lock). A
-- window the workers spent with a backlog throughout (more than a second of
-- work queued at every measurement) gives their rate, slow or fast; any other
-- window only shows they were not pushed, and the higher of the measured rate
-- and queue_capacity_per_second stands (cold start, a quiet queue, the first
-- seconds of a rush).
CREATE OR REPLACE FUNCTION app._drain_rate()
RETURNS numeric
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_now timestamptz := clock_timestamp();
  v_prior numeric := app._config_int('queue_capacity_per_second', 20);
  v_window integer := app._config_int('queue_rate_window_seconds', 10);
  v_row app.queue_drain_rate;
  v_done bigint;
  v_pending bigint;
  v_rate numeric;
BEGIN
  SELECT * INTO v_row FROM app.queue_drain_rate r;
  IF v_row.measured_at <= v_now - interval '1 second' THEN
    SELECT * INTO v_row FROM app.queue_drain_rate r FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
      SELECT count(*) INTO v_done FROM app.guest_jobs j
      WHERE j.finished_at > v_now - make_interval(secs => v_window);
      v_pending := app._pending_jobs();
      v_rate := round(v_done::numeric / v_window, 3);
      UPDATE app.queue_drain_rate r
      SET measured_at = v_now, per_second = v_rate,
          backlog_since = CASE WHEN v_pending <= greatest(2, v_rate) THEN NULL
                               ELSE coalesce(r.backlog_since, v_now) END
      RETURNING * INTO v_row;
    ELSE
      SELECT * INTO v_row FROM app.queue_drain_rate r;  -- another is measuring: its last figure
    END IF;
  END IF;
  IF v_row.backlog_since <= v_row.measured_at - make_interval(secs => v_window) THEN
    RETURN greatest(v_row.per_second, 0.1);
  END IF;
  RETURN greatest(v_row.per_second, v_prior, 0.1);
END
$$;

-- The seconds of work admission lets the backlog hold: queue_fill_percent of
-- queue_hold_seconds.
CREATE OR REPLACE FUNCTION app._admitted_seconds()
RETURNS numeric
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN app._config_int('queue_hold_seconds', 30)
         * app._config_int('queue_fill_percent', 70) / 100.0;
END
$$;

-- Whether a new job may join `p_pending` pending ones: NULL when the backlog
-- with it drains within queue_fill_percent of queue_hold_seconds at
-- app._drain_rate(), else the seconds to come back after (until it would:
-- sized to the backlog, 1 … 120).
CREATE OR REPLACE FUNCTION app._admission_retry_after(p_pending bigint)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_rate numeric := app._drain_rate();
  v_fill numeric := app._admitted_seconds();
  v_seconds numeric := (greatest(p_pending, 0) + 1) / v_rate;
BEGIN
  IF v_seconds <= v_fill THEN
    RETURN NULL;
  END IF;
  RETURN least(120, greatest(1, ceil(v_seconds - v_fill)))::integer;
END
$$;

-- The queue's admission figures for operators and the load monitor: the rate
-- in use, what it was measured from, the hold, the share of it admitted and
-- how many pending jobs that admits.
CREATE OR REPLACE FUNCTION admin.queue_admission()
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_rate numeric := app._drain_rate();
  v_hold integer := app._config_int('queue_hold_seconds', 30);
  v_row app.queue_drain_rate;
BEGIN
  SELECT * INTO v_row FROM app.queue_drain_rate r;
  RETURN jsonb_build_object(
    'rate', v_rate, 'measuredRate', v_row.per_second,
    'saturated', coalesce(v_row.backlog_since <= v_row.measured_at
                          - make_interval(secs => app._config_int('queue_rate_window_seconds', 10)),
                          false),
    'backlogSince', v_row.backlog_since,
    'measuredAt', v_row.measured_at, 'holdSeconds', v_hold,
    'fillPercent', app._config_int('queue_fill_percent', 70),
    'admits', floor(v_rate * app._admitted_seconds())::bigint,
    'priorRate', app._config_int('queue_capacity_per_second', 20),
    'windowSeconds', app._config_int('queue_rate_window_seconds', 10));
END
$$;
GRANT EXECUTE ON FUNCTION admin.queue_admission() TO guestlist_admin;
