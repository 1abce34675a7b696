-- Structure and privileges: what exists, who owns it, what the web role may
-- and may not do.
BEGIN;
SELECT plan(53);

SELECT has_schema(s) FROM unnest(ARRAY['app', 'api', 'admin']) s;
SELECT has_table('app', t, 'table app.' || t) FROM unnest(ARRAY[
  'organizations', 'events', 'event_slugs', 'promoters', 'teams', 'team_members',
  'client_users', 'guests', 'guest_sessions', 'phone_lookup_cache', 'rate_limit_counters',
  'login_failures', 'login_client_failures', 'settings', 'guest_jobs', 'guest_job_secrets',
  'guest_job_tokens', 'erasures']) t;
SELECT has_role(r) FROM unnest(ARRAY['guestlist_owner', 'guestlist_web', 'guestlist_admin']) r;
SELECT is((SELECT rolcanlogin FROM pg_roles WHERE rolname = 'guestlist_owner'), false,
          'the owner cannot log in');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'app.rate_limit_counters'::regclass),
          'u', 'rate counters are UNLOGGED');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'app.phone_lookup_cache'::regclass),
          'u', 'the phone cache is UNLOGGED');
SELECT schema_privs_are('app', 'guestlist_web', ARRAY[]::text[], 'web role has no access to app');
-- every relation of app, the ones added later included: no privilege for the web role or PUBLIC
SELECT is(
  (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
   WHERE c.relnamespace = 'app'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND (has_table_privilege('guestlist_web', c.oid,
            'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
          OR EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                     WHERE a.grantee IN (0, 'guestlist_web'::regrole)))),
  NULL, 'no app table, view or sequence grants the web role or PUBLIC anything');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'app.guest_job_secrets'::regclass),
          'u', 'queued passwords are UNLOGGED (never in the WAL)');
SELECT schema_privs_are('api', 'guestlist_web', ARRAY['USAGE'], 'web role may use api');
SELECT schema_privs_are('admin', 'guestlist_web', ARRAY[]::text[], 'web role has no access to admin');
SELECT schema_privs_are('app', 'public', ARRAY[]::text[], 'PUBLIC has no access to app');
SELECT function_returns('api', 'check_phone_with_cache', ARRAY['text', 'text'], 'jsonb');
SELECT function_returns('api', 'authenticate_and_create_guest_v2',
                        ARRAY['text', 'text', 'uuid', 'uuid', 'uuid', 'text', 'text'], 'jsonb');
SELECT function_returns('api', 'register_and_create_guest_v2',
  ARRAY['text', 'text', 'text', 'text', 'text', 'uuid', 'uuid', 'uuid', 'date', 'text', 'text', 'text'],
  'jsonb');
SELECT function_returns('api', 'resolve_guest_page', ARRAY['text', 'text', 'text'], 'jsonb');
SELECT function_returns('admin', 'create_event',
  ARRAY['uuid', 'text', 'text', 'timestamp with time zone', 'text', 'integer',
        'timestamp with time zone'], 'uuid');

SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname IN ('api', 'admin') AND NOT p.prosecdef),
  0, 'every api and admin function is SECURITY DEFINER');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname IN ('app', 'api', 'admin')
     AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
  0, 'every function pins its search_path');
-- A SQL function with a SET clause is never inlined: it is parsed and planned again at
-- every call (measured: ~1 ms of a queued registration's 4-5 ms in the database).
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'app' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql')),
  0, 'the app helpers (called inside other functions) are PL/pgSQL, which keeps its plans');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname IN ('app', 'api', 'admin')
     AND p.proowner <> 'guestlist_owner'::regrole
     -- the console's functions run as guestlist_console, held by row-level security
     AND NOT (p.proowner = 'guestlist_console'::regrole
              AND (p.proname LIKE 'console\_%' OR p.proname LIKE '\_console\_%'
                   OR p.proname = 'promoter_dashboard'))),
  0, 'the owner role owns every function (the console role the console''s)');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname IN ('app', 'api', 'admin')
     AND has_function_privilege('public', p.oid, 'EXECUTE')),
  0, 'PUBLIC may execute no function');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'api' AND NOT has_function_privilege('guestlist_web', p.oid, 'EXECUTE')),
  0, 'the web role may execute every api function');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'admin' AND has_function_privilege('guestlist_web', p.oid, 'EXECUTE')),
  0, 'the web role may execute no admin function');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'admin' AND NOT has_function_privilege('guestlist_admin', p.oid, 'EXECUTE')),
  0, 'the admin role may execute every admin function');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'app' AND has_function_privilege('guestlist_web', p.oid, 'EXECUTE')),
  0, 'the web role may execute no private app helper');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname IN ('app', 'api', 'admin') AND p.prosrc ILIKE '%sqlerrm%'),
  0, 'no function mentions SQLERRM');
SELECT is(
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname IN ('app', 'api', 'admin') AND p.prosrc ILIKE '%qrserver%'),
  0, 'nothing points to an external QR service');

-- As the web role: tables are out of reach, api works, admin is denied.
SET LOCAL ROLE guestlist_web;
SELECT throws_ok('SELECT * FROM app.client_users', '42501', NULL,
                 'the web role cannot read client_users');
SELECT throws_ok($$INSERT INTO app.organizations (name, slug) VALUES ('x', 'x')$$, '42501', NULL,
                 'the web role cannot write tables');
SELECT throws_ok($$SELECT admin.create_organization('X', 'x')$$, '42501', NULL,
                 'the web role cannot call admin functions');
SELECT lives_ok($$SELECT api.check_phone_with_cache('+351935886310')$$,
                'the web role can call api functions');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
