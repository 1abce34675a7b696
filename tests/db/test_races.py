"""Races on the core SQL API, with 50+ real concurrent connections.

Every call goes through its own connection, as guestlist_web, released at
the same instant by a barrier: the database, not the test, decides who wins.
"""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from guestlist.queries import q
from tests.support.database import tq

N = 50


def _race(db_url: str, n: int, call: Callable[[psycopg.Connection, int], Any]) -> list[Any]:
    """Open n web-role connections, then run call(conn, i) on all at once."""
    conns = [psycopg.connect(db_url, autocommit=True) for _ in range(n)]
    try:
        for conn in conns:
            conn.execute(q("web_set_role"))
        barrier = threading.Barrier(n)

        def run(i: int) -> Any:
            barrier.wait()
            return call(conns[i], i)

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(run, range(n)))
    finally:
        for conn in conns:
            conn.close()


@pytest.fixture
def event(db_url: str) -> Callable[[int | None], str]:
    """Make events on the fresh database: event(capacity) -> event id."""

    def make(capacity: int | None = None) -> str:
        with psycopg.connect(db_url, autocommit=True) as conn:
            return str(conn.execute(tq("race_create_event"), {"capacity": capacity}).fetchone()[0])

    return make


def _register(conn: psycopg.Connection, phone: str, event_id: str) -> dict[str, Any]:
    row = conn.execute(
        q("web_register"),
        {
            "phone": phone,
            "first_name": "Ana",
            "last_name": "Silva",
            "email": "ana@example.pt",
            "password": "Segredo123",
            "event_id": event_id,
            "promoter_id": None,
            "team_id": None,
            "birth_date": None,
            "gender": None,
            "city": None,
            "client_key": None,
        },
    ).fetchone()
    return row[0]


def _count(db_url: str, query: str, **params: Any) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute(tq(query), params).fetchone()[0]


def test_same_phone_registers_once(db_url: str, event: Callable[[int | None], str]) -> None:
    event_id = event(None)
    answers = _race(db_url, N, lambda c, _i: _register(c, "+351935886310", event_id))
    codes = Counter("ok" if a["success"] else a["code"] for a in answers)
    assert codes == {"ok": 1, "phone_exists": N - 1}
    assert _count(db_url, "race_count_client_users") == 1
    assert _count(db_url, "race_count_guests", event_id=event_id) == 1


def test_same_user_logs_in_to_one_place(db_url: str, event: Callable[[int | None], str]) -> None:
    event_id = event(None)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(q("web_set_role"))
        other_event = event(None)
        assert _register(conn, "+351935886310", other_event)["success"]

    def login(conn: psycopg.Connection, _i: int) -> dict[str, Any]:
        params = {
            "phone": "+351935886310",
            "password": "Segredo123",
            "event_id": event_id,
            "promoter_id": None,
            "team_id": None,
            "client_key": None,
            "session_token": None,
        }
        return conn.execute(q("web_login"), params).fetchone()[0]

    answers = _race(db_url, N, login)
    assert all(a["success"] for a in answers), Counter(a.get("code") for a in answers)
    assert len({a["qr_code"] for a in answers}) == 1
    assert len({a["guest_id"] for a in answers}) == 1
    assert sum(not a["recovered"] for a in answers) == 1
    assert _count(db_url, "race_count_guests", event_id=event_id) == 1


def test_capacity_holds_under_a_crowd(db_url: str, event: Callable[[int | None], str]) -> None:
    event_id = event(20)
    answers = _race(db_url, 60, lambda c, i: _register(c, f"+3519100{i:05d}", event_id))
    codes = Counter("ok" if a["success"] else a["code"] for a in answers)
    assert codes == {"ok": 20, "guest_list_full": 40}
    assert _count(db_url, "race_count_guests", event_id=event_id) == 20
    # the refused registrations left no account behind
    assert _count(db_url, "race_count_client_users") == 20
    assert _count(db_url, "race_event_guest_count", event_id=event_id) == 20


def test_wrong_passwords_in_a_burst_cannot_outrun_the_lock(
    db_url: str, event: Callable[[int | None], str]
) -> None:
    event_id = event(None)

    def attempt(conn: psycopg.Connection, i: int) -> dict[str, Any]:
        params = {
            "phone": "+351935886399",
            "password": f"Errada{i}A",
            "event_id": event_id,
            "promoter_id": None,
            "team_id": None,
            "client_key": f"198.51.100.{i}",  # each from its own address
            "session_token": None,
        }
        return conn.execute(q("web_login"), params).fetchone()[0]

    answers = _race(db_url, N, attempt)
    codes = Counter(a["code"] for a in answers)
    # attempts on one phone take turns: 3 failures, then every other attempt must wait
    assert codes == {"invalid_credentials": 3, "account_locked": N - 3}
