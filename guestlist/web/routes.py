"""Routes as data: each row names its path, its ONE query (queries.sql) and how its input is read
(readers.py) and its result answered (responders.py). app.py turns the rows into Starlette routes
and openapi.py documents them; nothing else decides what a route does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

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

# A table reads better aligned by hand.
# fmt: off
ROUTES: tuple[ApiRoute, ...] = (
    # --- operations ---------------------------------------------------------------------------
    ApiRoute("GET", "/healthz", None, read.no_input, answer.health, "The process is up.",
             response_schema="Health", tags=("ops",)),
    ApiRoute("GET", "/readyz", "web_readiness", read.no_input, answer.ready,
             "The database answers and is migrated (503 otherwise).",
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
)
# fmt: on
