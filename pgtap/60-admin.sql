-- admin.*: ids back, bad input PT400 with the field, duplicates PT409,
-- the demo idempotent.
BEGIN;
SELECT plan(20);

SELECT admin.create_organization('Org A', 'org-a') AS org \gset
SELECT ok(:'org'::uuid IS NOT NULL, 'create_organization returns an id');
SELECT throws_ok($$SELECT admin.create_organization('Org B', 'org-a')$$, 'PT409', NULL,
                 'a taken slug: PT409');
SELECT throws_ok($$SELECT admin.create_organization('Org B', 'Org B!')$$, 'PT400', NULL,
                 'a bad slug: PT400');
SELECT throws_ok($$SELECT admin.create_organization('', 'org-b')$$, 'PT400', NULL,
                 'an empty name: PT400');
SELECT throws_ok(format($$SELECT admin.create_event(%L, 'T', 'e', NULL)$$, :'org'), 'PT400', NULL,
                 'an event needs a start');
SELECT throws_ok(format($$SELECT admin.create_event(%L, 'T', 'e', now(), NULL, 0)$$, :'org'),
                 'PT400', NULL, 'capacity must be positive');
SELECT throws_ok($$SELECT admin.create_event(gen_random_uuid(), 'T', 'e', now())$$, 'PT404', NULL,
                 'an unknown organization: PT404');
SELECT lives_ok(format($$SELECT admin.create_event(%L, 'T', 'e', now())$$, :'org'), 'an event');
SELECT throws_ok(format($$SELECT admin.create_event(%L, 'T2', 'e', now())$$, :'org'), 'PT409', NULL,
                 'a taken event slug: PT409');
SELECT throws_ok($$SELECT admin.add_team_member(gen_random_uuid(), gen_random_uuid())$$, 'PT404',
                 NULL, 'an unknown team: PT404');

-- names shown on the guest page and at the door: no invisible characters
SELECT throws_ok($$SELECT admin.create_organization(E'Org\u202E', 'org-bidi')$$, 'PT400', NULL,
                 'an organization name with a bidi override: PT400');
SELECT throws_ok(format($$SELECT admin.create_event(%L, E'Festa\u200B', 'e-zw', now())$$, :'org'),
                 'PT400', NULL, 'an event title with a zero-width space: PT400');
SELECT throws_ok(format($$SELECT admin.create_event(%L, 'Festa', 'e-loc', now(), E'Lx\u2067')$$,
                        :'org'), 'PT400', NULL, 'an event location with a bidi isolate: PT400');
SELECT throws_ok($$SELECT admin.create_promoter('promo-bidi', E'Mi\u0085guel')$$, 'PT400', NULL,
                 'a promoter name with a C1 control: PT400');
CREATE FUNCTION pg_temp.detail_code(p_sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE v_detail text;
BEGIN
  EXECUTE p_sql;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
  RETURN v_detail::jsonb #>> '{errors,0,field}' || ':' || (v_detail::jsonb #>> '{errors,0,code}');
END
$f$;
SELECT is(pg_temp.detail_code($$SELECT admin.create_promoter('promo-bidi', E'Mi\u00ADguel')$$),
          'display_name:invalid_characters', 'a promoter name with a soft hyphen names its field');
SELECT is(pg_temp.detail_code(format($$SELECT admin.create_team(%L, E'Equipa\u2028B')$$, :'org')),
          'name:invalid_characters', 'a team name with a line separator names its field');

SELECT admin.load_demo() AS d1 \gset
UPDATE app.events SET starts_at = now() - interval '1 day', guest_capacity = 1,
                      guest_list_closes_at = now() - interval '1 hour', is_active = false
WHERE id = (:'d1'::jsonb ->> 'eventId')::uuid;
SELECT admin.load_demo() AS d2 \gset
SELECT is(:'d2'::jsonb, :'d1'::jsonb, 'the demo loads twice with the same ids');
SELECT is((SELECT row(starts_at > now(), is_active, guest_capacity IS NULL,
                      guest_list_closes_at IS NULL)::text
           FROM app.events WHERE id = (:'d1'::jsonb ->> 'eventId')::uuid), '(t,t,t,t)',
          'and leaves its event in the future, active, open and uncapped');
SELECT is(api.resolve_guest_page('miguel', 'festa-verao') -> 'guestListOpen', 'true'::jsonb,
          'the demo link resolves');
SET LOCAL ROLE guestlist_admin;
SELECT throws_ok('SELECT * FROM app.events', '42501', NULL, 'the admin role reads no table directly');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
