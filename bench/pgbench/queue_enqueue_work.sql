-- The queue's SQL path for one register job, without Python: enqueue it, then work one job
-- (claim, register_and_create_guest_v2, complete, NOTIFY). Compare with register.sql.
\set n random(100000000, 999999999)
SELECT api.enqueue_guest_job('register', jsonb_build_object(
  'phone', '+3513' || :n::text, 'first_name', 'Bench', 'last_name', 'New',
  'email', 'new@bench.test', 'password', 'Segredo123', 'event_id', :event_id::text));
SELECT api.work_guest_job('pgbench');
