-- The console's list search (api.console_guests' p_query): part of a name,
-- accents, case and blanks ignored like the door's; a phone's digits for
-- owners and managers only; % and _ typed literally; the folded name kept by
-- a trigger (and gone with an erased guest); the total with short and full
-- pages; the covering indexes it walks.
BEGIN;
SELECT plan(27);
\ir 00-fixture.psql

SELECT admin.invite_member(:'org', 'dona@example.pt', 'owner') ->> 'inviteToken' AS io \gset
SELECT admin.invite_member(:'org', 'promo@example.pt', 'promoter', :'pr') ->> 'inviteToken' AS ip \gset
SET LOCAL ROLE guestlist_web;
SELECT api.accept_invite(:'io', 'Segredo123', 'Dona') ->> 'sessionToken' AS t \gset
SELECT api.accept_invite(:'ip', 'Segredo123', 'Promo') ->> 'sessionToken' AS tp \gset
SELECT api.register_and_create_guest_v2('+351912000001', 'João', 'Conceição', 'j@example.pt',
                                        'Segredo123', :'ev', :'pr') ->> 'guest_id' AS g1 \gset
SELECT api.register_and_create_guest_v2('+351913000002', 'Ana', 'Cem%', 'a@example.pt',
                                        'Segredo123', :'ev') ->> 'guest_id' AS g2 \gset
SELECT api.register_and_create_guest_v2('+351914000003', 'Zé', 'Lima', 'z@example.pt',
                                        'Segredo123', :'ev', :'pr') ->> 'guest_id' AS g3 \gset
RESET ROLE;

-- --- the folded name ----------------------------------------------------------------------------
SELECT has_column('app', 'guests', 'search_name', 'guests keep the name as the search compares it');
SELECT is((SELECT search_name FROM app.guests WHERE id = :'g1'), 'joao conceicao',
          'lower case, without accents');
SELECT is(app._search_fold(E'  JOÃO \t\n Conceição '), 'joao conceicao',
          'blanks of any kind are one space, trimmed');
SELECT ok((SELECT pg_get_indexdef(i) LIKE '%INCLUDE (promoter_id, checked_in, search_name, phone)%'
                  AND pg_get_indexdef(i) LIKE '%WHERE (status <> ''cancelled''::text)'
           FROM unnest(ARRAY['app.guests_event_created_idx', 'app.guests_event_name_idx',
                             'app.guests_event_arrival_idx']::regclass[]) i
           GROUP BY 1 HAVING count(*) = 3),
          'each sort''s index covers what the policy, the filters and the search read');

SET LOCAL ROLE guestlist_web;
-- --- names: accents, case, blanks ----------------------------------------------------------------
SELECT is(api.console_guests(:'t', :'ev', 'conceicao') -> 'guests' -> 0 ->> 'id', :'g1',
          'a query without accents finds an accented name');
SELECT is(api.console_guests(:'t', :'ev', 'CONCEIÇÃO') -> 'guests' -> 0 ->> 'id', :'g1',
          'upper case with accents finds it too');
SELECT is(api.console_guests(:'t', :'ev', 'ze') -> 'guests' -> 0 ->> 'name', 'Zé Lima',
          'and the name is shown as written');
SELECT is((api.console_guests(:'t', :'ev', E'joão \t conceição') ->> 'total')::int, 1,
          'blanks in the query are one space, like the name''s');
SELECT is((api.console_guests(:'t', :'ev', 'ão con') ->> 'total')::int, 1,
          'any part of the name, across first and last');
SELECT is((api.console_guests(:'t', :'ev', E' \t\n ') ->> 'total')::int, 3,
          'a query of blanks is no search');
SELECT is(api.console_guests(:'t', :'ev', U&'\0301'), '{"total": 0, "guests": []}'::jsonb,
          'a query that folds to nothing finds nobody');

-- --- % and _ are literal -------------------------------------------------------------------------
SELECT is((SELECT array_agg(g ->> 'id') FROM jsonb_array_elements(
             api.console_guests(:'t', :'ev', 'm%') -> 'guests') g), ARRAY[:'g2'],
          'a % is a percent sign, not any text');
SELECT is((api.console_guests(:'t', :'ev', '%') ->> 'total')::int, 1, 'alone too');
SELECT is((api.console_guests(:'t', :'ev', '_') ->> 'total')::int, 0,
          'an _ is an underscore, not any character');
SELECT is((api.console_guests(:'t', :'ev', 'a\') ->> 'total')::int, 0, 'a backslash is itself');

-- --- phones: digits, owners and managers only ----------------------------------------------------
SELECT is(api.console_guests(:'t', :'ev', '913 000') -> 'guests' -> 0 ->> 'id', :'g2',
          'an owner finds a phone by its digits, blanks aside');
SELECT is(api.console_guests(:'t', :'ev', '+351 (914) 000-003') -> 'guests' -> 0 ->> 'id', :'g3',
          'written as a phone is written');
SELECT is((api.console_guests(:'t', :'ev', '91') ->> 'total')::int, 3, 'every phone with 91');
SELECT is(api.console_guests(:'tp', :'ev', '912000001'), '{"total": 0, "guests": []}'::jsonb,
          'a promoter never finds a guest by phone, even their own guest');
SELECT is(api.console_guests(:'tp', :'ev', 'joao') -> 'guests' -> 0 ->> 'id', :'g1',
          'but by name');
SELECT is((api.console_guests(:'tp', :'ev', 'a') ->> 'total')::int, 2,
          'and only among their own guests');

-- --- the total, from a short page or counted -----------------------------------------------------
SELECT is((api.console_guests(:'t', :'ev', 'a', 2, 0) ->> 'total')::int, 3,
          'a full page: the total is counted');
SELECT is(jsonb_array_length(api.console_guests(:'t', :'ev', 'a', 2, 2) -> 'guests'), 1,
          'the last page holds the rest');
SELECT is((api.console_guests(:'t', :'ev', 'a', 2, 2) ->> 'total')::int, 3,
          'a short page tells the total');
SELECT is((api.console_guests(:'t', :'ev', 'a', 2, 10) ->> 'total')::int, 3,
          'a page past the end still tells the total');
RESET ROLE;

-- --- an erased guest is no longer found by the old name -------------------------------------------
SELECT is(app._anonymize_guests(ARRAY[:'g3']::uuid[]), 1::bigint, 'a guest''s data is erased');
SET LOCAL ROLE guestlist_web;
SELECT is((api.console_guests(:'t', :'ev', 'lima') ->> 'total')::int, 0,
          'their old name finds nobody');

SELECT * FROM finish();
ROLLBACK;
