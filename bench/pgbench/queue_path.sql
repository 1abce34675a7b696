-- The queue's whole SQL path for one registration, without HTTP, Python or k6: enqueue it,
-- work it (claim, register_and_create_guest_v2, complete, NOTIFY) and read its status as the
-- held answer does. With one client per CPU, the most registrations/s the queue could complete
-- on this machine: saturation's ceiling before any HTTP request is served.
\set n random(100000000, 999999999)
SELECT q.r ->> 'jobId' AS job, q.r ->> 'jobToken' AS token
FROM (SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '+3513' || :n::text, 'first_name', 'Bench', 'last_name', 'New',
  'email', 'new@bench.test', 'password', 'Segredo123', 'event_id', :event_id::text)) AS r) q \gset
SELECT api.work_guest_jobs('pgbench', 1, 0);
SELECT api.guest_job_status(:job::uuid, :token::text);
