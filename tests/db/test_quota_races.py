"""A promoter's quota under concurrency: registrations through one promoter's link race for
the last places with real connections released at once; the quota holds exactly, alone and
together with the event's capacity (both are counted under the event row's lock)."""

from collections import Counter
from typing import Any

import psycopg

from guestlist.queries import q
from tests.db.test_races import _race
from tests.support.database import tq

N = 40


def _setup(db_url: str, quota: int, capacity: int | None) -> dict[str, str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(tq("quota_race_setup"), {"quota": quota, "capacity": capacity})
        return {k: str(v) for k, v in row.fetchone()[0].items()}


def _register(conn: psycopg.Connection, i: int, event_id: str, promoter_id: str | None) -> Any:
    row = conn.execute(
        q("web_register"),
        {
            "phone": f"+35191{i:07d}",
            "first_name": "Ana",
            "last_name": "Silva",
            "email": "ana@example.pt",
            "password": "Segredo123",
            "event_id": event_id,
            "promoter_id": promoter_id,
            "team_id": None,
            "birth_date": None,
            "gender": None,
            "city": None,
            "client_key": None,
        },
    ).fetchone()
    return row[0]


def _counts(db_url: str, ids: dict[str, str]) -> tuple[int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            tq("quota_race_count"),
            {"event_id": ids["eventId"], "promoter_id": ids["promoterId"]},
        ).fetchone()
        return row[0], row[1]


def test_quota_of_ten_against_forty(db_url: str) -> None:
    ids = _setup(db_url, quota=10, capacity=None)
    answers = _race(db_url, N, lambda c, i: _register(c, i, ids["eventId"], ids["promoterId"]))
    codes = Counter("ok" if a["success"] else a["code"] for a in answers)
    assert codes == {"ok": 10, "promoter_quota_full": 30}
    assert _counts(db_url, ids) == (10, 10)


def test_capacity_and_quota_together(db_url: str) -> None:
    # capacity 15, the promoter's quota 10: 20 through the promoter's link and 20 without a
    # promoter race at once. The promoter's link never brings more than 10, the event never
    # holds more than 15, and every refusal says which limit it met.
    ids = _setup(db_url, quota=10, capacity=15)
    answers = _race(
        db_url,
        N,
        lambda c, i: _register(c, 1000 + i, ids["eventId"], ids["promoterId"] if i % 2 else None),
    )
    ok_by_promoter = Counter(bool(i % 2) for i, a in enumerate(answers) if a["success"])
    refusals = Counter(a["code"] for a in answers if not a["success"])
    total, through_promoter = _counts(db_url, ids)
    assert total == 15 == sum(ok_by_promoter.values())
    assert through_promoter == ok_by_promoter[True] <= 10
    assert set(refusals) <= {"guest_list_full", "promoter_quota_full"}
    assert refusals["guest_list_full"] >= 25 - 10
    assert sum(refusals.values()) == N - 15
