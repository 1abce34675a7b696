"""The two halves of every route around its one SQL call (see routes.py):

* a reader: request → the query's parameters (body, path, cookie, client key), or an ApiError;
* a responder: the query's result → the HTTP answer (only the keys a client may see).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

import page
import qr
from config import Settings
from errors import (
    ApiError,
    api_error,
    error_response,
    field_error,
    from_refusal,
    invalid_input,
    json_response,
)
from inputs import (
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
Responder = Callable[[Request, Settings, Params, Any], Response]

SESSION_COOKIE = "gl_session"
# Over HTTPS: a cookie only this host, over https, with Path=/ and no Domain can set, so a
# sibling subdomain or a plain-http answer cannot plant a session (RFC 6265bis "__Host-").
SECURE_SESSION_COOKIE = "__Host-" + SESSION_COOKIE
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SLUG_MAX = 80

# --- body schemas (JSON key, SQL parameter, kind, required) ----------------------------------

PHONE_BODY: tuple[Field, ...] = (Field("phone", "phone", "phone"),)

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
    Field("phone", "phone", "phone"),
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


async def no_input(request: Request, settings: Settings) -> Params:
    return {}


async def page_slugs(request: Request, settings: Settings) -> Params:
    """Promoter and event slugs from the path; a malformed slug cannot exist (404, no SQL)."""
    promoter = request.path_params["promoter"]
    event = request.path_params["event"]
    for slug in (promoter, event):
        if len(slug) > _SLUG_MAX or not SLUG_RE.match(slug):
            raise api_error("page_not_found")
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


# Fetch metadata a browser sends with a request from this site's own pages (or typed by hand).
_OWN_SITE = ("same-origin", "none")


@dataclass(frozen=True)
class SessionBody(JsonBody):
    """POST /api/guest/logout: a JSON object (keys ignored), then the cookie's token (None when
    there is none: nothing to end). Cross-site requests cannot log a guest out: the body must be
    JSON (a cross-site form cannot send application/json without a CORS preflight, which this
    app never grants), and a browser that says the request comes from another site
    (Sec-Fetch-Site) is refused (403)."""

    async def __call__(self, request: Request, settings: Settings) -> Params:
        site = request.headers.get("sec-fetch-site")
        if site is not None and site.strip().lower() not in _OWN_SITE:
            raise api_error("forbidden")
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
        site = request.headers.get("sec-fetch-site")
        if site is not None and site.strip().lower() not in _OWN_SITE:
            raise api_error("forbidden")
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


# --- responders -------------------------------------------------------------------------------


def _event(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {k: value.get(k) for k in ("id", "title", "startsAt", "location")}


def phone_answer(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """{exists, user: null, source}: nothing about the owner of a phone (`user` keeps the seed's
    shape; the name is shown after the password)."""
    return json_response(
        {
            "exists": bool(result.get("exists")),
            "user": None,
            "source": result.get("source"),
        }
    )


def _cookie_max_age(expires_at: Any) -> int | None:
    if not isinstance(expires_at, str):
        return None
    try:
        when = datetime.fromisoformat(expires_at)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - datetime.now(UTC)).total_seconds()))


def guest_pass(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """Login/register: a refusal becomes its HTTP error; success answers the guest's pass and
    keeps the session token in an HttpOnly cookie (never in the body)."""
    if not isinstance(result, dict):
        raise api_error("internal")
    if result.get("success") is not True:
        raise from_refusal(result)
    response = json_response(
        {
            "success": True,
            "guest_id": result.get("guest_id"),
            "qr_code": result.get("qr_code"),
            "first_name": result.get("first_name"),
            "message": result.get("message"),
            "recovered": bool(result.get("recovered")),
            "event": _event(result.get("event")),
        }
    )
    token = session_token(result.get("session_token"))
    if token is not None:
        name = session_cookie_name(request, settings)
        response.set_cookie(
            name,
            token,
            max_age=_cookie_max_age(result.get("session_expires_at")),
            path="/",  # no Domain: this host only (required by the __Host- prefix)
            secure=name == SECURE_SESSION_COOKIE,
            httponly=True,
            samesite="lax",
        )
    return response


def logged_out(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """The session is over server-side (or there was none): the browser forgets the cookie."""
    response = json_response({"success": True})
    _forget_session_cookie(request, settings, response)
    return response


def _forget_session_cookie(request: Request, settings: Settings, response: Response) -> None:
    """The browser drops this request's session cookie (logout, erasure)."""
    name = session_cookie_name(request, settings)
    response.delete_cookie(
        name, path="/", secure=name == SECURE_SESSION_COOKIE, httponly=True, samesite="lax"
    )


def page_json(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return json_response(page.public_page(result))


def returning_guest(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    if not isinstance(result, dict):
        raise api_error("internal")
    return json_response(
        {
            "success": True,
            "guest_id": result.get("guest_id"),
            "qr_code": result.get("qr_code"),
            "first_name": result.get("first_name"),
            "event": _event(result.get("event")),
        }
    )


def qr_svg(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    if result is not True:
        raise api_error("qr_not_found")
    return Response(
        qr.render_svg(params["qr_code"]),
        media_type=qr.SVG_MEDIA_TYPE,
        headers={"Cache-Control": "private, max-age=86400"},
    )


def health(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return json_response({"status": "ok"})


def ready(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    ok = isinstance(result, dict) and result.get("ready") is True
    return json_response({"ready": ok}, status=200 if ok else 503)


def openapi_doc(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return Response(request.app.state.openapi_json, media_type="application/json")


def guest_page(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return page.guest_page_response(result)


DATA_FILENAME = "os-meus-dados.json"


def data_download(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """A data export as a JSON file to download (indented for people to read), never cached."""
    if not isinstance(result, dict):
        raise api_error("internal")
    if result.get("success") is not True:
        raise from_refusal(result)
    return Response(
        orjson.dumps(result.get("data"), option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{DATA_FILENAME}"',
            "Cache-Control": "no-store",
        },
    )


def erased(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """An erased account: the counts of what went, and this device's session cookie cleared."""
    if not isinstance(result, dict):
        raise api_error("internal")
    if result.get("success") is not True:
        raise from_refusal(result)
    counts = result.get("erased") if isinstance(result.get("erased"), dict) else {}
    response = json_response(
        {
            "success": True,
            "message": "A tua conta foi apagada e os teus dados pessoais foram eliminados.",
            "erased": {k: v for k, v in counts.items() if isinstance(v, int)},
        },
        headers={"Cache-Control": "no-store"},
    )
    _forget_session_cookie(request, settings, response)
    return response


# --- how a route's errors are shown -------------------------------------------------------------

ErrorRenderer = Callable[[ApiError], Response]


def errors_as_json(err: ApiError) -> Response:
    return error_response(err)


def errors_as_html(err: ApiError) -> Response:
    return page.error_page_response(err)


def errors_as_not_ready(err: ApiError) -> Response:
    return json_response({"ready": False}, status=503)
