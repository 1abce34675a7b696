"""Readers, the first half of every route around its one SQL call (routes.py; the second half
is responders.py): request → the query's parameters (body, path, cookie, client key), or an
ApiError. The JSON bodies the guest routes read are described here too (PHONE_BODY …)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson
from starlette.requests import Request

from guestlist.config import Settings
from guestlist.web import icons
from guestlist.web.errors import ApiError, api_error, field_error, invalid_input
from guestlist.web.inputs import (
    MSG_EVENT_REQUIRED,
    MSG_PROMOTER_REQUIRED,
    MSG_STAFF_UUID,
    QR_CODE_RE,
    UUID_RE,
    Field,
    _text_ok,
    client_key,
    parse_uuid,
    read_json_body,
    session_token,
    uses_https,
    validate_body,
)

Params = dict[str, Any]
Reader = Callable[[Request, Settings], Awaitable[Params]]

SESSION_COOKIE = "gl_session"
# Over HTTPS: a cookie only this host, over https, with Path=/ and no Domain can set, so a
# sibling subdomain or a plain-http answer cannot plant a session (RFC 6265bis "__Host-").
SECURE_SESSION_COOKIE = "__Host-" + SESSION_COOKIE
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SLUG_MAX = 80

# --- body schemas (JSON key, SQL parameter, kind, required) ----------------------------------

# A guest gives a number that can receive a message (a mobile), on the phone step and when
# registering; logging in, downloading or erasing take any valid number, so an account made
# with a landline before this rule can still reach its own data.
PHONE_BODY: tuple[Field, ...] = (Field("phone", "phone", "phone", mobile=True),)

ATTRIBUTION: tuple[Field, ...] = (
    Field("eventId", "event_id", "uuid", messages=(("required", MSG_EVENT_REQUIRED),)),
    Field("promoterId", "promoter_id", "uuid", required=False),
    Field("teamId", "team_id", "uuid", required=False),
)

LOGIN_BODY: tuple[Field, ...] = (
    Field("phone", "phone", "phone"),
    Field("password", "password", "secret"),
    *ATTRIBUTION,
)

# The rules and messages of app._registration_errors (sql/40_register.sql).
REGISTER_BODY: tuple[Field, ...] = (
    Field("phone", "phone", "phone", mobile=True),
    Field("firstName", "first_name", max_chars=80, printable=True,
          messages=(("length", "Indica o teu nome, com 80 caracteres no máximo."),
                    ("required", "Indica o teu nome.")),),
    Field("lastName", "last_name", max_chars=80, printable=True,
          messages=(("length", "Indica o teu apelido, com 80 caracteres no máximo."),
                    ("required", "Indica o teu apelido.")),),
    Field("email", "email", "email"),
    Field("password", "password", "new_secret"),
    *ATTRIBUTION,
    Field("birthDate", "birth_date", "date", required=False, past=True),
    Field("gender", "gender", required=False, choices=("M", "F", "O"),
          messages=(("invalid", "Escolhe uma das opções de género."),)),
    Field("city", "city", required=False, max_chars=80, printable=True,
          messages=(("length", "Encurta a cidade para 80 caracteres no máximo, ou deixa-a "
                               "em branco."),)),
)  # fmt: skip

# A data export or erasure by phone and password (the session cookie is the other way in).
CREDENTIALS_BODY: tuple[Field, ...] = (
    Field("phone", "phone", "phone"),
    Field("password", "password", "secret"),
)
ERASE_CREDENTIALS: tuple[Field, ...] = (
    Field("phone", "phone", "phone", required=False),
    Field("password", "password", "secret", required=False),
)
MSG_CONFIRM_ERASE = "Confirma que queres apagar a tua conta."
MSG_CREDENTIALS_BOTH = "Indica o telemóvel e a palavra-passe, ou nenhum deles se tens sessão."

# A forgotten password: the phone, and the guest page the mailed link should open.
PASSWORD_RESET_BODY: tuple[Field, ...] = (
    Field("phone", "phone", "phone"),
    Field("eventId", "event_id", "uuid", messages=(("required", MSG_EVENT_REQUIRED),)),
    Field("promoterId", "promoter_id", "uuid", messages=(("required", MSG_PROMOTER_REQUIRED),)),
)
# The birth date an account lacks, for an event with a minimum age (api.guest_give_birth_date).
BIRTH_DATE_BODY: tuple[Field, ...] = (
    Field("phone", "phone", "phone"),
    Field("password", "password", "secret"),
    Field("birthDate", "birth_date", "date", past=True),
)
# The mailed link's token (64 hex) and the new password (the registration's rules).
RESET_TOKEN_RE = re.compile(r"^[0-9a-f]{64}$")
MSG_RESET_TOKEN = "Link de recuperação inválido. Pede um novo."
PASSWORD_RESET_CONFIRM_BODY: tuple[Field, ...] = (Field("password", "password", "new_secret"),)


# --- readers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonBody:
    """Reader of a JSON body with these fields; adds the caller's rate-limit key."""

    fields: tuple[Field, ...]

    async def __call__(self, request: Request, settings: Settings) -> Params:
        body = await read_json_body(request)
        params = validate_body(body, self.fields)
        params["client_key"] = client_key(request.scope, settings.trusted_proxies)
        return params


@dataclass(frozen=True)
class LoginBody(JsonBody):
    """A login's body reader; adds the device's session token (its cookie, when it has the
    token's shape): a device holding a valid session of the account is not locked out of it."""

    async def __call__(self, request: Request, settings: Settings) -> Params:
        params = await super().__call__(request, settings)
        params["session_token"] = request_session_token(request, settings)
        return params


@dataclass(frozen=True)
class ResetConfirmBody(JsonBody):
    """POST /api/guest/password-reset/confirm: the token (64 hex, from the link's fragment) and
    the new password; every field error at once."""

    async def __call__(self, request: Request, settings: Settings) -> Params:
        body = await read_json_body(request)
        token = body.get("token") if isinstance(body, dict) else None
        token_error = None
        if not isinstance(token, str) or not RESET_TOKEN_RE.fullmatch(token):
            code = "required" if token in (None, "") else "invalid"
            token_error = field_error("token", code, MSG_RESET_TOKEN)
        try:
            params = validate_body(body, self.fields)
        except ApiError as err:
            if token_error is not None and isinstance(body, dict):
                err.errors = [token_error, *(err.errors or [])]
            raise
        if token_error is not None:
            raise invalid_input([token_error])
        params["token"] = token
        params["client_key"] = client_key(request.scope, settings.trusted_proxies)
        return params

    def amend_schema(self, schema: dict[str, Any]) -> None:
        schema["required"] = ["token", *schema["required"]]
        schema["properties"] = {
            "token": {
                "type": "string",
                "pattern": RESET_TOKEN_RE.pattern,
                "description": "The token of the mailed link (after #redefinir=).",
            },
            **schema["properties"],
        }


async def no_input(request: Request, settings: Settings) -> Params:
    return {}


async def readiness(request: Request, settings: Settings) -> Params:
    """/readyz: a process that is stopping (SIGTERM, web/shutdown.py) is not ready, without
    asking the database: the load balancer takes it out at its next check."""
    drain = getattr(request.app.state, "drain", None)
    if drain is not None and drain.draining:
        raise api_error("unavailable")
    return {}


async def page_slugs(request: Request, settings: Settings) -> Params:
    """Promoter and event slugs from the path, lowercased (slugs are stored lowercase, so
    `/promotor/Miguel/Festa-Verao` is the same page); a malformed slug cannot exist (404, no
    SQL)."""
    promoter = request.path_params["promoter"]
    event = request.path_params["event"]
    for slug in (promoter, event):
        # ASCII first: str.lower maps a few other letters to ASCII ones (the Kelvin sign to k)
        if len(slug) > _SLUG_MAX or not slug.isascii() or not SLUG_RE.match(slug.lower()):
            raise api_error("page_not_found")
    promoter, event = promoter.lower(), event.lower()
    return {
        "promoter": promoter,
        "event": event,
        "client_key": client_key(request.scope, settings.trusted_proxies),
    }


def session_cookie_name(request: Request, settings: Settings) -> str:
    """The session cookie's name for this request: `__Host-gl_session` over HTTPS, else
    `gl_session`. Every reader and writer of the cookie asks here."""
    return SECURE_SESSION_COOKIE if uses_https(request.scope, settings) else SESSION_COOKIE


def request_session_token(request: Request, settings: Settings) -> str | None:
    """The session token this request's cookie carries, if it has the token's shape."""
    return session_token(request.cookies.get(session_cookie_name(request, settings)))


async def session_and_event(request: Request, settings: Settings) -> Params:
    """The session cookie and the event id; no usable cookie → 401 without asking SQL."""
    event_id = parse_uuid(request.path_params["event_id"], "eventId")
    token = request_session_token(request, settings)
    if token is None:
        raise api_error("session_invalid")
    return {
        "session_token": token,
        "event_id": event_id,
        "client_key": client_key(request.scope, settings.trusted_proxies),
    }


@dataclass(frozen=True)
class OptionalSession:
    """The event id and the session cookie's token, None when the device has none (the page's
    own question on every visit: no session is an answer, not a refusal)."""

    session_cookie: ClassVar[Literal["required", "optional"]] = "optional"
    any_cookie: ClassVar[bool] = True  # a cookie without the token's shape is no session

    async def __call__(self, request: Request, settings: Settings) -> Params:
        return {
            "session_token": request_session_token(request, settings),
            "event_id": parse_uuid(request.path_params["event_id"], "eventId"),
            "client_key": client_key(request.scope, settings.trusted_proxies),
        }


optional_session_and_event = OptionalSession()


# Fetch metadata a browser sends with a request from this site's own pages (or typed by hand).
_OWN_SITE = ("same-origin", "none")


def refuse_cross_site(request: Request) -> None:
    """403 when the browser says the request comes from another site (Sec-Fetch-Site): the
    logout and the erasure, which a page elsewhere must not be able to trigger."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _OWN_SITE:
        raise api_error("forbidden")


@dataclass(frozen=True)
class SessionBody(JsonBody):
    """POST /api/guest/logout: a JSON object (keys ignored), then the cookie's token (None when
    there is none: nothing to end). Cross-site requests cannot log a guest out: the body must be
    JSON (a cross-site form cannot send application/json without a CORS preflight, which this
    app never grants), and a browser that says the request comes from another site
    (Sec-Fetch-Site) is refused (403)."""

    async def __call__(self, request: Request, settings: Settings) -> Params:
        refuse_cross_site(request)
        validate_body(await read_json_body(request), self.fields)
        return {"session_token": request_session_token(request, settings)}


logout_request = SessionBody(())


async def icon_name(request: Request, settings: Settings) -> Params:
    """One of the app icons (icons.ICONS) by its file name; any other name: 404."""
    name = request.path_params["icon"]
    if name not in icons.ICONS:
        raise api_error("not_found")
    return {"icon": name}


async def qr_code(request: Request, settings: Settings) -> Params:
    code = request.path_params["qr_code"]
    if not QR_CODE_RE.match(code):
        raise api_error("qr_not_found")
    return {"qr_code": code, "client_key": client_key(request.scope, settings.trusted_proxies)}


@dataclass(frozen=True)
class SessionCookie:
    """Reader of a request authenticated by the session cookie alone (GET /api/guest/data);
    no usable cookie → 401 without asking SQL."""

    session_cookie: ClassVar[Literal["required", "optional"]] = "required"

    async def __call__(self, request: Request, settings: Settings) -> Params:
        token = request_session_token(request, settings)
        if token is None:
            raise api_error("session_invalid")
        return {
            "phone": None,
            "password": None,
            "session_token": token,
            "client_key": client_key(request.scope, settings.trusted_proxies),
        }


@dataclass(frozen=True)
class CredentialsBody(JsonBody):
    """Reader of phone + password (POST /api/guest/data): the session cookie is not used."""

    async def __call__(self, request: Request, settings: Settings) -> Params:
        params = await super().__call__(request, settings)
        params["session_token"] = None
        return params


@dataclass(frozen=True)
class ErasureBody(JsonBody):
    """Reader of POST /api/guest/erase: `confirm` must be JSON true; phone + password when
    either is given (both then required), else the session cookie (none → 401). As for the
    logout, a browser that says the request comes from another site is refused (403): an
    erasure is final, so it does not rest on the JSON body and SameSite alone."""

    session_cookie: ClassVar[Literal["required", "optional"]] = "optional"

    async def __call__(self, request: Request, settings: Settings) -> Params:
        refuse_cross_site(request)
        body = await read_json_body(request)
        confirm_error = None
        if not isinstance(body, dict) or body.get("confirm") is not True:
            confirm_error = field_error("confirm", "required", MSG_CONFIRM_ERASE)
        try:
            params = validate_body(body, self.fields)
        except ApiError as err:
            if confirm_error is not None and isinstance(body, dict):
                err.errors = [*(err.errors or []), confirm_error]
            raise
        errors = [] if confirm_error is None else [confirm_error]
        given = {f.param for f in self.fields if params.get(f.param) is not None}
        if given:
            errors += [
                field_error(f.key, "required", MSG_CREDENTIALS_BOTH)
                for f in self.fields
                if f.param not in given
            ]
        if errors:
            raise invalid_input(errors)
        token = None
        if not given:
            token = request_session_token(request, settings)
            if token is None:
                raise api_error("session_invalid")
        return {
            "confirm": True,
            "phone": params.get("phone"),
            "password": params.get("password"),
            "session_token": token,
            "client_key": client_key(request.scope, settings.trusted_proxies),
        }

    def amend_schema(self, schema: dict[str, Any]) -> None:
        schema["required"] = ["confirm"]
        schema["properties"] = {
            **schema["properties"],
            "confirm": {"const": True, "description": "Must be true: erasure is final."},
        }
        # phone and password go together, each as a non-empty text: the empty and null forms
        # an optional field may take elsewhere would count as absent here, which is refused
        for key in ("phone", "password"):
            schema["properties"][key] = schema["properties"][key]["anyOf"][0]
        schema["dependentRequired"] = {"phone": ["password"], "password": ["phone"]}


# --- the door (/api/door/…): a staff phone holding a door link ---------------------------------

# A door token: base64url of 32 random bytes (43 characters; longer ones are accepted).
DOOR_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
MAX_QR_CHARS = 200  # a code as read; anything that is no guest's code is a not_found answer
MAX_SCANS = 500  # a sync batch
# a full batch: 500 scans of about 150 bytes each, with room for long codes
MAX_SYNC_BYTES = 256 * 1024
MAX_SEARCH_CHARS = 80
OFFLINE_RESULTS = ("admitted", "already_in", "wrong_event", "not_found")
MSG_SCANNED_AT = (
    "Data da leitura inválida. Envia uma data ISO 8601 com fuso horário (2026-07-01T23:15:00Z)."
)

# the door's ids come from its own screen (a scan, a search result), not from a promoter's link
_DOOR_ID_MESSAGES = (("invalid", MSG_STAFF_UUID),)
DOOR_CHECK_IN_BODY: tuple[Field, ...] = (
    Field("qrCode", "qr_code", max_chars=MAX_QR_CHARS),
    Field("scanId", "scan_id", "uuid", messages=_DOOR_ID_MESSAGES),
)
DOOR_ADMIT_BODY: tuple[Field, ...] = (
    Field("guestId", "guest_id", "uuid", messages=_DOOR_ID_MESSAGES),
    Field("scanId", "scan_id", "uuid", messages=_DOOR_ID_MESSAGES),
)
DOOR_UNDO_BODY: tuple[Field, ...] = (
    Field("guestId", "guest_id", "uuid", messages=_DOOR_ID_MESSAGES),
)


def door_token(request: Request) -> str:
    """The door token of `Authorization: Bearer <token>`; a missing or malformed one → 401
    door_invalid without asking SQL."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not DOOR_TOKEN_RE.fullmatch(token):
        raise api_error("door_invalid")
    return token


def scanned_at(value: Any, key: str) -> tuple[str | None, dict[str, str] | None]:
    """An ISO 8601 date and time with its time zone → (text for SQL, None), else a field error."""
    if not isinstance(value, str) or len(value) > 64 or not _text_ok_ascii(value):
        return None, field_error(key, "invalid", MSG_SCANNED_AT)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None, field_error(key, "invalid", MSG_SCANNED_AT)
    if when.tzinfo is None:
        return None, field_error(key, "invalid", MSG_SCANNED_AT)
    # in UTC: PostgreSQL takes offsets up to 15:59 only, ISO 8601 up to 23:59
    try:
        return when.astimezone(dt.UTC).isoformat(), None
    except OverflowError:  # past year 9999 or before year 1 once in UTC: far off either way
        edge = dt.datetime.max if when.year > 1 else dt.datetime.min
        return edge.replace(tzinfo=dt.UTC).isoformat(), None


def _text_ok_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


@dataclass(frozen=True)
class DoorBody(JsonBody):
    """A door route's JSON body (check-in, admit, undo) after its token; `scannedAt` optional
    (check-in: the phone's time of the scan)."""

    scanned_at: bool = False

    async def __call__(self, request: Request, settings: Settings) -> Params:
        token = door_token(request)
        body = await read_json_body(request)
        errors: list[dict[str, str]] = []
        when = None
        if self.scanned_at and isinstance(body, dict) and body.get("scannedAt") is not None:
            when, error = scanned_at(body.get("scannedAt"), "scannedAt")
            if error is not None:
                errors.append(error)
        try:
            params = validate_body(body, self.fields)
        except ApiError as err:
            if errors and isinstance(body, dict):
                err.errors = [*(err.errors or []), *errors]
            raise
        if errors:
            raise invalid_input(errors)
        params["door_token"] = token
        if self.scanned_at:
            params["scanned_at"] = when
            params["client_key"] = client_key(request.scope, settings.trusted_proxies)
        return params

    def amend_schema(self, schema: dict[str, Any]) -> None:
        if "qrCode" in schema["properties"]:  # not blank, no NUL (spaces around are trimmed)
            schema["properties"]["qrCode"]["pattern"] = "^[^\\u0000]*[^ \\u0000][^\\u0000]*$"
        if self.scanned_at:
            schema["properties"]["scannedAt"] = {
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                "description": "When the phone read the code (ISO 8601 with its time zone); "
                "kept when plausible, else the server's time.",
            }


# The sync batch's field messages, worded as sql/66_door.sql words them.
MSG_SCAN_OBJECT = "Cada leitura é um objeto. Envia {scanId, qrCode, scannedAt}."
MSG_SCAN_ID = "Identificador de leitura inválido. Envia um UUID."
MSG_SCAN_CODE = "Código em falta ou demasiado longo. Lê o código de novo."
MSG_SCAN_RESULT = "Resultado inválido. Envia admitted, already_in, wrong_event ou not_found."


def _sync_scan(item: Any, i: int) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """One scan of a sync batch, checked, or its field errors (named scans[i].key)."""
    where = f"scans[{i}]"
    if not isinstance(item, dict):
        return None, [field_error(where, "wrong_type", MSG_SCAN_OBJECT)]
    errors: list[dict[str, str]] = []
    scan_id = item.get("scanId")
    if not isinstance(scan_id, str) or not UUID_RE.fullmatch(scan_id):
        errors.append(field_error(f"{where}.scanId", "invalid", MSG_SCAN_ID))
    code = item.get("qrCode")
    if not isinstance(code, str) or not 1 <= len(code) <= MAX_QR_CHARS or "\x00" in code:
        errors.append(field_error(f"{where}.qrCode", "invalid", MSG_SCAN_CODE))
    when, error = scanned_at(item.get("scannedAt"), f"{where}.scannedAt")
    if error is not None:
        errors.append(error)
    offline = item.get("offlineResult")
    if offline is not None and offline not in OFFLINE_RESULTS:
        errors.append(field_error(f"{where}.offlineResult", "invalid", MSG_SCAN_RESULT))
    if errors:
        return None, errors
    return {
        "scanId": str(uuid.UUID(str(scan_id))),
        "qrCode": code,
        "scannedAt": when,
        "offlineResult": offline,
    }, []


@dataclass(frozen=True)
class DoorSyncBody:
    """POST /api/door/sync: {scans: [{scanId, qrCode, scannedAt, offlineResult?}]}, at most
    500 (more: 413 too_many_scans); every malformed scan named at once (scans[i].key)."""

    async def __call__(self, request: Request, settings: Settings) -> Params:
        token = door_token(request)
        body = await read_json_body(request, MAX_SYNC_BYTES)
        if not isinstance(body, dict):
            raise invalid_input(
                [field_error("body", "wrong_type", "O corpo do pedido tem de ser um objeto JSON")]
            )
        scans = body.get("scans")
        if not isinstance(scans, list):
            raise invalid_input(
                [
                    field_error(
                        "scans",
                        "required",
                        "Falta a lista de leituras. Envia as leituras numa lista.",
                    )
                ]
            )
        if len(scans) > MAX_SCANS:
            raise api_error("too_many_scans")
        checked: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for i, item in enumerate(scans):
            scan, problems = _sync_scan(item, i)
            errors.extend(problems)
            if scan is not None:
                checked.append(scan)
        if errors:
            raise invalid_input(errors)
        return {"door_token": token, "scans": orjson.dumps(checked).decode()}

    def body_schema(self) -> dict[str, Any]:
        scan = {
            "type": "object",
            "required": ["scanId", "qrCode", "scannedAt"],
            "properties": {
                "scanId": {"type": "string", "pattern": f"^{UUID_RE.pattern}$"},
                "qrCode": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_QR_CHARS,
                    "pattern": "^[^\\u0000]*$",
                },
                "scannedAt": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the door read it (ISO 8601 with its time zone).",
                },
                "offlineResult": {
                    "anyOf": [{"enum": list(OFFLINE_RESULTS)}, {"type": "null"}],
                    "description": "What the door showed offline; admitted on a code another "
                    "door admitted first makes a conflict.",
                },
            },
        }
        return {
            "type": "object",
            "required": ["scans"],
            "properties": {"scans": {"type": "array", "maxItems": MAX_SCANS, "items": scan}},
        }


door_sync = DoorSyncBody()


async def door_search(request: Request, settings: Settings) -> Params:
    """GET /api/door/search?q=: 1 to 80 characters (a name's start or a phone's last 4 digits)."""
    token = door_token(request)
    query = request.query_params.get("q", "")
    if not query.strip(" ") or len(query) > MAX_SEARCH_CHARS or not _text_ok(query):
        raise invalid_input(
            [field_error("q", "invalid", f"Escreve entre 1 e {MAX_SEARCH_CHARS} caracteres.")]
        )
    return {"door_token": token, "q": query}


async def door_only(request: Request, settings: Settings) -> Params:
    """GET /api/door/summary and /api/door/list: the door token alone."""
    return {"door_token": door_token(request)}


# --- the door page ------------------------------------------------------------------------------

# The page's token is the door token (DOOR_TOKEN_RE): a path that cannot be one is no page (404,
# no SQL); a well-formed unknown, revoked or expired one is the SQL's refusal (401 door_invalid).


async def door_page_token(request: Request, settings: Settings) -> Params:
    token = request.path_params["token"]
    if not DOOR_TOKEN_RE.match(token):
        raise api_error("page_not_found")
    return {"door_token": token, "client_key": client_key(request.scope, settings.trusted_proxies)}
