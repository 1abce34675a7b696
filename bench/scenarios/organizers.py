"""organizers: doors-open while organizers watch the night in the console. The demo event's
list is seeded (20 000 guests, as the console scenario's); ORGANIZERS owners of the demo
organization (each invited and logged in by the runner: a staff session each) ask the
console's guest list and the event's figures every 2 s while doors-open's 500 people arrive
at the same event on the same server. Figures: doors-open's targets measured beside the
organizers, next to doors-open's own run of the same invocation (when it ran), and the console
requests' latency."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from bench.harness.bench import Bench
from bench.harness.database import bq
from bench.harness.document import Document, fmt, pf, ratio, table
from bench.harness.results import LATENCY_HEADER, latency_row, metric, route_trend
from bench.scenarios import doors_open
from guestlist.web.console import SECURE_STAFF_COOKIE

NAME = "organizers"
REFRESH_S = 2
PASSWORD = "BenchConsola1"
VIEWS = ("newest first", "inside, by arrival", "search 'conceicao', by name")


def run(bench: Bench) -> None:
    m = bench.mode
    with bench.scenario(NAME) as meta:
        meta.update(
            organizers=m.organizers,
            refresh_s=REFRESH_S,
            guests=m.organizers_guests,
            views=list(VIEWS[: m.organizers]),
            people=m.doors_people,
            ramp_s=m.doors_ramp,
            hold_s=m.doors_hold,
            think_s=list(m.doors_think),
            register_share=0.6,
        )
        tokens: list[str] = []  # one staff session per organizer
        sessions_file = bench.raw / "organizers-sessions.json"

        def prepare(url: str, ids: dict[str, str]) -> dict[str, str]:
            with psycopg.connect(url, autocommit=True) as c:
                c.execute(
                    bq("console_seed_guests"),
                    {"n": m.organizers_guests, "event_id": ids["EVENT_ID"],
                     "promoter_id": ids["PROMOTER_ID"], "team_id": ids["TEAM_ID"]},
                )  # fmt: skip
                c.execute(bq("console_analyze"))
                for n in range(1, m.organizers + 1):
                    row = c.execute(
                        bq("organizers_owner_session"),
                        {"event_id": ids["EVENT_ID"], "email": f"organizadora{n}@bench.test",
                         "password": PASSWORD, "display_name": f"Organizadora {n}"},
                    ).fetchone()  # fmt: skip
                    tokens.append(row[0] if row else "")
            # app.py serves as behind HTTPS (the default): the cookie a browser holds is
            # __Host-gl_staff; k6 sends it by hand over the bench's plain http. The sessions go
            # to raw/ (not kept), never into k6's environment, which the meta records.
            cookies = [f"{SECURE_STAFF_COOKIE}={t}" for t in tokens]
            sessions_file.write_text(json.dumps({"cookies": cookies}))
            return {"SESSIONS_FILE": str(sessions_file)}

        env = {
            "ORGANIZERS": str(m.organizers),
            "REFRESH": str(REFRESH_S),
            "PEOPLE": str(m.doors_people),
            "RAMP": str(m.doors_ramp),
            "HOLD": str(m.doors_hold),
            "THINK_MIN": str(m.doors_think[0]),
            "THINK_MAX": str(m.doors_think[1]),
            "REGISTER_SHARE": "0.6",
            "PAGE_PATH": doors_open.PAGE_PATH,
        }
        expect = m.doors_ramp + m.doors_hold + m.doors_think[1] + 60
        bench.queue_run(
            NAME, "organizers.js", env, expect, meta, derive=doors_open.derived, prepare=prepare
        )
        meta["staff_sessions"] = sum(1 for t in tokens if t)


# ─── its section of the report ────────────────────────────────────────────


def section(doc: Document) -> None:
    doc.w("## Doors open while organizers refresh the console", "")
    meta = doc.meta.get(NAME)
    doc.use_limits(meta)
    texts = [f"doors-open beside organizers: {t}" for t in doors_open.TARGETS]
    if not meta:
        doc.w("Not run.", "")
        for t in texts:
            doc.target(t, None)
        return
    if doc.failed_to_run(NAME):
        for t in texts:
            doc.target(t, False, "did not run")
        return
    s = doc.summary(NAME)
    n = meta.get("organizers")
    who = f"{n} organizer{'' if n == 1 else 's'}"
    doc.w(
        f"{who} (owners logged in through an invite) each ask "
        f"the console's guest list (50 rows: {', '.join(meta.get('views') or [])}) and the "
        f"event's figures every {meta.get('refresh_s')} s, on the night's event with "
        f"{meta.get('guests')} guests seeded on its list, while doors-open's "
        f"{meta.get('people')} people arrive over {meta.get('ramp_s')} s and stay "
        f"{meta.get('hold_s')} s at the same event on the same server.",
        "",
    )
    mine = doors_open.judged(doc, NAME, meta)
    alone_meta = doc.meta.get("doors-open")
    alone: list[tuple[bool | None, str]] | None = None
    if alone_meta and alone_meta.get("ok") is not False:
        alone = doors_open.judged(doc, "doors-open", alone_meta)
    same_run = bool(alone_meta) and alone_meta.get("run_started") == meta.get("run_started")
    rows = []
    for i, text in enumerate(doors_open.TARGETS):
        ok, detail = mine[i]
        before = "not run" if alone is None else f"{pf(alone[i][0])}: {alone[i][1]}"
        rows.append([text, before, f"{pf(ok)}: {detail}"])
    rows.append(
        [
            "completed per second ÷ the bcrypt limit of its run",
            "not run" if alone is None else _per_bcrypt(doc, "doors-open", alone_meta or {}),
            _per_bcrypt(doc, NAME, meta),
        ]
    )
    doc.w(*table(["doors-open's target", "alone", f"beside {who}"], rows), "")
    doc.w(
        "_alone_: the doors-open scenario "
        + ("of the same run." if same_run else "of another run (or not run): compare with care.")
        + " Its targets are absolute; the ratio is to the bcrypt limit each run measured.",
        "",
    )
    routes = ("console-guests", "console-figures", "page", "verify-phone-v2", "qr-svg")
    route_rows = [latency_row(s, route, route_trend(route)) for route in routes]
    route_rows.append(latency_row(s, "doors-open submit→QR", "time_to_qr"))
    doc.w(*table(LATENCY_HEADER, route_rows), "")
    failures = metric(s, "console_failures", "count", 0) or 0
    doc.w(f"Console requests answered other than 200: {fmt(failures)}.", "")
    doc.jobs_table(meta)
    for text, (ok, detail) in zip(texts, mine, strict=True):
        doc.target(text, ok, detail)


def _per_bcrypt(doc: Document, name: str, meta: dict[str, Any]) -> str:
    """Journeys completed per second ÷ the bcrypt limit of the scenario's own run."""
    per_min = ((meta.get("derived") or doors_open.derived(name, meta, doc.out))["completion_rate"])[
        0
    ]
    bcrypt = ((meta.get("limits") or {}) or doc.global_limits).get("bcrypt_per_s")
    return ratio((per_min or 0) / 60, bcrypt)
