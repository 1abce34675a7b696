"""Request input: JSON bodies (type, size, shape), phone numbers, client keys.

Only the shape is checked here (types, required keys, formats Postgres would choke on); the
business rules (name lengths, email, password strength, birth date, list open…) live in SQL and
come back as `invalid_input` with SQL field names, mapped to JSON keys by errors.json_key.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import phonenumbers
from starlette.requests import ClientDisconnect, Request
from starlette.types import Scope

from guestlist.config import IPNetwork
from guestlist.web.errors import api_error, field_error, invalid_input

MAX_BODY_BYTES = 16 * 1024
DEFAULT_REGION = "PT"
_MAX_PHONE_CHARS = 40

QR_CODE_RE = re.compile(r"^[0-9a-f]{32}$")
SESSION_TOKEN_RE = re.compile(r"^[0-9a-f]{64}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

MSG_REQUIRED = "Campo obrigatório"
MSG_TEXT = "Tem de ser texto"
MSG_PHONE = "Número de telemóvel inválido."
MSG_UUID = "Identificador inválido"
MSG_DATE = "Data inválida (AAAA-MM-DD)"
MSG_CHARS = "Contém caracteres inválidos"

Kind = Literal["phone", "text", "secret", "uuid", "date"]


# --- phone -------------------------------------------------------------------------------


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """A phone as typed (`935 886 310`, `00351…`, `+351 …`) → E.164, or None if not valid."""
    if not raw or len(raw) > _MAX_PHONE_CHARS:
        return None
    return _normalize_phone(raw, region)


# phonenumbers.parse + is_valid_number cost ~25 µs; a guest's phone is sent more than once
# (verify-phone, then login or register, a retry), as typed: the same string. Bounded (≤ 40
# characters each, so well under a megabyte) and per process.
PHONE_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _normalize_phone(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- body ----------------------------------------------------------------------------------


def _is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json"


async def read_json_body(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The parsed JSON body. 415 unless application/json; 413 past `limit` bytes, counted while
    reading the stream (Content-Length is not trusted); 400 if not JSON."""
    content_type = declared = None
    for key, value in request.scope["headers"]:  # one pass instead of two Headers lookups
        if key == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
        elif key == b"content-length" and declared is None:
            declared = value.decode("latin-1")
    if not _is_json_media_type(content_type):
        raise api_error("unsupported_media_type")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise api_error("payload_too_large")  # early refusal; the stream is still counted below
    # The ASGI messages themselves, as Request.stream() reads them, without its async
    # generator (nothing else reads this request's body).
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise api_error("payload_too_large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_input(
            [field_error("body", "invalid_json", "O corpo do pedido não é JSON válido")]
        ) from None


@dataclass(frozen=True)
class Field:
    """One JSON key of a body: its SQL parameter, kind and whether it must be present."""

    key: str
    param: str
    kind: Kind = "text"
    required: bool = True


def _text_ok(value: str) -> bool:
    if "\x00" in value:
        return False  # Postgres text cannot hold NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False  # lone surrogates from "\ud800" escapes
    return True


def _convert(spec: Field, value: Any) -> tuple[Any, dict[str, str] | None]:
    """(SQL value, None) or (None, field error)."""
    if value is None or (isinstance(value, str) and value == "" and spec.kind != "secret"):
        if spec.required:
            return None, field_error(spec.key, "required", MSG_REQUIRED)
        return None, None
    if not isinstance(value, str):
        return None, field_error(spec.key, "wrong_type", MSG_TEXT)
    if spec.kind == "secret" and value == "":
        return None, field_error(spec.key, "required", MSG_REQUIRED)
    if not _text_ok(value):
        return None, field_error(spec.key, "invalid_characters", MSG_CHARS)
    if spec.kind == "phone":
        phone = normalize_phone(value.strip())
        if phone is None:
            return None, field_error(spec.key, "invalid", MSG_PHONE)
        return phone, None
    if spec.kind == "uuid":
        try:
            return str(uuid.UUID(value.strip())), None
        except ValueError:
            return None, field_error(spec.key, "invalid", MSG_UUID)
    if spec.kind == "date":
        text = value.strip()
        if not _DATE_RE.match(text):
            return None, field_error(spec.key, "invalid", MSG_DATE)
        try:
            return dt.date.fromisoformat(text), None
        except ValueError:
            return None, field_error(spec.key, "invalid", MSG_DATE)
    return value, None


def validate_body(body: Any, fields: Sequence[Field]) -> dict[str, Any]:
    """Body → SQL parameters (by `Field.param`); 400 with every field error at once."""
    if not isinstance(body, dict):
        raise invalid_input(
            [field_error("body", "wrong_type", "O corpo do pedido tem de ser um objeto JSON")]
        )
    params: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for spec in fields:
        value, error = _convert(spec, body.get(spec.key))
        if error is not None:
            errors.append(error)
        else:
            params[spec.param] = value
    if errors:
        raise invalid_input(errors)
    return params


# --- who is asking --------------------------------------------------------------------------


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Iterable[IPNetwork]
) -> bool:
    return any(addr.version == net.version and addr in net for net in nets)


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", []) if k == name]


_CLIENT_KEY_SCOPE = "guestlist.client_key"


def client_key(scope: Scope, trusted: Sequence[IPNetwork]) -> str:
    """The rate-limit key: the peer address; when the peer is a trusted proxy, the right-most
    X-Forwarded-For hop that is not itself a trusted proxy. Worked out once per request (the
    reader and the metrics both ask) and kept in the scope with the proxies it was made for."""
    cached = scope.get(_CLIENT_KEY_SCOPE)
    if cached is not None and cached[0] is trusted:
        return str(cached[1])
    key = _client_key(scope, trusted)
    scope[_CLIENT_KEY_SCOPE] = (trusted, key)
    return key


def client_key_found(scope: Scope) -> str | None:
    """This request's client key if something already worked it out (see client_key)."""
    cached = scope.get(_CLIENT_KEY_SCOPE)
    return None if cached is None else str(cached[1])


def _client_key(scope: Scope, trusted: Sequence[IPNetwork]) -> str:
    peer = _peer(scope) or "unknown"
    if not trusted:
        return peer[:100]
    peer_ip = _parse_ip(peer)
    if peer_ip is None or not _trusted(peer_ip, trusted):
        return peer[:100]
    hops = [h for v in _header_values(scope, b"x-forwarded-for") for h in v.split(",")]
    for hop in reversed(hops):
        ip = _parse_ip(hop)
        if ip is None:
            return peer  # garbage the proxy did not add: do not let it pick a bucket
        if not _trusted(ip, trusted):
            return str(ip)
    leftmost = _parse_ip(hops[0]) if hops else None
    return str(leftmost) if leftmost else peer


def is_https(scope: Scope, trusted: Sequence[IPNetwork]) -> bool:
    """https on the socket, or X-Forwarded-Proto: https from a trusted proxy."""
    if scope.get("scheme") == "https":
        return True
    peer_ip = _parse_ip(_peer(scope) or "")
    if peer_ip is None or not _trusted(peer_ip, trusted):
        return False
    values = _header_values(scope, b"x-forwarded-proto")
    return bool(values) and values[-1].split(",")[-1].strip().lower() == "https"


def session_token(cookie: str | None) -> str | None:
    """The gl_session cookie value if it has the token's shape."""
    if cookie and SESSION_TOKEN_RE.match(cookie):
        return cookie
    return None


def parse_uuid(value: str, key: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise invalid_input([field_error(key, "invalid", MSG_UUID)]) from None
