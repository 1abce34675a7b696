"""console: the organizer's list and CSV export at 20 000 guests of one event.

One owner (logged in through an invite, as the browser does) asks app.py for pages of the list
the ways the console does (newest first, by name, by arrival, searches by name and by phone, a
promoter filter, the inside filter, deep offsets) one request at a time, then with CONCURRENT
organizers at once; then exports the whole list as CSV several times. Figures: each page's
latency (p50/p95/p99), each export's time and size, and app.py's resident memory (VmRSS)
before, between and after the exports, with its peak (VmHWM): a streamed export leaves them
flat."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.harness import BenchError, log
from bench.harness.bench import Bench
from bench.harness.database import bq
from bench.harness.document import Document, fmt, table

GUESTS = 20_000
EXPORTS = 3
CONCURRENT = 4
PASSWORD = "BenchConsola1"
PAGE_TARGET_MS = 50
EXPORT_TARGET_S = 2


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB, from /proc."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


SHAPES = (
    ("newest first", ""),
    ("by name", "&sort=name"),
    ("inside, by arrival", "&sort=arrival&checkedIn=true"),
    ("search 'Concei'", "&q=Concei"),
    ("search 'conceicao' (no accents), by name", "&q=conceicao&sort=name"),
    ("search one name 'Convidado 1234'", "&q=Convidado%201234"),
    ("search phone digits '920 012'", "&q=920%20012"),
    ("search 'número' (nobody), inside", "&q=n%C3%BAmero&checkedIn=true"),
    ("one promoter", "&promoterId={promoter}"),
    ("not inside, by name", "&checkedIn=false&sort=name"),
    ("offset 10 000", "&offset=10000"),
    ("offset 19 950, by name", "&offset=19950&sort=name"),
)


def _queries(event: str, promoter: str, pages: int) -> list[str]:
    """The list requests an organizer makes, cycled: sorts, filters, a search, deep pages."""
    base = f"/api/console/events/{event}/guests?limit=50"
    shapes = [base + extra.format(promoter=promoter) for _, extra in SHAPES]
    return [shapes[i % len(shapes)] for i in range(pages)]


def _by_shape(paths: list[str], values: list[float]) -> dict[str, dict[str, float]]:
    """One organizer's latencies split by the kind of request (paths[i] took values[i])."""
    out: dict[str, dict[str, float]] = {}
    for k, (label, _) in enumerate(SHAPES):
        picked = [v for i, v in enumerate(values) if i % len(SHAPES) == k]
        if picked:
            out[label] = _latency(picked)
    return out


def _timed(client: httpx.Client, paths: list[str], out: list[float], errors: list[str]) -> None:
    for path in paths:
        t0 = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200 or "guests" not in r.json():
            errors.append(f"{r.status_code} {path}")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(_pct(values, 95), 2),
        "p99_ms": round(_pct(values, 99), 2),
        "max_ms": round(max(values), 2),
    }


def run(bench: Bench) -> None:
    with bench.scenario("console") as meta:
        dbname, url, ids = bench.fresh_db("console")
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(
                bq("console_seed_guests"),
                {"n": GUESTS, "event_id": ids["eventId"], "promoter_id": ids["promoterId"],
                 "team_id": ids["teamId"]},
            )  # fmt: skip
            c.execute(bq("console_analyze"))
            row = c.execute(
                bq("console_owner_invite"),
                {"organization_id": ids["organizationId"], "email": "dona@bench.test"},
            ).fetchone()
        assert row is not None
        invite = row[0]
        app = bench.start_app(url, "console")
        pid = app.proc.pid
        meta["guests"] = GUESTS
        # app.py serves as behind HTTPS (the default): the staff cookie is __Host-gl_staff,
        # Secure, so it is carried by hand over the bench's plain http, and the Origin a
        # browser would send is the https one
        origin = app.base.replace("http://", "https://")
        with httpx.Client(base_url=app.base, headers={"Origin": origin}, timeout=60) as client:
            r = client.post(
                "/api/staff/invite/accept",
                json={"token": invite["inviteToken"], "password": PASSWORD, "displayName": "Dona"},
            )
            if r.status_code != 200:
                raise BenchError(f"console: invite not accepted: {r.status_code} {r.text[:200]}")
            cookie = "; ".join(f"{k}={v}" for k, v in r.cookies.items())
            client.headers["Cookie"] = cookie
            errors: list[str] = []
            pages = 40 if bench.mode.name == "smoke" else 400
            paths = _queries(ids["eventId"], ids["promoterId"], pages)
            _timed(client, paths[:16], [], errors)  # warm-up: plans cached, pool filled
            one: list[float] = []
            _timed(client, paths, one, errors)
            meta["list_one_at_a_time"] = _latency(one)
            meta["list_by_shape"] = _by_shape(paths, one)
            log(f"console: list page p95 {meta['list_one_at_a_time']['p95_ms']} ms (1 at a time)")

            many: list[float] = []
            clients = [
                httpx.Client(base_url=app.base, headers={"Cookie": cookie}, timeout=60)
                for _ in range(CONCURRENT)
            ]
            threads = [
                threading.Thread(target=_timed, args=(c, paths[i::CONCURRENT], many, errors))
                for i, c in enumerate(clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for c in clients:
                c.close()
            meta["list_concurrent"] = {**_latency(many), "organizers": CONCURRENT}
            p95 = meta["list_concurrent"]["p95_ms"]
            log(f"console: list page p95 {p95} ms ({CONCURRENT} at once)")

            memory = [{"when": "before exports", **rss_kb(pid)}]
            exports = []
            for i in range(EXPORTS):
                t0 = time.perf_counter()
                size = lines = 0
                with client.stream(
                    "GET",
                    f"/api/console/events/{ids['eventId']}/export.csv",
                    headers={"Accept-Encoding": "identity"},
                ) as resp:
                    if resp.status_code != 200:
                        raise BenchError(f"console: export answered {resp.status_code}")
                    for chunk in resp.iter_bytes():
                        size += len(chunk)
                        lines += chunk.count(b"\r\n")
                seconds = time.perf_counter() - t0
                exports.append({"s": round(seconds, 3), "bytes": size, "rows": lines - 1})
                memory.append({"when": f"after export {i + 1}", **rss_kb(pid)})
                log(f"console: export {i + 1}: {lines - 1} rows, {size} bytes in {seconds:.2f} s")
            meta["exports"] = exports
            meta["memory_kb"] = memory
            meta["errors"] = errors[:20]
            meta["error_count"] = len(errors)
        meta["server_cpu_s"] = app.cpu_used()
        bench.stop_servers()
        bench.done_with(dbname)
        if errors:
            raise BenchError(f"console: {len(errors)} list requests failed, e.g. {errors[0]}")


# ─── its section of the report ────────────────────────────────────────────


def section(doc: Document) -> None:
    doc.w("## console: the organizer's list and export at 20 000 guests", "")
    meta = doc.meta.get("console")
    if not meta:
        doc.w("Not run.", "")
        doc.target(f"console list page p95 < {PAGE_TARGET_MS} ms", None)
        doc.target(f"console export of 20 000 rows < {EXPORT_TARGET_S} s", None)
        return
    if doc.failed_to_run("console"):
        return
    rows: list[list[Any]] = []
    for key, label in (("list_one_at_a_time", "1 organizer"), ("list_concurrent", "at once")):
        lat = meta.get(key) or {}
        who = f"{lat.get('organizers')} organizers" if key == "list_concurrent" else label
        rows.append([who, lat.get("n"), lat.get("p50_ms"), lat.get("p95_ms"), lat.get("p99_ms")])
    for label, lat in (meta.get("list_by_shape") or {}).items():
        rows.append(
            [f"1 organizer: {label}", lat["n"], lat["p50_ms"], lat["p95_ms"], lat["p99_ms"]]
        )
    doc.w(*table(["list pages", "requests", "p50 ms", "p95 ms", "p99 ms"], rows), "")
    exports = meta.get("exports") or []
    doc.w(
        *table(
            ["export", "rows", "bytes", "seconds"],
            [[i + 1, e["rows"], e["bytes"], fmt(e["s"])] for i, e in enumerate(exports)],
        ),
        "",
    )
    memory = meta.get("memory_kb") or []
    doc.w(
        *table(
            ["app.py memory", "VmRSS kB", "VmHWM (peak) kB"],
            [[m["when"], m.get("VmRSS"), m.get("VmHWM")] for m in memory],
        ),
        "",
    )
    doc.w(
        f"{meta.get('guests')} guests of one event. List pages: 50 rows each, cycling the "
        "kinds below (sorts, filters, searches by part of a name with and without accents, "
        "by one name, by phone digits and one that finds nobody, deep offsets); one "
        "organizer's requests one after another, then several organizers at once. Exports: "
        "the whole list streamed, read uncompressed.",
        "",
    )
    p95 = (meta.get("list_one_at_a_time") or {}).get("p95_ms")
    doc.target(
        f"console list page p95 < {PAGE_TARGET_MS} ms",
        None if p95 is None else p95 < PAGE_TARGET_MS,
        f"{p95} ms",
    )
    worst = max((e["s"] for e in exports), default=None)
    doc.target(
        f"console export of 20 000 rows < {EXPORT_TARGET_S} s",
        None if worst is None else worst < EXPORT_TARGET_S,
        f"slowest {worst} s",
    )
