"""Races at the door with real concurrent connections (threads + psycopg), released together by
a barrier: a code admits once whatever the number of doors scanning it, a scan id sent many
times at once gets one answer, and two doors' offline batches agree in either order."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from guestlist.queries import q
from tests.support.database import tq


def _race(db_url: str, n: int, call: Callable[[psycopg.Connection, int], Any]) -> list[Any]:
    """n web-role connections, call(conn, i) on all at once."""
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
def venue(db_url: str) -> dict[str, Any]:
    """A fresh event with one guest and five door links."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        event_id = str(conn.execute(tq("race_create_event"), {"capacity": None}).fetchone()[0])
        tokens = [
            conn.execute(
                tq("race_door_link"), {"event_id": event_id, "label": f"Porta {i}"}
            ).fetchone()[0]
            for i in range(1, 6)
        ]
        conn.execute(q("web_set_role"))
        guest = conn.execute(
            q("web_register"),
            {
                "phone": "+351935886310", "first_name": "Ana", "last_name": "Silva",
                "email": "ana@example.pt", "password": "Segredo123", "event_id": event_id,
                "promoter_id": None, "team_id": None, "birth_date": None, "gender": None,
                "city": None, "client_key": None,
            },
        ).fetchone()[0]  # fmt: skip
    return {"event_id": event_id, "tokens": tokens, "guest_id": guest["guest_id"],
            "qr_code": guest["qr_code"]}  # fmt: skip


def _state(db_url: str, guest_id: str) -> dict[str, Any]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(tq("race_door_state"), {"guest_id": guest_id}).fetchone()[0]


def _check_in(conn: psycopg.Connection, token: str, code: str, scan_id: str) -> dict[str, Any]:
    return conn.execute(
        q("web_door_check_in"),
        {"door_token": token, "qr_code": code, "scan_id": scan_id, "scanned_at": None,
         "client_key": None},
    ).fetchone()[0]  # fmt: skip


def _sync(conn: psycopg.Connection, token: str, scans: list[dict[str, Any]]) -> dict[str, Any]:
    return conn.execute(
        q("web_door_sync"), {"door_token": token, "scans": Jsonb(scans)}
    ).fetchone()[0]


def test_50_scans_of_one_code_at_5_doors_admit_once(db_url: str, venue: dict[str, Any]) -> None:
    answers = _race(
        db_url, 50,
        lambda c, i: _check_in(c, venue["tokens"][i % 5], venue["qr_code"], str(uuid.uuid4())),
    )  # fmt: skip
    assert Counter(a["result"] for a in answers) == {"admitted": 1, "already_in": 49}
    first = next(a for a in answers if a["result"] == "admitted")
    assert {a["guest"]["checkedInAt"] for a in answers} == {first["guest"]["checkedInAt"]}
    assert {a["door"]["label"] for a in answers} == {first["door"]["label"]}
    state = _state(db_url, venue["guest_id"])
    assert state["admitted"] == 1 and state["scans"] == 50 and state["inside"] is True


def test_the_same_scan_id_20_times_at_once_gets_one_answer(
    db_url: str, venue: dict[str, Any]
) -> None:
    scan_id = str(uuid.uuid4())
    answers = _race(
        db_url, 20, lambda c, i: _check_in(c, venue["tokens"][0], venue["qr_code"], scan_id)
    )
    assert answers[0]["result"] == "admitted"
    assert all(a == answers[0] for a in answers), "20 identical answers"
    state = _state(db_url, venue["guest_id"])
    assert state["admitted"] == 1 and state["scans"] == 1, "one check-in, one log row"


@pytest.mark.parametrize("earlier_first", [True, False])
def test_two_doors_offline_batches_admit_the_earlier_scan_in_either_order(
    db_url: str, venue: dict[str, Any], earlier_first: bool
) -> None:
    now = dt.datetime.now(dt.UTC)
    early = {"scanId": str(uuid.uuid4()), "qrCode": venue["qr_code"],
             "scannedAt": (now - dt.timedelta(minutes=9)).isoformat()}  # fmt: skip
    late = {"scanId": str(uuid.uuid4()), "qrCode": venue["qr_code"],
            "scannedAt": (now - dt.timedelta(minutes=4)).isoformat()}  # fmt: skip
    door_a, door_b = venue["tokens"][0], venue["tokens"][1]
    batches = [(door_a, [early]), (door_b, [late])]
    if not earlier_first:
        batches.reverse()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(q("web_set_role"))
        answered = [_sync(conn, token, scans) for token, scans in batches]
        replayed = [_sync(conn, token, scans) for token, scans in batches]
    state = _state(db_url, venue["guest_id"])
    assert state["admitted"] == 1 and state["conflicts"] == 1
    assert state["admittedScan"] == early["scanId"], "the earlier scannedAt is the admission"
    assert dt.datetime.fromisoformat(state["checkedInAt"]) == dt.datetime.fromisoformat(
        early["scannedAt"]
    )
    assert _state(db_url, venue["guest_id"]) == state
    assert replayed == answered and state["scans"] == 2, "replaying changes nothing"


def test_two_doors_syncing_the_same_code_at_once_admit_once(
    db_url: str, venue: dict[str, Any]
) -> None:
    now = dt.datetime.now(dt.UTC)
    batches = [
        [{"scanId": str(uuid.uuid4()), "qrCode": venue["qr_code"],
          "scannedAt": (now - dt.timedelta(seconds=10 * i + j)).isoformat()} for j in range(5)]
        for i in range(5)
    ]  # fmt: skip
    results = _race(db_url, 5, lambda c, i: _sync(c, venue["tokens"][i], batches[i]))
    assert all(len(r["results"]) == 5 for r in results)
    state = _state(db_url, venue["guest_id"])
    assert state["admitted"] == 1 and state["scans"] == 25
    oldest = min((s for b in batches for s in b), key=lambda s: s["scannedAt"])
    assert state["admittedScan"] == oldest["scanId"]
