-- Queue admission by drain rate: the completions per second the workers
-- achieved over the last seconds, measured at most once a second by one
-- enqueue and read by the others (sql/76_queue_admission.sql).
-- depends: 0013.staff

SET LOCAL ROLE guestlist_owner;

-- One row: the last measurement. `per_second` is the completions (completed or
-- failed) per second over queue_rate_window_seconds up to `measured_at`;
-- `backlog_since` when the workers last started having more than a second of
-- work queued at every measurement (NULL: no backlog at the last one). Only a
-- window that was backlogged throughout measures the workers' capacity; any
-- other is a lower bound of it (they were waiting for work).
CREATE TABLE app.queue_drain_rate (
  id             boolean PRIMARY KEY DEFAULT true CHECK (id),
  measured_at    timestamptz NOT NULL,
  per_second     numeric NOT NULL CHECK (per_second >= 0),
  backlog_since  timestamptz
);
INSERT INTO app.queue_drain_rate (measured_at, per_second) VALUES ('-infinity', 0);
