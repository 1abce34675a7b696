"""deploy/'s files are valid for the tools that read them: the systemd units for
`systemd-analyze verify`, the HAProxy configuration (filled as scripts/cluster.py fills it) for
`haproxy -c`; their stop bounds sit above the app's own."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from guestlist.config import WorkerSettings

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "deploy" / "systemd"


def cluster_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cluster_script", REPO / "scripts" / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_systemd_units_verify(tmp_path: Path) -> None:
    # the units name the installed command (/opt/guestlist/.venv/bin/guestlist): point them at
    # this venv's, which exists, and instantiate the templates
    guestlist = Path(sys.executable).parent / "guestlist"
    names = []
    for unit in sorted(UNITS.glob("*.service")):
        text = unit.read_text().replace("/opt/guestlist/.venv/bin/guestlist", str(guestlist))
        name = unit.name.replace("@.", "@8001.")
        (tmp_path / name).write_text(text)
        names.append(name)
    assert len(names) == 4
    out = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), (
        out.stdout + out.stderr
    )


def test_stop_bounds_cover_the_app_and_the_workers() -> None:
    cluster = cluster_module()
    for name in ("guestlist-serve.service", "guestlist-serve@.service"):
        assert cluster.unit(name)["KillSignal"] == "SIGTERM"
        # SHUTDOWN_TIMEOUT's default (20 s) plus a margin, then systemd's SIGKILL
        assert 20 < cluster.unit_seconds(name, "TimeoutStopSec") <= 60
    for name in ("guestlist-worker.service", "guestlist-worker@.service"):
        assert cluster.unit(name)["KillSignal"] == "SIGTERM"
        assert cluster.unit_seconds(name, "TimeoutStopSec") > WorkerSettings().stop_timeout
    assert cluster.unit_command("guestlist-serve@.service") == ["serve"]
    assert cluster.unit_command("guestlist-worker@.service") == ["worker"]


def test_haproxy_configuration_is_valid(tmp_path: Path) -> None:
    cluster = cluster_module()
    cfg = cluster.fill(
        REPO / "deploy" / "haproxy" / "guestlist.cfg",
        {
            "LISTEN": "127.0.0.1:8080",
            "STATS_LISTEN": "127.0.0.1:8404",
            "ADMIN_SOCKET": str(tmp_path / "haproxy.sock"),
            "LOG": "stdout format raw",
            "SERVERS": "server app1 127.0.0.1:8001\n    server app2 127.0.0.1:8002",
        },
    )
    path = tmp_path / "haproxy.cfg"
    path.write_text(cfg)
    out = subprocess.run(
        ["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # only idempotent requests are re-sent once they reached an instance
    assert "http-request disable-l7-retry unless { method GET HEAD OPTIONS }" in cfg


def test_pgbouncer_pools_the_app_by_transaction_and_listen_by_session() -> None:
    ini = (REPO / "deploy" / "pgbouncer" / "pgbouncer.ini").read_text()
    databases = {
        line.split("=", 1)[0].strip(): line
        for line in ini.split("[databases]", 1)[1].split("[pgbouncer]", 1)[0].splitlines()
        if line and not line.startswith(";")
    }
    assert "pool_mode=transaction" in databases["guestlist"]
    assert "connect_query='SET ROLE guestlist_web'" in databases["guestlist"]
    assert "pool_mode=session" in databases["guestlist_session"]
