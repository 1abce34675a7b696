"""One run of the bench: its template database and a fresh copy per scenario, the servers it
starts and stops, k6 and pgbench as it invokes them, the meta-<scenario>.json each scenario
writes whatever happens, and the queue scenarios' common run (k6, queue timeline, drain, every
job accounted for)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import psycopg

from bench.harness import BENCH, ROOT, BenchError, log, write_json
from bench.harness.cluster import ClusterFront
from bench.harness.database import BENCH_SETTINGS, BenchDatabases, bq, resolve_base_url
from bench.harness.k6 import K6_DIR, TREND_STATS, RunResult, find_k6
from bench.harness.machine import app_env_value, loadavg, machine_busy
from bench.harness.modes import Mode
from bench.harness.pollers import CpuPoller, Probe, QueuePoller
from bench.harness.servers import Server, free_port, http_call
from guestlist import demo, migrate

NODE_DIR = BENCH / ".node"
POSTGRAPHILE_SPEC = "postgraphile@4"
PAGE_JSON = "/api/guest/page/miguel/festa-verao"
PASSWORD = "Segredo123"


class Bench:
    """One run: its mode, output folder, databases and servers, and the limits it measured
    (every scenario states its results against them)."""

    def __init__(
        self,
        mode: Mode,
        out: Path,
        keep_db: bool,
        overload_peak: int | None,
        pool_max: int,
        cluster: ClusterFront | None = None,
        cluster_event: str | None = None,
    ):
        self.mode, self.out, self.keep_db = mode, out, keep_db
        self.overload_peak_override = overload_peak
        self.pool_max = pool_max
        self.raw = out / "raw"
        self.raw.mkdir(parents=True, exist_ok=True)
        self.k6_bin = find_k6()
        # --cluster: the scenarios' app is the cluster's HAProxy, their database its primary's
        self.cluster, self.cluster_event = cluster, cluster_event
        base_url = cluster.url("postgres") if cluster else resolve_base_url()
        self.pg = BenchDatabases(base_url, f"guestlist_bench_{os.getpid()}")
        self.template: str | None = None
        self.limits: dict[str, Any] = {}
        self.sustained_rate: float | None = None
        self.servers: list[Server] = []
        self.admin_token = cluster.admin_token if cluster else secrets.token_urlsafe(24)
        self.run_facts: dict[str, Any] = {}

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
        if self.cluster is not None and not name.startswith("limits"):
            return self.cluster_db(name)
        dbname = self.pg.create(re.sub(r"[^a-z0-9_]", "_", name), template=self.template)
        url = self.pg.url(dbname)
        lines: list[str] = []
        migrate.migrate(url, log=lines.append, settings=BENCH_SETTINGS)
        (self.raw / f"migrate-{name}.log").write_text("\n".join(lines) + "\n")
        ids = demo.load_demo(url)
        return dbname, url, ids

    def cluster_db(self, name: str) -> tuple[str, str, dict[str, Any]]:
        """The cluster's own database (its instances serve that one), made ready as a fresh
        copy would be: migrated with the bench's settings, the accounts, no jobs."""
        assert self.cluster is not None
        url = self.cluster.url("guestlist")
        lines: list[str] = []
        migrate.migrate(url, log=lines.append, settings=BENCH_SETTINGS)
        (self.raw / f"migrate-{name}.log").write_text("\n".join(lines) + "\n")
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(bq("create_users"), {"users": self.mode.users, "password": PASSWORD})
            c.execute(bq("cluster_clear_jobs"))
            c.execute(bq("analyze_users"))
        return "guestlist", url, demo.load_demo(url)

    def done_with(self, dbname: str) -> None:
        if self.cluster is not None and dbname == "guestlist":
            return
        if not self.keep_db:
            self.pg.drop(dbname)

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
        if self.cluster is not None:
            return cast(Server, self.cluster)
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

    def pgbench(
        self,
        url: str,
        script: str,
        clients: int,
        defines: dict[str, str],
        options: str | None = None,
        runs_count: int | None = None,
    ) -> float:
        """tps of a bench/pgbench script, median of the mode's runs (or runs_count);
        options: server settings for its sessions (PGOPTIONS, e.g. -c synchronous_commit=…)."""
        env = {**os.environ, "PGOPTIONS": options} if options else None
        runs: list[float] = []
        for _ in range(runs_count or self.mode.pgbench_runs):
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
                cmd, capture_output=True, text=True, timeout=self.mode.pgbench_secs + 120, env=env
            )
            m = re.search(r"^tps = ([0-9.]+)", res.stdout, re.M)
            if res.returncode != 0 or not m:
                raise BenchError(f"pgbench {script} failed: {(res.stderr or res.stdout)[-500:]}")
            runs.append(float(m.group(1)))
        return statistics.median(runs)

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
        return self._rows(url, "jobs_accounting")

    def job_latency(self, url: str) -> dict[str, Any]:
        """p50/p95/p99/max of accepted submit → job finished, over the run's finished jobs."""
        return self._rows(url, "jobs_latency")[0]

    @staticmethod
    def _rows(url: str, query: str) -> list[dict[str, Any]]:
        with psycopg.connect(url, autocommit=True) as c:
            cur = c.execute(bq(query))
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
        derive: Callable[[str, dict[str, Any], Path], dict[str, Any]] | None = None,
        prepare: Callable[[str, dict[str, str]], dict[str, str]] | None = None,
        settle: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        """Fresh db + app; k6 with the queue poller (and the probe); drain; account; `derive`:
        the scenario's figures that need raw/, kept in its meta (raw/ is not committed).
        `prepare(url, ids)`: the scenario's own data before k6 starts, its answer added to k6's
        environment; `settle(url)`: what the scenario counts in the database afterwards, added
        to its meta."""
        dbname, url, demo_ids = self.fresh_db(name)
        app = self.start_app(url, name)
        ids = self.page_ids(app, demo_ids)
        meta["ids"] = ids
        if prepare is not None:
            env = {**env, **prepare(url, ids)}
        t0 = time.time()
        meta["t0_epoch"] = t0
        poller = QueuePoller(url, t0, reconnect=self.cluster is not None).start()
        cpu = CpuPoller(t0).start()
        prober = Probe(app.base, t0).start() if probe else None
        db_cpu0 = self.pg.cpu_seconds()
        event = self.cluster.schedule(self.cluster_event, t0) if self.cluster else None
        try:
            run = self.k6(
                name, script, {"BASE_URL": app.base, **ids, **env}, expect_s, go_env=go_env
            )
            if event is not None:
                event.join(timeout=300)
                assert self.cluster is not None
                meta["cluster_events"] = list(self.cluster.events)
                self.cluster.events.clear()
            meta["k6_end_s"] = round(time.time() - t0, 1)
            meta["drain_s"] = self.drain(poller, drain_timeout or self.mode.drain_timeout)
            meta["drain_timeout_s"] = drain_timeout or self.mode.drain_timeout
            db_cpu1 = self.pg.cpu_seconds()
            if db_cpu0 is not None and db_cpu1 is not None:
                # from k6's start to the drained queue (app_cpu_s: from the app's start)
                meta["postgres_cpu_s"] = round(db_cpu1 - db_cpu0, 2)
        finally:
            poller.stop(self.raw / f"{name}.queue.csv")
            cpu.stop(self.raw / f"{name}.cpu.csv")
            if prober is not None:
                prober.stop(self.raw / f"{name}.probe.csv")
        meta["queue_poller_error"] = poller.error
        if self.cluster is not None:
            meta["queue_poller_disconnects"] = poller.disconnects
        meta["jobs"] = self.accounting(url)
        meta["job_latency"] = self.job_latency(url)
        if settle is not None:
            meta.update(settle(url))
        meta["app_cpu_s"] = app.cpu_used()
        meta["admin_metrics"] = self.admin_metrics(app)
        meta["queue_csv"] = f"raw/{name}.queue.csv"
        meta["cpu_csv"] = f"raw/{name}.cpu.csv"
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
        meta["derived"] = derive(name, meta, self.out) if derive else {}
        self.stop_servers()
        self.done_with(dbname)
