-- Workers' batches (api.work_guest_jobs): jobs one after another in one
-- transaction, each in its own subtransaction, bounded by a count and a time
-- budget, saying whether claimable jobs are left (more); and a cancelled job
-- (statement timeout) counted as an attempt.
BEGIN;
SELECT plan(23);
\ir 00-fixture.psql

SELECT function_returns('api', 'work_guest_jobs', ARRAY['text', 'integer', 'integer'], 'jsonb');
SELECT is_definer('api', 'work_guest_jobs', ARRAY['text', 'integer', 'integer'],
                  'work_guest_jobs is a definer');
SELECT function_privs_are('api', 'work_guest_jobs', ARRAY['text', 'integer', 'integer'],
                          'guestlist_web', ARRAY['EXECUTE'], 'the web role may work batches');
SELECT function_privs_are('api', 'work_guest_jobs', ARRAY['text', 'integer', 'integer'],
                          'public', ARRAY[]::text[], 'PUBLIC may not');
SELECT function_privs_are('app', '_work_one_guest_job', ARRAY['text'], 'guestlist_web',
                          ARRAY[]::text[], 'the web role may not call the private one-job step');
SET LOCAL ROLE guestlist_web;
SELECT throws_ok($$SELECT app._work_one_guest_job('b')$$, '42501', NULL,
                 'the web role is refused app._work_one_guest_job');
RESET ROLE;

-- bad bounds: invalid_input, nothing claimed
SET LOCAL ROLE guestlist_web;
SELECT throws_ok($$SELECT api.work_guest_jobs('b', 0, 10)$$, 'PT400', NULL, 'max_jobs 0: refused');
SELECT throws_ok($$SELECT api.work_guest_jobs('b', 1001, 10)$$, 'PT400', NULL,
                 'max_jobs over 1000: refused');
SELECT throws_ok($$SELECT api.work_guest_jobs('b', NULL, 10)$$, 'PT400', NULL,
                 'max_jobs NULL: refused');
SELECT throws_ok($$SELECT api.work_guest_jobs('b', 5, -1)$$, 'PT400', NULL,
                 'a negative budget: refused');
SELECT is(api.work_guest_jobs('b'), NULL::jsonb, 'an empty queue: NULL');

-- five quick jobs (logins onto an event that does not exist: refused after one lookup)
-- and, in their middle, one that makes the seed function raise
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+35193588630' || i, 'password', 'Segredo123', 'event_id', gen_random_uuid()))
FROM generate_series(1, 3) i;
RESET ROLE;
INSERT INTO app.guest_jobs (kind, payload, dedupe_key)
VALUES ('login', '{"phone": "+351935886399", "event_id": "oops"}',
        sha256('broken-in-batch')) RETURNING id AS broken \gset
INSERT INTO app.guest_job_secrets (job_id, password, submit_hash)
VALUES (:'broken', 'Segredo123', sha256('broken-in-batch'));
SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+35193588631' || i, 'password', 'Segredo123', 'event_id', gen_random_uuid()))
FROM generate_series(1, 2) i;
SELECT api.work_guest_jobs('b', 50, 1000) AS batch \gset
RESET ROLE;
SELECT is(:'batch'::jsonb,
          '{"done": 6, "completed": 5, "delayed": 1, "failed": 0, "more": false}'::jsonb,
          'one call does all six claimable jobs; none left (the retry is not due yet)');
SELECT is((SELECT count(*)::int FROM app.guest_jobs j
           WHERE status = 'completed' AND result ->> 'code' = 'event_not_found'
             AND NOT EXISTS (SELECT 1 FROM app.guest_job_secrets s WHERE s.job_id = j.id)
             AND worker = 'b'), 5,
          'the five refusals completed, passwords erased');
SELECT ok((SELECT status = 'delayed' AND attempts = 1
                  AND EXISTS (SELECT 1 FROM app.guest_job_secrets s WHERE s.job_id = :'broken')
           FROM app.guest_jobs WHERE id = :'broken'),
          'the raising job is delayed for a retry, the others'' work kept');
SELECT is(app._pending_jobs(), 1::bigint, 'the pending counter: the delayed job only');

-- the count bound and the time budget
SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+35193588632' || i, 'password', 'Segredo123', 'event_id', gen_random_uuid()))
FROM generate_series(1, 4) i;
SELECT api.work_guest_jobs('b', 2, 1000) AS two \gset
SELECT is((:'two'::jsonb ->> 'done')::int, 2, 'max_jobs 2: two jobs');
SELECT is((:'two'::jsonb ->> 'more')::boolean, true, '… and more are claimable');
SELECT is((api.work_guest_jobs('b', 50, 0) ->> 'done')::int, 1,
          'a budget of 0 ms: one job per call');
SELECT is(api.work_guest_jobs('b', 50, 1000) - 'completed' - 'delayed' - 'failed',
          '{"done": 1, "more": false}'::jsonb, 'the last one, and none left');
-- a bcrypt cost-10 job takes far more than 1 ms: it ends its batch
SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '+35193588633' || i, 'first_name', 'Ana', 'last_name', 'Silva',
  'email', 'ana' || i || '@example.pt', 'password', 'Segredo123', 'event_id', :'ev'))
FROM generate_series(1, 2) i;
SELECT is(api.work_guest_jobs('b', 50, 1) - 'done',
          '{"completed": 1, "delayed": 0, "failed": 0, "more": true}'::jsonb,
          'a slow job ends its batch: the next waits for the next transaction');
RESET ROLE;

-- a job cancelled mid-work (statement timeout during the cost-10 hash) is an attempt
SET LOCAL statement_timeout = '20ms';
SELECT api.work_guest_job('b') ->> 'status' AS cancelled \gset
SET LOCAL statement_timeout = 0;
SELECT is(:'cancelled'::text, 'delayed', 'a statement timeout mid-job: the job is delayed');
SELECT ok((SELECT attempts = 1 AND run_at > now()
                  AND EXISTS (SELECT 1 FROM app.guest_job_secrets s WHERE s.job_id = j.id)
           FROM app.guest_jobs j WHERE kind = 'register' AND status = 'delayed'),
          '… with the attempt counted, to be retried');
SELECT is((SELECT count(*)::int FROM app.client_users WHERE phone LIKE '+35193588633_'), 1,
          '… and none of its work kept (one account: the job before it)');

SELECT * FROM finish();
ROLLBACK;
