"""Loaded by the schemathesis CLI (SCHEMATHESIS_HOOKS) in tests/http/test_schemathesis.py: the
formats the app's OpenAPI document names beyond JSON Schema's own, so schema-valid requests
carry values the server accepts."""

from __future__ import annotations

import datetime as dt

import schemathesis
from hypothesis import strategies as st

from guestlist.web.inputs import OLDEST_BIRTH_DATE

# format "phone": a phone number libphonenumber accepts (default region PT), in the forms a
# guest types it.
schemathesis.openapi.format(
    "phone",
    st.sampled_from(
        ["935 886 310", "+351935886310", "00351 912 345 678", "+44 7911 123456", "21 123 4567"]
    ),
)
# format "mobile-phone": the same, of a number that can receive a message (no landline).
schemathesis.openapi.format(
    "mobile-phone",
    st.sampled_from(["935 886 310", "+351935886310", "00351 912 345 678", "+44 7911 123456"]),
)


def _past_birth_date(value: object) -> bool:
    try:
        day = dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return True  # not a date: the server refuses it, as the schema says
    return day is None or OLDEST_BIRTH_DATE < day < dt.date.today()


def _closes_in_time(starts: object, closes: object) -> bool:
    """An event's list closes at most a day after it starts (either unreadable: the server
    refuses it, as the schema says)."""
    if not isinstance(starts, str) or not isinstance(closes, str):
        return True
    try:
        start, close = dt.datetime.fromisoformat(starts), dt.datetime.fromisoformat(closes)
        return close <= start + dt.timedelta(days=1)
    except (ValueError, TypeError, OverflowError):
        return True


@schemathesis.hook
def filter_body(ctx: schemathesis.HookContext, body: object) -> bool:
    """The rules JSON Schema cannot state, which the document states in words: a password of at
    most 72 bytes of UTF-8 (maxLength counts characters), a birth date in the past, an event's
    list closing at most a day after its start."""
    if not isinstance(body, dict):
        return True
    password = body.get("password")
    if isinstance(password, str) and len(password.encode("utf-8", "surrogatepass")) > 72:
        return False
    if not _closes_in_time(body.get("startsAt"), body.get("guestListClosesAt")):
        return False
    return _past_birth_date(body.get("birthDate"))
