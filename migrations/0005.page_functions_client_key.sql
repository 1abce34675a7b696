-- resolve_guest_page, session_guest and qr_code_exists gained a trailing
-- p_client_key (rate limits on every public route). sql/ creates the new
-- signatures; the old ones go here, or a 2-argument call would be ambiguous.
-- depends: 0004.guest_jobs

DROP FUNCTION IF EXISTS api.resolve_guest_page(text, text);
DROP FUNCTION IF EXISTS api.session_guest(text, uuid);
DROP FUNCTION IF EXISTS api.qr_code_exists(text);
