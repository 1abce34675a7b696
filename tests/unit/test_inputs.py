"""inputs.py: phone normalization, body shape checks, client keys (no database)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import unicodedata

import pytest

from guestlist.config import parse_networks
from guestlist.web.errors import ApiError
from guestlist.web.inputs import (
    MSG_BIRTH_DATE_OLD,
    MSG_NOT_MOBILE,
    MSG_PHONE_REQUIRED,
    Field,
    client_key,
    is_https,
    mobile_phone,
    normalize_phone,
    printable,
    session_token,
    validate_body,
)
from guestlist.web.readers import LOGIN_BODY, PHONE_BODY, REGISTER_BODY

FIELDS = (
    Field("phone", "phone", "phone"),
    Field("firstName", "first_name"),
    Field("password", "password", "secret"),
    Field("eventId", "event_id", "uuid"),
    Field("birthDate", "birth_date", "date", required=False),
    Field("city", "city", required=False),
)
EVENT = "5f0c6a52-6d55-4b43-9d7e-3a0f61d1b1aa"


@pytest.mark.parametrize(
    "raw",
    [
        "935 886 310",
        "00351935886310",
        "+351 935 886 310",
        "+351935886310",
        "935-886-310",
        "(+351) 935886310",
        " 935886310 ",
    ],
)
def test_portuguese_forms_are_the_same_guest(raw: str) -> None:
    assert normalize_phone(raw.strip()) == "+351935886310"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+1 202 555 0143", "+12025550143"),
        ("21 123 4567", "+351211234567"),
    ],
)
def test_foreign_and_landline_numbers(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "123",
        "93588631",
        "+351 935 886 3100",
        "abc",
        "+999 123 456 789",
        "9" * 41,
        "935886310; DROP TABLE x",
    ],
)
def test_invalid_phones_are_refused(raw: str) -> None:
    assert normalize_phone(raw) is None


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("935 886 310", "+351935886310"),
        ("961 234 567", "+351961234567"),
        ("+44 7911 123456", "+447911123456"),
        ("+1 202 555 0143", "+12025550143"),  # mobiles and landlines share the US ranges
    ],
)
def test_numbers_that_receive_messages_are_mobile(raw: str, e164: str) -> None:
    assert mobile_phone(raw) == (e164, None)


@pytest.mark.parametrize(
    "raw",
    [
        "21 123 4567",
        "211 234 567",
        "+351 22 123 4567",
        "800 200 200",
        "707 200 200",
        "+49 30 123456",
    ],
)
def test_landlines_and_service_numbers_are_not_mobile(raw: str) -> None:
    assert mobile_phone(raw) == (None, "not_mobile")


@pytest.mark.parametrize("raw", ["", "123", "93588631", "9" * 41])
def test_invalid_numbers_are_invalid_not_landlines(raw: str) -> None:
    assert mobile_phone(raw) == (None, "invalid")


def test_phone_step_refuses_a_lisbon_landline_with_its_own_code() -> None:
    with pytest.raises(ApiError) as info:
        validate_body({"phone": "21 123 4567"}, PHONE_BODY)
    assert info.value.errors == [
        {"field": "phone", "code": "not_mobile", "message": MSG_NOT_MOBILE}
    ]


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_an_empty_phone_asks_for_it(empty: object) -> None:
    with pytest.raises(ApiError) as info:
        validate_body({"phone": empty}, PHONE_BODY)
    assert info.value.errors == [
        {"field": "phone", "code": "required", "message": MSG_PHONE_REQUIRED}
    ]
    assert MSG_PHONE_REQUIRED == "Indica o teu número de telemóvel."


def test_login_still_takes_a_landline_account() -> None:
    body = {"phone": "21 123 4567", "password": "x", "eventId": EVENT}
    assert validate_body(body, LOGIN_BODY)["phone"] == "+351211234567"


def test_a_birth_date_before_1900_asks_for_a_real_one() -> None:
    body = {**good_body(phone="935 886 310"), "birthDate": "1850-06-01"}
    body.update(firstName="Ana", lastName="Silva", email="ana@example.pt")
    with pytest.raises(ApiError) as info:
        validate_body(body, REGISTER_BODY)
    assert info.value.errors == [
        {"field": "birthDate", "code": "invalid", "message": MSG_BIRTH_DATE_OLD}
    ]


def test_a_100_character_name_is_refused_not_cut() -> None:
    body = {**good_body(), "firstName": "A" * 100, "lastName": "Silva", "email": "ana@example.pt"}
    with pytest.raises(ApiError) as info:
        validate_body(body, REGISTER_BODY)
    assert info.value.errors == [
        {
            "field": "firstName",
            "code": "length",
            "message": "Indica o teu nome, com 80 caracteres no máximo.",
        }
    ]


def good_body(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "phone": "935 886 310",
        "firstName": "Ana",
        "password": "Segredo123",
        "eventId": EVENT,
    }
    body.update(over)
    return body


def errors_of(body: object) -> list[dict[str, str]]:
    with pytest.raises(ApiError) as info:
        validate_body(body, FIELDS)
    assert info.value.status == 400
    assert info.value.code == "invalid_input"
    assert info.value.errors is not None
    return info.value.errors


def test_valid_body_becomes_sql_parameters() -> None:
    params = validate_body(good_body(birthDate="1990-05-17", city="Porto", extra=1), FIELDS)
    assert params == {
        "phone": "+351935886310",
        "first_name": "Ana",
        "password": "Segredo123",
        "event_id": EVENT,
        "birth_date": dt.date(1990, 5, 17),
        "city": "Porto",
    }


def test_optional_fields_absent_or_empty_are_null() -> None:
    params = validate_body(good_body(city="", birthDate=None), FIELDS)
    assert params["city"] is None and params["birth_date"] is None


def test_every_missing_field_is_named_by_its_json_key() -> None:
    errors = errors_of({})
    assert [(e["field"], e["code"]) for e in errors] == [
        ("phone", "required"),
        ("firstName", "required"),
        ("password", "required"),
        ("eventId", "required"),
    ]
    assert all(e["message"] for e in errors)


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("phone", 935886310, "wrong_type"),
        ("firstName", ["Ana"], "wrong_type"),
        ("password", {"a": 1}, "wrong_type"),
        ("eventId", "not-a-uuid", "invalid"),
        ("eventId", 12, "wrong_type"),
        ("birthDate", "17/05/1990", "invalid"),
        ("birthDate", "1990-02-30", "invalid"),
        ("birthDate", "19900517", "invalid"),
        ("phone", "12", "invalid"),
        ("firstName", "A\x00na", "invalid_characters"),
        ("firstName", "\ud800", "invalid_characters"),
        ("password", "", "required"),
        ("firstName", True, "wrong_type"),
        ("city", 3.5, "wrong_type"),
    ],
)
def test_wrong_values_name_their_key(key: str, value: object, code: str) -> None:
    errors = errors_of(good_body(**{key: value}))
    assert [(e["field"], e["code"]) for e in errors] == [(key, code)]


@pytest.mark.parametrize("body", [[], "x", 1, None, True])
def test_body_must_be_an_object(body: object) -> None:
    assert [e["field"] for e in errors_of(body)] == ["body"]


def scope(peer: str | None, xff: str | None = None, proto: str | None = None) -> dict:
    headers = []
    if xff is not None:
        headers.append((b"x-forwarded-for", xff.encode()))
    if proto is not None:
        headers.append((b"x-forwarded-proto", proto.encode()))
    return {"client": (peer, 1234) if peer else None, "headers": headers, "scheme": "http"}


TRUSTED = parse_networks("10.0.0.0/8, 127.0.0.1")


def test_client_key_is_the_peer_without_trusted_proxies() -> None:
    assert client_key(scope("203.0.113.9", "1.2.3.4"), ()) == "203.0.113.9"


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    assert client_key(scope("203.0.113.9", "1.2.3.4"), TRUSTED) == "203.0.113.9"


def test_rightmost_untrusted_hop_from_a_trusted_proxy() -> None:
    # the client forged "6.6.6.6"; the real client is the hop our proxies saw
    key = client_key(scope("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.5"), TRUSTED)
    assert key == "198.51.100.7"


def test_all_hops_trusted_uses_the_leftmost() -> None:
    assert client_key(scope("10.0.0.2", "10.1.1.1, 10.0.0.5"), TRUSTED) == "10.1.1.1"


def test_garbage_hop_falls_back_to_the_peer() -> None:
    assert client_key(scope("10.0.0.2", "not-an-ip"), TRUSTED) == "10.0.0.2"


def test_trusted_proxy_without_header_is_the_key() -> None:
    assert client_key(scope("127.0.0.1"), TRUSTED) == "127.0.0.1"


def test_ipv6_hops() -> None:
    trusted = parse_networks("::1")
    assert client_key(scope("::1", "2001:db8::7, ::1"), trusted) == "2001:db8::/64"
    assert ipaddress.ip_network(client_key(scope("2001:db8::9"), trusted)).prefixlen == 64


def test_ipv6_clients_are_keyed_by_their_64() -> None:
    # one subscriber picks any address in its /64: every one of them is the same client
    same = {client_key(scope(f"2001:db8:1:2:{n:x}::{n:x}"), ()) for n in range(1, 50)}
    assert same == {"2001:db8:1:2::/64"}
    assert client_key(scope("2001:db8:1:3::1"), ()) == "2001:db8:1:3::/64"
    assert client_key(scope("::ffff:198.51.100.7"), ()) == "198.51.100.7"  # IPv4-mapped
    assert client_key(scope("198.51.100.7"), ()) == "198.51.100.7"  # IPv4: per address


def test_https_only_from_socket_or_trusted_proxy() -> None:
    assert is_https({**scope("203.0.113.9"), "scheme": "https"}, ())
    assert not is_https(scope("203.0.113.9", proto="https"), TRUSTED)
    assert is_https(scope("10.0.0.2", proto="https"), TRUSTED)
    assert not is_https(scope("10.0.0.2", proto="http"), TRUSTED)


def test_session_token_shape() -> None:
    assert session_token("a" * 64) == "a" * 64
    assert session_token("A" * 64) is None
    assert session_token("a" * 63) is None
    assert session_token(None) is None


# --- the rules SQL applies, applied here too -------------------------------------------------


def register_errors(**over: object) -> list[tuple[str, str]]:
    body: dict[str, object] = {
        "phone": "935 886 310",
        "firstName": "Ana",
        "lastName": "Silva",
        "email": "ana@example.pt",
        "password": "Segredo123",
        "eventId": EVENT,
    }
    body.update(over)
    try:
        validate_body(body, REGISTER_BODY)
    except ApiError as err:
        assert err.errors is not None
        return [(e["field"], e["code"]) for e in err.errors]
    return []


def test_a_good_registration_passes() -> None:
    assert register_errors(city="São João da Madeira", gender="F", birthDate="1990-01-01") == []
    assert register_errors(firstName="Maria-João", lastName="O'Brien Ñúñez") == []


def test_empty_names_bad_email_and_weak_password_are_all_named() -> None:
    assert register_errors(firstName="", lastName="", email="x", password="a") == [
        ("firstName", "required"),
        ("lastName", "required"),
        ("email", "invalid"),
        ("password", "weak"),
    ]


@pytest.mark.parametrize(
    "char",
    ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200d", "\u200f", "\ufeff", "\u00ad",
     "\x07", "\t", "\n", "\x85", "\u2028", "\U000e0041"],
)  # fmt: skip
def test_invisible_characters_in_names(char: str) -> None:
    assert register_errors(
        firstName=f"Ana{char}", lastName=f"{char}Silva", city=f"Por{char}to"
    ) == [
        ("firstName", "invalid_characters"),
        ("lastName", "invalid_characters"),
        ("city", "invalid_characters"),
    ]


def test_invisible_characters_in_email() -> None:
    assert register_errors(email="ana\u202e@example.pt") == [("email", "invalid_characters")]
    # whitespace of any kind is no email (its own rule, as in SQL)
    assert register_errors(email="ana\u00a0x@example.pt") == [("email", "invalid")]
    assert register_errors(email="  ana@example.pt  ") == []


def test_the_class_covers_every_control_and_format_character() -> None:
    """Every Cc, Cf, Zl and Zp code point of this Python's Unicode database is in the class,
    and nothing else is but the format characters Unicode 15 added (U+13439…U+1343F)."""
    newer = set(range(0x13439, 0x13440))
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        hidden = unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
        assert printable(char) is not hidden or (cp in newer and unicodedata.category(char) == "Cn")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Aa1" + "x" * 69, None),  # 72 bytes
        ("Aa1" + "x" * 70, "too_long"),  # 73 bytes
        ("Aa1" + "é" * 34 + "x", None),  # 3 + 68 + 1 = 72 bytes in 38 characters
        ("Aa1" + "é" * 35, "too_long"),  # 73 bytes in 38 characters
        ("Aa1😀" + "x" * 65, None),  # 72 bytes
        ("Aa1😀" + "x" * 66, "too_long"),
        ("Aa1" + "x" * 197, "too_long"),
    ],
)
def test_passwords_are_limited_to_72_bytes(password: str, code: str | None) -> None:
    assert register_errors(password=password) == ([("password", code)] if code else [])
    login = {"phone": "935 886 310", "password": password, "eventId": EVENT}
    if code is None:
        assert validate_body(login, LOGIN_BODY)["password"] == password
    else:
        with pytest.raises(ApiError) as info:
            validate_body(login, LOGIN_BODY)
        assert [(e["field"], e["code"]) for e in info.value.errors or []] == [("password", code)]


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"firstName": "   "}, [("firstName", "length")]),
        ({"firstName": "a" * 81}, [("firstName", "length")]),
        ({"firstName": "a" * 80}, []),
        ({"firstName": "  " + "a" * 80 + "  "}, []),  # counted after trimming, as in SQL
        ({"city": "c" * 81}, [("city", "length")]),
        ({"city": "   "}, []),
        ({"email": "a@b"}, [("email", "invalid")]),
        ({"email": "a" * 250 + "@b.pt"}, [("email", "invalid")]),
        ({"gender": "X"}, [("gender", "invalid")]),
        ({"gender": "F"}, []),
        ({"birthDate": "1900-01-01"}, [("birthDate", "invalid")]),
        ({"birthDate": (dt.date.today() + dt.timedelta(days=1)).isoformat()},
         [("birthDate", "invalid")]),
        ({"birthDate": " 1990-01-01"}, [("birthDate", "invalid")]),
        ({"eventId": EVENT.replace("-", "")}, []),
        ({"eventId": EVENT.upper()}, []),
        ({"eventId": "{" + EVENT + "}"}, [("eventId", "invalid")]),
        ({"eventId": " " + EVENT}, [("eventId", "invalid")]),
        ({"password": "semmaiusculas1"}, [("password", "weak")]),
        ({"phone": "9" * 41}, [("phone", "invalid")]),
    ],
)  # fmt: skip
def test_each_sql_rule(over: dict[str, object], expected: list[tuple[str, str]]) -> None:
    assert register_errors(**over) == expected
