-- A queued job belongs to its submitter: a job token per submission, the
-- status readable with it only (anyone else: job_not_found, as for an unknown
-- id), a second client's submission for the same phone never joins the first's
-- job, the session opened when the owner reads the result (no raw session
-- token stored), passwords only in the unlogged side table and gone when the
-- job ends, a job whose secret is gone or that waited too long fails as
-- job_expired, and status is rate-limited.
BEGIN;
SELECT plan(49);
\ir 00-fixture.psql

-- structure and privileges
SELECT has_table('app', 'guest_job_secrets', 'pending jobs'' secrets have a table of their own');
SELECT is((SELECT relpersistence::text FROM pg_class WHERE oid = 'app.guest_job_secrets'::regclass),
          'u', '… which is UNLOGGED: a password never reaches the WAL');
SELECT has_table('app', 'guest_job_tokens', 'job tokens (their hashes) have a table');
SELECT table_privs_are('app', 'guest_job_secrets', 'guestlist_web', ARRAY[]::text[],
                       'the web role has no privilege on the secrets');
SELECT table_privs_are('app', 'guest_job_tokens', 'guestlist_web', ARRAY[]::text[],
                       'nor on the tokens');
SELECT hasnt_function('api', 'guest_job_status', ARRAY['uuid'],
                      'the status read without a token is gone');

-- (a) with no worker running, client 1 queues a registration; client 2 queues one for the
-- same phone and event with another password and other names; client 1's page retries
SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '+351912345670', 'first_name', 'Ana', 'last_name', 'Silva', 'email', 'ana@example.pt',
  'password', 'Segredo123', 'event_id', :'ev'), '203.0.113.1') AS c1 \gset
SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '+351 912 345 670', 'first_name', 'Mal', 'last_name', 'Feitor', 'email', 'mal@example.pt',
  'password', 'Outra12345', 'event_id', :'ev'), '203.0.113.2') AS c2 \gset
SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '00351912345670', 'first_name', 'Ana', 'last_name', 'Silva', 'email', 'ana@example.pt',
  'password', 'Segredo123', 'event_id', :'ev'), '203.0.113.1') AS c1again \gset
RESET ROLE;
SELECT isnt(:'c2'::jsonb ->> 'jobId', :'c1'::jsonb ->> 'jobId',
            'another password and names for the same phone: not the first job');
SELECT is((:'c2'::jsonb ->> 'duplicate')::boolean, false, '… a job of its own');
SELECT matches(:'c1'::jsonb ->> 'jobToken', '^[A-Za-z0-9_-]{32}$',
               'a job token: 32 base64url characters (192 bits)');
SELECT is(:'c1again'::jsonb ->> 'jobId', :'c1'::jsonb ->> 'jobId',
          'the submitter''s identical retry joins its pending job');
SELECT ok((:'c1again'::jsonb ->> 'duplicate')::boolean
          AND :'c1again'::jsonb ->> 'jobToken' <> :'c1'::jsonb ->> 'jobToken',
          '… flagged a duplicate, with a token of its own');
SELECT is((SELECT count(*)::int FROM app.guest_job_tokens
           WHERE token_hash IN (sha256(convert_to(:'c1'::jsonb ->> 'jobToken', 'UTF8')),
                                sha256(convert_to(:'c1again'::jsonb ->> 'jobToken', 'UTF8')),
                                sha256(convert_to(:'c2'::jsonb ->> 'jobToken', 'UTF8')))),
          3, 'only the tokens'' sha256 are stored');
SELECT is((SELECT count(*)::int FROM app.guest_job_tokens
           WHERE position(convert_to(:'c1'::jsonb ->> 'jobToken', 'UTF8') IN token_hash) > 0),
          0, '… never a token itself');

-- the password: in the unlogged side table only, while the job is pending
SELECT is((SELECT count(*)::int FROM app.guest_jobs j
           WHERE row_to_json(j)::text LIKE '%Segredo123%' OR row_to_json(j)::text LIKE '%Outra12345%'),
          0, 'no pending job row holds a password');
SELECT is((SELECT array_agg(password ORDER BY password) FROM app.guest_job_secrets),
          ARRAY['Outra12345', 'Segredo123'], 'the side table holds the two pending passwords');

-- (b) client 2 reads client 1's job: without a token, with its own, with a made-up one
SET LOCAL ROLE guestlist_web;
SELECT throws_ok(format('SELECT api.guest_job_status(%L, NULL)', :'c1'::jsonb ->> 'jobId'),
                 'PT404', 'Pedido não encontrado. Submete o formulário novamente.', 'no token: job_not_found');
SELECT throws_ok(format('SELECT api.guest_job_status(%L, %L)', :'c1'::jsonb ->> 'jobId',
                        :'c2'::jsonb ->> 'jobToken'),
                 'PT404', 'Pedido não encontrado. Submete o formulário novamente.', 'another job''s token: job_not_found');
SELECT throws_ok(format('SELECT api.guest_job_status(%L, %L)', :'c1'::jsonb ->> 'jobId',
                        repeat('A', 32)),
                 'PT404', 'Pedido não encontrado. Submete o formulário novamente.', 'a made-up token: job_not_found');
SELECT throws_ok(format('SELECT api.guest_job_status(%L, %L)', gen_random_uuid(),
                        :'c1'::jsonb ->> 'jobToken'),
                 'PT404', 'Pedido não encontrado. Submete o formulário novamente.', 'an unknown id: the very same answer');
SELECT is(api.guest_job_status((:'c1'::jsonb ->> 'jobId')::uuid, :'c1'::jsonb ->> 'jobToken')
          - 'createdAt', jsonb_build_object('id', :'c1'::jsonb ->> 'jobId', 'status', 'waiting',
          'result', NULL, 'error', NULL, 'processedAt', NULL, 'finishedAt', NULL),
          'the owner''s token reads the job, still waiting');
RESET ROLE;

-- the workers do both jobs (client 1's first)
UPDATE app.guest_jobs SET run_at = now() - interval '2 s' WHERE id = (:'c1'::jsonb ->> 'jobId')::uuid;
UPDATE app.guest_jobs SET run_at = now() - interval '1 s' WHERE id = (:'c2'::jsonb ->> 'jobId')::uuid;
SET LOCAL ROLE guestlist_web;
SELECT api.work_guest_jobs('w', 10, 1000) ->> 'completed' AS worked \gset
RESET ROLE;
SELECT is(:'worked'::int, 2, 'both jobs completed');
SELECT is((SELECT count(*)::int FROM app.guest_jobs j
           WHERE j.result ? 'session_token'
              OR (to_jsonb(j) - 'dedupe_key')::text ~ '[0-9a-f]{64}'), 0,
          'a completed job stores no session token (nothing of its 64 hex digits)');
SELECT is((SELECT count(*)::int FROM app.guest_sessions s JOIN app.client_users cu
           ON cu.id = s.client_user_id WHERE cu.phone = '+351912345670'), 0,
          '… and no session exists before its owner reads the result');
SELECT is((SELECT count(*)::int FROM app.guest_job_secrets), 0,
          'finishing a job deletes its secret');
SELECT is((SELECT count(*)::int FROM app.guest_jobs j
           WHERE row_to_json(j)::text LIKE '%Segredo123%' OR row_to_json(j)::text LIKE '%Outra12345%'),
          0, 'no finished job row holds a password');

SET LOCAL ROLE guestlist_web;
SELECT api.guest_job_status((:'c2'::jsonb ->> 'jobId')::uuid, :'c2'::jsonb ->> 'jobToken') AS st2 \gset
SELECT api.guest_job_status((:'c1'::jsonb ->> 'jobId')::uuid, :'c1'::jsonb ->> 'jobToken') AS st1 \gset
SELECT api.guest_job_status((:'c1'::jsonb ->> 'jobId')::uuid, :'c1'::jsonb ->> 'jobToken') AS st1b \gset
SELECT api.guest_job_status((:'c1'::jsonb ->> 'jobId')::uuid, :'c1again'::jsonb ->> 'jobToken') AS st1c \gset
RESET ROLE;
SELECT is((:'st2'::jsonb -> 'result') - 'error', '{"success": false, "code": "phone_exists"}'::jsonb,
          'client 2 gets its own job''s answer: the phone is taken');
SELECT is((SELECT first_name FROM app.client_users WHERE phone = '+351912345670'), 'Ana',
          'the account is the real guest''s');
SELECT ok(:'st1'::jsonb #>> '{result,success}' = 'true'
          AND :'st1'::jsonb #>> '{result,qr_code}' ~ '^[0-9a-f]{32}$',
          'the owner gets the guest pass');
SELECT is((SELECT s.client_user_id FROM app.guest_sessions s
           WHERE s.token_hash = sha256(decode(:'st1'::jsonb #>> '{result,session_token}', 'hex'))),
          (SELECT id FROM app.client_users WHERE phone = '+351912345670'),
          '… and, on that first read, a session of the guest''s');
SELECT ok(NOT (:'st1b'::jsonb -> 'result' ? 'session_token')
          AND :'st1b'::jsonb #>> '{result,qr_code}' = :'st1'::jsonb #>> '{result,qr_code}',
          'the same token reads the result again without a new session');
SELECT ok(:'st1c'::jsonb #>> '{result,session_token}' ~ '^[0-9a-f]{64}$'
          AND :'st1c'::jsonb #>> '{result,session_token}' <> :'st1'::jsonb #>> '{result,session_token}',
          'the retry''s token reads it too, with a session of its own');
SELECT is((SELECT count(*)::int FROM app.guest_jobs j
           WHERE j.result ? 'session_token'
              OR position(:'st1'::jsonb #>> '{result,session_token}' IN row_to_json(j)::text) > 0
              OR position(:'st1c'::jsonb #>> '{result,session_token}' IN row_to_json(j)::text) > 0),
          0, 'after the reads, no session token in any job row');

-- the same for a login: client 2 tries client 1's phone with a wrong password
SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912345670', 'password', 'Segredo123', 'event_id', :'ev'), '203.0.113.1') AS l1 \gset
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912345670', 'password', 'Errada123', 'event_id', :'ev'), '203.0.113.2') AS l2 \gset
SELECT isnt(:'l2'::jsonb ->> 'jobId', :'l1'::jsonb ->> 'jobId', 'a wrong password is another job');
SELECT throws_ok(format('SELECT api.guest_job_status(%L, %L)', :'l1'::jsonb ->> 'jobId',
                        :'l2'::jsonb ->> 'jobToken'),
                 'PT404', 'Pedido não encontrado. Submete o formulário novamente.', '… whose token cannot read the real login');
SELECT api.work_guest_jobs('w', 10, 1000) ->> 'completed' AS worked \gset
SELECT api.guest_job_status((:'l2'::jsonb ->> 'jobId')::uuid, :'l2'::jsonb ->> 'jobToken') AS sl2 \gset
SELECT api.guest_job_status((:'l1'::jsonb ->> 'jobId')::uuid, :'l1'::jsonb ->> 'jobToken') AS sl1 \gset
RESET ROLE;
SELECT ok(:'sl2'::jsonb #>> '{result,code}' = 'invalid_credentials'
          AND NOT (:'sl2'::jsonb -> 'result' ?| ARRAY['session_token', 'qr_code', 'guest_id']),
          'the wrong password gets invalid_credentials, no session, no QR code');
SELECT ok(:'sl1'::jsonb #>> '{result,session_token}' ~ '^[0-9a-f]{64}$'
          AND :'sl1'::jsonb #>> '{result,qr_code}' = :'st1'::jsonb #>> '{result,qr_code}',
          'the real guest''s login gets their QR code and a session');

-- a pending job whose secret is gone (a crash empties the unlogged table): job_expired
SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912345671', 'password', 'Segredo123', 'event_id', :'ev')) AS lost \gset
RESET ROLE;
DELETE FROM app.guest_job_secrets WHERE job_id = (:'lost'::jsonb ->> 'jobId')::uuid;
SET LOCAL ROLE guestlist_web;
SELECT is(api.work_guest_job('w') ->> 'status', 'failed', 'a job without its secret fails at once');
SELECT api.guest_job_status((:'lost'::jsonb ->> 'jobId')::uuid, :'lost'::jsonb ->> 'jobToken') AS sl \gset
RESET ROLE;
SELECT is(:'sl'::jsonb #>> '{result,code}', 'job_expired', '… with the stable code job_expired');
SELECT is(:'sl'::jsonb ->> 'error',
          'O teu pedido expirou antes de ser processado. Submete-o novamente.',
          '… telling the guest to submit again');
SELECT is((SELECT attempts FROM app.guest_jobs WHERE id = (:'lost'::jsonb ->> 'jobId')::uuid), 1,
          '… not retried');

-- pending jobs older than job_pending_max_age_seconds (10 minutes) fail in the cleanup
SET LOCAL ROLE guestlist_web;
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912345672', 'password', 'Segredo123', 'event_id', :'ev')) AS old \gset
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912345673', 'password', 'Segredo123', 'event_id', :'ev')) AS young \gset
RESET ROLE;
UPDATE app.guest_jobs SET created_at = now() - interval '11 minutes'
WHERE id = (:'old'::jsonb ->> 'jobId')::uuid;
UPDATE app.guest_jobs SET created_at = now() - interval '5 minutes'
WHERE id = (:'young'::jsonb ->> 'jobId')::uuid;
SELECT app._cleanup_jobs() AS cleaned \gset
SELECT ok((SELECT status = 'failed' AND result ->> 'code' = 'job_expired' AND finished_at IS NOT NULL
           FROM app.guest_jobs WHERE id = (:'old'::jsonb ->> 'jobId')::uuid),
          'a job pending for 11 minutes is failed as job_expired');
SELECT is((SELECT count(*)::int FROM app.guest_job_secrets
           WHERE job_id = (:'old'::jsonb ->> 'jobId')::uuid), 0, '… and its password erased');
SELECT ok((SELECT status = 'waiting' AND EXISTS (SELECT 1 FROM app.guest_job_secrets s
                                                 WHERE s.job_id = j.id)
           FROM app.guest_jobs j WHERE id = (:'young'::jsonb ->> 'jobId')::uuid),
          'one pending for 5 minutes waits on');
SELECT admin.set_setting('job_pending_max_age_seconds', '60');
SELECT api.cleanup() IS NOT NULL AS cleaned \gset
SELECT is((SELECT status FROM app.guest_jobs WHERE id = (:'young'::jsonb ->> 'jobId')::uuid),
          'failed', 'the bound is the setting job_pending_max_age_seconds');
SELECT admin.set_setting('job_pending_max_age_seconds', NULL);
SELECT is(app._pending_jobs(), 0::bigint, 'the pending counter follows');
DELETE FROM app.guest_jobs WHERE id = (:'old'::jsonb ->> 'jobId')::uuid;
SELECT is((SELECT count(*)::int FROM app.guest_job_tokens
           WHERE job_id = (:'old'::jsonb ->> 'jobId')::uuid), 0,
          'a deleted job takes its tokens with it');

-- status is rate-limited per client key (bucket status)
SELECT admin.set_setting('rate_limit.status', '1');
SET LOCAL ROLE guestlist_web;
SELECT lives_ok(format('SELECT api.guest_job_status(%L, %L, %L)', :'c1'::jsonb ->> 'jobId',
                       :'c1'::jsonb ->> 'jobToken', '198.51.100.77'),
                'a client''s first status read in a minute passes');
SELECT throws_ok(format('SELECT api.guest_job_status(%L, %L, %L)', :'c1'::jsonb ->> 'jobId',
                        :'c1'::jsonb ->> 'jobToken', '198.51.100.77'),
                 'PT429', NULL, 'the second is rate-limited');
SELECT throws_ok('SELECT count(*) FROM app.guest_job_secrets', '42501', NULL,
                 'the web role cannot read the secrets');
RESET ROLE;
RESET guestlist.rate_limit_per_minute;

SELECT * FROM finish();
ROLLBACK;
