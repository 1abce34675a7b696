-- The console's guest list at 20,000 guests an event, whatever the query: a
-- search by part of a name (accents and case ignored, like the door's) or of
-- a phone, every sort, filter and deep page, and the total, each answered
-- from one index without visiting the table (sql/62_console.sql,
-- api.console_guests; docs/console-pages.md says why not trigram indexes).
-- depends: 0016.door_tenancy

SET LOCAL ROLE guestlist_owner;

-- A guest's name as the console's search compares it (app._search_fold: lower
-- case, without accents, blanks of any kind as one space, trimmed); NULL once
-- anonymized. Kept by a trigger (sql/62_console.sql). C collation: compared
-- byte for byte, the cheapest LIKE there is.
ALTER TABLE app.guests ADD COLUMN search_name text COLLATE "C";

UPDATE app.guests g
SET search_name = btrim(regexp_replace(
  lower(public.unaccent('public.unaccent'::regdictionary, g.name)), '\s+', ' ', 'g'))
WHERE g.name IS NOT NULL;

-- The list's sorts (0013's indexes), now of the guests on the list only and covering
-- everything the list reads to choose a page: what the console's row-level security
-- policy reads (event_id, promoter_id), the filters (checked_in) and the search
-- (search_name, phone). So a search, a filter, a deep page and the total walk one
-- index (an index-only scan) and never the table's rows; the page's 50 rows are read
-- by id afterwards.
DROP INDEX app.guests_event_created_idx;
DROP INDEX app.guests_event_name_idx;
DROP INDEX app.guests_event_arrival_idx;
CREATE INDEX guests_event_created_idx ON app.guests (event_id, created_at DESC, id)
  INCLUDE (promoter_id, checked_in, search_name, phone) WHERE status <> 'cancelled';
CREATE INDEX guests_event_name_idx ON app.guests (event_id, name, id)
  INCLUDE (promoter_id, checked_in, search_name, phone) WHERE status <> 'cancelled';
CREATE INDEX guests_event_arrival_idx
  ON app.guests (event_id, checked_in_at DESC NULLS LAST, created_at DESC, id)
  INCLUDE (promoter_id, checked_in, search_name, phone) WHERE status <> 'cancelled';

-- api.console_guests builds its LIKE patterns itself now (sql/62_console.sql).
DROP FUNCTION IF EXISTS app._console_like(text);
