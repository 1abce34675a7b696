-- The enqueue's depth check as built: the sum of the 16 counter rows.
SELECT app._pending_jobs();
