-- Queue admission by drain rate: a job is admitted only while the backlog, at
-- the measured drain rate (or the configured capacity while unmeasured),
-- finishes within queue_fill_percent of queue_hold_seconds; past that PT503
-- queue_full with a retry_after sized to the backlog. The web role cannot
-- touch the rate row.
BEGIN;
SELECT plan(21);
\ir 00-fixture.psql

SELECT has_table('app', 'queue_drain_rate', 'the drain rate has its table');
SELECT function_returns('admin', 'queue_admission', ARRAY[]::text[], 'jsonb',
                        'admin.queue_admission() answers jsonb');
SET LOCAL ROLE guestlist_web;
SELECT throws_ok('UPDATE app.queue_drain_rate SET per_second = 1000', '42501', NULL,
                 'the web role cannot write the rate');
SELECT throws_ok('SELECT admin.queue_admission()', '42501', NULL,
                 'nor read the admission figures');
RESET ROLE;

SELECT is((admin.queue_admission() ->> 'fillPercent')::int, 70,
          'by default the backlog may fill 70% of the hold: the rest is the margin');
SELECT throws_ok($$SELECT admin.set_setting('queue_fill_percent', '9')$$, 'PT400', NULL,
                 'a fill below 10% is refused');
SELECT throws_ok($$SELECT admin.set_setting('queue_fill_percent', '101')$$, 'PT400', NULL,
                 'a fill beyond the hold is refused');

-- a hold of 5 s, all of it admitted, at a prior capacity of 2 jobs/s: 10 pending jobs at most
SELECT admin.set_setting('queue_fill_percent', '100');
SELECT admin.set_setting('queue_hold_seconds', '5');
SELECT admin.set_setting('queue_capacity_per_second', '2');
SELECT admin.set_setting('queue_rate_window_seconds', '10');

CREATE TEMP TABLE jobs (n integer, answer jsonb);
GRANT ALL ON jobs TO guestlist_web;
SET LOCAL ROLE guestlist_web;
INSERT INTO jobs
SELECT n, api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '+3519120000' || lpad(n::text, 2, '0'), 'first_name', 'Ana', 'last_name', 'Silva',
  'email', 'a' || n || '@example.pt', 'password', 'Segredo123', 'event_id', :'ev'))
FROM generate_series(1, 9) n;
RESET ROLE;
SELECT is((SELECT count(*)::int FROM jobs), 9,
          'cold start (nothing measured): the prior capacity admits');
SELECT is((SELECT (answer ->> 'estimatedSeconds')::int FROM jobs WHERE n = 9), 5,
          '… and the estimate is the backlog at that rate (9 jobs at 2/s: 5 s)');

SET LOCAL ROLE guestlist_web;
SELECT lives_ok($$SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912000010', 'password', 'Segredo123', 'event_id', $$ || quote_literal(:'ev') || $$))$$,
  'the 10th job drains within the hold: admitted');
PREPARE eleventh AS SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+351912000011', 'password', 'Segredo123', 'event_id', :'ev'::text));
SELECT throws_ok('EXECUTE eleventh', 'PT503', NULL,
                 'the 11th would finish after the page stopped waiting: queue_full');
RESET ROLE;
SELECT is((SELECT (app._admission_retry_after(10))), 1,
          'retry_after: the seconds until the backlog fits the hold again (11 at 2/s: 1 s)');
SELECT is((SELECT (app._admission_retry_after(40))), 16,
          '… sized to the backlog (41 at 2/s: 16 s past the hold)');

-- half the hold admitted: 2.5 s of work at 2/s, so 5 jobs; the 6th waits until it fits
SELECT admin.set_setting('queue_fill_percent', '50');
SELECT is(app._admission_retry_after(4), NULL, 'half the hold: the 5th job fits (2.5 s)');
SELECT is(app._admission_retry_after(5), 1, '… the 6th does not (3 s at 2/s: 1 s past 2.5 s)');
SELECT is((admin.queue_admission() ->> 'admits')::int, 5,
          'admin.queue_admission says how many pending jobs that admits');
SELECT admin.set_setting('queue_fill_percent', '100');

-- measured over a window backlogged throughout: 4 jobs finished in it → 0.4/s,
-- below the prior, and that is what counts now
UPDATE app.guest_jobs SET status = 'completed', finished_at = clock_timestamp(),
                          result = '{"success": true}'
WHERE id IN (SELECT (answer ->> 'jobId')::uuid FROM jobs WHERE n <= 4);
UPDATE app.queue_drain_rate SET measured_at = '-infinity', backlog_since = NULL;
SELECT is((admin.queue_admission() ->> 'measuredRate')::numeric, 0.4,
          'the rate measured: 4 completions over a 10 s window');
SELECT is((admin.queue_admission() ->> 'rate')::numeric, 2::numeric,
          '… a backlog only since now: not yet the workers'' capacity, the prior stands');
UPDATE app.queue_drain_rate SET measured_at = '-infinity',
                                backlog_since = clock_timestamp() - interval '11 seconds';
SELECT is((admin.queue_admission() ->> 'saturated')::boolean, true,
          'backlogged for the whole window: the workers'' own rate');
SELECT is(app._admission_retry_after(6), 13,
          'a slower measured rate admits less (7 jobs at 0.4/s: 17.5 s, 13 s past the hold)');

-- no backlog left: a quiet queue does not prove the workers slow; the prior stands
UPDATE app.guest_jobs SET status = 'completed', finished_at = clock_timestamp(),
                          result = '{"success": true}'
WHERE finished_at IS NULL;
UPDATE app.queue_drain_rate SET measured_at = '-infinity';
SELECT is((admin.queue_admission() ->> 'rate')::numeric, 2::numeric,
          'an idle queue: the higher of the measured rate and the prior');

SELECT * FROM finish();
ROLLBACK;
