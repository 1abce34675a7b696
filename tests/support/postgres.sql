-- The statements tests/support/postgres.py runs on the server (as the superuser), for the tests
-- and the bench alike. {placeholders} are identifiers, filled with psycopg.sql.

-- name: create_database
CREATE DATABASE {dbname}

-- name: create_database_from_template
CREATE DATABASE {dbname} TEMPLATE {template}

-- name: drop_database
DROP DATABASE IF EXISTS {dbname} WITH (FORCE)

-- name: close_database
-- A template nobody may connect to (pg_cron's launcher included): CREATE DATABASE … TEMPLATE
-- fails while any session is connected to the template.
ALTER DATABASE {dbname} WITH ALLOW_CONNECTIONS false

-- name: cron_database_name
SELECT pg_catalog.current_setting('cron.database_name', true)

-- name: cron_installed
SELECT pg_catalog.to_regclass('cron.job') IS NOT NULL

-- name: cron_unschedule_database
-- Forget the jobs of a database about to be dropped.
SELECT cron.unschedule(jobid) FROM cron.job WHERE database = %(dbname)s
