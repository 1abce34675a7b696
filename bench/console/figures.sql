-- pgbench: the event's figures (per promoter, and the night in 15-minute buckets).
SET ROLE guestlist_web;
SELECT api.console_figures(':tok', ':ev');
RESET ROLE;
