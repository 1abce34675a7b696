-- Names shown on the door's screen and in exports (a guest's names, email
-- and city; organization, event, promoter and team names) may not hold
-- control, invisible formatting or bidirectional-override characters: they
-- make one name look like another. app._printable_text is that one rule
-- (sql/40_register.sql and sql/60_admin.sql check with it first, naming the
-- field; these CHECKs are the backstop for every other writer). It lives
-- here, not in sql/, because the constraints need it before sql/ is applied.
-- depends: 0008.limits_lockout_settings

SET LOCAL ROLE guestlist_owner;

-- Whether a text holds none of Unicode's control (Cc), format (Cf), line
-- separator (Zl) or paragraph separator (Zp) characters, as of Unicode 15:
-- C0/C1 controls, soft hyphen, Arabic/Syriac marks, Mongolian vowel
-- separator, zero-width spaces and joiners, LRM/RLM, bidi embeddings,
-- overrides and isolates, invisible operators, BOM, interlinear
-- annotations, tags. NULL counts as printable (an absent optional field).
-- inputs.py's PRINTABLE_BREAKERS is the same class (tests compare them).
CREATE OR REPLACE FUNCTION app._printable_text(p_text text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN p_text IS NULL OR p_text !~ ('[\u0001-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C'
    '\u06DD\u070F\u0890-\u0891\u08E2\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F'
    '\uFEFF\uFFF9-\uFFFB\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3'
    '\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F]');
END
$$;

ALTER TABLE app.organizations
  ADD CONSTRAINT organizations_name_printable CHECK (app._printable_text(name)) NOT VALID;
ALTER TABLE app.events
  ADD CONSTRAINT events_title_printable CHECK (app._printable_text(title)) NOT VALID,
  ADD CONSTRAINT events_location_printable CHECK (app._printable_text(location)) NOT VALID;
ALTER TABLE app.promoters
  ADD CONSTRAINT promoters_display_name_printable CHECK (app._printable_text(display_name))
  NOT VALID;
ALTER TABLE app.teams
  ADD CONSTRAINT teams_name_printable CHECK (app._printable_text(name)) NOT VALID;
ALTER TABLE app.client_users
  ADD CONSTRAINT client_users_first_name_printable CHECK (app._printable_text(first_name))
    NOT VALID,
  ADD CONSTRAINT client_users_last_name_printable CHECK (app._printable_text(last_name))
    NOT VALID,
  ADD CONSTRAINT client_users_email_printable CHECK (app._printable_text(email)) NOT VALID,
  ADD CONSTRAINT client_users_city_printable CHECK (app._printable_text(city)) NOT VALID;
ALTER TABLE app.guests
  ADD CONSTRAINT guests_name_printable CHECK (app._printable_text(name)) NOT VALID;

-- New rows are checked from now on. Existing rows are validated here; a
-- database already holding such a name keeps that one constraint NOT VALID
-- (a WARNING names it) instead of failing the deploy: find the rows with
-- `SELECT … WHERE NOT app._printable_text(<column>)`, fix them, then
-- `ALTER TABLE … VALIDATE CONSTRAINT <name>`.
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN
    SELECT con.conrelid::regclass AS tbl, con.conname
    FROM pg_catalog.pg_constraint con
    WHERE con.conname LIKE '%\_printable' AND NOT con.convalidated
      AND con.connamespace = 'app'::regnamespace
  LOOP
    BEGIN
      EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', c.tbl, c.conname);
    EXCEPTION WHEN check_violation THEN
      RAISE WARNING 'guestlist: % has rows that % refuses; left NOT VALID', c.tbl, c.conname;
    END;
  END LOOP;
END
$$;
