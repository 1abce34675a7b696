-- pgbench: a search of the console's guest list at 20,000 guests (part of a surname).
\set n random(1, 996)
SET ROLE guestlist_web;
SELECT api.console_guests(':tok', ':ev', 'apelido' || :n, 50, 0);
RESET ROLE;
