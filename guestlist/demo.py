"""Load the demo: `guestlist demo [--database-url URL]` (default: env DATABASE_URL).

Organization "Noites de Lisboa", event "Festa de Verão" (14 days ahead, 23:00 Lisbon time,
open and uncapped), promoter Miguel in "Equipa Miguel". Idempotent: `admin.load_demo()`
creates what is missing and moves the event back into the future. Each run also prints a new door
link for the event (admin.create_door_link): the door page a staff phone opens.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import psycopg

from guestlist.queries import q

PAGE_PATH = "/promotor/miguel/festa-verao"


def load_demo(database_url: str) -> dict[str, Any]:
    """Call admin.load_demo() and return its ids (organizationId, eventId, promoterId, teamId),
    with a new door link for the demo event (doorPath: /porta/<token>)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(q("demo_load")).fetchone()
        if row is None or not isinstance(row[0], dict):
            raise RuntimeError("admin.load_demo() returned no object")
        ids: dict[str, Any] = row[0]
        door = conn.execute(q("demo_door_link"), {"event_id": ids["eventId"]}).fetchone()
    if door is not None and isinstance(door[0], dict):
        ids["doorPath"] = door[0].get("path")
    return ids


def page_url(path: str = PAGE_PATH) -> str:
    port = os.environ.get("PORT", "8000")
    return f"http://localhost:{port}{path}"


def run(database_url: str) -> int:
    """`guestlist demo`: load it and say where its page is; the exit status."""
    try:
        ids = load_demo(database_url)
    except psycopg.Error as err:
        message = (err.diag.message_primary or str(err)).strip()
        print(
            f"demo: could not load the demo: {message} (run `guestlist migrate`?)", file=sys.stderr
        )
        return 1
    print("demo: loaded")
    for key in ("organizationId", "eventId", "promoterId", "teamId"):
        print(f"  {key:15} {ids.get(key)}")
    print(f"demo: guest page {page_url()}")
    if ids.get("doorPath"):
        # a new link each run (the older ones keep working until 12 h after the event starts)
        print(f"demo: door page  {page_url(ids['doorPath'])}")
    return 0
