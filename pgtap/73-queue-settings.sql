-- The queue's and the erasure log's bounds (how deep the queue may grow, how
-- long a pending job's password and a finished job's result are kept, how long
-- an erasure keeps its subject key) are rows of app.settings. The web role may
-- call api.cleanup and api.enqueue_guest_job, so a GUC it can SET must not
-- move them: it could expire every queued job, wipe every finished result,
-- lift the queue's ceiling or strip the keys that erase accounts again after a
-- backup is restored.
BEGIN;
SELECT plan(12);
\ir 00-fixture.psql

SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912345680', 'password', 'Segredo123', 'event_id', :'ev')) AS pending \gset
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912345681', 'password', 'Segredo123', 'event_id', :'ev')) AS done \gset
RESET ROLE;
UPDATE app.guest_jobs SET status = 'completed', finished_at = now() - interval '30 minutes',
                          result = '{"success": false, "code": "invalid_credentials"}'
WHERE id = (:'done'::jsonb ->> 'jobId')::uuid;
UPDATE app.guest_jobs SET created_at = now() - interval '5 minutes'
WHERE id = (:'pending'::jsonb ->> 'jobId')::uuid;
INSERT INTO app.erasures (reason, subject_key, counts, erased_at)
VALUES ('guest_request', sha256('x'), '{"accounts": 1}', now() - interval '10 days');

-- the web role sets the old GUCs to their most harmful values, then runs the cleanup
SET LOCAL ROLE guestlist_web;
SET LOCAL guestlist.job_pending_max_age = '0';
SET LOCAL guestlist.job_retention = '0';
SET LOCAL guestlist.erasure_key_retention = '0';
SET LOCAL guestlist.queue_max_depth = '1';
SELECT lives_ok($$SELECT api.enqueue_guest_job('login', jsonb_build_object(
                  'phone', '+351912345682', 'password', 'Segredo123', 'event_id', $$
                || quote_literal(:'ev') || $$))$$,
                'SET guestlist.queue_max_depth = 1 as the web role does not shrink the queue');
SELECT lives_ok('SELECT api.cleanup()', 'the web role runs the cleanup');
RESET ROLE;
SELECT is((SELECT status FROM app.guest_jobs WHERE id = (:'pending'::jsonb ->> 'jobId')::uuid),
          'waiting', '… which leaves a 5-minute-old pending job waiting');
SELECT is((SELECT count(*)::int FROM app.guest_job_secrets
           WHERE job_id = (:'pending'::jsonb ->> 'jobId')::uuid), 1, '… with its password');
SELECT is((SELECT count(*)::int FROM app.guest_jobs
           WHERE id = (:'done'::jsonb ->> 'jobId')::uuid), 1,
          '… keeps a result finished 30 minutes ago for its poller');
SELECT is((SELECT count(*)::int FROM app.erasures WHERE subject_key IS NOT NULL), 1,
          '… and keeps a 10-day-old erasure''s subject key');

-- the database's settings do move them
SELECT admin.set_setting('job_pending_max_age_seconds', '120');
SELECT admin.set_setting('job_retention_seconds', '600');
SELECT admin.set_setting('erasure_key_retention_days', '7');
SELECT lives_ok('SELECT api.cleanup()', 'a cleanup under the database''s settings');
SELECT is((SELECT result ->> 'code' FROM app.guest_jobs
           WHERE id = (:'pending'::jsonb ->> 'jobId')::uuid),
          'job_expired', 'job_pending_max_age_seconds = 120 expires the 5-minute-old job');
SELECT is((SELECT count(*)::int FROM app.guest_jobs
           WHERE id = (:'done'::jsonb ->> 'jobId')::uuid), 0,
          'job_retention_seconds = 600 deletes the 30-minute-old result');
SELECT is((SELECT count(*)::int FROM app.erasures WHERE subject_key IS NOT NULL), 0,
          'erasure_key_retention_days = 7 strips the 10-day-old key');
SELECT admin.set_setting('queue_max_depth', '1');
SELECT throws_ok(format($$SELECT api.enqueue_guest_job('login', '{"phone": "+351912345683",
                 "password": "x", "event_id": "%s"}')$$, :'ev'),
                 'PT503', NULL, 'queue_max_depth = 1: queue_full');
SELECT throws_ok($$SELECT admin.set_setting('queue_max_depth', '0')$$, 'PT400', NULL,
                 'a queue that takes nothing is refused');

SELECT * FROM finish();
ROLLBACK;
