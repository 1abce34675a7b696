"""The two halves of every route around its one SQL call (see routes.py):

* a reader: request → the query's parameters (body, path, cookie, client key), or an ApiError;
* a responder: the query's result → the HTTP answer (only the keys a client may see).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from guestlist.config import Settings
from guestlist.web import page, qr
from guestlist.web.errors import ApiError, api_error, error_response, from_refusal, json_response
from guestlist.web.inputs import (
    QR_CODE_RE,
    Field,
    client_key,
    is_https,
    parse_uuid,
    read_json_body,
    session_token,
    validate_body,
)

Params = dict[str, Any]
Reader = Callable[[Request, Settings], Awaitable[Params]]
Responder = Callable[[Request, Settings, Params, Any], Response]

SESSION_COOKIE = "gl_session"
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

REGISTER_BODY: tuple[Field, ...] = (
    Field("phone", "phone", "phone"),
    Field("firstName", "first_name"),
    Field("lastName", "last_name"),
    Field("email", "email"),
    Field("password", "password", "secret"),
    *ATTRIBUTION,
    Field("birthDate", "birth_date", "date", required=False),
    Field("gender", "gender", required=False),
    Field("city", "city", required=False),
)


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


async def session_and_event(request: Request, settings: Settings) -> Params:
    """The gl_session cookie and the event id; no usable cookie → 401 without asking SQL."""
    event_id = parse_uuid(request.path_params["event_id"], "eventId")
    token = session_token(request.cookies.get(SESSION_COOKIE))
    if token is None:
        raise api_error("session_invalid")
    return {
        "session_token": token,
        "event_id": event_id,
        "client_key": client_key(request.scope, settings.trusted_proxies),
    }


async def qr_code(request: Request, settings: Settings) -> Params:
    code = request.path_params["qr_code"]
    if not QR_CODE_RE.match(code):
        raise api_error("qr_not_found")
    return {"qr_code": code, "client_key": client_key(request.scope, settings.trusted_proxies)}


# --- responders -------------------------------------------------------------------------------


def _event(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {k: value.get(k) for k in ("id", "title", "startsAt", "location")}


def phone_answer(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """{exists, user: {firstName} | null, source}: never more about the owner of a phone."""
    user = result.get("user") if isinstance(result, dict) else None
    return json_response(
        {
            "exists": bool(result.get("exists")),
            "user": {"firstName": user.get("firstName")} if isinstance(user, dict) else None,
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
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=_cookie_max_age(result.get("session_expires_at")),
            path="/",
            secure=is_https(request.scope, settings.trusted_proxies),
            httponly=True,
            samesite="lax",
        )
    return response


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


# --- how a route's errors are shown -------------------------------------------------------------

ErrorRenderer = Callable[[ApiError], Response]


def errors_as_json(err: ApiError) -> Response:
    return error_response(err)


def errors_as_html(err: ApiError) -> Response:
    return page.error_page_response(err)


def errors_as_not_ready(err: ApiError) -> Response:
    return json_response({"ready": False}, status=503)
