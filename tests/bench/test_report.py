"""bench/scenarios/saturation.py's verdict, on a synthetic result folder: a ratio is claimed only
against the higher of the bcrypt limits measured before and after the scenarios (the machine's
speed drifts), and an after-measurement of another run is not this run's; a step counts no more
completions than finished inside its window."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.harness import limits, machine
from bench.scenarios import doors_open, failover_loss, overload, saturation

TARGET = "saturation: sustained completions ≥ 0.9 x the bcrypt limit"
RUN = "2026-11-30T08:05:36+00:00"


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data))


def _folder(tmp_path: Path, before: float, after: float | None, after_run: str = RUN) -> Path:
    """One saturation step of 400 journeys, all completed, judged on 30 s x (1 - 0.34) = 19.8 s:
    20.2 completions/s."""
    tmp_path.mkdir(exist_ok=True)
    limits: dict[str, Any] = {"scenario": "limits", "run_started": after_run, "ok": True}
    if after is not None:
        limits["bcrypt_after_per_s"] = after
    _write(tmp_path / "meta-limits.json", limits)
    _write(
        tmp_path / "meta-saturation.json",
        {
            "scenario": "saturation",
            "run_started": RUN,
            "ok": True,
            "rates": [20.0],
            "hold_s": 30,
            "settle": 0.34,
            "limits": {"bcrypt_per_s": before},
        },
    )
    step = "{step:0}"
    _write(
        tmp_path / "summary-saturation.json",
        {
            "metrics": {
                f"submits{step}": {"count": 400},
                f"completions{step}": {"count": 400},
                f"journeys_failed{step}": {"count": 0},
                f"time_to_qr{step}": {"p(95)": 500.0, "med": 300.0},
            }
        },
    )
    return tmp_path


def _verdict(out: Path) -> tuple[bool | None, str]:
    r = report.Report(out)
    saturation.section(r)
    found = [(ok, detail) for text, ok, detail in r.targets if text == TARGET]
    assert len(found) == 1, r.targets
    return found[0]


@pytest.mark.parametrize(
    ("before", "after", "after_run", "passes"),
    [
        (21.0, None, RUN, True),  # 20.2 / 21 = 0.96: no second measurement
        (21.0, 21.5, RUN, True),  # 0.94 of the higher
        (21.0, 25.0, RUN, False),  # 0.96 of the first, 0.81 of the second: not claimed
        (25.0, 21.0, RUN, False),  # 0.81 of the first
        (21.0, 25.0, "2026-11-29T10:00:00+00:00", True),  # another run's measurement
    ],
)
def test_saturation_is_judged_on_the_higher_bcrypt_measurement(
    tmp_path: Path, before: float, after: float | None, after_run: str, passes: bool
) -> None:
    ok, detail = _verdict(_folder(tmp_path, before, after, after_run))
    assert ok is passes, detail
    assert detail.startswith("20.2/s vs bcrypt"), detail
    assert ("measured after the scenarios" in detail) is (after is not None and after_run == RUN)


def _raw(out: Path, ends: list[tuple[float, float, str]]) -> None:
    """A k6 CSV with one time_to_qr row per journey (start s, end s, step), as k6 writes it:
    the sample's time is the journey's end, its value the journey's length in ms."""
    lines = ["metric_name,timestamp,metric_value,scenario,extra_tags"]
    t0 = 1_796_000_000_000
    for start, end, step in ends:
        lines.append(
            f"time_to_qr,{t0 + end * 1000:.0f},{(end - start) * 1000:.6f},saturation,"
            f"step={step}&outcome=ok"
        )
    (out / "raw").mkdir()
    with gzip.open(out / "raw" / "saturation.csv.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")


def _arrivals(first: float, n: int, every: float) -> list[float]:
    return [first + k * every for k in range(n)]


def test_a_step_counts_what_finished_in_its_window_not_a_growing_queue(tmp_path: Path) -> None:
    """400 journeys start in step 0's 19.8 s window (and 200 in the 9.9 s before it). When each
    takes 300 ms, the window sees them all finish: 20.2/s, sustained. When each waits 12.5 ms
    longer than the one before (a queue that grows through the step), only ~4/5 finish inside
    the window: the step is not sustained and counts what finished, not what arrived."""
    every = 19.8 / 400
    before = [(s, "transition") for s in _arrivals(-200 * every, 200, every)]
    during = [(s, "0") for s in _arrivals(0.0, 400, every)]

    keeping_up = _folder(tmp_path / "kept", 21.0, None)
    _raw(keeping_up, [(s, s + 0.3, step) for s, step in before + during])
    steps = saturation.saturation_steps(
        keeping_up, json.loads((keeping_up / "meta-saturation.json").read_text())
    )
    assert 0.99 * 400 <= steps["steps"][0]["finished_in_window"] <= 401
    assert steps["sustained"] is not None and steps["sustained"]["completions_per_s"] >= 20.0

    growing = _folder(tmp_path / "grew", 21.0, None)
    _raw(growing, [(s, s + 0.3 + k * 0.0125, step) for k, (s, step) in enumerate(before + during)])
    steps = saturation.saturation_steps(
        growing, json.loads((growing / "meta-saturation.json").read_text())
    )
    step = steps["steps"][0]
    assert 250 < step["finished_in_window"] < 0.95 * 400, step
    assert step["completions_per_s"] == round(step["finished_in_window"] / 19.8, 2)
    assert steps["sustained"] is None
    ok, detail = _verdict(growing)
    assert ok is False, detail

    # raw/ is not kept in the repo: a report rebuilt without it uses the counts the run kept
    shutil.rmtree(growing / "raw")
    meta = json.loads((growing / "meta-saturation.json").read_text())
    assert saturation.saturation_steps(growing, meta)["steps"][0]["finished_in_window"] is None
    meta["steps"] = steps["steps"]
    assert saturation.saturation_steps(growing, meta) == steps


def test_a_journeys_cpu_splits_the_database_from_the_rest_when_it_was_measured() -> None:
    # 10,000 journeys, 2 CPUs, bcrypt 40/s: the hash is 50 ms a journey; the machine was busy
    # 600 CPU-s (60 ms a journey), the app 30 s (3 ms), k6 15 s (1.5 ms)
    meta: dict[str, Any] = {
        "ncpu": 2,
        "runs": [{"k6_cpu_s": 15.0}],
        "app_cpu_s": 30.0,
        "machine_busy_pct": 50.0,
        "machine_cpu_s": 1200.0,
    }
    unmeasured = saturation.journey_cpu(meta, 10_000, 40.0)
    assert unmeasured["db_ms"] is None
    assert unmeasured["rest_ms"] == pytest.approx(5.5)  # the database beside the hash inside

    measured = saturation.journey_cpu({**meta, "postgres_cpu_s": 540.0}, 10_000, 40.0)
    assert measured["db_ms"] == pytest.approx(4.0)  # 54 ms of server CPU less the 50 of the hash
    assert measured["rest_ms"] == pytest.approx(1.5)
    assert measured["machine_ms"] == pytest.approx(60.0)


def test_the_journey_floor_adds_the_queues_sql_and_one_paced_request_to_the_hash() -> None:
    # 2 CPUs: bcrypt 40/s = 50 ms a hash; the queue's SQL path 38/s = 52.63 ms, 2.63 beside it;
    # one paced request 1.2 ms of server CPU and 1.4 of k6
    floor = limits.journey_floor(2, 40.0, 38.0, {"server_ms": 1.2, "k6_ms": 1.4})
    assert floor is not None
    assert floor["sql_ms"] == pytest.approx(2.6316, abs=1e-3)
    assert floor["floor_ms"] == pytest.approx(50 + 2.6316 + 2.6, abs=1e-3)
    assert floor["ratio"] == pytest.approx(50 / 55.2316, abs=1e-4)
    assert limits.journey_floor(2, 40.0, None, {"server_ms": 1.2, "k6_ms": 1.4}) is None


def test_sync_cost_section_shows_both_commit_modes_and_their_ratio(tmp_path: Path) -> None:
    """The cluster-only sync-cost scenario: each variant's medians and the median of the
    rounds' ratios (not the ratio of the medians), the rounds themselves beside them."""
    _write(tmp_path / "meta-limits.json", {"scenario": "limits", "run_started": RUN, "ok": True})
    rounds = {"local": [20.0, 10.0, 30.0], "remote_apply": [18.0, 9.0, 24.0]}
    _write(
        tmp_path / "meta-sync-cost.json",
        {
            "scenario": "sync-cost",
            "run_started": RUN,
            "ok": True,
            "standby": "n2",
            "clients": 2,
            "secs": 10,
            "limits": {"bcrypt_per_s": 30.0},
            "sync_cost": {
                "bcrypt cost 10": {
                    "rounds": rounds,
                    "median": {"local": 20.0, "remote_apply": 18.0},
                    "ratio": 0.9,
                }
            },
        },
    )
    text = report.Report(tmp_path).build()
    section = text.split("## Synchronous replication")[1]
    assert "`n2`" in section
    row = next(line for line in section.splitlines() if line.startswith("| bcrypt cost 10"))
    assert "| 20.0 | 18.0 | 0.90" in row.replace(" x", "")
    assert "20.0 → 18.0 / 10.0 → 9.0 / 30.0 → 24.0" in row


def test_no_sync_cost_section_when_it_did_not_run(tmp_path: Path) -> None:
    _write(tmp_path / "meta-limits.json", {"scenario": "limits", "run_started": RUN, "ok": True})
    assert "## Synchronous replication" not in report.Report(tmp_path).build()


def test_fast_routes_are_judged_outside_a_cluster_events_seconds(tmp_path: Path) -> None:
    """doors-open with a cluster event from 40 s to 42 s: the fast routes' p95 is split into
    the seconds outside it and those during it (to 5 s after its end); the target judges the
    outside only, and fails when the outside is slow too."""
    t0 = 1_796_000_000.0

    def run(outside_ms: float) -> list[tuple[bool | None, str]]:
        out = tmp_path / f"out{outside_ms:g}"
        (out / "raw").mkdir(parents=True)
        lines = ["metric_name,timestamp,metric_value,name,extra_tags"]
        for sec in range(100):
            slow = 40 <= sec <= 47
            for route in doors_open.ROUTES:
                ms = 900.0 if slow else outside_ms
                lines.append(f"http_req_duration,{(t0 + sec + 0.5) * 1000:.0f},{ms},{route},")
        with gzip.open(out / "raw" / "doors-open.csv.gz", "wt") as f:
            f.write("\n".join(lines) + "\n")
        meta = {"t0_epoch": t0, "cluster_events": [{"event": "restart", "start_s": 40.0,
                                                    "end_s": 42.0}]}  # fmt: skip
        kept = {"event_latency": doors_open.event_latency(meta, out, "doors-open")}
        r = report.Report(out)
        verdict = doors_open.event_section(r, kept)
        assert verdict is not None
        routes = kept["event_latency"]["routes"]
        assert {v["during_p95"] for v in routes.values()} == {900.0}
        assert {v["during_requests"] for v in routes.values()} == {8}  # seconds 40 … 47
        assert {v["outside_p95"] for v in routes.values()} == {outside_ms}
        return [verdict]

    assert run(20.0)[0][0] is True
    ok, detail = run(150.0)[0]
    assert ok is False and "qr-svg 150.0 ms" in detail
    assert doors_open.event_latency({"t0_epoch": t0}, tmp_path, "doors-open") is None


def test_the_peaks_cpu_by_tier_and_what_it_left_to_the_hashes(tmp_path: Path) -> None:
    """overload's peak (quick: 60 s to 97.5 s of the seed's stages x 0.125): the CPU timeline
    gives each tier's CPUs over the window; the hashes' share is the jobs finished x CPUs ÷
    the bcrypt limit, and what the other tiers left them bounds the jobs/s the peak allows."""
    (tmp_path / "raw").mkdir()
    tiers = ("PostgreSQL", "app", "workers", "HAProxy", "pgbouncer", "k6", "other")
    use = {"PostgreSQL": 1.4, "app": 0.3, "k6": 0.2, "other": 0.1}
    rows = [",".join(("t", *tiers))]
    for t in range(0, 121):
        rows.append(",".join((str(t), *(f"{use.get(k, 0.0) * t:.2f}" for k in tiers))))
    (tmp_path / "raw" / "overload.cpu.csv").write_text("\n".join(rows) + "\n")
    queue = ["t,pending,finished"] + [f"{t},100,20" for t in range(0, 121)]
    (tmp_path / "raw" / "overload.queue.csv").write_text("\n".join(queue) + "\n")
    meta = {"time_scale": 0.125, "cpu_csv": "raw/overload.cpu.csv", "ncpu": 2,
            "queue_csv": "raw/overload.queue.csv"}  # fmt: skip
    cpu = overload.peak_cpu(meta, tmp_path, "overload")
    assert cpu is not None
    assert cpu["PostgreSQL"] == pytest.approx(1.4) and cpu["k6"] == pytest.approx(0.2)
    kept = {"peak_cpu": cpu, "peak_completions_per_s": 20.0}
    r = report.Report(tmp_path)
    r.bcrypt = 40.0
    # 20 jobs/s x 2 CPUs ÷ 40/s = 1.0 CPU of hashes; the rest took 2.0 - 1.0 = 1.0; saturation
    # at 25/s: 0.8 x 25 = 20 jobs/s need 1.0 CPU of hashes, so the rest may take 1.0
    r.meta["saturation"] = {"sustained": {"completions_per_s": 25.0}}
    rows_out = {label: value for label, value in overload.cpu_rows(r, meta, kept)}
    assert rows_out["… … of which the hashes (jobs finished/s x CPUs ÷ bcrypt limit)"] == "1.00"
    assert rows_out["CPUs the rest took: the peak's requests, k6's included"] == "1.00"
    budget = [v for k, v in rows_out.items() if k.startswith("… the most they could take")]
    assert budget == ["1.00"]


@pytest.mark.parametrize(
    ("name", "cmdline", "tier"),
    [
        ("postgres", ["postgres: n1: guestlist_app guestlist 127.0.0.1(5) idle"], "PostgreSQL"),
        ("python", ["/v/bin/python", "-m", "guestlist", "serve"], "app"),
        ("python", ["/v/bin/python", "/repo/app.py"], "app"),
        ("python", ["/v/bin/python", "-m", "guestlist", "worker"], "workers"),
        ("haproxy", ["haproxy", "-f", "x.cfg"], "HAProxy"),
        ("k6", ["k6", "run", "overload.js"], "k6"),
        ("python", ["/v/bin/python", "-m", "bench.runner"], "other"),
    ],
)
def test_processes_are_put_in_their_tier(name: str, cmdline: list[str], tier: str) -> None:
    assert machine.process_tier(name, cmdline) == tier


def test_failover_loss_counts_what_the_new_primary_lacks_by_when_it_was_handed_out(
    tmp_path: Path,
) -> None:
    """failover-loss: each QR code handed out (and job id answered) that the new primary does
    not have is counted by its window around the event; with synchronous replication the
    report judges 0 lost, with asynchronous it only reports."""
    event = {"event": "failover", "start_s": 10.0, "end_s": 13.0, "ok": True}
    answers = [
        {"at": 5.0, "outcome": "qr", "qr": "a", "job": "j1"},
        {"at": 11.0, "outcome": "qr", "qr": "b", "job": "j2"},
        {"at": 12.0, "outcome": "qr", "qr": "c", "job": "j3"},
        {"at": 12.5, "outcome": "503 unavailable"},
        {"at": 14.0, "outcome": "qr", "qr": "d", "job": "j4"},
        {"at": 15.0, "outcome": "job waiting", "job": "j5"},
    ]
    counted = failover_loss.tally(answers, {"a", "d"}, {"j1", "j4", "j5"}, event)
    assert counted["handed_out_by_window"] == {"before": 1, "during": 2, "after": 1}
    assert counted["lost_qr"] == 2 and counted["lost_qr_by_window"] == {"during": 2}
    assert counted["lost_jobs"] == 2 and counted["jobs_answered"] == 5
    assert counted["lost_jobs_unfinished"] == 0
    assert counted["outcomes"] == {"503 unavailable": 1, "job waiting": 1}
    assert counted["first_qr_after_s"] == 4.0

    def judged(sync: bool, lost: int) -> list[tuple[str, bool | None, str]]:
        out = tmp_path / f"{sync}{lost}"
        out.mkdir()
        _write(out / "meta-limits.json", {"scenario": "limits", "run_started": RUN, "ok": True})
        meta = {**counted, "lost_qr": lost, "sync": sync, "lag_s": 2.0, "clients": 16}
        _write(
            out / "meta-failover-loss.json",
            {"scenario": "failover-loss", "run_started": RUN, "ok": True, "event": event, **meta},
        )
        doc = report.Report(out)
        text = doc.build()
        assert "## Failover with the standby behind" in text
        return [t for t in doc.targets if t[0] == failover_loss.SYNC_TARGET]

    assert judged(sync=True, lost=0)[0][1] is True
    assert judged(sync=True, lost=2)[0][1] is False
    assert judged(sync=False, lost=2) == []
