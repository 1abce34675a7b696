"""The app's body rules (inputs.validate_body) and SQL's (app._job_payload, which runs
app._registration_errors / app._login_errors, the checks of the seed functions) name the same
fields for the same input, with the same code and the same words, so one answer lists every bad
field whichever layer finds it and reads alike; and the two "printable" character classes are the
same code point for code point."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from guestlist.queries import load_queries
from guestlist.web.errors import ApiError, json_key
from guestlist.web.inputs import Field, printable, validate_body
from guestlist.web.readers import LOGIN_BODY, REGISTER_BODY

PARITY = load_queries(Path(__file__).with_name("parity_queries.sql"))
EVENT = "5f0c6a52-6d55-4b43-9d7e-3a0f61d1b1aa"
TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()
GOOD_REGISTER: dict[str, Any] = {
    "phone": "+351935886310",
    "firstName": "Ana",
    "lastName": "Silva",
    "email": "ana@example.pt",
    "password": "Segredo123",
    "eventId": EVENT,
}
GOOD_LOGIN: dict[str, Any] = {"phone": "+351935886310", "password": "Segredo123", "eventId": EVENT}

REGISTER_CASES: list[dict[str, Any]] = [
    {},
    GOOD_REGISTER,
    {**GOOD_REGISTER, "firstName": "", "lastName": "", "email": "x", "password": "a"},
    {**GOOD_REGISTER, "firstName": "   ", "lastName": " ", "email": "  "},
    {**GOOD_REGISTER, "firstName": "Ana\u202e", "lastName": "\u2066Silva", "city": "Lx\u200b",
     "email": "a\u2069@b.pt"},
    {**GOOD_REGISTER, "firstName": "Ana\tMaria", "lastName": "Sil\u00adva", "city": "Porto\x85",
     "email": "a\u00a0b@b.pt"},
    {**GOOD_REGISTER, "firstName": "a" * 81, "lastName": "b" * 80, "city": "c" * 81,
     "email": "e" * 250 + "@b.pt"},
    {**GOOD_REGISTER, "firstName": "  " + "a" * 80 + "  ", "city": "   "},
    {**GOOD_REGISTER, "password": "Aa1" + "x" * 70},
    {**GOOD_REGISTER, "password": "Aa1" + "é" * 35},
    {**GOOD_REGISTER, "password": "Aa1" + "x" * 69},
    {**GOOD_REGISTER, "password": "semmaiusculas1"},
    {**GOOD_REGISTER, "password": "Curta1"},
    {**GOOD_REGISTER, "password": "ÉÉÉÉéééé1"},
    {**GOOD_REGISTER, "gender": "X", "birthDate": TOMORROW},
    {**GOOD_REGISTER, "gender": "F", "birthDate": "1900-01-01"},
    {**GOOD_REGISTER, "birthDate": "1990-02-30"},
    {**GOOD_REGISTER, "birthDate": "17/05/1990"},
    {**GOOD_REGISTER, "birthDate": "1990-05-17", "city": "São João da Madeira"},
    {**GOOD_REGISTER, "eventId": "nao-uuid", "promoterId": "x", "teamId": "{" + EVENT + "}"},
    {**GOOD_REGISTER, "eventId": EVENT.replace("-", "").upper(), "promoterId": EVENT},
    {**GOOD_REGISTER, "phone": "12"},
    {**GOOD_REGISTER, "phone": "abc", "firstName": "", "email": "a@b", "gender": "masculino"},
    {**GOOD_REGISTER, "firstName": 5},
    {**GOOD_REGISTER, "city": ["Porto"], "lastName": True},
]  # fmt: skip

LOGIN_CASES: list[dict[str, Any]] = [
    {},
    GOOD_LOGIN,
    {**GOOD_LOGIN, "password": ""},
    {**GOOD_LOGIN, "password": "x" * 73},
    {**GOOD_LOGIN, "password": "é" * 37},
    {**GOOD_LOGIN, "password": "x" * 72},
    {**GOOD_LOGIN, "phone": "x", "eventId": "nao-uuid"},
    {**GOOD_LOGIN, "promoterId": "x", "teamId": EVENT},
    {**GOOD_LOGIN, "password": 12345678},
]


def app_errors(body: dict[str, Any], fields: tuple[Field, ...]) -> dict[str, str]:
    """{JSON key: code} the app refuses the body with ({} when it passes)."""
    return {key: code for key, (code, _) in app_refusals(body, fields).items()}


def app_refusals(body: dict[str, Any], fields: tuple[Field, ...]) -> dict[str, tuple[str, str]]:
    """{JSON key: (code, message)} the app refuses the body with."""
    try:
        validate_body(body, fields)
    except ApiError as err:
        return {e["field"]: (e["code"], e["message"]) for e in err.errors or []}
    return {}


def sql_errors(
    conn: psycopg.Connection, kind: str, body: dict[str, Any], fields: tuple[Field, ...]
) -> dict[str, tuple[str, str]]:
    """{JSON key: (code, message)} app._job_payload refuses the same values with."""
    by_key = {f.key: f.param for f in fields}
    payload = {by_key[k]: v for k, v in body.items()}
    try:
        with conn.transaction():
            conn.execute(
                PARITY["parity_job_payload"],
                {"kind": kind, "payload": orjson.dumps(payload).decode()},
            )
    except psycopg.Error as exc:
        assert exc.sqlstate == "PT400", exc
        detail = orjson.loads(exc.diag.message_detail or "{}")
        return {json_key(e["field"]): (e["code"], e["message"]) for e in detail["errors"]}
    return {}


def compare(conn: psycopg.Connection, kind: str, cases: list[dict[str, Any]],
            fields: tuple[Field, ...]) -> None:  # fmt: skip
    mismatches = []
    for body in cases:
        app = app_refusals(body, fields)
        sql = sql_errors(conn, kind, body, fields)
        # the same fields; the same code and message too, except that the app names an absent or
        # empty value "required" (and says what to fill in) where SQL says what rule the empty
        # value breaks (length, weak…)
        same = all(app[k] == sql[k] for k in app.keys() & sql.keys() if app[k][0] != "required")
        if app.keys() != sql.keys() or not same:
            mismatches.append((body, app, sql))
    assert mismatches == []


def test_register_fields_app_and_sql_agree(conn: psycopg.Connection) -> None:
    compare(conn, "register", REGISTER_CASES, REGISTER_BODY)


def test_login_fields_app_and_sql_agree(conn: psycopg.Connection) -> None:
    compare(conn, "login", LOGIN_CASES, LOGIN_BODY)


def test_the_example_names_all_four_fields_in_both_layers(conn: psycopg.Connection) -> None:
    body = {**GOOD_REGISTER, "firstName": "", "lastName": "", "email": "x", "password": "a"}
    assert list(app_errors(body, REGISTER_BODY)) == ["firstName", "lastName", "email", "password"]
    row = conn.execute(
        PARITY["parity_registration_errors"],
        {"phone": "+351935886310", "first_name": "", "last_name": "", "email": "x",
         "password": "a", "event_id": EVENT, "birth_date": None, "gender": None, "city": None},
    ).fetchone()  # fmt: skip
    assert row is not None
    assert [json_key(e["field"]) for e in row[0]] == ["firstName", "lastName", "email", "password"]


def test_a_mismatch_would_be_seen(conn: psycopg.Connection) -> None:
    # the comparison can fail: a body the app alone refuses (its phone check is libphonenumber's,
    # stricter than SQL's E.164 shape) shows up as a mismatch
    with pytest.raises(AssertionError):
        compare(conn, "login", [{**GOOD_LOGIN, "phone": "+999123456789"}], LOGIN_BODY)


def test_printable_is_the_same_class_in_sql(conn: psycopg.Connection) -> None:
    row = conn.execute(PARITY["parity_not_printable"]).fetchone()
    assert row is not None
    in_sql = set(row[0])
    in_app = {
        cp for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF and not printable(chr(cp))
    }
    assert in_sql == in_app
    assert {0x202E, 0x2066, 0x200B, 0xFEFF, 0x85, 0x09, 0xE0041} <= in_sql


def test_a_message_that_differs_would_be_seen(conn: psycopg.Connection) -> None:
    # the same field and code, other words: the gender rule with a text SQL does not send
    other_words = tuple(
        dataclasses.replace(f, messages=(("invalid", "Escolhe M, F ou O."),))
        if f.key == "gender"
        else f
        for f in REGISTER_BODY
    )
    case = [{**GOOD_REGISTER, "gender": "X"}]
    compare(conn, "register", case, REGISTER_BODY)
    with pytest.raises(AssertionError):
        compare(conn, "register", case, other_words)
