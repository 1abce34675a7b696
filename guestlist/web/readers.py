"""Readers, the first half of every route around its one SQL call (routes.py; the second half
is responders.py): request → the query's parameters (body, path, cookie, client key), or an
ApiError. The JSON bodies the guest routes read are described here too (PHONE_BODY …)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from starlette.requests import Request

from guestlist.config import Settings
from guestlist.web.errors import ApiError, api_error, field_error, invalid_input
from guestlist.web.inputs import (
    QR_CODE_RE,
    Field,
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
    Field("eventId", "event_id", "uuid"),
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
          messages=(("length", "O nome deve ter entre 1 e 80 caracteres."),)),
    Field("lastName", "last_name", max_chars=80, printable=True,
          messages=(("length", "O apelido deve ter entre 1 e 80 caracteres."),)),
    Field("email", "email", "email"),
    Field("password", "password", "new_secret"),
    *ATTRIBUTION,
    Field("birthDate", "birth_date", "date", required=False, past=True),
    Field("gender", "gender", required=False, choices=("M", "F", "O"),
          messages=(("invalid", "Género inválido."),)),
    Field("city", "city", required=False, max_chars=80, printable=True,
          messages=(("length", "A cidade deve ter no máximo 80 caracteres."),)),
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

# A forgotten password: the phone, and the guest page the mailed link should open.
PASSWORD_RESET_BODY: tuple[Field, ...] = (
    Field("phone", "phone", "phone"),
    Field("eventId", "event_id", "uuid"),
    Field("promoterId", "promoter_id", "uuid"),
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
                field_error(f.key, "required", "Campo obrigatório")
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
