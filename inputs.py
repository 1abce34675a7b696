"""Request input: JSON bodies (type, size, shape), phone numbers, client keys.

Only the shape is checked here (types, required keys, formats Postgres would choke on); the
business rules (name lengths, email, password strength, birth date, list open…) live in SQL and
come back as `invalid_input` with SQL field names, mapped to JSON keys by errors.json_key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import phonenumbers
from starlette.requests import Request
from starlette.types import Scope

from config import IPNetwork
from errors import api_error, field_error, invalid_input

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
    if not _is_json_media_type(request.headers.get("content-type")):
        raise api_error("unsupported_media_type")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise api_error("payload_too_large")  # early refusal; the stream is still counted below
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise api_error("payload_too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
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


def client_key(scope: Scope, trusted: Sequence[IPNetwork]) -> str:
    """The rate-limit key: the peer address; when the peer is a trusted proxy, the right-most
    X-Forwarded-For hop that is not itself a trusted proxy."""
    peer = _peer(scope) or "unknown"
    peer_ip = _parse_ip(peer)
    if not trusted or peer_ip is None or not _trusted(peer_ip, trusted):
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
