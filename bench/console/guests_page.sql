-- pgbench: one page of the console's guest list at 20,000 guests, as the web role calls it
-- (-D tok=<session token> -D ev=<event id> from seed.sql; a random page of the first 100,
-- and a random sort).
\set off random(0, 99) * 50
\set s random(1, 3)
SET ROLE guestlist_web;
SELECT api.console_guests(':tok', ':ev', NULL, 50, :off, NULL, NULL,
                          (ARRAY['recent', 'name', 'arrival'])[:s]);
RESET ROLE;
