"""The bench runner behind `bench/run.sh` (see bench/README.md).

    bench/run.sh [--quick | --smoke] [--out DIR] [--seed-peak N] [--keep-db] [scenario ...]

Scenarios, in this order (default: all): limits, verify-phone, saturation, time-to-qr,
doors-open, seed.
`limits` always runs first: every other result is stated as a ratio to a limit measured in
the same run, on the same machine.

For each scenario the runner copies a freshly migrated template database (migrate.py, then
the demo from demo.py, then the existing accounts of bench/queries.sql), runs migrate.py on
the copy (pg_cron schedules its cleanup, and BENCH_SETTINGS turn every rate limit off), starts
the server(s) on free 127.0.0.1 ports, reads the demo ids from the running app's
/api/guest/page/miguel/festa-verao, runs k6, accounts for every job, stops everything and
drops the database. The server is DATABASE_URL's, else the project-local cluster
(scripts/local-db.sh); never anything but 127.0.0.1.

Writes into the output folder (default bench/results/<YYYY-MM-DD> for full runs,
<date>-quick, smoke for --smoke): summary-<run>.json (k6 --summary-export), meta-<run>.json
(what the runner measured and how), raw/ (per-request CSV from k6 --out csv, server and k6
logs, queue and probe timelines; git-ignored), then report.md and the PNG plots (report.py).
A full run also writes bench/results/latest.md.

Exit status: 0 when every scenario ran (whatever its figures: the bench reports, it does not
judge), 1 when one could not run (its error is in the report), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, LiteralString, cast
from urllib.parse import quote, urlencode

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench import report
from guestlist import demo, migrate
from guestlist.queries import load_queries
from tests.support.postgres import PgServer, close_database, create_database, drop_database

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

BQ: dict[str, str] = load_queries(BENCH / "queries.sql")
K6_DIR = BENCH / "k6"
NODE_DIR = BENCH / ".node"
POSTGRAPHILE_SPEC = "postgraphile@4"
PAGE_PATH = demo.PAGE_PATH
PAGE_JSON = "/api/guest/page/miguel/festa-verao"
PASSWORD = "Segredo123"
# The bench database's security settings (migrate.py writes them): every rate limit off, since
# every VU comes from 127.0.0.1 (one client key) and the phone checks hit numbers by the
# thousand. The lockout stays: the journeys log in with the right password.
BENCH_SETTINGS: dict[str, str | None] = {
    "rate_limit_per_minute": "0",
    "phone_lookups_per_minute": "0",
    "unknown_phone_lookups_per_minute": "0",
}
SCENARIOS = ("limits", "verify-phone", "saturation", "time-to-qr", "doors-open", "seed")
TREND_STATS = "avg,min,med,max,p(90),p(95),p(99),count"
# saturation's arrival rates, as shares of the bcrypt limit
SATURATION_SHARES = (
    0.3, 0.5, 0.65, 0.75, 0.8, 0.85, 0.875, 0.9, 0.925, 0.95, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5
)  # fmt: skip
# k6's Go runtime in saturation, where its CPU is taken from the system under test (ms of k6
# CPU a journey at a fixed 34/s, 2 runs each): at most ~50 requests/s need no second thread,
# which Go's scheduler would wake for each request (GOMAXPROCS=1: 1.6 -> 1.3), and a collection
# when the heap has grown 4 x past its live size rather than 1 x (GOGC=400: 1.65 -> 1.4).
SATURATION_GO_ENV = {"GOMAXPROCS": "1", "GOGC": "400"}
# The seed's stages (seconds) up to the end of its 500-user hold: the "peak" ends there.
SEED_PEAK_END_S = 60 + 120 + 300 + 300
SEED_TOTAL_S = SEED_PEAK_END_S + 120 + 60
# A seed iteration whose job finishes fast: submit, one or two polls 500 ms apart, sleep 1 s.
SEED_ITERATION_S = 1.6


def bq(name: str) -> LiteralString:
    return cast(LiteralString, BQ[name])


_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"bench [{time.monotonic() - _T0:6.1f} s] {msg}", flush=True)


class BenchError(RuntimeError):
    """A scenario could not run; the message says why."""


# ─── modes ─────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Mode:
    name: str
    users: int  # existing accounts made before each scenario
    pgbench_secs: int
    pgbench_runs: int  # median of
    http_levels: tuple[int, ...]  # VUs for the HTTP ceiling and the verify-phone comparison
    http_warmup: int
    http_secs: int
    http_rounds: int  # interleaved rounds (targets take turns): the median resists drift
    seed_time_scale: float  # 1 = the seed's 16 minutes
    seed_peak: int
    seed_carry: bool  # also run the seed scaled to the peak this machine can carry
    doors_people: int
    doors_ramp: int
    doors_hold: int
    doors_think: tuple[float, float]
    sat_hold: int
    sat_ramp: int
    sat_rates: tuple[float, ...] | None  # fixed (smoke) or derived from the bcrypt limit
    sat_settle: float  # share of each hold not judged (the queue settles into the new rate)
    ttq_levels: tuple[int, ...]  # time-to-qr: registrations sent at the same moment
    ttq_rounds: tuple[int, ...]  # … bursts of each level
    ttq_pause: float  # … seconds added to each burst's slot: the queue empties
    drain_timeout: int


MODES: dict[str, Mode] = {
    "full": Mode(
        "full", users=60000, pgbench_secs=10, pgbench_runs=3,
        http_levels=(50, 200), http_warmup=5, http_secs=20, http_rounds=3,
        seed_time_scale=1.0, seed_peak=500, seed_carry=True,
        doors_people=500, doors_ramp=30, doors_hold=300, doors_think=(20, 40),
        sat_hold=30, sat_ramp=2, sat_rates=None, sat_settle=0.34,
        ttq_levels=(1, 20, 100), ttq_rounds=(20, 10, 5), ttq_pause=3, drain_timeout=900,
    ),
    "quick": Mode(
        "quick", users=60000, pgbench_secs=5, pgbench_runs=1,
        http_levels=(50, 200), http_warmup=2, http_secs=8, http_rounds=2,
        seed_time_scale=0.125, seed_peak=500, seed_carry=True,
        doors_people=500, doors_ramp=15, doors_hold=60, doors_think=(20, 40),
        sat_hold=10, sat_ramp=2, sat_rates=None, sat_settle=0.34,
        ttq_levels=(1, 20, 100), ttq_rounds=(5, 3, 2), ttq_pause=3, drain_timeout=300,
    ),
    "smoke": Mode(
        "smoke", users=2000, pgbench_secs=1, pgbench_runs=1,
        http_levels=(5,), http_warmup=1, http_secs=1, http_rounds=1,
        seed_time_scale=0.003, seed_peak=4, seed_carry=False,
        doors_people=4, doors_ramp=1, doors_hold=2, doors_think=(0.2, 0.5),
        sat_hold=1, sat_ramp=1, sat_rates=(4, 6), sat_settle=0.0,
        ttq_levels=(1, 3), ttq_rounds=(1, 1), ttq_pause=1, drain_timeout=30,
    ),
}  # fmt: skip


# ─── small helpers ─────────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_call(
    url: str, body: Any = None, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes, float]:
    """(status, body, milliseconds); status 0 when the connection failed."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            payload = res.read()
            return res.status, payload, (time.perf_counter() - t0) * 1000
    except urllib.error.HTTPError as err:
        return err.code, err.read(), (time.perf_counter() - t0) * 1000
    except (OSError, TimeoutError):
        return 0, b"", (time.perf_counter() - t0) * 1000


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process and of the children it reaped; None when
    the process is gone or not ours to read."""
    try:
        cpu = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return cpu.user + cpu.system + cpu.children_user + cpu.children_system


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    cpu = psutil.cpu_times()
    total = sum(cpu)
    return total - cpu.idle - getattr(cpu, "iowait", 0.0), total


def loadavg() -> list[float]:
    return list(psutil.getloadavg())


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        # results of earlier runs are not the code under test
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", ".", ":!bench/results"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev or 'none'}{' (uncommitted changes)' if dirty else ''}"


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "missing"


def find_k6() -> str:
    venv_k6 = ROOT / ".venv" / "bin" / "k6"
    if venv_k6.exists():
        return str(venv_k6)
    found = shutil.which("k6")
    if not found:
        raise BenchError("k6 not found (make install puts it in .venv/bin/k6)")
    return found


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


# ─── the database server ───────────────────────────────────────────────────


class BenchDatabases:
    """DATABASE_URL's server (or the local cluster's) and the databases the run makes on it
    (made and dropped with tests/support/postgres.py, as the tests do)."""

    def __init__(self, base_url: str, prefix: str):
        self.base_url = base_url
        # CREATE and DROP DATABASE from the postgres database, whatever DATABASE_URL names
        self.server = dataclasses.replace(PgServer.from_url(base_url), maintenance_db="postgres")
        self.prefix = prefix
        self.created: list[str] = []
        self.postmaster = self.find_postmaster()

    def url(self, dbname: str) -> str:
        return make_conninfo(self.base_url, dbname=dbname)

    def node_url(self, dbname: str) -> str:
        """The same connection as a postgres:// URL node-postgres understands (socket folders
        and ports as query parameters)."""
        params = {k: str(v) for k, v in conninfo_to_dict(self.base_url).items() if v}
        params.pop("dbname", None)
        user = params.pop("user", os.environ.get("PGUSER", "postgres"))
        password = params.pop("password", None)
        host = params.pop("host", "")
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        query = {}
        if host.startswith("/"):
            query["host"] = host
            host = ""
        if "port" in params:
            if host:
                host = f"{host}:{params.pop('port')}"
            else:
                query["port"] = params.pop("port")
        qs = ("?" + urlencode(query, quote_via=quote)) if query else ""
        return f"postgres://{auth}@{host}/{quote(dbname, safe='')}{qs}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def facts(self) -> dict[str, str]:
        with self.admin() as c:
            cur = c.execute(bq("server_facts"))
            row = cur.fetchone()
            names = [d.name for d in cur.description or []]
        return dict(zip(names, row or (), strict=False))

    def create(self, name: str, template: str | None = None) -> str:
        dbname = f"{self.prefix}_{name}"
        self.drop(dbname)
        create_database(self.server, dbname, template=template)
        self.created.append(dbname)
        return dbname

    def close_template(self, dbname: str) -> None:
        close_database(self.server, dbname)

    def drop(self, dbname: str) -> None:
        drop_database(self.server, dbname)
        if dbname in self.created:
            self.created.remove(dbname)

    def drop_all(self) -> None:
        for dbname in reversed(list(self.created)):
            with contextlib.suppress(psycopg.Error):
                self.drop(dbname)

    def find_postmaster(self) -> int | None:
        """The server's postmaster when it runs on this machine: the parent of a backend,
        recognised by its working directory, the data directory (a pid from a server elsewhere
        may name some other local process). None when it is not ours to measure."""
        with contextlib.suppress(psycopg.Error, psutil.Error), self.admin() as c:
            row = c.execute(bq("server_process")).fetchone()
            parent = psutil.Process(row[0]).parent() if row else None
            if parent is not None and parent.cwd() == os.path.realpath(row[1]):
                return parent.pid
        return None

    def cpu_seconds(self) -> float | None:
        """CPU seconds of the whole server since it started: the postmaster and the processes it
        reaped (backends that ended) and its live ones (backends, WAL writer, checkpointer…)."""
        if self.postmaster is None:
            return None
        total = proc_cpu_seconds(self.postmaster)
        if total is None:
            return None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.postmaster).children():
                total += proc_cpu_seconds(child.pid) or 0.0
        return total


def resolve_base_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    local = ROOT / "scripts" / "local-db.sh"
    subprocess.run([str(local), "start"], check=True, stdout=subprocess.DEVNULL, timeout=120)
    return subprocess.run(
        [str(local), "url"], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


# ─── processes ─────────────────────────────────────────────────────────────


class Server:
    """A server process on 127.0.0.1:<port>, its output in a log file."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        port: int,
        logfile: Path,
        cwd: Path = ROOT,
    ):
        self.name, self.port, self.logfile = name, port, logfile
        logfile.parent.mkdir(parents=True, exist_ok=True)
        self._log = logfile.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.cpu_start: float | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, body: Any = None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode} while starting; "
                    f"see {self.logfile}"
                )
            status, _, _ = http_call(self.base + path, body, timeout=2)
            if status == 200:
                self.cpu_start = proc_cpu_seconds(self.proc.pid)
                return
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s; see {self.logfile}")

    def cpu_used(self) -> float | None:
        now = proc_cpu_seconds(self.proc.pid)
        if now is None or self.cpu_start is None:
            return None
        return round(now - self.cpu_start, 2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


# ─── pollers (threads, one second apart, bounded by the scenario) ──────────


class QueuePoller:
    """Every second: jobs pending (waiting+active+delayed) and jobs finished since the last
    poll, straight from the jobs table (what the workers really did, whatever k6 saw)."""

    def __init__(self, url: str, t0: float):
        self.url, self.t0 = url, t0
        self.rows: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: str | None = None

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as c:
                row = c.execute(bq("now")).fetchone()
                since = row[0] if row else None
                while not self._stop.is_set():
                    pending_row = c.execute(bq("jobs_pending")).fetchone()
                    fin = c.execute(bq("jobs_finished_since"), {"since": since}).fetchone()
                    pending = int(pending_row[0]) if pending_row else 0
                    finished = int(fin[0]) if fin else 0
                    if fin and fin[1] is not None:
                        since = fin[1]
                    self.rows.append((round(time.time() - self.t0, 3), pending, finished))
                    self._stop.wait(1.0)
        except psycopg.Error as err:
            self.error = str(err).strip().splitlines()[0]

    def pending(self) -> int | None:
        return self.rows[-1][1] if self.rows else None

    def stop(self, path: Path) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as f:
            f.write("t,pending,finished\n")
            for t, p, fin in self.rows:
                f.write(f"{t},{p},{fin}\n")


class Probe:
    """Every second, one phone check as a person would do it: status and milliseconds."""

    def __init__(self, base: str, t0: float):
        self.base, self.t0 = base, t0
        self.rows: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Probe:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.time() - self.t0
            status, _, ms = http_call(
                self.base + "/api/guest/verify-phone-v2", {"phone": "+351910000001"}, timeout=10
            )
            self.rows.append((round(t, 3), status, round(ms, 1)))
            self._stop.wait(max(0.0, 1.0 - ms / 1000))

    def stop(self, path: Path) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        with path.open("w") as f:
            f.write("t,status,ms\n")
            for t, s, ms in self.rows:
                f.write(f"{t},{s},{ms}\n")


# ─── the bench ─────────────────────────────────────────────────────────────


@dataclass
class RunResult:
    """One k6 run."""

    name: str
    script: str
    rc: int
    wall_s: float
    k6_cpu_s: float
    summary: str
    raw: str | None
    env: dict[str, str] = field(default_factory=dict)
    thresholds_failed: bool = False
    go_env: dict[str, str] = field(default_factory=dict)  # Go runtime settings k6 ran with


class Bench:
    def __init__(self, mode: Mode, out: Path, keep_db: bool, seed_peak: int | None, pool_max: int):
        self.mode, self.out, self.keep_db = mode, out, keep_db
        self.seed_peak_override = seed_peak
        self.pool_max = pool_max
        self.raw = out / "raw"
        self.raw.mkdir(parents=True, exist_ok=True)
        self.k6_bin = find_k6()
        self.pg = BenchDatabases(resolve_base_url(), f"guestlist_bench_{os.getpid()}")
        self.template: str | None = None
        self.limits: dict[str, Any] = {}
        self.sustained_rate: float | None = None
        self.servers: list[Server] = []
        self.admin_token = secrets.token_urlsafe(24)
        self.run_facts: dict[str, Any] = {}

    # -- databases --------------------------------------------------------------------------

    def make_template(self) -> None:
        dbname = self.pg.create("tpl")
        url = self.pg.url(dbname)
        lines: list[str] = []
        migrate.migrate(url, log=lines.append)
        demo.load_demo(url)
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(bq("create_users"), {"users": self.mode.users, "password": PASSWORD})
            c.execute(bq("analyze_users"))
        self.pg.close_template(dbname)
        (self.raw / "migrate-template.log").write_text("\n".join(lines) + "\n")
        self.template = dbname
        log(f"template database {dbname}: migrated, demo loaded, {self.mode.users} accounts")

    def fresh_db(self, name: str) -> tuple[str, str, dict[str, Any]]:
        """A copy of the template, migrated again (pg_cron schedules its cleanup) and with the
        demo loaded by demo.py (idempotent). Returns (dbname, url, demo ids)."""
        assert self.template is not None
        dbname = self.pg.create(re.sub(r"[^a-z0-9_]", "_", name), template=self.template)
        url = self.pg.url(dbname)
        lines: list[str] = []
        migrate.migrate(url, log=lines.append, settings=BENCH_SETTINGS)
        (self.raw / f"migrate-{name}.log").write_text("\n".join(lines) + "\n")
        ids = demo.load_demo(url)
        return dbname, url, ids

    def done_with(self, dbname: str) -> None:
        if not self.keep_db:
            self.pg.drop(dbname)

    # -- servers ----------------------------------------------------------------------------

    def server_env(self, url: str, port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=url,
            HOST="127.0.0.1",
            PORT=str(port),
            LONG_POLLS_PER_CLIENT="0",  # every k6 VU comes from this one address
            ADMIN_TOKEN=self.admin_token,
            POOL_MAX=env.get("POOL_MAX", str(self.pool_max)),
        )
        return env

    def start_app(self, url: str, name: str) -> Server:
        port = free_port()
        srv = Server(
            "app.py",
            [sys.executable, str(ROOT / "app.py")],
            self.server_env(url, port),
            port,
            self.raw / f"{name}.app.log",
        )
        self.servers.append(srv)
        srv.wait_ready("/readyz")
        return srv

    def start_bare(self, url: str, name: str) -> Server:
        port = free_port()
        srv = Server(
            "bare_app.py",
            [sys.executable, "-m", "bench.bare_app"],
            self.server_env(url, port),
            port,
            self.raw / f"{name}.bare.log",
        )
        self.servers.append(srv)
        srv.wait_ready("/const")
        return srv

    def ensure_postgraphile(self) -> Path:
        cli = NODE_DIR / "node_modules" / "postgraphile" / "cli.js"
        if cli.exists():
            return cli
        npm = shutil.which("npm")
        if not npm or not shutil.which("node"):
            raise BenchError(
                "node and npm are needed for the PostGraphile comparison "
                "(Debian: apt-get install nodejs npm)"
            )
        log(f"npm install --prefix {NODE_DIR.relative_to(ROOT)} {POSTGRAPHILE_SPEC}")
        NODE_DIR.mkdir(exist_ok=True)
        res = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(NODE_DIR),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                POSTGRAPHILE_SPEC,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if res.returncode != 0 or not cli.exists():
            raise BenchError(
                f"npm install {POSTGRAPHILE_SPEC} failed: "
                f"{(res.stderr or res.stdout).strip()[-500:]}"
            )
        return cli

    def start_postgraphile(self, dbname: str, name: str) -> Server:
        cli = self.ensure_postgraphile()
        port = free_port()
        cmd = [
            "node",
            str(cli),
            "-c",
            self.pg.node_url(dbname),
            "--schema",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--disable-graphiql",
            "--dynamic-json",
            "--default-role",
            "guestlist_web",
            "--max-pool-size",
            str(self.pool_max),
            "--disable-query-log",
        ]
        env = dict(os.environ, NODE_ENV="production")
        srv = Server("postgraphile", cmd, env, port, self.raw / f"{name}.postgraphile.log")
        self.servers.append(srv)
        srv.wait_ready("/graphql", {"query": "{__typename}"})
        return srv

    def stop_servers(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    @staticmethod
    def page_ids(app: Server, demo_ids: dict[str, Any]) -> dict[str, str]:
        """The demo ids as the running app's page answers them (cross-checked with demo.py)."""
        status, body, _ = http_call(app.base + PAGE_JSON)
        if status != 200:
            raise BenchError(f"GET {PAGE_JSON} answered {status}: {body[:200]!r}")
        page = json.loads(body)
        ids = {
            "EVENT_ID": page["event"]["id"],
            "PROMOTER_ID": page["promoter"]["id"],
            "TEAM_ID": page["teamId"],
        }
        expected = {
            "EVENT_ID": demo_ids.get("eventId"),
            "PROMOTER_ID": demo_ids.get("promoterId"),
            "TEAM_ID": demo_ids.get("teamId"),
        }
        if ids != expected:
            raise BenchError(f"page ids {ids} differ from demo.py's {expected}")
        return ids

    # -- k6 ---------------------------------------------------------------------------------

    def k6(
        self,
        name: str,
        script: str,
        env: dict[str, str],
        expect_s: float,
        raw: bool = True,
        go_env: dict[str, str] | None = None,
    ) -> RunResult:
        summary = self.out / f"summary-{name}.json"
        summary.unlink(missing_ok=True)
        rawfile = self.raw / f"{name}.csv.gz"
        cmd = [
            self.k6_bin,
            "run",
            "--quiet",
            "--no-color",
            "--no-usage-report",
            "--summary-export",
            str(summary),
            "--summary-trend-stats",
            TREND_STATS,
            "--system-tags",
            "status,method,name,scenario,expected_response,error_code,check",
        ]
        if raw:
            cmd += ["--out", f"csv={rawfile}"]
        full_env = {"USERS": str(self.mode.users), "BENCH_PASSWORD": PASSWORD, **env}
        for k, v in full_env.items():
            cmd += ["-e", f"{k}={v}"]
        cmd.append(str(K6_DIR / script))
        proc_env = dict(os.environ, K6_CSV_TIME_FORMAT="unix_milli", K6_NO_USAGE_REPORT="true")
        proc_env.update(go_env or {})
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        timeout = expect_s * 1.5 + 180
        with (self.raw / f"{name}.k6.log").open("wb") as logf:
            proc = subprocess.Popen(
                cmd,
                env=proc_env,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=BENCH,
                start_new_session=True,
            )
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGINT)  # k6 stops and still writes its summary
                try:
                    rc = proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    rc = proc.wait(timeout=10)
                log(f"{name}: k6 ran past {timeout:.0f} s and was stopped")
            except BaseException:  # Ctrl-C, SIGTERM: k6 runs in its own session, stop it too
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                raise
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic() - t0
        log(
            f"{name}: k6 {script} exited {rc} after {wall:.1f} s"
            + (" (a threshold failed: reported, not fatal)" if rc == 99 else "")
        )
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if rc not in (0, 99) or not summary.exists():
            tail = (self.raw / f"{name}.k6.log").read_text(errors="replace")[-1500:]
            raise BenchError(f"k6 {script} ({name}) exited {rc}: {tail}")
        return RunResult(
            name,
            script,
            rc,
            round(wall, 1),
            round(cpu, 2),
            summary.name,
            rawfile.name if raw else None,
            full_env,
            rc == 99,
            dict(go_env or {}),
        )

    # -- scenario bookkeeping ---------------------------------------------------------------

    @contextlib.contextmanager
    def scenario(self, name: str) -> Iterator[dict[str, Any]]:
        """Meta of one scenario: timing, machine load and CPU shares, errors; written to
        meta-<name>.json whatever happens."""
        meta: dict[str, Any] = {
            "scenario": name,
            "mode": self.mode.name,
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "loadavg_before": loadavg(),
            **self.run_facts,  # which run: a folder can hold scenarios of several runs
        }
        busy0, total0 = machine_busy()
        t0 = time.monotonic()
        log(f"{name}: start ({self.mode.name})")
        try:
            yield meta
            meta["ok"] = True
        except BenchError as err:
            meta["ok"] = False
            meta["error"] = str(err)
            log(f"{name}: could not run: {err}")
        except (
            psycopg.Error,
            migrate.MigrateError,
            OSError,
            subprocess.SubprocessError,
            KeyError,
            ValueError,
        ) as err:
            meta["ok"] = False
            meta["error"] = f"{type(err).__name__}: {err}"
            log(f"{name}: could not run: {type(err).__name__}: {err}")
        finally:
            self.stop_servers()
            busy1, total1 = machine_busy()
            ncpu = os.cpu_count() or 1
            meta["wall_s"] = round(time.monotonic() - t0, 1)
            meta["machine_busy_pct"] = round(
                100 * (busy1 - busy0) / max(1e-9, (total1 - total0)), 1
            )
            meta["machine_cpu_s"] = round((total1 - total0) / 1, 1)
            meta["ncpu"] = ncpu
            meta["loadavg_after"] = loadavg()
            write_json(self.out / f"meta-{name}.json", meta)
            log(f"{name}: {'done' if meta.get('ok') else 'FAILED'} in {meta['wall_s']} s")

    def record_runs(self, meta: dict[str, Any], runs: list[RunResult]) -> None:
        meta.setdefault("runs", []).extend(asdict(r) for r in runs)

    # -- limits -----------------------------------------------------------------------------

    def pgbench(self, url: str, script: str, clients: int, defines: dict[str, str]) -> float:
        runs: list[float] = []
        for _ in range(self.mode.pgbench_runs):
            cmd = [
                "pgbench",
                "-n",
                "-M",
                "prepared",
                "-T",
                str(self.mode.pgbench_secs),
                "-c",
                str(clients),
                "-j",
                str(clients),
            ]
            for k, v in defines.items():
                cmd += ["-D", f"{k}={v}"]
            cmd += ["-f", str(BENCH / "pgbench" / f"{script}.sql"), url]
            res = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.mode.pgbench_secs + 120
            )
            m = re.search(r"^tps = ([0-9.]+)", res.stdout, re.M)
            if res.returncode != 0 or not m:
                raise BenchError(f"pgbench {script} failed: {(res.stderr or res.stdout)[-500:]}")
            runs.append(float(m.group(1)))
        return statistics.median(runs)

    def run_limits(self) -> None:
        with self.scenario("limits") as meta:
            dbname, url, _ = self.fresh_db("limits")
            seeded = subprocess.run(
                [
                    "psql",
                    "-XAtq",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-v",
                    "users=10000",
                    "-f",
                    str(BENCH / "pgbench" / "seed.sql"),
                    url,
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if seeded.returncode != 0:
                raise BenchError(f"bench/pgbench/seed.sql failed: {seeded.stderr[-500:]}")
            event_id = seeded.stdout.strip().splitlines()[-1]
            defines = {"users": "10000", "event_id": event_id}
            ncpu = os.cpu_count() or 1
            bcrypt = self.pgbench(url, "crypt", ncpu, defines)
            lookups = {c: self.pgbench(url, "lookup", c, defines) for c in (ncpu, 4 * ncpu)}
            queue_path = self.pgbench(url, "queue_path", ncpu, defines)
            meta["pgbench"] = {
                "secs": self.mode.pgbench_secs,
                "runs": self.mode.pgbench_runs,
                "crypt_clients": ncpu,
                "bcrypt_per_s": bcrypt,
                "lookup_per_s": lookups,
                "queue_path_per_s": queue_path,
            }
            self.limits.update(
                bcrypt_per_s=bcrypt,
                lookup_per_s=max(lookups.values()),
                queue_path_per_s=queue_path,
            )
            log(
                f"limits: bcrypt-10 {bcrypt:.1f} hashes/s ({ncpu} clients), indexed lookups "
                + ", ".join(f"{v:.0f}/s ({c} clients)" for c, v in lookups.items())
                + f", the queue's SQL path {queue_path:.1f} registrations/s ({ncpu} clients)"
            )
            bare = self.start_bare(url, "ceiling")
            runs = []
            per_round: dict[int, list[float]] = {v: [] for v in self.mode.http_levels}
            for rnd in range(1, self.mode.http_rounds + 1):
                for vus in self.mode.http_levels:
                    r = self.http_run(f"ceiling-{vus}-r{rnd}", "ceiling.js", bare, vus, {})
                    runs.append(r)
                    per_round[vus].append(
                        report.measured_rps(self.out / r.summary, self.mode.http_secs)
                    )
            ceiling = {vus: statistics.median(v) for vus, v in per_round.items()}
            for vus, v in per_round.items():
                log(
                    f"limits: HTTP ceiling {ceiling[vus]:.0f} req/s at {vus} VUs "
                    f"(rounds: {', '.join(f'{x:.0f}' for x in v)})"
                )
            meta["ceiling_rounds"] = per_round
            meta["bare_cpu_s"] = bare.cpu_used()
            meta["ceiling_rps"] = ceiling
            self.limits["ceiling_rps"] = ceiling
            meta["paced"] = self.limits["paced"] = self.paced_request(bare, bcrypt)
            self.record_runs(meta, runs)
            meta["limits"] = self.limits
            self.done_with(dbname)

    def paced_request(self, bare: Server, bcrypt: float) -> dict[str, float] | None:
        """CPU ms a request costs the bare route's server and k6 when requests come one at a
        time, at saturation's pace (0.9 x the bcrypt limit a second): a floor under the cost
        of a saturation journey's one HTTP request (bench/k6/paced.js)."""
        rate = max(1.0, round(0.9 * bcrypt, 1))

        def paced_run(name: str, rate: float, secs: int) -> tuple[RunResult, float | None]:
            before = proc_cpu_seconds(bare.proc.pid)
            env = {"BASE_URL": bare.base, "RATE": str(rate), "DURATION": str(secs)}
            run = self.k6(name, "paced.js", env, secs, raw=False, go_env=SATURATION_GO_ENV)
            after = proc_cpu_seconds(bare.proc.pid)
            return run, None if before is None or after is None else after - before

        # k6's own start and stop (~0.1 CPU-s), measured with one request, is not the requests'
        idle, _ = paced_run("paced-idle", 0.1, 1)
        run, server_cpu = paced_run("paced", rate, self.mode.http_secs)
        summary = report.load(self.out / run.summary)
        requests = report.metric(summary, "http_reqs", "count") or 0
        if not requests or server_cpu is None:  # a secondary figure: the limits still stand
            log("limits: the paced run made no request, or the bare server is gone")
            return None
        paced = {
            "rate": rate,
            "requests": requests,
            "server_ms": round(1000 * server_cpu / requests, 3),
            "k6_ms": round(1000 * max(0.0, run.k6_cpu_s - idle.k6_cpu_s) / requests, 3),
            "k6_start_stop_s": idle.k6_cpu_s,
        }
        log(
            f"limits: one request at {rate}/s to the bare route: {paced['server_ms']} ms of "
            f"server CPU, {paced['k6_ms']} ms of k6"
        )
        return paced

    def limits_after(self) -> None:
        """The bcrypt limit again, after the scenarios: a machine whose other load changed
        during the run shows it here (the report prints the drift)."""
        path = self.out / "meta-limits.json"
        meta = json.loads(path.read_text()) if path.exists() else None
        if not meta or not meta.get("ok"):
            return
        try:
            dbname, url, _ = self.fresh_db("limits_after")
            ncpu = os.cpu_count() or 1
            after = self.pgbench(url, "crypt", ncpu, {})
            self.done_with(dbname)
        except (BenchError, psycopg.Error, subprocess.SubprocessError) as err:
            meta["bcrypt_after_error"] = str(err)
        else:
            meta["bcrypt_after_per_s"] = after
            log(f"limits: bcrypt-10 after the scenarios {after:.1f} hashes/s")
        write_json(path, meta)

    # -- verify-phone -----------------------------------------------------------------------

    def http_run(
        self, name: str, script: str, srv: Server, vus: int, env: dict[str, str]
    ) -> RunResult:
        """One closed-loop HTTP run: VUS users, no think time, warm-up then measured part."""
        return self.k6(
            name,
            script,
            {
                "BASE_URL": srv.base,
                "VUS": str(vus),
                "WARMUP": str(self.mode.http_warmup),
                "DURATION": str(self.mode.http_secs),
                **env,
            },
            self.mode.http_warmup + self.mode.http_secs,
            raw=False,
        )

    def run_verify_phone(self) -> None:
        """Our route, the bare route and PostGraphile, all three up at once on the same
        database, taking turns: round 1 (each target at each VU level), round 2, … The median
        of the rounds resists a machine whose other load drifts during the run."""
        with self.scenario("verify-phone") as meta:
            dbname, url, _ = self.fresh_db("verify_phone")
            meta["targets"] = {}
            meta["rounds"] = self.mode.http_rounds
            meta["phones_each_kind"] = min(2000, self.mode.users)
            servers: dict[str, Server] = {}
            for target in ("ours", "bare", "postgraphile"):
                try:
                    if target == "ours":
                        servers[target] = self.start_app(url, f"verify-{target}")
                    elif target == "bare":
                        servers[target] = self.start_bare(url, f"verify-{target}")
                    else:
                        servers[target] = self.start_postgraphile(dbname, f"verify-{target}")
                    meta["targets"][target] = {"rps": {v: [] for v in self.mode.http_levels}}
                except BenchError as err:
                    meta["targets"][target] = {"error": str(err)}
                    log(f"verify-phone: {target} not run: {err}")
            runs = []
            env = {"PHONES": str(meta["phones_each_kind"])}
            for rnd in range(1, self.mode.http_rounds + 1):
                for vus in self.mode.http_levels:
                    for target, srv in servers.items():
                        r = self.http_run(
                            f"verify-phone-{target}-{vus}-r{rnd}",
                            "verify-phone.js",
                            srv,
                            vus,
                            {**env, "TARGET": target},
                        )
                        runs.append(r)
                        rps = report.measured_rps(self.out / r.summary, self.mode.http_secs)
                        meta["targets"][target]["rps"][vus].append(rps)
                        log(f"verify-phone: round {rnd}, {target} {rps:.0f} req/s at {vus} VUs")
            for target, srv in servers.items():
                meta["targets"][target]["server_cpu_s"] = srv.cpu_used()
            self.stop_servers()
            self.record_runs(meta, runs)
            meta["limits"] = self.limits
            self.done_with(dbname)
            missing = [t for t, v in meta["targets"].items() if "error" in v]
            if missing:
                raise BenchError(
                    "verify-phone: not run against "
                    + ", ".join(f"{t} ({meta['targets'][t]['error']})" for t in missing)
                )

    # -- the queue scenarios ----------------------------------------------------------------

    def drain(self, poller: QueuePoller, timeout: float) -> float | None:
        """Seconds until no job is pending (None if still pending at the timeout)."""
        t0 = time.monotonic()
        seen = len(poller.rows)
        while time.monotonic() - t0 < timeout:
            time.sleep(1.0)
            if len(poller.rows) > seen and poller.pending() == 0:
                return round(time.monotonic() - t0, 1)
            if poller.error:
                raise BenchError(f"queue poller: {poller.error}")
        return None

    def accounting(self, url: str) -> list[dict[str, Any]]:
        with psycopg.connect(url, autocommit=True) as c:
            cur = c.execute(bq("jobs_accounting"))
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]

    def admin_metrics(self, app: Server) -> Any:
        status, body, _ = http_call(
            app.base + "/api/admin/metrics", headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        if status != 200:
            return {"http_status": status}
        with contextlib.suppress(ValueError):
            return json.loads(body)
        return {"http_status": status, "body": body[:200].decode(errors="replace")}

    def queue_run(
        self,
        name: str,
        script: str,
        env: dict[str, str],
        expect_s: float,
        meta: dict[str, Any],
        probe: bool = False,
        drain_timeout: float | None = None,
        go_env: dict[str, str] | None = None,
    ) -> None:
        """Fresh db + app; k6 with the queue poller (and the probe); drain; account."""
        dbname, url, demo_ids = self.fresh_db(name)
        app = self.start_app(url, name)
        ids = self.page_ids(app, demo_ids)
        meta["ids"] = ids
        t0 = time.time()
        meta["t0_epoch"] = t0
        poller = QueuePoller(url, t0).start()
        prober = Probe(app.base, t0).start() if probe else None
        db_cpu0 = self.pg.cpu_seconds()
        try:
            run = self.k6(
                name, script, {"BASE_URL": app.base, **ids, **env}, expect_s, go_env=go_env
            )
            meta["k6_end_s"] = round(time.time() - t0, 1)
            meta["drain_s"] = self.drain(poller, drain_timeout or self.mode.drain_timeout)
            meta["drain_timeout_s"] = drain_timeout or self.mode.drain_timeout
            db_cpu1 = self.pg.cpu_seconds()
            if db_cpu0 is not None and db_cpu1 is not None:
                # from k6's start to the drained queue (app_cpu_s: from the app's start)
                meta["postgres_cpu_s"] = round(db_cpu1 - db_cpu0, 2)
        finally:
            poller.stop(self.raw / f"{name}.queue.csv")
            if prober is not None:
                prober.stop(self.raw / f"{name}.probe.csv")
        meta["queue_poller_error"] = poller.error
        meta["jobs"] = self.accounting(url)
        meta["app_cpu_s"] = app.cpu_used()
        meta["admin_metrics"] = self.admin_metrics(app)
        meta["queue_csv"] = f"raw/{name}.queue.csv"
        if prober is not None:
            meta["probe_csv"] = f"raw/{name}.probe.csv"
        meta["app_settings"] = {
            "POOL_MAX": app_env_value("POOL_MAX", str(self.pool_max)),
            "POOL_MIN": app_env_value("POOL_MIN", "2 (default)"),
            **{f"database {k}": v for k, v in BENCH_SETTINGS.items()},
            "LONG_POLLS_PER_CLIENT": "0",
        }
        self.record_runs(meta, [run])
        meta["limits"] = self.limits
        meta["derived"] = report.derived(name, meta, self.out)
        self.stop_servers()
        self.done_with(dbname)

    def saturation_rates(self) -> list[float]:
        """Arrivals/s per step: the shares of the bcrypt limit, to a tenth (k6 takes tenths)."""
        if self.mode.sat_rates:
            return list(self.mode.sat_rates)
        b = self.limits.get("bcrypt_per_s")
        if not b:
            raise BenchError("saturation needs the bcrypt limit (run limits first)")
        # fine steps around the limit, where the sustained rate is decided; coarse beyond
        rates: list[float] = []
        for share in SATURATION_SHARES:
            rate = max(1.0, round(share * b, 1))
            if not rates or rate > rates[-1]:
                rates.append(rate)
        return rates

    def run_saturation(self) -> None:
        with self.scenario("saturation") as meta:
            rates = self.saturation_rates()
            m = self.mode
            meta.update(
                rates=rates,
                hold_s=m.sat_hold,
                ramp_s=m.sat_ramp,
                settle=m.sat_settle,
                max_ttq_ms=2000,
            )
            env = {
                "RATES": ",".join(map(str, rates)),
                "HOLD": str(m.sat_hold),
                "STEP_RAMP": str(m.sat_ramp),
                "SETTLE": str(m.sat_settle),
                "MAX_TTQ_MS": "2000",
            }
            expect = len(rates) * (m.sat_hold + m.sat_ramp) + 60
            self.queue_run(
                "saturation",
                "saturation.js",
                env,
                expect,
                meta,
                drain_timeout=min(120, m.drain_timeout),
                go_env=SATURATION_GO_ENV,
            )
            sat = report.saturation_steps(self.out, meta)
            meta["steps"] = sat["steps"]
            meta["sustained"] = sat["sustained"]
            if sat["sustained"]:
                self.sustained_rate = sat["sustained"]["completions_per_s"]
            write_json(self.out / "meta-saturation.json", meta)

    def ttq_slots(self) -> tuple[list[float], float, list[float]]:
        """Per level: seconds from one burst to the next, and the ideal time of the burst's
        last job when the CPUs only hash (report.ideal_burst_s); plus the warm-up's slot.
        A slot is a generous bound on the burst (3 x ideal + 1 s, at least 2 s) plus the
        mode's pause, in which the queue empties before the next burst."""
        b = self.limits.get("bcrypt_per_s")
        if not b:
            raise BenchError("time-to-qr needs the bcrypt limit (run limits first)")
        ncpu = os.cpu_count() or 1
        ideal = [report.ideal_burst_s(n, b, ncpu) for n in self.mode.ttq_levels]
        slots = [round(self.mode.ttq_pause + max(2.0, 3 * i + 1.0), 1) for i in ideal]
        return slots, slots[0], ideal

    def run_time_to_qr(self) -> None:
        """Issue #4: register-v2 → QR code shown, N registrations sent at the same moment."""
        with self.scenario("time-to-qr") as meta:
            m = self.mode
            slots, warmup_slot, ideal = self.ttq_slots()
            meta.update(
                levels=list(m.ttq_levels),
                rounds=list(m.ttq_rounds),
                slots_s=slots,
                warmup_slot_s=warmup_slot,
                pause_s=m.ttq_pause,
                ideal_s=[round(i, 3) for i in ideal],
            )
            env = {
                "LEVELS": ",".join(map(str, m.ttq_levels)),
                "ROUNDS": ",".join(map(str, m.ttq_rounds)),
                "SLOTS": ",".join(map(str, slots)),
                "WARMUP_SLOT": str(warmup_slot),
            }
            expect = warmup_slot + sum(r * s for r, s in zip(m.ttq_rounds, slots, strict=True))
            self.queue_run(
                "time-to-qr",
                "time-to-qr.js",
                env,
                expect + 30,
                meta,
                drain_timeout=min(120, m.drain_timeout),
            )

    def run_doors_open(self) -> None:
        with self.scenario("doors-open") as meta:
            m = self.mode
            meta.update(
                people=m.doors_people,
                ramp_s=m.doors_ramp,
                hold_s=m.doors_hold,
                think_s=list(m.doors_think),
                register_share=0.6,
            )
            env = {
                "PEOPLE": str(m.doors_people),
                "RAMP": str(m.doors_ramp),
                "HOLD": str(m.doors_hold),
                "THINK_MIN": str(m.doors_think[0]),
                "THINK_MAX": str(m.doors_think[1]),
                "REGISTER_SHARE": "0.6",
                "PAGE_PATH": PAGE_PATH,
            }
            expect = m.doors_ramp + m.doors_hold + m.doors_think[1] + 60
            self.queue_run("doors-open", "doors-open.js", env, expect, meta)

    def seed_carry_peak(self) -> tuple[int, str]:
        if self.seed_peak_override:
            return self.seed_peak_override, "--seed-peak"
        if self.sustained_rate:
            rate, source = self.sustained_rate, "saturation's highest sustained rate"
        elif self.limits.get("bcrypt_per_s"):
            rate, source = self.limits["bcrypt_per_s"], "the bcrypt limit"
        else:
            raise BenchError("seed-carry needs the bcrypt limit or the saturation result")
        peak = max(5, int(0.8 * rate * SEED_ITERATION_S))
        return peak, (f"0.8 x {source} ({rate:.1f}/s) x {SEED_ITERATION_S} s per seed iteration")

    def run_seed(self) -> None:
        runs = [("seed", self.mode.seed_peak, "the seed's own peak")]
        if self.mode.seed_carry:
            try:
                peak, why = self.seed_carry_peak()
                runs.append(("seed-carry", peak, why))
            except BenchError as err:
                with self.scenario("seed-carry") as meta:
                    raise err
        for name, peak, why in runs:
            with self.scenario(name) as meta:
                scale = self.mode.seed_time_scale
                meta.update(
                    peak=peak,
                    peak_source=why,
                    time_scale=scale,
                    peak_end_s=round(SEED_PEAK_END_S * scale, 1),
                    total_s=round(SEED_TOTAL_S * scale, 1),
                )
                env = {"TIME_SCALE": str(scale), "PEAK": str(peak)}
                self.queue_run(name, "seed.js", env, SEED_TOTAL_S * scale + 30, meta, probe=True)

    # -- everything -------------------------------------------------------------------------

    def run(self, scenarios: list[str]) -> bool:
        run_meta = {
            "mode": self.mode.name,
            "scenarios": scenarios,
            "argv": sys.argv[1:],
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "git": git_revision(),
            "host": platform.node(),
            "ncpu": os.cpu_count(),
            "cpu_model": cpu_model(),
            "mem_gb": mem_gb(),
            "loadavg_start": loadavg(),
            "k6": tool_version([self.k6_bin, "version"]),
            "pgbench": tool_version(["pgbench", "-V"]),
            "node": tool_version(["node", "--version"]),
            "python": platform.python_version(),
            "pool_max": self.pool_max,
        }
        self.run_facts = {
            "run_started": run_meta["started"],
            "git": run_meta["git"],
            "argv": run_meta["argv"],
        }
        ok = True
        try:
            run_meta["postgres"] = self.pg.facts()
            log(
                f"mode {self.mode.name}, output {self.out}, database server "
                f"{self.pg.facts()['version'].split(' on ')[0]}"
            )
            self.make_template()
            self.run_limits()
            for s in scenarios:
                if s == "limits":
                    continue
                {
                    "verify-phone": self.run_verify_phone,
                    "saturation": self.run_saturation,
                    "time-to-qr": self.run_time_to_qr,
                    "doors-open": self.run_doors_open,
                    "seed": self.run_seed,
                }[s]()
            if any(s != "limits" for s in scenarios):
                self.limits_after()
        finally:
            self.stop_servers()
            self.pg.drop_all()
            run_meta["finished"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
            run_meta["loadavg_end"] = loadavg()
            write_json(self.out / "run.json", run_meta)
        for path in self.out.glob("meta-*.json"):
            if json.loads(path.read_text()).get("ok") is False:
                ok = False
        return ok


def app_env_value(name: str, default: str) -> str:
    return os.environ.get(name) or default


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_gb() -> float | None:
    return round(psutil.virtual_memory().total / 1024**3, 1)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--quick",
        action="store_const",
        dest="mode",
        const="quick",
        help="about 2 minutes per scenario, same shapes",
    )
    g.add_argument(
        "--smoke",
        action="store_const",
        dest="mode",
        const="smoke",
        help="seconds per scenario, a few VUs: proves the scripts run",
    )
    p.set_defaults(mode="full")
    p.add_argument("--out", type=Path, help="output folder (default bench/results/<date>…)")
    p.add_argument("--seed-peak", type=int, help="peak VUs of the seed-carry run")
    p.add_argument(
        "--pool-max",
        type=int,
        default=20,
        help="pool size of the app, the bare app and PostGraphile (default 20)",
    )
    p.add_argument("--keep-db", action="store_true", help="keep the bench databases")
    p.add_argument("--no-report", action="store_true", help="skip report.py at the end")
    p.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    args = p.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = [s for s in SCENARIOS if s in args.scenarios] or list(SCENARIOS)
    return args


def default_out(mode: str) -> Path:
    if mode == "smoke":
        return BENCH / "results" / "smoke"
    day = dt.date.today().isoformat()
    return BENCH / "results" / (day if mode == "full" else f"{day}-{mode}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mode = MODES[args.mode]
    out = (args.out or default_out(args.mode)).resolve()
    out.mkdir(parents=True, exist_ok=True)

    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        bench = Bench(mode, out, args.keep_db, args.seed_peak, args.pool_max)
        ok = bench.run(args.scenarios)
    except (BenchError, migrate.MigrateError, psycopg.Error) as err:
        log(f"cannot run: {type(err).__name__}: {err}")
        return 1
    except KeyboardInterrupt as err:
        log(f"interrupted ({err or 'Ctrl-C'}): servers stopped, bench databases dropped")
        return 130
    if not args.no_report:
        path = report.write_report(out)
        log(f"report: {path}")
        if mode.name == "full":
            latest = report.write_latest(out, BENCH / "results" / "latest.md")
            log(f"latest: {latest}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
