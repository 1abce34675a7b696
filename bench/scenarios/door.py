"""door: the night itself. Doors scan the seeded guests of the demo event while doors-open's
people still arrive at its guest page, on the same server: check-in p95, and every check-in
counted in the database afterwards (none lost, none doubled)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from bench.harness.bench import Bench
from bench.harness.database import bq
from bench.harness.document import Document, fmt, table
from bench.harness.results import LATENCY_HEADER, latency_row, metric, route_trend
from bench.scenarios import doors_open

NAME = "door"
CHECK_IN_P95_MS = 50
RETRY_SHARE = 0.05
RESCAN_SHARE = 0.05


def run(bench: Bench) -> None:
    m = bench.mode
    with bench.scenario(NAME) as meta:
        meta.update(
            guests=m.door_guests,
            doors=m.door_doors,
            duration_s=m.door_secs,
            retry_share=RETRY_SHARE,
            rescan_share=RESCAN_SHARE,
            people=m.doors_people,
            ramp_s=m.doors_ramp,
            hold_s=max(1, m.door_secs - m.doors_ramp),
            think_s=list(m.doors_think),
            register_share=0.6,
        )
        seed_file = bench.raw / "door-seed.json"  # QR codes and door tokens: raw/, not kept

        def prepare(url: str, ids: dict[str, str]) -> dict[str, str]:
            with psycopg.connect(url, autocommit=True) as c:
                row = c.execute(
                    bq("door_seed_guests"),
                    {
                        "guests": m.door_guests,
                        "event_id": ids["EVENT_ID"],
                        "promoter_id": ids["PROMOTER_ID"],
                        "team_id": ids["TEAM_ID"],
                    },
                ).fetchone()
                codes = row[0] if row else []
                tokens = []
                for n in range(m.door_doors):
                    link = c.execute(
                        bq("door_create_link"),
                        {"event_id": ids["EVENT_ID"], "label": f"Porta {n + 1}"},
                    ).fetchone()
                    tokens.append(link[0]["token"] if link else "")
                c.execute(bq("analyze_users"))
            seed_file.write_text(json.dumps({"codes": codes, "tokens": tokens}))
            meta["event_id"] = ids["EVENT_ID"]
            meta["seeded"] = len(codes)
            return {"SEED_FILE": str(seed_file)}

        def settle(url: str) -> dict[str, Any]:
            with psycopg.connect(url, autocommit=True) as c:
                row = c.execute(bq("door_checked_in"), {"event_id": meta["event_id"]}).fetchone()
            inside, guests = (row[0], row[1]) if row else (None, None)
            return {"db_inside": inside, "db_guests": guests}

        env = {
            "GUESTS": str(m.door_guests),
            "DOORS": str(m.door_doors),
            "DURATION": str(m.door_secs),
            "RETRY_SHARE": str(RETRY_SHARE),
            "RESCAN_SHARE": str(RESCAN_SHARE),
            # doors-open.js's people, held for the whole of the doors' run
            "PEOPLE": str(m.doors_people),
            "RAMP": str(m.doors_ramp),
            "HOLD": str(meta["hold_s"]),
            "THINK_MIN": str(m.doors_think[0]),
            "THINK_MAX": str(m.doors_think[1]),
            "REGISTER_SHARE": "0.6",
            "PAGE_PATH": doors_open.PAGE_PATH,
        }
        expect = m.door_secs + m.doors_think[1] + 60
        bench.queue_run(NAME, "door.js", env, expect, meta, prepare=prepare, settle=settle)


# ─── its section of the report ────────────────────────────────────────────


def counts(doc: Document, meta: dict[str, Any]) -> dict[str, Any]:
    """What k6 saw and what the database holds: lost = answered admitted but not inside,
    doubled = a second admission of one guest (k6) or more inside than admitted answers."""
    s = doc.summary(NAME)
    admitted = int(metric(s, "checkins_admitted", "count", 0) or 0)
    scanned = int(metric(s, "http_req_duration{name:check-in}", "count", 0) or 0)
    inside = meta.get("db_inside")
    doubled_k6 = int(metric(s, "doubled_admissions", "count", 0) or 0)
    lost = None if inside is None else max(0, admitted - inside)
    doubled = doubled_k6 + (0 if inside is None else max(0, inside - admitted))
    return {
        "seeded": meta.get("seeded"),
        "scanned": scanned,
        "admitted": admitted,
        "inside": inside,
        "lost": lost,
        "doubled": doubled,
        "retry_mismatch": int(metric(s, "retry_mismatch", "count", 0) or 0),
        "failures": int(metric(s, "checkin_failures", "count", 0) or 0),
    }


def section(doc: Document) -> None:
    doc.w("## The door: check-ins while the doors open", "")
    meta = doc.meta.get(NAME)
    doc.use_limits(meta)
    texts = [
        f"door: check-in p95 < {CHECK_IN_P95_MS} ms",
        "door: 0 lost or doubled check-ins (counted in the database)",
        "door: doors-open's journeys alongside: 0 failed, p95 submit→QR < 500 ms",
    ]
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
    doc.w(
        f"{meta.get('doors')} doors check in {meta.get('guests')} seeded guests of the demo "
        f"event in {meta.get('duration_s')} s (constant arrival rate; scan n at door n mod "
        f"{meta.get('doors')}), {int(100 * meta.get('retry_share', 0))}% sent again with the "
        f"same scanId (a retry: same answer expected), {int(100 * meta.get('rescan_share', 0))}% "
        "scanned again at the next door (already_in expected); each door's screen asks the "
        "counter every 5 s and the offline list every minute. Meanwhile doors-open's "
        f"{meta.get('people')} people arrive over {meta.get('ramp_s')} s and stay "
        f"{meta.get('hold_s')} s on the same server.",
        "",
    )
    c = counts(doc, meta)
    doc.w(
        *table(
            ["check-ins", "value"],
            [
                ["guests seeded", c["seeded"]],
                ["first scans sent", c["scanned"]],
                ["answered admitted", c["admitted"]],
                ["inside in the database afterwards", c["inside"]],
                ["lost (admitted, not inside)", c["lost"]],
                ["doubled (a second admission)", c["doubled"]],
                ["retries answered differently", c["retry_mismatch"]],
                ["other failed scans", c["failures"]],
            ],
        ),
        "",
    )
    door_routes = ("check-in", "check-in-retry", "check-in-rescan", "door-summary", "door-list")
    rows = [latency_row(s, route, route_trend(route)) for route in door_routes]
    rows.append(latency_row(s, "doors-open submit→QR", "time_to_qr"))
    rows += [
        latency_row(s, f"doors-open {route}", route_trend(route))
        for route in ("page", "verify-phone-v2", "qr-svg")
    ]
    doc.w(*table(LATENCY_HEADER, rows), "")
    started = metric(s, "journeys_started", "count", 0) or 0
    failed = metric(s, "journeys_failed", "count", 0) or 0
    doc.w(
        f"doors-open alongside: {started} journeys started, "
        f"{metric(s, 'journeys_completed', 'count', 0)} completed, {failed} failed.",
        "",
    )
    doc.jobs_table(meta)
    p95 = metric(s, "http_req_duration{name:check-in}", "p(95)")
    doc.target(texts[0], None if p95 is None else p95 < CHECK_IN_P95_MS, f"p95 {fmt(p95)} ms")
    sound = c["lost"] == 0 and c["doubled"] == 0 and c["retry_mismatch"] == 0
    doc.target(
        texts[1],
        None if c["lost"] is None else sound and c["admitted"] > 0,
        f"{c['admitted']} admitted, {c['inside']} inside, {c['lost']} lost, "
        f"{c['doubled']} doubled, {c['retry_mismatch']} retries answered differently",
    )
    ttq_p95 = metric(s, "time_to_qr", "p(95)")
    doc.target(
        texts[2],
        None if not started else failed == 0 and ttq_p95 is not None and ttq_p95 < 500,
        f"{failed} of {started} failed, p95 submit→QR {fmt(ttq_p95)} ms",
    )
