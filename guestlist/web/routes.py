"""Routes as data: each row names its path, its ONE query (queries.sql) and how its input is read
(readers.py) and its result answered (responders.py). app.py turns the rows into Starlette routes
and openapi.py documents them; nothing else decides what a route does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from guestlist.web import console as staff
from guestlist.web import readers as read
from guestlist.web import responders as answer

ErrorStyle = Literal["json", "html", "ready"]


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    query: str | None  # name in queries.sql; None = answered without SQL
    read: read.Reader
    respond: answer.Responder
    summary: str
    refusals: tuple[str, ...] = ()  # codes (errors.CODE_STATUS) this route may answer
    response_schema: str | None = None  # name in openapi.SCHEMAS
    errors_as: ErrorStyle = "json"
    admin: bool = False  # requires ADMIN_TOKEN (Authorization: Bearer …)
    tags: tuple[str, ...] = field(default=("guest",))
    params: tuple[dict[str, Any], ...] = ()  # OpenAPI parameters besides the path's (query, header)


# Refusals many rows share (here and in web/jobs.py): a body that cannot be read; a database
# that does not answer in time. _BODY and _BUSY: their short names in the table below.
BODY_REFUSALS = ("invalid_input", "payload_too_large", "unsupported_media_type")
BUSY_REFUSALS = ("unavailable", "timeout")
_BODY, _BUSY = BODY_REFUSALS, BUSY_REFUSALS

# --- the staff side's inputs (web/console.py): each console route's body or query string ------
_I = staff.Item
_UUID_RE = "^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"
_EVENT_ITEMS = (
    _I("title", "title", required=True, max_length=160, pattern=staff.NOT_BLANK_RE),
    _I("slug", "slug", required=True, max_length=80, pattern=staff.SLUG_RE),
    _I("startsAt", "starts_at", "datetime", required=True, max_length=40),
    _I("location", "location", max_length=200, pattern=staff.PRINTABLE_RE),
    _I("guestCapacity", "guest_capacity", "integer", minimum=1, maximum=1000000),
    _I("guestListClosesAt", "guest_list_closes_at", "datetime", max_length=40),
    _I("minAge", "min_age", "integer", minimum=1, maximum=99),
    _I("isActive", "is_active", "boolean"),
)
_STAFF_LOGIN = staff.StaffBody(
    (),
    items=(
        _I("email", "email", "email", required=True, max_length=254),
        _I("password", "password", "secret", required=True, max_length=200),
    ),
    cookie="none",
)
_STAFF_INVITE = staff.StaffBody(
    (),
    items=(
        _I("token", "token", required=True, pattern="^[0-9a-f]{64}$"),
        _I("password", "password", "secret", required=True, max_length=200),
        _I("displayName", "display_name", max_length=80, pattern=staff.PRINTABLE_RE),
    ),
    cookie="none",
)
_STAFF_ANY = staff.StaffBody((), cookie="optional")
_STAFF_EMPTY = staff.StaffBody(())
_EVENT_CREATE = staff.StaffBody(
    (),
    items=(
        _I("organizationId", "organization_id", "uuid", required=True, pattern=_UUID_RE),
        *_EVENT_ITEMS,
    ),
)
_EVENT_UPDATE = staff.StaffBody((), items=_EVENT_ITEMS)
# A rule across two fields that JSON Schema cannot state (app._console_event_fields).
_CLOSES_RULE = (
    "`guestListClosesAt`, when given, is at most one day after `startsAt` "
    "(400 `guestListClosesAt` otherwise)."
)
_DUPLICATE = staff.StaffBody((), items=(_I("slug", "slug", max_length=80, pattern=staff.SLUG_RE),))
_QUOTA = staff.StaffBody((), items=(_I("quota", "quota", "integer", minimum=0, maximum=1000000),))
_PROMOTER_ADD = staff.StaffBody(
    (),
    items=(
        _I("slug", "slug", required=True, max_length=80, pattern=staff.SLUG_RE),
        _I("displayName", "display_name", required=True, max_length=80, pattern=staff.NOT_BLANK_RE),
        _I("teamName", "team_name", required=True, max_length=80, pattern=staff.NOT_BLANK_RE),
    ),
)
_PROMOTER_TEAM = staff.StaffBody(
    (),
    items=(_I("teamName", "team_name", required=True, max_length=80, pattern=staff.NOT_BLANK_RE),),
)
_INVITE = staff.StaffBody(
    (),
    items=(
        _I("email", "email", "email", required=True, max_length=254, pattern=staff.EMAIL_RE),
        _I("role", "role", required=True, choices=("owner", "manager", "promoter")),
        _I("promoterId", "promoter_id", "uuid", pattern=_UUID_RE),
    ),
    # a promoter is invited with their promoter, the other roles with none
    # (api.console_invite_member: 400 promoter_id)
    any_of=(
        {
            "properties": {"role": {"const": "promoter"}, "promoterId": {"type": "string"}},
            "required": ["promoterId"],
        },
        {
            "properties": {
                "role": {"enum": ["owner", "manager"]},
                "promoterId": {"type": "null"},
            }
        },
    ),
)
_DOOR_LINK = staff.StaffBody(
    (),
    items=(_I("label", "label", required=True, max_length=60, pattern=staff.NOT_BLANK_RE),),
)
_EVENTS_QUERY = staff.StaffQuery(
    (_I("organizationId", "organization_id", "uuid", pattern=_UUID_RE),)
)
_GUESTS_QUERY = staff.StaffQuery(
    (
        _I(
            "q",
            "query",
            max_length=100,
            description=(
                "Part of a guest's name, accents, case and repeated blanks ignored (Conceicao "
                "finds Conceição); for owners and managers also, when it holds only digits, "
                "blanks and + ( ) . -, part of the phone's digits. % and _ are literal. Blank: "
                "no search."
            ),
        ),
        _I("limit", "limit", "integer", minimum=1, maximum=200),
        _I("offset", "offset", "integer", minimum=0, maximum=100000),
        _I("promoterId", "promoter_id", "uuid", pattern=_UUID_RE),
        _I("checkedIn", "checked_in", "boolean"),
        _I("sort", "sort", choices=("recent", "name", "arrival")),
    )
)
_NO_QUERY = staff.StaffQuery()
_COOKIE = (staff.STAFF_COOKIE_PARAM,)
_SESSION = ("session_invalid", *_BUSY)  # every console route: no, expired or revoked session
_SEEN = ("invalid_input", "not_found", *_SESSION)  # ...and ids outside the caller's organizations
_ACT = (*_BODY, "forbidden", "not_found", *_SESSION)  # a POST: also Origin and role

# A table reads better aligned by hand.
# fmt: off
ROUTES: tuple[ApiRoute, ...] = (
    # --- operations ---------------------------------------------------------------------------
    ApiRoute("GET", "/healthz", None, read.no_input, answer.health, "The process is up.",
             response_schema="Health", tags=("ops",)),
    ApiRoute("GET", "/readyz", "web_readiness", read.readiness, answer.ready,
             "The database answers and is migrated, and the process is not stopping "
             "(503 otherwise).",
             response_schema="Ready", errors_as="ready", tags=("ops",)),
    ApiRoute("GET", "/openapi.json", None, read.no_input, answer.openapi_doc, "This description.",
             tags=("ops",)),
    # --- the guest page -----------------------------------------------------------------------
    ApiRoute("GET", "/promotor/{promoter}/{event}", "web_resolve_page", read.page_slugs,
             answer.guest_page, "The guest page (HTML, pt-PT); unknown link → 404 page.",
             refusals=("page_not_found", "rate_limited", *_BUSY), errors_as="html", tags=("page",)),
    ApiRoute("GET", "/promotor/{promoter}/{event}/manifest.webmanifest", "web_resolve_page",
             read.page_slugs, answer.manifest,
             "The guest page's web app manifest: installed, it opens this promoter link.",
             refusals=("page_not_found", "rate_limited", *_BUSY), response_schema="Manifest",
             tags=("page",)),
    # the installable app's PNG icons (the manifest names them)
    ApiRoute("GET", "/icons/{icon}", None, read.icon_name, answer.icon,
             "An app icon of the guest page (PNG, 192 or 512 pixels; maskable or not).",
             refusals=("not_found",), response_schema="Png", tags=("page",)),
    ApiRoute("GET", "/sw.js", None, read.no_input, answer.service_worker,
             "The guest page's service worker (scope /promotor/): the guest's own pass offline.",
             response_schema="JavaScript", tags=("page",)),
    ApiRoute("GET", "/api/guest/page/{promoter}/{event}", "web_resolve_page", read.page_slugs,
             answer.page_json,
             "What the guest page shows: event, organization, promoter, list open.",
             refusals=("page_not_found", "rate_limited", *_BUSY), response_schema="Page"),
    # --- synchronous guest API (one SQL call each) ----------------------------------------------
    ApiRoute("POST", "/api/guest/verify-phone", "web_check_phone", read.JsonBody(read.PHONE_BODY),
             answer.phone_answer, "Is this phone registered? Nothing about its owner (user: null).",
             refusals=(*_BODY, "rate_limited", *_BUSY), response_schema="PhoneCheck"),
    ApiRoute("POST", "/api/guest/verify-phone-v2", "web_check_phone",
             read.JsonBody(read.PHONE_BODY),
             answer.phone_answer, "Same as verify-phone (the seed's cached variant).",
             refusals=(*_BODY, "rate_limited", *_BUSY), response_schema="PhoneCheck"),
    ApiRoute("POST", "/api/guest/login", "web_login", read.LoginBody(read.LOGIN_BODY),
             answer.guest_pass,
             "Log in and join the event's list; sets the gl_session cookie.",
             refusals=(*_BODY, "invalid_credentials", "event_not_found", "promoter_not_found",
                       "guest_list_closed", "guest_list_full", "account_locked",
                       "rate_limited", *_BUSY),
             response_schema="GuestPass"),
    ApiRoute("POST", "/api/guest/register", "web_register", read.JsonBody(read.REGISTER_BODY),
             answer.guest_pass, "Create an account and join the event's list; sets gl_session.",
             refusals=(*_BODY, "phone_exists", "event_not_found", "promoter_not_found",
                       "guest_list_closed", "guest_list_full", "rate_limited", *_BUSY),
             response_schema="GuestPass"),
    ApiRoute("GET", "/api/guest/me/{event_id}", "web_session_guest", read.session_and_event,
             answer.returning_guest,
             "A returning device (gl_session cookie): its QR for the event.",
             refusals=("invalid_input", "session_invalid", "event_not_found", "rate_limited",
                       *_BUSY),
             response_schema="ReturningGuest"),
    ApiRoute("GET", "/api/guest/session/{event_id}", "web_session_pass",
             read.optional_session_and_event, answer.session_pass,
             "What the guest page asks on every visit: this device's pass for the event, or "
             "{guest: null} when it has no session or no place on the event (200 either way; "
             "/api/guest/me/… answers the same as a 401 or 404 refusal, for API clients).",
             refusals=("invalid_input", "rate_limited", *_BUSY), response_schema="SessionPass"),
    ApiRoute("POST", "/api/guest/logout", "web_guest_logout", read.logout_request,
             answer.logged_out,
             "End this device's session server-side and clear its cookie (idempotent). "
             "Only from this site: a JSON body, and no cross-site Sec-Fetch-Site.",
             refusals=(*_BODY, "forbidden", *_BUSY), response_schema="LoggedOut"),
    ApiRoute("GET", "/api/guest/qr/{qr_code}.svg", "web_qr_code_exists", read.qr_code,
             answer.qr_svg,
             "The QR image of a guest's code (SVG, made locally).",
             refusals=("qr_not_found", "rate_limited", *_BUSY), response_schema="Svg"),
    # --- a forgotten password -----------------------------------------------------------------
    ApiRoute("POST", "/api/guest/password-reset", "web_password_reset_request",
             read.JsonBody(read.PASSWORD_RESET_BODY), answer.password_reset_requested,
             "Mail a single-use link (30 minutes) to set a new password to the phone's account. "
             "The same answer whether or not the phone has an account.",
             refusals=(*_BODY, "page_not_found", "rate_limited", *_BUSY),
             response_schema="PasswordResetRequested"),
    ApiRoute("POST", "/api/guest/password-reset/confirm", "web_password_reset_confirm",
             read.ResetConfirmBody(read.PASSWORD_RESET_CONFIRM_BODY), answer.password_reset_done,
             "Set a new password from a mailed link's token; ends every session of the account "
             "and clears its failed logins.",
             refusals=(*_BODY, "reset_link_invalid", "rate_limited", *_BUSY),
             response_schema="PasswordResetDone"),
    # --- the guest's own data (GDPR: download, erase) --------------------------------------------
    ApiRoute("GET", "/api/guest/data", "web_guest_data_export", read.SessionCookie(),
             answer.data_download, "Download everything stored about my account (session cookie).",
             refusals=("session_invalid", "rate_limited", *_BUSY), response_schema="GuestData"),
    ApiRoute("POST", "/api/guest/data", "web_guest_data_export",
             read.CredentialsBody(read.CREDENTIALS_BODY), answer.data_download,
             "Download everything stored about my account (phone + password).",
             refusals=(*_BODY, "invalid_credentials", "account_locked", "rate_limited", *_BUSY),
             response_schema="GuestData"),
    ApiRoute("POST", "/api/guest/erase", "web_guest_erase",
             read.ErasureBody(read.ERASE_CREDENTIALS),
             answer.erased, "Erase my account for good (phone + password, or the session cookie); "
             "clears the session cookie.",
             refusals=(*_BODY, "forbidden", "session_invalid", "invalid_credentials",
                       "account_locked", "rate_limited", *_BUSY),
             response_schema="Erased"),
    # --- the door: a staff phone holding a door link (Authorization: Bearer <door token>) ---------
    ApiRoute("POST", "/api/door/check-in", "web_door_check_in",
             read.DoorBody(read.DOOR_CHECK_IN_BODY, scanned_at=True), answer.door_json,
             "Judge one scanned QR code: admitted, already_in (when and at which door), "
             "wrong_event (that event's title only) or not_found. The same scanId again gets "
             "exactly the same answer and changes nothing.",
             refusals=(*_BODY, "door_invalid", "scan_id_taken", "rate_limited", *_BUSY),
             response_schema="DoorAnswer", tags=("door",)),
    ApiRoute("POST", "/api/door/sync", "web_door_sync", read.door_sync, answer.door_json,
             "The scans a door judged offline (at most 500): one answer per scan, in the batch's "
             "order, judged in scannedAt order across doors (the earliest admits; a code "
             "admitted at two doors is a conflict). Scans over 24 hours old or in the future are "
             "refused one by one (too_old, in_future). A replayed batch changes nothing.",
             refusals=(*_BODY, "door_invalid", "too_many_scans", "scan_id_taken", "rate_limited",
                       *_BUSY),
             response_schema="DoorSync", tags=("door",)),
    ApiRoute("GET", "/api/door/search", "web_door_search", read.door_search, answer.door_json,
             "Find at most 20 guests of the door's event by the start of a first or last name "
             "(accents and case ignored) or the last 4 digits of their phone.",
             refusals=("invalid_input", "door_invalid", "rate_limited", *_BUSY),
             response_schema="DoorSearch", tags=("door",),
             params=({"name": "q", "in": "query", "required": True,
                      "schema": {"type": "string", "minLength": 1,
                                 "maxLength": read.MAX_SEARCH_CHARS,
                                 "pattern": "^[^\\u0000]*[^ \\u0000][^\\u0000]*$"},
                      "description": "A name's start, or a phone's last 4 digits."},)),
    ApiRoute("POST", "/api/door/admit", "web_door_admit", read.DoorBody(read.DOOR_ADMIT_BODY),
             answer.door_json,
             "Check a guest found by search in by hand: the check-in's answers, idempotent by "
             "scanId.",
             refusals=(*_BODY, "door_invalid", "scan_id_taken", "rate_limited", *_BUSY),
             response_schema="DoorAnswer", tags=("door",)),
    ApiRoute("POST", "/api/door/undo", "web_door_undo", read.DoorBody(read.DOOR_UNDO_BODY),
             answer.door_json,
             "Undo a mistaken check-in (recorded, not erased): the guest is on the list again.",
             refusals=(*_BODY, "door_invalid", "guest_not_found", "rate_limited", *_BUSY),
             response_schema="DoorUndo", tags=("door",)),
    ApiRoute("GET", "/api/door/summary", "web_door_summary", read.door_only, answer.door_json,
             "The door's counts: on the list, inside, by promoter; conflicts; latest scans.",
             refusals=("door_invalid", "rate_limited", *_BUSY), response_schema="DoorSummary",
             tags=("door",)),
    ApiRoute("GET", "/api/door/list", "web_door_list", read.door_only, answer.door_json,
             "The event's live guests for judging offline: names and the sha256 of each QR "
             "code (never the code).",
             refusals=("door_invalid", "rate_limited", *_BUSY), response_schema="DoorList",
             tags=("door",)),
    # --- the door page (a staff phone's link /porta/<token>) ------------------------------------
    ApiRoute("GET", "/porta/{token}", "web_door_summary", read.door_page_token, answer.door_page,
             "The door page (HTML, pt-PT): the camera scans guests' QR codes, offline too. "
             "A token that cannot exist → 404 page; unknown, revoked or expired → 401 page.",
             refusals=("page_not_found", "door_invalid", "rate_limited", *_BUSY),
             errors_as="html", tags=("page",)),
    ApiRoute("GET", "/porta-sw.js", None, read.no_input, answer.door_service_worker,
             "The door page's service worker (scope /porta/): the page reloads offline; API "
             "answers are never cached.", response_schema="JavaScript", tags=("page",)),
    ApiRoute("GET", "/vendor/jsQR.js", None, read.no_input, answer.jsqr,
             "The door page's QR decoder (npm jsqr, from node_modules/); 404 when not installed.",
             refusals=("not_found",), response_schema="JavaScript", tags=("page",)),
    # --- staff accounts and the console (JSON; the staff cookie gl_staff, SameSite=Strict) -----
    ApiRoute("POST", "/api/staff/login", "web_staff_login", _STAFF_LOGIN, staff.staff_session,
             "Log a staff member in; sets the gl_staff cookie (12 h). Unknown email and wrong "
             "password answer alike.",
             refusals=(*_BODY, "forbidden", "invalid_credentials", "account_locked",
                       "rate_limited", *_BUSY),
             response_schema="StaffSession", tags=("console",)),
    ApiRoute("POST", "/api/staff/invite/accept", "web_staff_accept_invite", _STAFF_INVITE,
             staff.staff_session,
             "Accept an invite (72 h, single use): a new account's password and name, or an "
             "existing account's own password; sets gl_staff.",
             refusals=(*_BODY, "forbidden", "invite_invalid", "invalid_credentials",
                       "account_locked", "last_owner", "rate_limited", *_BUSY),
             response_schema="StaffSession", tags=("console",)),
    ApiRoute("POST", "/api/staff/logout", "web_staff_logout", _STAFF_ANY, staff.staff_logged_out,
             "End this staff session server-side and clear its cookie (idempotent).",
             refusals=(*_BODY, "forbidden", *_BUSY), response_schema="StaffLoggedOut",
             tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/staff/logout-everywhere", "web_staff_logout_everywhere", _STAFF_EMPTY,
             staff.staff_logged_out, "End every session of this staff account.",
             refusals=(*_BODY, "forbidden", *_SESSION), response_schema="StaffLoggedOut",
             tags=("console",), params=_COOKIE),
    ApiRoute("GET", "/api/staff/me", "web_staff_me", _NO_QUERY, staff.console_json,
             "Who this staff session is, and their organizations and roles.",
             refusals=_SESSION, response_schema="StaffMe", tags=("console",), params=_COOKIE),
    ApiRoute("GET", "/api/console/events", "web_console_events", _EVENTS_QUERY,
             staff.console_json, "The caller's events (or one organization's), newest first.",
             refusals=_SEEN, response_schema="ConsoleEvents", tags=("console",),
             params=(*_COOKIE, *_EVENTS_QUERY.openapi_params())),
    ApiRoute("POST", "/api/console/events", "web_console_event_create", _EVENT_CREATE,
             staff.console_json,
             "Create an event (owner or manager). " + _CLOSES_RULE,
             refusals=(*_ACT, "slug_taken"), response_schema="ConsoleEvent",
             tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/console/events/{event_id}", "web_console_event_update", _EVENT_UPDATE,
             staff.console_json,
             "Edit an event: every field (absent optional ones become none). Owner or manager. "
             + _CLOSES_RULE,
             refusals=(*_ACT, "slug_taken", "capacity_below_count"),
             response_schema="ConsoleEvent", tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/console/events/{event_id}/close", "web_console_event_close",
             _STAFF_EMPTY, staff.console_json, "Close the event's list now.",
             refusals=_ACT, response_schema="ConsoleEvent", tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/console/events/{event_id}/reopen", "web_console_event_reopen",
             _STAFF_EMPTY, staff.console_json, "Reopen the event's list (no closing time).",
             refusals=_ACT, response_schema="ConsoleEvent", tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/console/events/{event_id}/duplicate", "web_console_event_duplicate",
             _DUPLICATE, staff.console_json,
             "The same event a week later (quotas copied); slug given or derived from the date.",
             refusals=(*_ACT, "slug_taken"), response_schema="ConsoleEvent", tags=("console",),
             params=_COOKIE),
    ApiRoute("GET", "/api/console/events/{event_id}/guests", "web_console_guests", _GUESTS_QUERY,
             staff.console_json,
             "A page of the event's guest list: search, filters, sort. A promoter gets their own "
             "guests' names and whether inside only.",
             refusals=_SEEN, response_schema="ConsoleGuests", tags=("console",),
             params=(*_COOKIE, *_GUESTS_QUERY.openapi_params())),
    ApiRoute("GET", "/api/console/events/{event_id}/figures", "web_console_figures", _NO_QUERY,
             staff.console_json,
             "Per-promoter figures and registrations and arrivals per 15 minutes.",
             refusals=_SEEN, response_schema="ConsoleFigures", tags=("console",),
             params=_COOKIE),
    ApiRoute("POST", "/api/console/events/{event_id}/quotas/{promoter_id}",
             "web_console_set_quota", _QUOTA, staff.console_json,
             "A promoter's quota on the event (null: none). Owner or manager.",
             refusals=_ACT, response_schema="Quota", tags=("console",), params=_COOKIE),
    ApiRoute("GET", "/api/console/events/{event_id}/doors", "web_console_door_links",
             _NO_QUERY, staff.console_json,
             "The event's door links (never their tokens) with their scans, and the codes two "
             "doors admitted. Owner or manager (a promoter: not_found).",
             refusals=_SEEN, response_schema="ConsoleDoorLinks", tags=("console",),
             params=_COOKIE),
    ApiRoute("POST", "/api/console/events/{event_id}/doors", "web_console_door_link_create",
             _DOOR_LINK, staff.door_link_created,
             "A door link for a staff phone (owner or manager): its URL /porta/<token> and that "
             "URL's QR code (SVG), answered this once; only the token's hash is kept.",
             refusals=(*_ACT, "event_over"), response_schema="ConsoleDoorLink", tags=("console",),
             params=_COOKIE),
    ApiRoute("POST", "/api/console/doors/{door_id}/revoke", "web_console_door_link_revoke",
             _STAFF_EMPTY, staff.console_json,
             "End a door link at once (owner or manager); revoking again keeps the first time.",
             refusals=_ACT, response_schema="DoorLinkRevoked", tags=("console",), params=_COOKIE),
    ApiRoute("GET", "/api/console/organizations/{organization_id}/promoters",
             "web_console_promoters", _NO_QUERY, staff.console_json,
             "The organization's promoters and teams.",
             refusals=_SEEN, response_schema="ConsolePromoters", tags=("console",),
             params=_COOKIE),
    ApiRoute("POST", "/api/console/organizations/{organization_id}/promoters",
             "web_console_promoter_add", _PROMOTER_ADD, staff.console_json,
             "Add a promoter (their link's slug) in a team (created when missing).",
             refusals=(*_ACT, "slug_taken"), response_schema="ConsolePromoter",
             tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/console/organizations/{organization_id}/promoters/{promoter_id}/teams",
             "web_console_promoter_team", _PROMOTER_TEAM, staff.console_json,
             "Put a promoter in a team too (created when missing).",
             refusals=_ACT, response_schema="PromoterTeam", tags=("console",), params=_COOKIE),
    ApiRoute("GET", "/api/console/organizations/{organization_id}/members",
             "web_console_members", _NO_QUERY, staff.console_json,
             "The organization's members and pending invites (owner).",
             refusals=(*_SEEN, "forbidden"), response_schema="ConsoleMembers",
             tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/console/organizations/{organization_id}/invites",
             "web_console_invite_member", _INVITE, staff.console_json,
             "Invite a member (owner); the token is answered once, for the link.",
             refusals=_ACT, response_schema="Invite", tags=("console",), params=_COOKIE),
    ApiRoute("POST", "/api/console/organizations/{organization_id}/members/{staff_id}/remove",
             "web_console_member_remove", _STAFF_EMPTY, staff.console_json,
             "Remove a member from the organization (owner; never the last owner).",
             refusals=(*_ACT, "last_owner"), response_schema="Removed", tags=("console",),
             params=_COOKIE),
    ApiRoute("POST", "/api/console/organizations/{organization_id}/invites/{invite_id}/revoke",
             "web_console_invite_revoke", _STAFF_EMPTY, staff.console_json,
             "Withdraw a pending invite (owner).",
             refusals=_ACT, response_schema="Removed", tags=("console",), params=_COOKIE),
    ApiRoute("GET", "/api/promoter/dashboard", "web_promoter_dashboard", _NO_QUERY,
             staff.console_json,
             "A promoter's links per event, their figures and their team's ranking.",
             refusals=_SESSION, response_schema="PromoterDashboard", tags=("console",),
             params=_COOKIE),
    ApiRoute("POST", "/api/guest/birth-date", "web_guest_give_birth_date",
             read.JsonBody(read.BIRTH_DATE_BODY), staff.guest_refusal_or_ok,
             "The birth date an account lacks (asked once, when an event has a minimum age); "
             "then log in again.",
             refusals=(*_BODY, "invalid_credentials", "account_locked", "birth_date_known",
                       "rate_limited", *_BUSY),
             response_schema="Done"),
)
# fmt: on
