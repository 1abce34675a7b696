-- api.queue_metrics: the queue's figures for the metrics routes and the load monitor.
BEGIN;
SELECT plan(17);

SELECT function_returns('api', 'queue_metrics', ARRAY[]::text[], 'jsonb');
SELECT is_definer('api', 'queue_metrics', ARRAY[]::text[], 'queue_metrics is SECURITY DEFINER');
SELECT function_privs_are('api', 'queue_metrics', ARRAY[]::text[], 'guestlist_web',
                          ARRAY['EXECUTE'], 'the web role may execute queue_metrics');
SELECT function_privs_are('api', 'queue_metrics', ARRAY[]::text[], 'public',
                          ARRAY[]::text[], 'PUBLIC may not');

SELECT is(api.queue_metrics() - 'at',
          '{"waiting": 0, "active": 0, "delayed": 0, "completedLastMinute": 0,
            "failedLastMinute": 0, "finishedLastMinute": 0, "p50Ms": null, "p95Ms": null,
            "totalCompleted": 0, "totalFailed": 0, "finished": []}'::jsonb,
          'an empty queue: zeros, no latency, no buckets');

-- Two waiting jobs, a retry not yet due, four jobs finished in the last minute (1 to 4 s
-- after they were queued; one of them failed), one completed 5 minutes ago, one failed two
-- hours ago. Payloads and client keys hold personal data the figures must never carry.
INSERT INTO app.guest_jobs (kind, status, payload, dedupe_key, client_key, run_at,
                            created_at, finished_at, attempts)
VALUES
  ('login', 'waiting', '{"phone": "+351912345601"}',
   sha256('w1'), '203.0.113.71', now(), now(), NULL, 0),
  ('login', 'waiting', '{"phone": "+351912345602"}',
   sha256('w2'), '203.0.113.72', now(), now(), NULL, 0),
  ('login', 'delayed', '{"phone": "+351912345603"}',
   sha256('d1'), '203.0.113.73', now() + interval '1 minute', now(), NULL, 1),
  ('register', 'completed', '{"phone": "+351912345604"}', sha256('c1'), '203.0.113.74', now(),
   now() - interval '11 seconds', now() - interval '10 seconds', 1),
  ('register', 'completed', '{"phone": "+351912345605"}', sha256('c2'), '203.0.113.75', now(),
   now() - interval '22 seconds', now() - interval '20 seconds', 1),
  ('register', 'completed', '{"phone": "+351912345606"}', sha256('c3'), '203.0.113.76', now(),
   now() - interval '33 seconds', now() - interval '30 seconds', 1),
  ('login', 'failed', '{"phone": "+351912345607"}', sha256('f1'), '203.0.113.77', now(),
   now() - interval '44 seconds', now() - interval '40 seconds', 3),
  ('login', 'completed', '{"phone": "+351912345608"}', sha256('c4'), '203.0.113.78', now(),
   now() - interval '301 seconds', now() - interval '300 seconds', 1),
  ('login', 'failed', '{"phone": "+351912345609"}', sha256('f2'), '203.0.113.79', now(),
   now() - interval '2 hours', now() - interval '2 hours', 3);

SELECT api.queue_metrics() AS m \gset
SELECT is(:'m'::jsonb -> 'waiting', '2', 'two jobs wait');
SELECT is(:'m'::jsonb -> 'delayed', '1', 'one retry is not yet due');
SELECT is(:'m'::jsonb -> 'active', '0', 'no worker holds a job');
SELECT is(:'m'::jsonb - 'at' - 'waiting' - 'active' - 'delayed' - 'finished',
          '{"completedLastMinute": 3, "failedLastMinute": 1, "finishedLastMinute": 4,
            "p50Ms": 2500.0, "p95Ms": 3850.0, "totalCompleted": 4, "totalFailed": 2}'::jsonb,
          'last minute: 3 completed, 1 failed, enqueue→finish p50 2.5 s and p95 3.85 s; '
          || 'kept in the table: 4 completed, 2 failed');
SELECT is((SELECT array[sum((b ->> 1)::int), sum((b ->> 2)::int)]
           FROM jsonb_array_elements(:'m'::jsonb -> 'finished') b),
          array[3, 1]::bigint[], 'the 5-second buckets add up to the last minute');
SELECT ok((SELECT bool_and((b ->> 0)::bigint % 5 = 0
                           AND (b ->> 0)::bigint > extract(epoch FROM now()) - 65)
           FROM jsonb_array_elements(:'m'::jsonb -> 'finished') b),
          'buckets start on 5-second boundaries within the last minute');

-- A worker holds the oldest waiting job (its advisory lock, as api.work_guest_job takes it).
SELECT pg_advisory_xact_lock(7040, app._job_lock_key(j.id)) IS NOT NULL AS held
FROM app.guest_jobs j WHERE j.dedupe_key = sha256('w1') \gset
SELECT is(api.queue_metrics() -> 'active', '1', 'a job a worker holds counts as active');
SELECT is(api.queue_metrics() -> 'waiting', '1', '… and no longer as waiting');

SELECT unalike(:'m'::text, '%+3519123456%', 'no phone number in the figures');
SELECT unalike(:'m'::text, '%203.0.113.%', 'no client key in the figures');
SELECT ok((SELECT p.prosrc !~* '(payload|client_key|result|error|worker)'
           FROM pg_catalog.pg_proc p
           WHERE p.oid = 'api.queue_metrics()'::regprocedure),
          'queue_metrics reads no payload, result, error, worker or client key column');

SET LOCAL ROLE guestlist_web;
SELECT lives_ok('SELECT api.queue_metrics()', 'the web role gets the figures');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
