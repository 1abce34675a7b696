-- Figures across processes (table app.instance_reports,
-- migrations/0015.instances.sql): each app instance reports its request
-- figures and each `guestlist worker` process its worker tasks (with
-- workerProcesses = 1); a report older than instance_report_ttl_seconds no
-- longer counts (the process stopped or lost the database).
SET LOCAL ROLE guestlist_owner;

-- The counts an instance reports and the sum adds up (each a non-negative
-- number); `latencyBins` (histogram bin index → count) is summed bin by bin.
CREATE OR REPLACE FUNCTION app._instance_figure_keys()
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN ARRAY['requestsLastMinute', 'serverErrorsLastMinute', 'requestsTotal',
               'serverErrorsTotal', 'activeUsers', 'workerConcurrency', 'latencyCount',
               'latencyTotalMs', 'workerProcesses'];
END
$$;

-- Write this process's figures (called by each app and worker process every
-- few seconds).
-- Keeps only the known counts and at most 200 latency bins, each a
-- non-negative number: PT400 invalid_input otherwise.
CREATE OR REPLACE FUNCTION api.report_instance(p_instance text, p_figures jsonb)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_kept jsonb;
  v_bins jsonb;
BEGIN
  IF p_instance IS NULL OR length(p_instance) NOT BETWEEN 1 AND 100
     OR jsonb_typeof(p_figures) IS DISTINCT FROM 'object' THEN
    PERFORM app._raise(400, 'invalid_input', 'Relatório de instância inválido. Envia os números da instância como objeto JSON.', '{}'::jsonb);
  END IF;
  SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) INTO v_kept
  FROM jsonb_each(p_figures) e
  WHERE e.key = ANY (app._instance_figure_keys())
    -- CASE: the cast only once the type is known (WHERE may test in any order)
    AND CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value)::numeric >= 0 END;
  IF jsonb_typeof(p_figures -> 'latencyBins') = 'object' THEN
    SELECT coalesce(jsonb_object_agg(b.key, b.value), '{}'::jsonb) INTO v_bins
    FROM (SELECT e.key, e.value FROM jsonb_each(p_figures -> 'latencyBins') e
          WHERE e.key ~ '^[0-9]{1,3}$'
            AND CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value)::numeric >= 0 END
          LIMIT 200) b;
    v_kept := v_kept || jsonb_build_object('latencyBins', v_bins);
  END IF;
  -- instances gone for a minute past the TTL: their rows go (a handful of rows)
  DELETE FROM app.instance_reports r
  WHERE r.reported_at < clock_timestamp()
        - make_interval(secs => app._config_int('instance_report_ttl_seconds', 15) + 60);
  INSERT INTO app.instance_reports AS r (instance, reported_at, figures)
  VALUES (p_instance, clock_timestamp(), v_kept)
  ON CONFLICT (instance) DO UPDATE SET reported_at = excluded.reported_at,
                                       figures = excluded.figures;
END
$$;
GRANT EXECUTE ON FUNCTION api.report_instance(text, jsonb) TO guestlist_web;

-- A process that stopped (SIGTERM) takes its report away at once.
CREATE OR REPLACE FUNCTION api.withdraw_instance(p_instance text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM app.instance_reports r WHERE r.instance = p_instance;
END
$$;
GRANT EXECUTE ON FUNCTION api.withdraw_instance(text) TO guestlist_web;

-- The sum of the fresh reports: {instances: n, ids: [...], workerIds: [...],
-- <each count>: sum, latencyBins: {bin: sum}}; `instances` and `ids` are the
-- app instances, `workerIds` the worker processes (workerProcesses > 0).
-- Stale reports are left out (api.report_instance deletes them a minute later).
CREATE OR REPLACE FUNCTION api.instance_figures()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ttl integer := app._config_int('instance_report_ttl_seconds', 15);
  v_out jsonb;
BEGIN
  WITH fresh AS (
    SELECT r.instance, r.figures,
           coalesce((r.figures ->> 'workerProcesses')::numeric, 0) > 0 AS is_worker
    FROM app.instance_reports r
    WHERE r.reported_at > clock_timestamp() - make_interval(secs => v_ttl)
  ),
  sums AS (
    SELECT k.key, coalesce(sum((f.figures ->> k.key)::numeric), 0) AS total
    FROM unnest(app._instance_figure_keys()) AS k(key) CROSS JOIN fresh f
    GROUP BY k.key
  ),
  bins AS (
    SELECT b.key, sum((b.value)::numeric) AS total
    FROM fresh f, jsonb_each(coalesce(f.figures -> 'latencyBins', '{}'::jsonb)) b
    GROUP BY b.key
  )
  SELECT jsonb_build_object(
           'instances', (SELECT count(*) FROM fresh f WHERE NOT f.is_worker),
           'ids', coalesce((SELECT jsonb_agg(f.instance ORDER BY f.instance)
                            FROM fresh f WHERE NOT f.is_worker), '[]'::jsonb),
           'workerIds', coalesce((SELECT jsonb_agg(f.instance ORDER BY f.instance)
                                  FROM fresh f WHERE f.is_worker), '[]'::jsonb),
           'latencyBins', coalesce((SELECT jsonb_object_agg(b.key, b.total) FROM bins b),
                                   '{}'::jsonb))
         || coalesce((SELECT jsonb_object_agg(s.key, s.total) FROM sums s), '{}'::jsonb)
  INTO v_out;
  RETURN v_out;
END
$$;
GRANT EXECUTE ON FUNCTION api.instance_figures() TO guestlist_web;

