"""`bench/run.sh --cluster`: the scenarios through the local cluster of scripts/cluster.py
(HAProxy → app instances → pgbouncer → PostgreSQL primary + hot standby, standalone workers)
instead of one app process. The bench starts a cluster of its own (ports chosen free, state in
a temporary folder) and stops it at the end, so nothing else's cluster is disturbed.

What changes for a scenario: its app is the cluster's HAProxy; its database is the cluster's
`guestlist` (migrated again with the bench's settings, the bench's accounts added, the job
table emptied), since the instances are configured for that one; the limits keep databases
of their own on the cluster's primary. Events (`--cluster-event KIND@SECONDS`) hit the cluster
while a queue scenario (doors-open, overload, saturation, time-to-qr) runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT, BenchError, log

SCRIPT = ROOT / "scripts" / "cluster.py"
EVENTS = ("restart", "crash", "pg-restart", "failover")


class ClusterFront:
    """A running cluster, looking to the scenarios like the one app Server they start."""

    name = "cluster"

    def __init__(self, raw: Path, pool_max: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="glb-", dir="/tmp"))
        self.logfile = raw / "cluster.log"
        self.env = {
            **os.environ,
            "CLUSTER_DIR": str(self.root),
            "CLUSTER_PORT": "0",
            "CLUSTER_PYTHON": sys.executable,
            "CLUSTER_POOL_MAX": os.environ.get("POOL_MAX", str(pool_max)),
            # every k6 VU comes from 127.0.0.1: one client key
            "LONG_POLLS_PER_CLIENT": "0",
        }
        self.state: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []

    def command(self, *args: str, timeout: float = 300) -> str:
        out = subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        with self.logfile.open("a") as f:
            f.write(f"$ cluster.py {' '.join(args)}\n{out.stdout}{out.stderr}")
        if out.returncode != 0:
            raise BenchError(f"scripts/cluster.py {' '.join(args)}: {out.stderr.strip()}")
        self.state = json.loads((self.root / "state.json").read_text())
        return out.stdout

    def start(self) -> None:
        log(f"cluster: starting in {self.root}")
        self.command("up")
        log(f"cluster: up at {self.base}")

    def down(self) -> None:
        try:
            self.command("down")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- what the scenarios use of a Server ---------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.state['haproxy']['port']}"

    @property
    def admin_token(self) -> str:
        return str(self.state["admin_token"])

    def url(self, dbname: str) -> str:
        """The superuser over the socket; for the cluster's own database, whichever node is
        the primary (it changes with a failover event): both nodes, the writable one."""
        sock = self.root / "pg" / "sock"
        if dbname != "guestlist":
            port = self.state["nodes"][self.state["primary"]]["port"]
            return f"host={sock} port={port} dbname={dbname} user=postgres"
        ports = ",".join(str(self.state["nodes"][n]["port"]) for n in ("n1", "n2"))
        return (
            f"host={sock},{sock} port={ports} dbname={dbname} user=postgres "
            "target_session_attrs=read-write"
        )

    def cpu_used(self) -> float | None:
        return None

    def stop(self) -> None:
        """Scenarios stop their servers; the cluster stays up for the next one."""

    # --- instances in rotation (the scaling curve) --------------------------------------------

    def in_rotation(self, n: int) -> None:
        """The first n instances take traffic, the others are in maintenance in HAProxy."""
        sock = str(self.root / "haproxy.sock")
        for i, inst in enumerate(self.state["instances"]):
            state = "ready" if i < n else "maint"
            subprocess.run(
                ["socat", "-", f"UNIX-CONNECT:{sock}"],
                input=f"set server app/{inst['name']} state {state}\n",
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            up = self.command("status").count("haproxy UP")
            if up == n:
                return
            time.sleep(0.5)
        raise BenchError(f"cluster: {n} instances did not come UP in HAProxy")

    # --- events during a run ------------------------------------------------------------------

    def event(self, kind: str, t0: float) -> None:
        """One event; its start and end (seconds since the run's t0) go into the meta."""
        started = time.time()
        record: dict[str, Any] = {"event": kind, "start_s": round(started - t0, 1)}
        try:
            if kind == "restart":
                self.command("restart")
            elif kind == "crash":
                # an app instance and a worker die mid-work (SIGKILL: no goodbye), then come
                # back the way systemd's Restart=on-failure brings them back
                os.kill(self.state["instances"][0]["pid"], signal.SIGKILL)
                os.kill(self.state["workers"][0]["pid"], signal.SIGKILL)
                time.sleep(2)
                self.command("up")
            elif kind == "pg-restart":
                self.command("pg-restart")
            elif kind == "failover":
                self.command("failover")
            record["ok"] = True
        except (BenchError, OSError, subprocess.SubprocessError) as err:
            record["ok"] = False
            record["error"] = str(err)
        record["end_s"] = round(time.time() - t0, 1)
        self.events.append(record)
        log(f"cluster event {kind}: {record}")

    def schedule(self, spec: str | None, t0: float) -> threading.Thread | None:
        if not spec:
            return None
        kind, _, at = spec.partition("@")
        delay = float(at or 0)

        def later() -> None:
            time.sleep(max(0.0, t0 + delay - time.time()))
            self.event(kind, t0)

        thread = threading.Thread(target=later, name="cluster-event", daemon=True)
        thread.start()
        return thread


def parse_event(spec: str) -> str:
    kind, _, at = spec.partition("@")
    if kind not in EVENTS:
        raise ValueError(f"--cluster-event: {kind!r} is not one of {', '.join(EVENTS)}")
    float(at or 0)
    return spec
