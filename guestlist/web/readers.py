"""Readers, the first half of every route around its one SQL call (routes.py; the second half
is responders.py): request → the query's parameters (body, path, cookie, client key), or an
ApiError. The JSON bodies the guest routes read are described here too (PHONE_BODY …)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from guestlist.config import Settings
from guestlist.web.errors import api_error
from guestlist.web.inputs import (
    QR_CODE_RE,
    Field,
    client_key,
    parse_uuid,
    read_json_body,
    session_token,
    validate_body,
)

Params = dict[str, Any]
Reader = Callable[[Request, Settings], Awaitable[Params]]

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
