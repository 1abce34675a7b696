"""The door under more contention than its race tests: 200 scans of 20 codes at 10 doors at once
(every door behind one venue address, so the per-address ceiling is counted too), offline
batches of two doors racing the online scans of the same codes, and undos racing check-ins.
Real connections released together by a barrier; the database is counted afterwards."""

from __future__ import annotations

import datetime as dt
import random
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

DOORS = 10
GUESTS = 20
VENUE = "203.0.113.7"  # every door of the venue behind one address


def _race(db_url: str, n: int, call: Callable[[psycopg.Connection, int], Any]) -> list[Any]:
    """n web-role connections, call(conn, i) on all at once; an exception is returned, not
    raised, so that one failure does not hide the others."""
    conns = [psycopg.connect(db_url, autocommit=True) for _ in range(n)]
    try:
        for conn in conns:
            conn.execute(q("web_set_role"))
        barrier = threading.Barrier(n)

        def run(i: int) -> Any:
            barrier.wait()
            try:
                return call(conns[i], i)
            except psycopg.Error as exc:
                return exc

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(run, range(n)))
    finally:
        for conn in conns:
            conn.close()


@pytest.fixture
def venue(db_url: str) -> dict[str, Any]:
    """A fresh event with 20 guests and 10 door links."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        event_id = str(conn.execute(tq("race_create_event"), {"capacity": None}).fetchone()[0])
        tokens = [
            conn.execute(
                tq("race_door_link"), {"event_id": event_id, "label": f"Porta {i}"}
            ).fetchone()[0]
            for i in range(DOORS)
        ]
        conn.execute(q("web_set_role"))
        guests = []
        for i in range(GUESTS):
            guest = conn.execute(
                q("web_register"),
                {
                    "phone": f"+3519358864{i:02d}", "first_name": "Ana", "last_name": f"Silva{i}",
                    "email": f"ana{i}@example.pt", "password": "Segredo123", "event_id": event_id,
                    "promoter_id": None, "team_id": None, "birth_date": None, "gender": None,
                    "city": None, "client_key": None,
                },
            ).fetchone()[0]  # fmt: skip
            assert "guest_id" in guest, guest
            guests.append({"id": guest["guest_id"], "qr": guest["qr_code"]})
    return {"event_id": event_id, "tokens": tokens, "guests": guests}


def _state(db_url: str, event_id: str) -> dict[str, Any]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(tq("contention_door_event_state"), {"event_id": event_id}).fetchone()[0]


def _check_in(conn: psycopg.Connection, token: str, code: str, scan_id: str) -> dict[str, Any]:
    return conn.execute(
        q("web_door_check_in"),
        {"door_token": token, "qr_code": code, "scan_id": scan_id, "scanned_at": None,
         "client_key": VENUE},
    ).fetchone()[0]  # fmt: skip


def _sync(conn: psycopg.Connection, token: str, scans: list[dict[str, Any]]) -> dict[str, Any]:
    return conn.execute(
        q("web_door_sync"), {"door_token": token, "scans": Jsonb(scans)}
    ).fetchone()[0]


def test_200_scans_of_20_codes_at_10_doors_admit_each_once(
    db_url: str, venue: dict[str, Any]
) -> None:
    rng = random.Random(7)
    plan = [(rng.randrange(DOORS), i % GUESTS, str(uuid.uuid4())) for i in range(200)]
    rng.shuffle(plan)
    answers = _race(
        db_url, 200,
        lambda c, i: _check_in(c, venue["tokens"][plan[i][0]], venue["guests"][plan[i][1]]["qr"],
                               plan[i][2]),
    )  # fmt: skip
    errors = [a for a in answers if isinstance(a, Exception)]
    assert not errors, f"every scan answered: {errors[:3]}"
    assert Counter(a["result"] for a in answers) == {"admitted": 20, "already_in": 180}
    by_guest: dict[str, set[str]] = {}
    for a in answers:
        by_guest.setdefault(a["guest"]["id"], set()).add(a["guest"]["checkedInAt"])
    assert all(len(times) == 1 for times in by_guest.values()), "one admission time per guest"
    state = _state(db_url, venue["event_id"])
    assert all(s["admitted"] == 1 and s["scans"] == 10 and s["inside"] for s in state.values())


def test_offline_batches_racing_online_scans_leave_the_earliest_scan_admitted(
    db_url: str, venue: dict[str, Any]
) -> None:
    """8 doors scan every code online while 2 doors sync batches that scanned the same codes
    minutes earlier: whichever commits first, each code ends with one admission, the earliest
    offline scan's, with one conflict for the two offline doors and one for an online
    admission taken over."""
    now = dt.datetime.now(dt.UTC)
    batches = [
        [{"scanId": str(uuid.uuid4()), "qrCode": g["qr"],
          "scannedAt": (now - dt.timedelta(minutes=10 - d, seconds=j)).isoformat()}
         for j, g in enumerate(venue["guests"])]
        for d in range(2)
    ]  # fmt: skip
    online = [(2 + i % 8, i % GUESTS, str(uuid.uuid4())) for i in range(80)]
    # half the codes were admitted online before the batches arrive: their takeover is certain
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(q("web_set_role"))
        before = [
            _check_in(conn, venue["tokens"][9], g["qr"], str(uuid.uuid4()))
            for g in venue["guests"][: GUESTS // 2]
        ]
    assert {a["result"] for a in before} == {"admitted"}

    def call(c: psycopg.Connection, i: int) -> Any:
        if i < 2:
            return _sync(c, venue["tokens"][i], batches[i])
        door, guest, scan_id = online[i - 2]
        return _check_in(c, venue["tokens"][door], venue["guests"][guest]["qr"], scan_id)

    answers = _race(db_url, 82, call)
    errors = [a for a in answers if isinstance(a, Exception)]
    assert not errors, f"no deadlock, no error: {errors[:3]}"
    earliest = {s["qrCode"]: s["scanId"] for s in batches[0]}
    online_admitted = Counter(
        a["guest"]["id"] for a in [*before, *answers[2:]] if a["result"] == "admitted"
    )
    assert all(n == 1 for n in online_admitted.values()), "online, a code admits once"
    state = _state(db_url, venue["event_id"])
    for g in venue["guests"]:
        s = state[g["id"]]
        assert s["inside"] and s["admitted"] == 1, s
        assert s["scans"] == 6 + (g in venue["guests"][: GUESTS // 2]), s
        assert s["admittedScan"] == earliest[g["qr"]], "the earliest scan is the admission"
        # the two doors' offline admissions of one code are one conflict; an online admission
        # that an offline scan took over is one more
        assert s["conflicts"] == 1 + online_admitted[g["id"]], s


def test_undos_racing_check_ins_never_leave_a_guest_half_inside(
    db_url: str, venue: dict[str, Any]
) -> None:
    """Each guest is scanned at 3 doors while 2 doors undo them at once: whatever the order,
    a guest is inside exactly when their last event was an admission, and every undo that
    said so is recorded."""
    calls: list[tuple[str, int, int]] = []
    for g in range(GUESTS):
        calls += [("scan", g, d) for d in range(3)] + [("undo", g, d) for d in (3, 4)]
    random.Random(11).shuffle(calls)

    def call(c: psycopg.Connection, i: int) -> Any:
        kind, g, d = calls[i]
        guest = venue["guests"][g]
        if kind == "scan":
            return _check_in(c, venue["tokens"][d], guest["qr"], str(uuid.uuid4()))
        return c.execute(
            q("web_door_undo"), {"door_token": venue["tokens"][d], "guest_id": guest["id"]}
        ).fetchone()[0]

    answers = _race(db_url, len(calls), call)
    errors = [a for a in answers if isinstance(a, Exception)]
    assert not errors, f"no deadlock, no error: {errors[:3]}"
    state = _state(db_url, venue["event_id"])
    for g, guest in enumerate(venue["guests"]):
        mine = [(calls[i][0], a) for i, a in enumerate(answers) if calls[i][1] == g]
        admitted = sum(1 for k, a in mine if k == "scan" and a["result"] == "admitted")
        undone = sum(1 for k, a in mine if k == "undo" and a["undone"])
        s = state[guest["id"]]
        assert s["undos"] == undone and s["admitted"] == admitted, s
        assert s["inside"] == (admitted == undone + 1), "inside iff admitted once more than undone"
        assert admitted - undone in (0, 1)
