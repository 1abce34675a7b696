"""The staff side's readers and responders (routes.py's console rows): the staff session cookie,
the Origin check of every state-changing console route, and the console's bodies and query
strings, whose values (integers, booleans, times) the guest's body fields do not cover.

Isolation is not decided here: every console query passes the session token to SQL, whose
functions see only the caller's organizations (docs/tenancy.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from starlette.requests import Request
from starlette.responses import Response

from guestlist.config import Settings
from guestlist.web import qr
from guestlist.web.errors import (
    ApiError,
    api_error,
    field_error,
    from_refusal,
    invalid_input,
    json_response,
)
from guestlist.web.inputs import (
    MSG_STAFF_UUID,
    PRINTABLE_BREAKERS,
    client_key,
    parse_uuid,
    read_json_body,
    uses_https,
)
from guestlist.web.readers import JsonBody, Params, refuse_cross_site
from guestlist.web.responders import _cookie_max_age

STAFF_COOKIE = "gl_staff"
# Over HTTPS: only this host, over https, with Path=/ and no Domain can set it (RFC 6265bis).
SECURE_STAFF_COOKIE = "__Host-" + STAFF_COOKIE
TOKEN_RE = re.compile(r"^[0-9a-f]{64}$")

# An ISO 8601 time with its offset, years 2000-2100 (the schema's statement of what Item.convert
# accepts; Python reads a few more spellings, which are accepted too).
DATETIME_RE = (
    r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)

# Names shown on pages, the door and exports: no control or invisible formatting character
# (app._printable_text), and for the required ones something besides spaces.
_BREAKERS = PRINTABLE_BREAKERS.pattern[1:-1]
_NAME_CHAR = f"[^\\u0000{_BREAKERS}]"
PRINTABLE_RE = f"^{_NAME_CHAR}*$"
NOT_BLANK_RE = f"^{_NAME_CHAR}*[^ \\u0000{_BREAKERS}]{_NAME_CHAR}*$"
SLUG_RE = "^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$"
_EMAIL_CHAR = f"[^\\s@\\u0000{_BREAKERS}]"
EMAIL_RE = f"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\\.{_EMAIL_CHAR}+$"

ValueKind = Literal["string", "integer", "boolean", "uuid", "datetime", "email", "secret"]


@dataclass(frozen=True)
class Item:
    """One key of a console body or query string: its SQL parameter, kind and bounds. Optional
    keys may be absent or null (SQL's NULL: "none", e.g. no capacity)."""

    key: str
    param: str
    kind: ValueKind = "string"
    required: bool = False
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    description: str | None = None  # what the server does with it (the OpenAPI document's)

    def schema(self) -> dict[str, Any]:
        base: dict[str, Any]
        if self.kind == "integer":
            base = {"type": "integer"}
            if self.minimum is not None:
                base["minimum"] = self.minimum
            if self.maximum is not None:
                base["maximum"] = self.maximum
        elif self.kind == "boolean":
            base = {"type": "boolean"}
        else:
            base = {"type": "string"}
            fmt = {"uuid": "uuid", "datetime": "date-time", "email": "email", "secret": "password"}
            # an id's pattern states what parse_uuid reads (dashes optional), which format
            # "uuid" (dashes required) would contradict
            if self.kind in fmt and not (self.kind == "uuid" and self.pattern):
                base["format"] = fmt[self.kind]
            if self.max_length is not None:
                base["maxLength"] = self.max_length
            if self.choices:
                base["enum"] = list(self.choices)
            if self.pattern:
                base["pattern"] = self.pattern
            elif self.kind == "datetime":
                base["pattern"] = DATETIME_RE
            else:
                base["pattern"] = "^[^\\u0000]*$"  # Postgres text holds no NUL
        if self.required:
            return base
        return {"anyOf": [base, {"type": "null"}]}

    def convert(self, value: Any) -> tuple[Any, dict[str, str] | None]:
        """(SQL value, None) or (None, a field error)."""
        if value is None:
            if self.required:
                return None, field_error(self.key, "required", "Campo obrigatório")
            return None, None
        if self.kind == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON's 5.0 is the integer 5
            if isinstance(value, bool) or not isinstance(value, int):
                return None, field_error(self.key, "wrong_type", "Tem de ser um número inteiro")
            low = self.minimum if self.minimum is not None else -(2**31)
            high = self.maximum if self.maximum is not None else 2**31 - 1
            if not low <= value <= high:
                return None, field_error(self.key, "invalid", f"Entre {low} e {high}")
            return value, None
        if self.kind == "boolean":
            if not isinstance(value, bool):
                return None, field_error(self.key, "wrong_type", "Tem de ser true ou false")
            return value, None
        if not isinstance(value, str):
            return None, field_error(self.key, "wrong_type", "Tem de ser texto")
        if "\x00" in value or not _utf8(value):
            return None, field_error(self.key, "invalid_characters", "Caracteres inválidos")
        if self.max_length is not None and len(value) > self.max_length:
            return None, field_error(self.key, "length", f"No máximo {self.max_length} caracteres")
        if self.choices and value not in self.choices:
            return None, field_error(self.key, "invalid", "Um de: " + ", ".join(self.choices))
        if self.pattern and not re.search(self.pattern, value):
            return None, field_error(self.key, "invalid", "Formato inválido")
        if self.kind == "uuid":
            try:
                return parse_uuid(value, self.key, MSG_STAFF_UUID), None
            except ApiError:
                return None, field_error(self.key, "invalid", "Identificador inválido")
        if self.kind == "datetime":
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                return None, field_error(self.key, "invalid", "Data e hora ISO 8601 inválida")
            if when.tzinfo is None:
                return None, field_error(self.key, "invalid", "Indica o fuso horário (Z ou +01:00)")
            if not 2000 <= when.year <= 2100:
                return None, field_error(self.key, "invalid", "Data fora do intervalo 2000-2100")
            # in UTC: ISO 8601 offsets run to ±23:59, PostgreSQL's only to ±15:59
            return when.astimezone(UTC).isoformat(), None
        return value, None


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def staff_cookie_name(request: Request, settings: Settings) -> str:
    """`__Host-gl_staff` over HTTPS, else `gl_staff` (the guest cookie's rule)."""
    return SECURE_STAFF_COOKIE if uses_https(request.scope, settings) else STAFF_COOKIE


def staff_token(request: Request, settings: Settings) -> str | None:
    value = request.cookies.get(staff_cookie_name(request, settings))
    return value if value and TOKEN_RE.match(value) else None


def refuse_foreign_origin(request: Request, settings: Settings) -> None:
    """403 unless a state-changing request comes from this site: an Origin header, when the
    browser sends one (every browser does on a POST), must be this site's own (PUBLIC_URL's
    origin, else this request's scheme and Host); Sec-Fetch-Site must not say cross-site. A
    request without either comes from no browser, so it carries no victim's cookie."""
    refuse_cross_site(request)
    origin = request.headers.get("origin")
    if origin is None:
        return
    if settings.mail.public_url:
        expected = settings.mail.public_url.rstrip("/")
        expected = "/".join(expected.split("/")[:3])
    else:
        scheme = "https" if uses_https(request.scope, settings) else "http"
        expected = f"{scheme}://{request.headers.get('host', '')}"
    if origin.strip().lower() != expected.lower():
        raise api_error("forbidden")


def _path_ids(request: Request) -> Params:
    """The ids in the path (event_id, organization_id, promoter_id), checked as uuids."""
    out: Params = {}
    for name, value in request.path_params.items():
        key = re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
        out[name] = parse_uuid(value, key, MSG_STAFF_UUID)
    return out


@dataclass(frozen=True)
class StaffBody(JsonBody):
    """A console POST: Origin checked, a JSON object with these items, the path's ids, the staff
    cookie (none → 401 without asking SQL, unless `cookie` is "none": login, invite)."""

    items: tuple[Item, ...] = ()
    cookie: Literal["required", "none", "optional"] = "required"
    # The schema's statement of a rule across items that SQL enforces (JSON Schema `anyOf`
    # branches, one of which a body must match), so the document says all the server refuses.
    any_of: tuple[dict[str, Any], ...] = field(default=(), hash=False, compare=False)

    async def __call__(self, request: Request, settings: Settings) -> Params:
        refuse_foreign_origin(request, settings)
        body = await read_json_body(request)
        if not isinstance(body, dict):
            raise invalid_input(
                [field_error("body", "wrong_type", "O corpo do pedido tem de ser um objeto JSON")]
            )
        params: Params = {}
        errors = []
        for item in self.items:
            value, error = item.convert(body.get(item.key))
            if error is not None:
                errors.append(error)
            params[item.param] = value
        if errors:
            raise invalid_input(errors)
        params.update(_path_ids(request))
        params["client_key"] = client_key(request.scope, settings.trusted_proxies)
        if self.cookie != "none":
            token = staff_token(request, settings)
            if token is None and self.cookie == "required":
                raise api_error("session_invalid")
            params["session_token"] = token
        return params

    def amend_schema(self, schema: dict[str, Any]) -> None:
        schema["required"] = [i.key for i in self.items if i.required]
        schema["properties"] = {i.key: i.schema() for i in self.items}
        if self.any_of:
            schema["anyOf"] = [dict(branch) for branch in self.any_of]


@dataclass(frozen=True)
class StaffQuery:
    """A console GET: the staff cookie (none → 401), the path's ids and these query-string
    items (integers and booleans as text: 50, true)."""

    items: tuple[Item, ...] = ()
    session_cookie: ClassVar[None] = None

    async def __call__(self, request: Request, settings: Settings) -> Params:
        params: Params = _path_ids(request)
        errors = []
        for item in self.items:
            raw: Any = request.query_params.get(item.key)
            if raw is not None and item.kind == "integer":
                raw = int(raw) if re.fullmatch(r"-?[0-9]{1,9}", raw) else raw
            elif raw is not None and item.kind == "boolean":
                raw = {"true": True, "false": False}.get(raw, raw)
            elif raw == "":
                raw = None
            value, error = item.convert(raw)
            if error is not None:
                errors.append(error)
            params[item.param] = value
        if errors:
            raise invalid_input(errors)
        token = staff_token(request, settings)
        if token is None:
            raise api_error("session_invalid")
        params["session_token"] = token
        return params

    def openapi_params(self) -> tuple[dict[str, Any], ...]:
        return tuple(
            {"name": i.key, "in": "query", "required": i.required, "schema": _query_schema(i)}
            | ({"description": i.description} if i.description else {})
            for i in self.items
        )


def _query_schema(item: Item) -> dict[str, Any]:
    """An item's schema in a query string, which has no null: an optional one may be absent,
    and a text one also empty (read as absent, as StaffQuery does); an empty number or flag is
    refused."""
    schema = item.schema()
    if item.required:
        return schema
    value: dict[str, Any] = schema["anyOf"][0]
    if item.kind in ("integer", "boolean"):
        return value
    return {"anyOf": [value, {"type": "string", "maxLength": 0}]}


STAFF_COOKIE_PARAM: dict[str, Any] = {
    "name": STAFF_COOKIE,
    "in": "cookie",
    "required": False,
    "description": "The staff session token; named __Host-gl_staff over HTTPS. None or an "
    "invalid, expired or revoked one: 401 session_invalid.",
    "schema": {"type": "string"},
}


# --- responders -------------------------------------------------------------------------------


def _set_staff_cookie(
    request: Request, settings: Settings, response: Response, result: Any
) -> None:
    token = result.get("sessionToken") if isinstance(result, dict) else None
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise api_error("internal")
    name = staff_cookie_name(request, settings)
    response.set_cookie(
        name,
        token,
        max_age=_cookie_max_age(result.get("expiresAt")),
        path="/",
        secure=name == SECURE_STAFF_COOKIE,
        httponly=True,
        samesite="strict",
    )


def staff_session(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """Login or accepted invite: a refusal becomes its error; success sets the HttpOnly,
    SameSite=Strict staff cookie and answers when it expires (never the token)."""
    if isinstance(result, dict) and result.get("success") is False:
        raise from_refusal(result)
    if not isinstance(result, dict):
        raise api_error("internal")
    response = json_response({"success": True, "expiresAt": result.get("expiresAt")})
    _set_staff_cookie(request, settings, response, result)
    return response


def staff_logged_out(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """The session (or every session) ended server-side; the browser forgets the cookie."""
    body: dict[str, Any] = {"success": True}
    if isinstance(result, int) and not isinstance(result, bool):
        body["ended"] = result
    response = json_response(body)
    name = staff_cookie_name(request, settings)
    response.delete_cookie(
        name, path="/", secure=name == SECURE_STAFF_COOKIE, httponly=True, samesite="strict"
    )
    return response


def console_json(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """The SQL function's JSON as it is: it already holds only what the caller may see."""
    if not isinstance(result, dict):
        raise api_error("internal")
    return json_response(result)


def guest_refusal_or_ok(
    request: Request, settings: Settings, params: Params, result: Any
) -> Response:
    """A guest function answering {success: true} or a refusal."""
    if not isinstance(result, dict):
        raise api_error("internal")
    if result.get("success") is not True:
        raise from_refusal(result)
    return json_response({"success": True})


def door_link_created(
    request: Request, settings: Settings, params: Params, result: Any
) -> Response:
    """A new door link, answered this once (never stored in a form the server can show again):
    the SQL answer plus the full URL a staff phone opens (PUBLIC_URL's origin, else this
    request's) and that URL as an inline SVG QR code made here, so the token goes to no other
    host and never into a query string."""
    if not isinstance(result, dict) or not isinstance(result.get("path"), str):
        raise api_error("internal")
    origin = settings.mail.public_url or str(request.base_url)
    url = "/".join(origin.split("/")[:3]) + result["path"]
    return json_response({**result, "url": url, "qrSvg": qr.render_link_svg(url)})
