-- api.cleanup deletes only what has expired; api.readiness answers.
BEGIN;
SELECT plan(7);
\ir 00-fixture.psql

INSERT INTO app.phone_lookup_cache (phone_hash, expires_at)
VALUES (sha256('a'), now() - interval '1 second'), (sha256('b'), now() + interval '1 minute');
INSERT INTO app.rate_limit_counters (bucket, client_key, window_start, hits)
VALUES ('login', 'x', date_trunc('minute', now()) - interval '5 minutes', 3),
       ('login', 'x', date_trunc('minute', now()), 3);
INSERT INTO app.login_failures (phone_hash, last_failure_at, failures)
VALUES (sha256('a'), now() - interval '20 minutes', 5), (sha256('b'), now(), 5);
INSERT INTO app.login_client_failures (phone_hash, client_key, last_failure_at, failures)
VALUES (sha256('a'), 'x', now() - interval '20 minutes', 5), (sha256('b'), 'x', now(), 5);
SELECT api.register_and_create_guest_v2('+351935886310', 'Ana', 'Silva', 'ana@example.pt',
                                        'Segredo123', :'ev') IS NOT NULL AS reg \gset
INSERT INTO app.guest_sessions (client_user_id, token_hash, expires_at)
SELECT id, sha256('old'), now() - interval '1 day' FROM app.client_users;

SELECT is(api.cleanup() - 'jobs' - 'retention' - 'passwordResets' - 'staff',
          '{"cache": 1, "sessions": 1, "loginWindows": 2, "rateCounters": 1}'::jsonb,
          'cleanup deletes the expired rows of each kind (failed logins: per phone and per client)');
SELECT is((SELECT count(*)::int FROM app.phone_lookup_cache), 1, 'the live cache row stays');
SELECT is((SELECT count(*)::int FROM app.rate_limit_counters), 1, 'the current window stays');
SELECT is((SELECT count(*)::int FROM app.login_failures)
          + (SELECT count(*)::int FROM app.login_client_failures), 2, 'the live failure counts stay');
SELECT is((SELECT count(*)::int FROM app.guest_sessions), 1, 'the live session stays');
SELECT is(api.readiness() -> 'ready', 'true'::jsonb, 'readiness answers');
SET LOCAL ROLE guestlist_web;
SELECT lives_ok('SELECT api.cleanup()', 'the web role may run cleanup (the app''s timer fallback)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
