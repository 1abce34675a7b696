SET LOCAL ROLE guestlist_owner;

-- Queue figures for GET /api/admin/metrics, GET /metrics and the load monitor, in one call:
-- pending jobs by state (api.queue_depth's definitions: the autoscaler and the dashboard see
-- the same numbers), jobs finished in the last minute by outcome with the p50/p95 time from
-- enqueue to finish (ms), the finished jobs still kept in the table, and the same minute's
-- jobs per 5-second bucket ([bucket start epoch, completed, failed]; the app keeps the history).
-- Reads status and timestamps only: never payload, result, error, worker or client_key.
-- Cost: api.queue_depth (16 counter rows, due retries, pg_locks) + the finished rows through
-- guest_jobs_finished_idx (bounded by job_retention_seconds).
CREATE OR REPLACE FUNCTION api.queue_metrics()
RETURNS jsonb
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH recent AS (  -- finished within the last minute: an index range on finished_at
    SELECT j.status,
           (pg_catalog.floor(extract(epoch FROM j.finished_at) / 5) * 5)::bigint AS bucket,
           extract(epoch FROM j.finished_at - j.created_at) * 1000 AS took_ms
    FROM app.guest_jobs j
    WHERE j.finished_at > now() - interval '1 minute'
  ),
  last_minute AS (
    SELECT count(*) FILTER (WHERE r.status = 'completed') AS completed,
           count(*) FILTER (WHERE r.status = 'failed') AS failed,
           percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY r.took_ms) AS took
    FROM recent r
  ),
  buckets AS (
    SELECT r.bucket,
           count(*) FILTER (WHERE r.status = 'completed') AS completed,
           count(*) FILTER (WHERE r.status = 'failed') AS failed
    FROM recent r
    GROUP BY r.bucket
  ),
  kept AS (  -- finished jobs still in the table (api.cleanup drops them after job_retention)
    SELECT count(*) FILTER (WHERE j.status = 'completed') AS completed,
           count(*) FILTER (WHERE j.status = 'failed') AS failed
    FROM app.guest_jobs j
    WHERE j.finished_at IS NOT NULL
  )
  SELECT pg_catalog.jsonb_build_object(
    'at', extract(epoch FROM now()),
    'waiting', (d.depth ->> 'waiting')::bigint,
    'active', (d.depth ->> 'active')::bigint,
    'delayed', (d.depth ->> 'delayed')::bigint,
    'completedLastMinute', m.completed,
    'failedLastMinute', m.failed,
    'finishedLastMinute', m.completed + m.failed,
    'p50Ms', pg_catalog.round(m.took[1]::numeric, 1),
    'p95Ms', pg_catalog.round(m.took[2]::numeric, 1),
    'totalCompleted', k.completed,
    'totalFailed', k.failed,
    'finished', coalesce(
      (SELECT pg_catalog.jsonb_agg(
                pg_catalog.jsonb_build_array(b.bucket, b.completed, b.failed) ORDER BY b.bucket)
       FROM buckets b),
      '[]'::jsonb))
  FROM (SELECT api.queue_depth() AS depth) d, last_minute m, kept k
$$;
GRANT EXECUTE ON FUNCTION api.queue_metrics() TO guestlist_web;
