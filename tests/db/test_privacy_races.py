"""Erasure against concurrent work, with real connections as guestlist_web: many erasures of one
account (one wins), and a login that is putting the account on a list while it is erased (the
login cannot leave a personal row behind)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from guestlist.queries import q
from tests.support.database import tq

PHONE = "+351935886310"
N = 20


def _web(db_url: str, autocommit: bool = True) -> psycopg.Connection:
    conn = psycopg.connect(db_url, autocommit=autocommit)
    conn.execute(q("web_set_role"))
    if not autocommit:
        conn.commit()
    return conn


def _count(db_url: str, query: str, **params: Any) -> Any:
    with psycopg.connect(db_url) as conn:
        return conn.execute(tq(query), params).fetchone()[0]


def _register(conn: psycopg.Connection, event_id: str) -> dict[str, Any]:
    params = {
        "phone": PHONE,
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
    }
    return conn.execute(q("web_register"), params).fetchone()[0]


def _erase(conn: psycopg.Connection, token: str) -> dict[str, Any]:
    params = {
        "confirm": True,
        "phone": None,
        "password": None,
        "session_token": token,
        "client_key": None,
    }
    return conn.execute(q("web_guest_erase"), params).fetchone()[0]


def _event(db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return str(conn.execute(tq("race_create_event"), {"capacity": None}).fetchone()[0])


def test_concurrent_erasures_of_one_account_erase_it_once(db_url: str) -> None:
    event_id = _event(db_url)
    with _web(db_url) as conn:
        token = _register(conn, event_id)["session_token"]
    conns = [_web(db_url) for _ in range(N)]
    barrier = threading.Barrier(N)

    def run(i: int) -> dict[str, Any]:
        barrier.wait()
        return _erase(conns[i], token)

    try:
        with ThreadPoolExecutor(max_workers=N) as pool:
            answers = list(pool.map(run, range(N)))
    finally:
        for c in conns:
            c.close()
    codes = Counter("ok" if a["success"] else a["code"] for a in answers)
    assert codes == {"ok": 1, "session_invalid": N - 1}
    assert _count(db_url, "privacy_erasure_count") == 1
    assert _count(db_url, "privacy_phone_traces", phone=PHONE) == 0
    assert _count(db_url, "privacy_counts_agree") is True


def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(600):
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_a_login_racing_an_erasure_leaves_nothing_personal(db_url: str) -> None:
    first, second = _event(db_url), _event(db_url)
    with _web(db_url) as conn:
        token = _register(conn, first)["session_token"]

    eraser = _web(db_url, autocommit=False)
    login_conn = _web(db_url)
    login_pid = login_conn.info.backend_pid
    outcome: dict[str, Any] = {}

    def login() -> None:
        params = {
            "phone": PHONE,
            "password": "Segredo123",
            "event_id": second,
            "promoter_id": None,
            "team_id": None,
            "client_key": None,
            "session_token": None,
        }
        try:
            outcome["result"] = login_conn.execute(q("web_login"), params).fetchone()[0]
        except psycopg.Error as exc:
            outcome["error"] = exc

    try:
        erased = _erase(eraser, token)  # holds the account's lock until commit
        assert erased["success"] is True
        thread = threading.Thread(target=login)
        thread.start()
        _wait_for(
            lambda: _count(db_url, "privacy_backend_waits_on_lock", pid=login_pid),
            "the login waiting for the erasure's lock",
        )
        eraser.commit()
        thread.join()
    finally:
        eraser.close()
        login_conn.close()

    # the login saw the account before the erasure committed; its guest row cannot outlive it
    if "error" in outcome:
        assert isinstance(outcome["error"], psycopg.errors.ForeignKeyViolation)
    else:
        assert outcome["result"]["success"] is False
    assert _count(db_url, "race_count_guests", event_id=second) == 0
    assert _count(db_url, "privacy_phone_traces", phone=PHONE) == 0
    assert _count(db_url, "privacy_counts_agree") is True
