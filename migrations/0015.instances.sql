-- Figures across app instances: each `guestlist serve` process writes its own
-- request figures every few seconds (api.report_instance); the dashboard and
-- /api/admin/metrics sum the reports still fresh (api.instance_figures).
-- depends: 0014.queue_admission

SET LOCAL ROLE guestlist_owner;

-- One row per instance (INSTANCE_ID, or host:pid), overwritten at each report.
-- Unlogged: figures a crash may lose (the next report, seconds later, brings
-- them back), never worth WAL or a standby's replay. `figures` holds counts
-- and a latency histogram only: no client key, address or path.
CREATE UNLOGGED TABLE app.instance_reports (
  instance     text PRIMARY KEY CHECK (length(instance) BETWEEN 1 AND 100),
  reported_at  timestamptz NOT NULL,
  figures      jsonb NOT NULL CHECK (jsonb_typeof(figures) = 'object')
);
