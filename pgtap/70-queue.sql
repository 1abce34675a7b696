-- The guest job queue: enqueue (validation, duplicates, depth limit, rate
-- limit), work (completion, refusals, retries with backoff, dead letter,
-- passwords erased), status, depth, the pending counter, cleanup, privileges.
BEGIN;
SELECT plan(66);
\ir 00-fixture.psql

-- structure and privileges
SELECT has_table('app', 'guest_jobs', 'app.guest_jobs exists');
SELECT col_is_pk('app', 'guest_jobs', 'id', 'jobs are keyed by a uuid');
SELECT has_index('app', 'guest_jobs', 'guest_jobs_claim_idx', 'a partial index for the claim');
SELECT has_index('app', 'guest_jobs', 'guest_jobs_finished_idx', 'an index for cleanup');
SELECT function_returns('api', 'enqueue_guest_job', ARRAY['text', 'jsonb', 'text', 'text'], 'jsonb');
SELECT function_returns('api', 'work_guest_job', ARRAY['text'], 'jsonb');
SELECT function_returns('api', 'guest_job_status', ARRAY['uuid', 'text', 'text'], 'jsonb');
SELECT function_returns('api', 'queue_depth', ARRAY[]::text[], 'jsonb');
SELECT is_definer('api', 'enqueue_guest_job', ARRAY['text', 'jsonb', 'text', 'text'], 'enqueue is a definer');
SELECT is_definer('api', 'work_guest_job', ARRAY['text'], 'work is a definer');
SELECT is_definer('api', 'guest_job_status', ARRAY['uuid', 'text', 'text'], 'status is a definer');
SELECT is_definer('api', 'queue_depth', ARRAY[]::text[], 'depth is a definer');
SELECT function_privs_are('api', 'enqueue_guest_job', ARRAY['text', 'jsonb', 'text', 'text'],
                          'guestlist_web', ARRAY['EXECUTE'], 'the web role may enqueue');
SELECT function_privs_are('api', 'work_guest_job', ARRAY['text'], 'guestlist_web',
                          ARRAY['EXECUTE'], 'the web role may work jobs');
SELECT function_privs_are('api', 'guest_job_status', ARRAY['uuid', 'text', 'text'], 'guestlist_web',
                          ARRAY['EXECUTE'], 'the web role may read a job''s status');
SELECT function_privs_are('api', 'queue_depth', ARRAY[]::text[], 'guestlist_web',
                          ARRAY['EXECUTE'], 'the web role may read the depth');
SELECT function_privs_are('api', 'work_guest_job', ARRAY['text'], 'public', ARRAY[]::text[],
                          'PUBLIC may not work jobs');
SELECT function_privs_are('app', '_cleanup_jobs', ARRAY[]::text[], 'guestlist_web',
                          ARRAY[]::text[], 'the web role may not call the private cleanup');
SELECT table_privs_are('app', 'guest_jobs', 'guestlist_web', ARRAY[]::text[],
                       'the web role has no privilege on app.guest_jobs');
SET LOCAL ROLE guestlist_web;
SELECT throws_ok('SELECT count(*) FROM app.guest_jobs', '42501', NULL,
                 'the web role cannot read app.guest_jobs');
RESET ROLE;

-- enqueue: a job, its duplicate, another kind
SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '+351 935 886 310', 'first_name', 'Ana', 'last_name', 'Silva', 'email', 'ana@example.pt',
  'password', 'Segredo123', 'event_id', :'ev', 'promoter_id', :'pr', 'team_id', :'tm',
  'birth_date', '1995-04-01', 'unknown_key', 'dropped')) AS reg \gset
SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '00351935886310', 'first_name', 'Ana', 'last_name', 'Silva', 'email', 'ana@example.pt',
  'password', 'Segredo123', 'event_id', :'ev', 'promoter_id', :'pr', 'team_id', :'tm',
  'birth_date', '1995-04-01')) AS dup \gset
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351935886310', 'password', 'Errada123', 'event_id', :'ev')) AS wrong \gset
RESET ROLE;
SELECT is(:'reg'::jsonb - 'jobId' - 'jobToken', '{"duplicate": false, "estimatedSeconds": 1}'::jsonb,
          'a new job: not a duplicate, an estimate in seconds');
SELECT is(:'dup'::jsonb ->> 'jobId', :'reg'::jsonb ->> 'jobId',
          'the same submission (the phone spelt otherwise) while pending: the first job''s id');
SELECT is((:'dup'::jsonb ->> 'duplicate')::boolean, true, '… flagged as a duplicate');
SELECT isnt(:'wrong'::jsonb ->> 'jobId', :'reg'::jsonb ->> 'jobId', 'a login is another job');
SELECT is((SELECT payload FROM app.guest_jobs WHERE id = (:'reg'::jsonb ->> 'jobId')::uuid),
          jsonb_build_object('phone', '+351935886310', 'first_name', 'Ana', 'last_name', 'Silva',
                             'email', 'ana@example.pt',
                             'event_id', :'ev', 'promoter_id', :'pr', 'team_id', :'tm',
                             'birth_date', '1995-04-01'),
          'the payload: the function''s parameters only, the phone in E.164, no password');
SELECT is((SELECT count(*)::int FROM app.guest_jobs), 2, 'two jobs queued');
SELECT is(app._pending_jobs(), 2::bigint, 'the pending counter follows');
SELECT is(api.queue_depth(), '{"waiting": 2, "active": 0, "delayed": 0}'::jsonb, 'depth: two wait');

-- enqueue refusals
SELECT throws_ok($$SELECT api.enqueue_guest_job('register', '{"phone": "x", "email": 3}')$$,
                 'PT400', NULL, 'an invalid register body is refused before the queue');
SELECT is((SELECT count(*)::int FROM app.guest_jobs), 2, '… and queues nothing');
SELECT throws_ok($$SELECT api.enqueue_guest_job('login', '{"phone": "+351935886310"}')$$,
                 'PT400', NULL, 'a login without password or event is refused');
SELECT throws_ok($$SELECT api.enqueue_guest_job('checkin', '{}')$$, 'PT400', NULL,
                 'an unknown kind is refused');
-- the payload's birth date: a date, or NULL (then reported as invalid)
SELECT is(app._try_date('1995-04-01'), date '1995-04-01', 'a birth date is read as a date');
SELECT is(app._try_date('2023-02-30'), NULL, 'a day past the month''s end is not a date');
SELECT is(app._try_date('1995-13-01'), NULL, 'nor is a 13th month');
SELECT is(app._try_date('01/04/1995'), NULL, 'nor another format');
SELECT is(app._try_date(NULL), NULL, 'no birth date: NULL');
SELECT throws_ok(format($$SELECT api.enqueue_guest_job('login', '{"phone": "+351935886311",
                 "password": "x", "event_id": "%s", "team_id": "not-a-uuid"}')$$, :'ev'),
                 'PT400', NULL, 'a malformed id is refused');
SELECT admin.set_setting('queue_max_depth', '2');
SELECT throws_ok(format($$SELECT api.enqueue_guest_job('login', '{"phone": "+351935886311",
                 "password": "x", "event_id": "%s"}')$$, :'ev'),
                 'PT503', NULL, 'past the setting queue_max_depth: queue_full');
SELECT is(api.enqueue_guest_job('login', jsonb_build_object(
            'phone', '+351935886310', 'password', 'Errada123', 'event_id', :'ev')) ->> 'jobId',
          :'wrong'::jsonb ->> 'jobId', 'a full queue still answers a duplicate with its job');
SELECT admin.set_setting('queue_max_depth', NULL);
SELECT admin.set_setting('rate_limit.login', '1');
SELECT lives_ok(format($$SELECT api.enqueue_guest_job('login', '{"phone": "+351935886312",
                "password": "x", "event_id": "%s"}', '198.51.100.9')$$, :'ev'),
                'the first enqueue of a client in a minute passes');
SELECT throws_ok(format($$SELECT api.enqueue_guest_job('login', '{"phone": "+351935886313",
                 "password": "x", "event_id": "%s"}', '198.51.100.9')$$, :'ev'),
                 'PT429', NULL, 'the second is rate-limited');
SELECT admin.set_setting('rate_limit.login', NULL);

-- work: the register completes, the wrong password completes as a refusal
-- (queued in one transaction, the jobs share now(): spread their run_at to fix the order)
UPDATE app.guest_jobs SET run_at = now() - interval '3 s' WHERE id = (:'reg'::jsonb ->> 'jobId')::uuid;
UPDATE app.guest_jobs SET run_at = now() - interval '2 s' WHERE id = (:'wrong'::jsonb ->> 'jobId')::uuid;
SET LOCAL ROLE guestlist_web;
SELECT api.work_guest_job('w1') AS w1 \gset
SELECT api.work_guest_job('w1') AS w2 \gset
SELECT api.work_guest_job('w1') AS w3 \gset
SELECT api.guest_job_status((:'reg'::jsonb ->> 'jobId')::uuid, :'reg'::jsonb ->> 'jobToken') AS st \gset
RESET ROLE;
SELECT is(:'w1'::jsonb, jsonb_build_object('jobId', :'reg'::jsonb ->> 'jobId', 'status', 'completed'),
          'the oldest job is done first and completes');
SELECT is(:'w2'::jsonb ->> 'status', 'completed', 'the wrong password completes too');
SELECT is(:'w3'::jsonb ->> 'status', 'completed', 'the rate-limit test''s job completes');
SELECT is(api.work_guest_job('w1'), NULL::jsonb, 'nothing left: NULL');
SELECT ok(:'st'::jsonb ?& ARRAY['id', 'status', 'result', 'error', 'createdAt', 'processedAt',
                               'finishedAt'], 'status has the seed''s keys');
SELECT is(:'st'::jsonb #>> '{result,success}', 'true', 'the result is the guest pass');
SELECT matches(:'st'::jsonb #>> '{result,qr_code}', '^[0-9a-f]{32}$', '… with its QR code');
SELECT is((SELECT count(*)::int FROM app.guests g JOIN app.client_users cu ON cu.id = g.client_user_id
           WHERE cu.phone = '+351935886310' AND g.team_id = :'tm'), 1, 'one guest, attributed');
SELECT is((SELECT row(status, attempts, result ->> 'code', worker)::text FROM app.guest_jobs
           WHERE id = (:'wrong'::jsonb ->> 'jobId')::uuid),
          row('completed', 1, 'invalid_credentials', 'w1')::text,
          'a wrong password: completed once with the refusal, not retried');
SELECT is((SELECT count(*)::int FROM app.guest_job_secrets), 0,
          'no finished job keeps a password, even in the side table');
SELECT matches(:'st'::jsonb #>> '{result,session_token}', '^[0-9a-f]{64}$',
               'the first poll of a finished job with its token opens a session');
SELECT ok(NOT (api.guest_job_status((:'reg'::jsonb ->> 'jobId')::uuid, :'reg'::jsonb ->> 'jobToken')
               -> 'result' ? 'session_token'),
          'the next poll by that token does not');

-- an unexpected error: delayed 1 s, then 2 s, then failed (dead letter)
INSERT INTO app.guest_jobs (kind, payload, dedupe_key)
VALUES ('login', '{"phone": "+351935886399", "event_id": "oops"}',
        sha256('broken')) RETURNING id AS broken \gset
INSERT INTO app.guest_job_secrets (job_id, password, submit_hash)
VALUES (:'broken', 'Segredo123', sha256('broken'));
SELECT api.work_guest_job('w2') ->> 'status' AS s1 \gset
SELECT is(:'s1'::text, 'delayed', 'an unexpected error delays the job');
SELECT ok((SELECT run_at - clock_timestamp() BETWEEN interval '0.5 s' AND interval '1 s'
                  AND attempts = 1
                  AND EXISTS (SELECT 1 FROM app.guest_job_secrets WHERE job_id = :'broken')
           FROM app.guest_jobs WHERE id = :'broken'),
          'first retry in 1 s, password kept for it');
SELECT is(api.work_guest_job('w2'), NULL::jsonb, 'a delayed job is not claimed before its time');
UPDATE app.guest_jobs SET run_at = now() - interval '1 ms' WHERE id = :'broken';
SELECT api.work_guest_job('w2') ->> 'status' AS s2 \gset
SELECT ok((SELECT :'s2' = 'delayed' AND attempts = 2
                  AND run_at - clock_timestamp() BETWEEN interval '1.5 s' AND interval '2 s'
           FROM app.guest_jobs WHERE id = :'broken'), 'second retry in 2 s');
-- (active is left out: this one transaction still holds the advisory locks of every job
-- it worked, which a worker's one-job transactions release at commit)
SELECT is(api.queue_depth() - 'active', '{"waiting": 0, "delayed": 1}'::jsonb,
          'depth: one delayed');
UPDATE app.guest_jobs SET run_at = now() - interval '1 ms' WHERE id = :'broken';
SELECT is(api.work_guest_job('w2') ->> 'status', 'failed', 'after max_attempts: failed');
SELECT ok((SELECT finished_at IS NOT NULL AND result IS NULL
                  AND error = 'Não foi possível processar o pedido. Tenta novamente.'
                  AND NOT EXISTS (SELECT 1 FROM app.guest_job_secrets WHERE job_id = :'broken')
           FROM app.guest_jobs WHERE id = :'broken'),
          'the dead letter: no password, finished, a generic message only');
SELECT is(app._pending_jobs(), 0::bigint, 'the pending counter is back to zero');

-- status of an unknown job; depth; cleanup
SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format('SELECT api.guest_job_status(%L, %L)', gen_random_uuid(),
                        :'reg'::jsonb ->> 'jobToken'), 'PT404', NULL,
                 'an unknown job: job_not_found');
RESET ROLE;
UPDATE app.guest_jobs SET finished_at = now() - interval '2 hours' WHERE id = :'broken';
SELECT is(app._cleanup_jobs(), 1::bigint, 'cleanup deletes a job finished 2 hours ago');
UPDATE app.guest_jobs SET finished_at = now() - interval '10 minutes';
SELECT admin.set_setting('job_retention_seconds', '300');
SELECT is((api.cleanup() ->> 'jobs')::int, 3, 'api.cleanup counts jobs past a shorter retention');
SELECT is((SELECT count(*)::int FROM app.guest_jobs), 0, 'the finished jobs are gone');

SELECT * FROM finish();
ROLLBACK;
