"""Request input: JSON bodies (type, size, shape, field rules), phone numbers, client keys.

A body's fields are checked by the same rules the SQL functions apply (app._registration_errors,
app._login_errors: lengths, email, password strength and its 72-byte limit, printable names,
dates, gender, ids), every field at once, so one answer names every invalid field whichever
layer would have found it; SQL stays the authority and checks again. What only SQL can know
(the event exists, the list is open, the phone is taken…) comes back from SQL with SQL field
names, mapped to JSON keys by errors.json_key.
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

from guestlist.config import IPNetwork, Settings
from guestlist.web.errors import api_error, field_error, invalid_input

MAX_BODY_BYTES = 16 * 1024
DEFAULT_REGION = "PT"
MAX_PHONE_CHARS = 40
_MAX_PHONE_CHARS = MAX_PHONE_CHARS

QR_CODE_RE = re.compile(r"^[0-9a-f]{32}$")
SESSION_TOKEN_RE = re.compile(r"^[0-9a-f]{64}$")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fullmatch
# A uuid as app._try_uuid takes it: 32 hex digits, hyphens optional between the groups.
UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)

# Characters no name may hold: Unicode's control (Cc), format (Cf), line and paragraph separator
# (Zl, Zp) characters as of Unicode 15 — C0/C1 controls, soft hyphen, zero-width spaces and
# joiners, LRM/RLM, bidi embeddings, overrides and isolates, BOM, tags… They make one name look
# like another on the door's screen and in exports. The same class as app._printable_text
# (migrations/0009), compared code point by code point in tests/unit/test_inputs.py.
PRINTABLE_BREAKERS = re.compile(
    r"[\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    r"\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    r"\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# Whitespace an email cannot hold (ASCII's and Unicode's spaces), as app._registration_errors
# spells it out.
_EMAIL_PART = r"[^@ \t\n\v\f\r\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+"
EMAIL_RE = re.compile(rf"{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}")  # fullmatch
EMAIL_MAX_CHARS = 254
# bcrypt reads only a password's first 72 bytes: longer ones are refused, never cut.
PASSWORD_MAX_BYTES = 72
PASSWORD_MIN_CHARS = 8
OLDEST_BIRTH_DATE = dt.date(1900, 1, 1)  # a birth date must be after it and before today

# Every message says what to do (tests/unit/test_messages.py): the field's texts are SQL's own,
# word for word, where SQL checks the same rule (tests/db/test_field_parity.py).
MSG_REQUIRED = "Preenche este campo."
MSG_TEXT = "Envia este campo como texto."
MSG_PHONE = "Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310."
MSG_PHONE_REQUIRED = "Indica o teu número de telemóvel."
MSG_NOT_MOBILE = (
    "Este número é de um telefone fixo ou de um serviço. Indica um número de telemóvel, onde "
    "possas receber mensagens."
)
MSG_UUID = "Identificador inválido. Abre de novo o link que recebeste do promotor."
# the console's and the door's ids come from their own lists, not from a promoter's link
MSG_STAFF_UUID = "Identificador inválido. Volta à lista e escolhe de novo."
MSG_EVENT_REQUIRED = "Evento em falta. Abre de novo o link que recebeste do promotor."
MSG_PROMOTER_REQUIRED = "Promotor em falta. Abre de novo o link que recebeste do promotor."
MSG_DATE = "Indica a data de nascimento como AAAA-MM-DD, ou deixa-a em branco."
MSG_CHARS = (
    "Tem caracteres invisíveis ou de controlo, que não são permitidos. Escreve o texto à mão, "
    "sem o colar."
)
MSG_EMAIL = "Indica um email válido, como nome@exemplo.pt."
MSG_EMAIL_REQUIRED = "Indica o teu email, como nome@exemplo.pt."
MSG_PASSWORD_REQUIRED = "Indica a tua palavra-passe."
MSG_PASSWORD_WEAK = (
    "Escolhe uma palavra-passe com pelo menos 8 caracteres, com maiúsculas, minúsculas e números."
)
MSG_PASSWORD_LONG = (
    "A palavra-passe tem mais de 72 bytes (letras acentuadas contam 2, emojis 4). Escreve uma "
    "mais curta."
)
MSG_BIRTH_DATE = "A data de nascimento tem de ser anterior a hoje. Corrige-a ou deixa-a em branco."
MSG_BIRTH_DATE_OLD = (
    "Indica uma data de nascimento real, depois de 1900, ou deixa o campo em branco."
)
MSG_CHOICE = "Escolhe uma das opções da lista."

# phone: any usual form (mobile=True: of a number that can receive a message); text: a string
# (max_chars/printable/choices add SQL's rules); secret: a login password (≤ 72 bytes);
# new_secret: a new password (strength, ≤ 72 bytes); email; uuid; date: YYYY-MM-DD (past=True:
# a birth date).
Kind = Literal["phone", "text", "secret", "new_secret", "email", "uuid", "date"]


# --- phone -------------------------------------------------------------------------------


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """A phone as typed (`935 886 310`, `00351…`, `+351 …`) → E.164, or None if not valid."""
    if not raw or len(raw) > _MAX_PHONE_CHARS:
        return None
    return _normalize_phone(raw, region)[0]


def mobile_phone(raw: str, region: str = DEFAULT_REGION) -> tuple[str | None, str | None]:
    """(E.164, None) for a number a guest can receive a message on; (None, "invalid") for no
    valid number; (None, "not_mobile") for a valid one of another type (a landline such as
    Lisbon's 21x xxx xxx, a toll-free or shared-cost line, a VoIP or pager number)."""
    if not raw or len(raw) > _MAX_PHONE_CHARS:
        return None, "invalid"
    e164, mobile = _normalize_phone(raw, region)
    if e164 is None:
        return None, "invalid"
    return (e164, None) if mobile else (None, "not_mobile")


# Number types that can receive a text message: a mobile, or a number of a plan where mobiles
# and landlines share the ranges (the US, Canada…: phonenumbers cannot tell them apart).
_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


# phonenumbers.parse + is_valid_number cost ~25 µs; a guest's phone is sent more than once
# (verify-phone, then login or register, a retry), as typed: the same string. Bounded (≤ 40
# characters each, so well under a megabyte) and per process.
PHONE_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _normalize_phone(raw: str, region: str) -> tuple[str | None, bool]:
    """(E.164 or None, whether it can receive a message)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, False
    if not phonenumbers.is_valid_number(number):
        return None, False
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(number) in _MOBILE_TYPES


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
            [field_error("body", "invalid_json", "O pedido não é JSON. Envia um objeto JSON.")]
        ) from None


@dataclass(frozen=True)
class Field:
    """One JSON key of a body: its SQL parameter, kind, whether it must be present, and the
    rules SQL applies to it (lengths count characters after trimming spaces, as SQL's
    length(btrim(…)); `messages` are SQL's own texts for this field, by error code)."""

    key: str
    param: str
    kind: Kind = "text"
    required: bool = True
    max_chars: int | None = None
    printable: bool = False  # no control or invisible formatting characters
    choices: tuple[str, ...] = ()
    past: bool = False  # a date before today and after 1900-01-01
    mobile: bool = False  # a phone that can receive a message (mobile_phone)
    messages: tuple[tuple[str, str], ...] = ()

    def message(self, code: str, default: str) -> str:
        return dict(self.messages).get(code, default)


def _text_ok(value: str) -> bool:
    if "\x00" in value:
        return False  # Postgres text cannot hold NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False  # lone surrogates from "\ud800" escapes
    return True


def printable(value: str) -> bool:
    """No control, format, line or paragraph separator character (app._printable_text)."""
    return PRINTABLE_BREAKERS.search(value) is None


def password_error(value: str, new: bool) -> tuple[str, str] | None:
    """(code, message) when a password breaks SQL's rules: more than 72 bytes of UTF-8 (login and
    registration); fewer than 8 characters or no lower case, upper case or digit (new ones)."""
    if len(value.encode("utf-8")) > PASSWORD_MAX_BYTES:
        return "too_long", MSG_PASSWORD_LONG
    if new and (
        len(value) < PASSWORD_MIN_CHARS
        or not re.search("[a-z]", value)
        or not re.search("[A-Z]", value)
        or not re.search("[0-9]", value)
    ):
        return "weak", MSG_PASSWORD_WEAK
    return None


def _check_text(spec: Field, value: str) -> tuple[str, str] | None:
    """(code, message) for a text, email or password breaking its field's rules."""
    if spec.kind in ("secret", "new_secret"):
        return password_error(value, new=spec.kind == "new_secret")
    trimmed = value.strip(" ")  # SQL's btrim: spaces only
    if spec.kind == "email":
        if len(trimmed) > EMAIL_MAX_CHARS or not EMAIL_RE.fullmatch(trimmed):
            return "invalid", spec.message("invalid", MSG_EMAIL)
    elif spec.max_chars is not None and not (
        (1 if spec.required else 0) <= len(trimmed) <= spec.max_chars
    ):
        return "length", spec.message("length", MSG_REQUIRED)
    if (spec.printable or spec.kind == "email") and not printable(value):
        return "invalid_characters", MSG_CHARS
    if spec.choices and value not in spec.choices:
        return "invalid", spec.message("invalid", MSG_CHOICE)
    return None


# What to fill in, by kind, when a field has no "required" message of its own.
_REQUIRED_MESSAGES: dict[str, str] = {
    "phone": MSG_PHONE_REQUIRED,
    "secret": MSG_PASSWORD_REQUIRED,
    "new_secret": MSG_PASSWORD_WEAK,
    "email": MSG_EMAIL_REQUIRED,
}


def _required_message(spec: Field) -> str:
    return spec.message("required", _REQUIRED_MESSAGES.get(spec.kind, MSG_REQUIRED))


def _convert(spec: Field, value: Any) -> tuple[Any, dict[str, str] | None]:
    """(SQL value, None) or (None, field error)."""
    secret = spec.kind in ("secret", "new_secret")
    if spec.kind == "phone" and isinstance(value, str) and not value.strip() and spec.required:
        return None, field_error(spec.key, "required", MSG_PHONE_REQUIRED)
    if value is None or (isinstance(value, str) and value == "" and not secret):
        if spec.required:
            return None, field_error(spec.key, "required", _required_message(spec))
        return None, None
    if not isinstance(value, str):
        return None, field_error(spec.key, "wrong_type", MSG_TEXT)
    if secret and value == "":
        return None, field_error(spec.key, "required", _required_message(spec))
    if not _text_ok(value):
        return None, field_error(spec.key, "invalid_characters", MSG_CHARS)
    if spec.kind == "phone":
        if len(value) > MAX_PHONE_CHARS:
            return None, field_error(spec.key, "invalid", MSG_PHONE)
        if spec.mobile:
            phone, problem = mobile_phone(value.strip())
        else:
            phone = normalize_phone(value.strip())
            problem = None if phone else "invalid"
        if problem == "not_mobile":
            return None, field_error(spec.key, "not_mobile", MSG_NOT_MOBILE)
        if phone is None:
            return None, field_error(spec.key, "invalid", MSG_PHONE)
        return phone, None
    if spec.kind == "uuid":
        if not UUID_RE.fullmatch(value):
            return None, field_error(spec.key, "invalid", spec.message("invalid", MSG_UUID))
        return str(uuid.UUID(value)), None
    if spec.kind == "date":
        if not _DATE_RE.fullmatch(value):
            return None, field_error(spec.key, "invalid", MSG_DATE)
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None, field_error(spec.key, "invalid", MSG_DATE)
        if spec.past and day <= OLDEST_BIRTH_DATE:
            return None, field_error(spec.key, "invalid", MSG_BIRTH_DATE_OLD)
        if spec.past and day >= dt.date.today():
            return None, field_error(spec.key, "invalid", MSG_BIRTH_DATE)
        return day, None
    broken = _check_text(spec, value)
    if broken is not None:
        return None, field_error(spec.key, *broken)
    return value, None


def validate_body(body: Any, fields: Sequence[Field]) -> dict[str, Any]:
    """Body → SQL parameters (by `Field.param`); 400 with every field error at once."""
    if not isinstance(body, dict):
        raise invalid_input([field_error("body", "wrong_type", "Envia os campos num objeto JSON.")])
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
    X-Forwarded-For hop that is not itself a trusted proxy. An IPv4 address is its own key; an
    IPv6 address is keyed by its /64 (one subscriber's prefix: a host picks any address in it),
    an IPv4-mapped one as its IPv4 address. Worked out once per request (the reader and the
    metrics both ask) and kept in the scope with the proxies it was made for."""
    cached = scope.get(_CLIENT_KEY_SCOPE)
    if cached is not None and cached[0] is trusted:
        return str(cached[1])
    key = _address_key(_client_key(scope, trusted))
    scope[_CLIENT_KEY_SCOPE] = (trusted, key)
    return key


def _address_key(key: str) -> str:
    """An IPv6 address → its /64 (`2001:db8:1:2::/64`); anything else unchanged."""
    ip = _parse_ip(key)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
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


def uses_https(scope: Scope, settings: Settings) -> bool:
    """Whether this request is served over HTTPS: the deployment says so (HTTPS, the default),
    or the socket or a trusted proxy does (is_https). Decides the session cookie's name and
    Secure flag and the HSTS header."""
    return settings.https or is_https(scope, settings.trusted_proxies)


def session_token(cookie: str | None) -> str | None:
    """The gl_session cookie value if it has the token's shape."""
    if cookie and SESSION_TOKEN_RE.match(cookie):
        return cookie
    return None


def parse_uuid(value: str, key: str, message: str = MSG_UUID) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise invalid_input([field_error(key, "invalid", message)]) from None
