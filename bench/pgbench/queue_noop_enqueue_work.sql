-- The same refused login through the queue: enqueue it, then work one job (claim, call,
-- complete, NOTIFY).
\set n random(100000000, 999999999)
SELECT api.enqueue_guest_job('login', jsonb_build_object(
  'phone', '+3513' || :n::text, 'password', 'Segredo123',
  'event_id', '6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11'));
SELECT api.work_guest_job('pgbench');
