-- Figures across app instances: each instance's report replaces its last one,
-- the sum covers the fresh reports only, unknown keys and bad values are not
-- kept, and the web role reaches the table only through the functions.
BEGIN;
SELECT plan(13);

SELECT has_table('app', 'instance_reports', 'the reports have their table');
SET LOCAL ROLE guestlist_web;
SELECT throws_ok('SELECT * FROM app.instance_reports', '42501', NULL,
                 'the web role cannot read the table itself');
SELECT lives_ok($$SELECT api.report_instance('a:1', '{"requestsLastMinute": 3, "requestsTotal": 10,
  "latencyCount": 3, "latencyTotalMs": 30, "latencyBins": {"5": 2, "9": 1}}')$$,
  'an instance reports');
SELECT lives_ok($$SELECT api.report_instance('a:1', '{"requestsLastMinute": 4, "requestsTotal": 11,
  "latencyCount": 4, "latencyTotalMs": 40, "latencyBins": {"5": 3, "9": 1}}')$$,
  '… and again: its report replaced');
SELECT lives_ok($$SELECT api.report_instance('b:2', '{"requestsLastMinute": 5, "requestsTotal": 7,
  "evil": 1e9, "serverErrorsTotal": "x", "latencyBins": {"5": 1, "drop": 5}}')$$,
  'a second instance reports, with keys and values that are not kept');
SELECT throws_ok($$SELECT api.report_instance('', '{}')$$, 'PT400', NULL,
                 'an empty instance id: invalid_input');
SELECT lives_ok($$SELECT api.report_instance('w:3', '{"workerProcesses": 1,
  "workerConcurrency": 4, "requestsLastMinute": 0}')$$, 'a worker process reports');
SELECT is(api.instance_figures() -> 'instances', '2'::jsonb,
          'two app instances report (the worker process is not one)');
SELECT is(api.instance_figures() -> 'workerIds', '["w:3"]'::jsonb,
          'the worker process is named apart');
SELECT is((api.instance_figures() ->> 'workerConcurrency')::int, 4,
          'its tasks count in the worker concurrency');
SELECT is((api.instance_figures() ->> 'requestsLastMinute')::int, 9,
          'their last minute''s requests summed (4 + 5)');
SELECT is(api.instance_figures() -> 'latencyBins', '{"5": 4, "9": 1}'::jsonb,
          'latency histograms merged bin by bin, foreign keys left out');
RESET ROLE;
UPDATE app.instance_reports SET reported_at = clock_timestamp() - interval '20 seconds'
WHERE instance = 'b:2';
SELECT is(api.instance_figures() -> 'ids', '["a:1"]'::jsonb,
          'a report older than instance_report_ttl_seconds (15) no longer counts');

SELECT * FROM finish();
ROLLBACK;
