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
)
# fmt: on
