-- The alternative depth check: count the pending jobs (partial index on the claimable rows).
SELECT count(*) FROM app.guest_jobs WHERE status IN ('waiting', 'active', 'delayed');
