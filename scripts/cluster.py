#!/usr/bin/env python3
"""The whole deployment on loopback, as plain processes: `make cluster` and friends.

    scripts/cluster.py up        PostgreSQL primary + streaming hot standby (pg_basebackup),
                                 pgbouncer, N app instances (no in-process workers), M worker
                                 processes, HAProxy; migrate + demo; returns once all are ready
    scripts/cluster.py restart   rolling restart of the app instances, one at a time: drain it
                                 in HAProxy, SIGTERM, wait for exit, start, wait ready, next
    scripts/cluster.py failover  stop (fence) the primary, promote the standby, point pgbouncer
                                 at it (scripts/failover.sh); the apps and workers reconnect
    scripts/cluster.py pg-restart  restart the primary (stop -m fast, start)
    scripts/cluster.py down      stop everything
    scripts/cluster.py status    what runs, on which port, ready or not
    scripts/cluster.py env       shell lines: CLUSTER_URL, CLUSTER_DATABASE_URL, … (bench)

Every process uses a file of deploy/: HAProxy runs deploy/haproxy/guestlist.cfg, pgbouncer
deploy/pgbouncer/pgbouncer.ini (their {{placeholders}} filled here), the app instances and
workers run the command, stop signal and stop timeout of deploy/systemd/*.service.

Environment: CLUSTER_DIR (state, logs, data; default .cluster/ in the repo), CLUSTER_PORT
(HAProxy, default 8080; 0 = any free port), CLUSTER_INSTANCES (3), CLUSTER_WORKERS (2),
CLUSTER_SYNC=1 (synchronous_commit = remote_apply on the standby), CLUSTER_PYTHON (the python
that runs `-m guestlist`, default this one); for `failover`: CLUSTER_CRASH=1 (the primary
stops as in a crash, -m immediate) and CLUSTER_WAL_LAG=SECONDS (the standby's WAL receiver
paused that long first, then the crash: the standby is behind when it is promoted).

Standard library only: it runs before any package is importable and never imports guestlist
(it runs `python -m guestlist` with cwd = the repo, so a checkout runs its own code).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
IS_ROOT = os.geteuid() == 0
DBNAME = "guestlist"
APP_USER = "guestlist_app"


def log(msg: str) -> None:
    print(f"cluster: {msg}", flush=True)


class ClusterError(RuntimeError):
    pass


# --- small helpers ------------------------------------------------------------------------------


def cluster_dir() -> Path:
    return Path(os.environ.get("CLUSTER_DIR") or REPO / ".cluster").resolve()


def pg_bindir() -> Path:
    env = os.environ.get("PG_BINDIR")
    if env:
        return Path(env)
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        if (Path(out.stdout.strip()) / "pg_ctl").exists():
            return Path(out.stdout.strip())
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise ClusterError("no PostgreSQL binaries: make install")
    return found[-1]


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL and pgbouncer refuse to run as root: run them as the postgres OS user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else cmd


def give_to_postgres(path: Path) -> None:
    if IS_ROOT:
        shutil.chown(path, "postgres", "postgres")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(taken: set[int]) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


def alive(pid: int | None) -> bool:
    """Running and not a zombie (a child of an exited parent may linger as one)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (OSError, ValueError):
        return 0


def wait_until(what: str, check: Any, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}")


def fill(template: Path, values: dict[str, str]) -> str:
    """The template with its {{NAME}}s replaced, outside comment lines (which name them)."""
    lines = []
    for line in template.read_text().splitlines():
        if not line.lstrip().startswith(("#", ";")):
            for key, value in values.items():
                line = line.replace("{{" + key + "}}", value)
            if "{{" in line:
                raise ClusterError(f"{template}: a placeholder is left unfilled: {line.strip()}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def unit(name: str) -> dict[str, str]:
    """The settings of deploy/systemd/<name> (last value of each key)."""
    settings: dict[str, str] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def unit_command(name: str) -> list[str]:
    """The unit's ExecStart without the installed binary: the `guestlist …` arguments."""
    argv = shlex.split(unit(name)["ExecStart"])
    if not argv[0].endswith("/guestlist"):
        raise ClusterError(f"{name}: ExecStart does not run guestlist")
    return argv[1:]


def unit_seconds(name: str, key: str) -> float:
    raw = unit(name)[key]
    return float(raw.removesuffix("s"))


def unit_signal(name: str) -> signal.Signals:
    return signal.Signals[unit(name).get("KillSignal", "SIGTERM")]


# --- state --------------------------------------------------------------------------------------


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_file = root / "state.json"
        self.s: dict[str, Any] = {}
        if self.state_file.exists():
            self.s = json.loads(self.state_file.read_text())
        self.bindir = pg_bindir()

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.s, indent=2))
        tmp.replace(self.state_file)

    # paths
    @property
    def pg_area(self) -> Path:
        return self.root / "pg"

    @property
    def sock(self) -> Path:
        return self.pg_area / "sock"

    def data(self, node: str) -> Path:
        return self.pg_area / node

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    # --- urls
    def direct_url(self, node: str, dbname: str = DBNAME) -> str:
        """Superuser over the socket: migrate, demo, replication checks, bench limits."""
        port = self.s["nodes"][node]["port"]
        return f"host={self.sock} port={port} dbname={dbname} user=postgres"

    def app_url(self) -> str:
        """Through pgbouncer's transaction pool: the app's and workers' pools."""
        return (
            f"host=127.0.0.1 port={self.s['pgbouncer']['port']} dbname={DBNAME} "
            f"user={APP_USER} password={self.s['password']}"
        )

    def session_url(self) -> str:
        """Straight to PostgreSQL, both nodes, the writable one: the LISTEN connections."""
        nodes = self.s["nodes"]
        ports = ",".join(str(nodes[n]["port"]) for n in ("n1", "n2"))
        return (
            f"host=127.0.0.1,127.0.0.1 port={ports} dbname={DBNAME} user={APP_USER} "
            f"password={self.s['password']} target_session_attrs=read-write connect_timeout=3"
        )

    def psql(self, node: str, sql: str, dbname: str = DBNAME) -> str:
        cmd = [str(self.bindir / "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1"]
        out = subprocess.run(
            [*cmd, "-d", self.direct_url(node, dbname), "-c", sql],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise ClusterError(f"psql on {node}: {out.stderr.strip()}")
        return out.stdout.strip()

    def primary(self) -> str:
        return str(self.s["primary"])

    def standby(self) -> str | None:
        other = "n2" if self.primary() == "n1" else "n1"
        return other if self.s["nodes"][other].get("standby") else None

    # --- PostgreSQL -------------------------------------------------------------------------

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [str(REPO / "scripts" / "pg_ctl"), *args], capture_output=True, text=True
        )
        if check and out.returncode != 0:
            raise ClusterError(f"pg_ctl {' '.join(args)}: {out.stderr.strip() or out.stdout}")
        return out

    def pg_running(self, node: str) -> bool:
        data = self.data(node)
        return (data / "PG_VERSION").exists() and self.pg_ctl(
            "status", "-D", str(data), check=False
        ).returncode == 0

    def write_pg_conf(self, node: str) -> None:
        info = self.s["nodes"][node]
        # synchronous only once the standby streams: before, every commit would wait for it
        sync = self.s.get("sync", False) and self.s.get("sync_active", False)
        lines = [
            "# written by scripts/cluster.py",
            f"port = {info['port']}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.sock}'",
            "unix_socket_permissions = 0700",
            "max_connections = 200",
            "shared_preload_libraries = 'pg_cron'",
            f"cron.database_name = '{DBNAME}'",
            f"cron.host = '{self.sock}'",
            f"cluster_name = '{node}'",  # the walreceiver's application_name
            "wal_level = replica",
            "max_wal_senders = 10",
            "wal_keep_size = '256MB'",
            "hot_standby = on",
            "hot_standby_feedback = on",
            "password_encryption = 'scram-sha-256'",
        ]
        if sync:
            other = "n2" if node == "n1" else "n1"
            lines += [f"synchronous_standby_names = '{other}'", "synchronous_commit = remote_apply"]
        conf = self.data(node) / "cluster.conf"
        conf.write_text("\n".join(lines) + "\n")
        give_to_postgres(conf)
        main = self.data(node) / "postgresql.conf"
        text = main.read_text()
        if "include_if_exists = 'cluster.conf'" not in text:
            main.write_text(text + "\ninclude_if_exists = 'cluster.conf'\n")

    def pg_start(self, node: str) -> None:
        if self.pg_running(node):
            return
        self.write_pg_conf(node)
        logfile = self.logs / f"postgres-{node}.log"
        self.pg_ctl("start", "-s", "-w", "-t", "90", "-D", str(self.data(node)), "-l", str(logfile))

    def pg_stop(self, node: str, mode: str = "fast") -> None:
        if self.pg_running(node):
            self.pg_ctl("stop", "-s", "-w", "-t", "60", "-m", mode, "-D", str(self.data(node)))

    def init_primary(self) -> None:
        node = "n1"
        self.pg_area.mkdir(parents=True, exist_ok=True)
        give_to_postgres(self.pg_area)
        self.sock.mkdir(mode=0o700, exist_ok=True)
        give_to_postgres(self.sock)
        self.pg_ctl(
            "initdb",
            "-s",
            "-D",
            str(self.data(node)),
            "-o",
            "--username=postgres --auth-local=trust --auth-host=scram-sha-256 "
            "--encoding=UTF8 --locale=C.UTF-8",
        )
        self.pg_start(node)
        self.psql(node, f"CREATE DATABASE {DBNAME}", dbname="postgres")

    def make_standby(self, primary: str, standby: str) -> None:
        data = self.data(standby)
        if data.exists():
            shutil.rmtree(data)
        port = self.s["nodes"][primary]["port"]
        cmd = [
            str(self.bindir / "pg_basebackup"),
            "-D",
            str(data),
            "-R",  # standby.signal + primary_conninfo
            "-X",
            "stream",
            "-c",
            "fast",
            "-h",
            str(self.sock),
            "-p",
            str(port),
            "-U",
            "postgres",
        ]
        out = subprocess.run(as_postgres(cmd), capture_output=True, text=True, cwd="/")
        if out.returncode != 0:
            raise ClusterError(f"pg_basebackup: {out.stderr.strip()}")
        self.s["nodes"][standby]["standby"] = True
        self.save()
        self.pg_start(standby)

    def wait_streaming(self, primary: str, standby: str, timeout: float = 60) -> None:
        sql = (
            "SELECT count(*) FROM pg_stat_replication "
            f"WHERE state = 'streaming' AND application_name = '{standby}'"
        )
        wait_until(
            f"{standby} streaming from {primary}", lambda: self.psql(primary, sql) == "1", timeout
        )

    def run_guestlist(self, *commands: str) -> None:
        """`guestlist <command>` for each of `commands` on the primary, straight (not pooled)."""
        env = self.guestlist_env()
        py = os.environ.get("CLUSTER_PYTHON") or sys.executable
        for cmd in commands:
            out = subprocess.run(
                [py, "-m", "guestlist", cmd, "--database-url", self.direct_url(self.primary())],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                raise ClusterError(f"guestlist {cmd}: {out.stderr.strip()[-2000:]}")

    def setup_database(self) -> None:
        node = self.primary()
        self.run_guestlist("migrate", "demo")
        pw = self.s["password"]
        self.psql(
            node,
            f"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_USER}') THEN
                CREATE ROLE {APP_USER} LOGIN;
              END IF;
            END $$;
            ALTER ROLE {APP_USER} PASSWORD '{pw}';
            GRANT guestlist_web TO {APP_USER};
            GRANT CONNECT ON DATABASE {DBNAME} TO {APP_USER};
            ALTER ROLE {APP_USER} SET client_connection_check_interval = '1s';
            """,
        )
        demo = self.psql(node, "SET ROLE guestlist_admin; SELECT admin.load_demo()")
        self.s["demo"] = json.loads(demo.splitlines()[-1])
        self.save()

    # --- pgbouncer ----------------------------------------------------------------------------

    @property
    def pgb_dir(self) -> Path:
        return self.root / "pgbouncer"

    def write_pgbouncer(self) -> None:
        d = self.pgb_dir
        d.mkdir(exist_ok=True)
        give_to_postgres(d)
        secret = self.psql(
            self.primary(),
            f"SELECT rolpassword FROM pg_authid WHERE rolname = '{APP_USER}'",
        )
        userlist = d / "userlist.txt"
        userlist.write_text(f'"{APP_USER}" "{secret}"\n')
        userlist.chmod(0o600)
        give_to_postgres(userlist)
        node = self.s["nodes"][self.primary()]
        ini = fill(
            DEPLOY / "pgbouncer" / "pgbouncer.ini",
            {
                "PRIMARY_HOST": "127.0.0.1",
                "PRIMARY_PORT": str(node["port"]),
                "LISTEN_ADDR": "127.0.0.1",
                "LISTEN_PORT": str(self.s["pgbouncer"]["port"]),
                "SOCKET_DIR": str(d),
                "AUTH_FILE": str(userlist),
                "LOG_FILE": str(self.logs / "pgbouncer.log"),
                "PID_FILE": str(d / "pgbouncer.pid"),
            },
        )
        path = d / "pgbouncer.ini"
        path.write_text(ini)
        give_to_postgres(path)

    def pgbouncer_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.pgb_dir / "pgbouncer.pid").read_text().strip())
        return None

    def start_pgbouncer(self) -> None:
        if alive(self.pgbouncer_pid()):
            return
        log_file = self.logs / "pgbouncer.log"
        log_file.touch()
        give_to_postgres(log_file)
        cmd = as_postgres(["pgbouncer", "-d", str(self.pgb_dir / "pgbouncer.ini")])
        out = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if out.returncode != 0:
            raise ClusterError(f"pgbouncer: {out.stderr.strip() or out.stdout.strip()}")
        wait_until("pgbouncer's pid file", lambda: alive(self.pgbouncer_pid()), 10)
        port = self.s["pgbouncer"]["port"]
        wait_until("pgbouncer listening", lambda: not port_free(port), 10)

    # --- app instances, workers, HAProxy --------------------------------------------------

    def guestlist_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DATABASE_"))}
        env.update(
            PYTHONPATH=str(REPO),
            HTTPS="0",
            TRUSTED_PROXIES="127.0.0.1",
            ADMIN_TOKEN=self.s.get("admin_token", ""),
            PREPARED_STATEMENTS="off",
            RUN_WORKERS="0",
            POOL_MAX=os.environ.get("CLUSTER_POOL_MAX", "10"),
        )
        if "pgbouncer" in self.s and "password" in self.s:
            env["DATABASE_URL"] = self.app_url()
            env["DATABASE_SESSION_URL"] = self.session_url()
        return env

    def spawn(self, name: str, argv: list[str], extra: dict[str, str] | None = None) -> int:
        py = os.environ.get("CLUSTER_PYTHON") or sys.executable
        env = {**self.guestlist_env(), **(extra or {})}
        logf = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [py, "-m", "guestlist", *argv],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logf.close()
        return proc.pid

    def start_instance(self, i: int) -> None:
        inst = self.s["instances"][i]
        if alive(inst.get("pid")):
            return
        argv = [*unit_command("guestlist-serve@.service"), "--host", "127.0.0.1"]
        argv += ["--port", str(inst["port"])]
        inst["pid"] = self.spawn(inst["name"], argv, {"INSTANCE_ID": inst["name"]})
        self.save()

    def start_worker(self, i: int) -> None:
        w = self.s["workers"][i]
        if alive(w.get("pid")):
            return
        argv = unit_command("guestlist-worker@.service")
        w["pid"] = self.spawn(w["name"], argv, {"INSTANCE_ID": w["name"]})
        self.save()

    def instance_ready(self, i: int) -> bool:
        port = self.s["instances"][i]["port"]
        return http_status(f"http://127.0.0.1:{port}/readyz") == 200

    def write_haproxy(self) -> None:
        servers = "\n    ".join(
            f"server {inst['name']} 127.0.0.1:{inst['port']}" for inst in self.s["instances"]
        )
        cfg = fill(
            DEPLOY / "haproxy" / "guestlist.cfg",
            {
                "LISTEN": f"127.0.0.1:{self.s['haproxy']['port']}",
                "STATS_LISTEN": f"127.0.0.1:{self.s['haproxy']['stats_port']}",
                "ADMIN_SOCKET": str(self.root / "haproxy.sock"),
                "LOG": "stdout format raw",
                "SERVERS": servers,
            },
        )
        (self.root / "haproxy.cfg").write_text(cfg)

    def start_haproxy(self) -> None:
        h = self.s["haproxy"]
        if alive(h.get("pid")):
            return
        self.write_haproxy()
        check = subprocess.run(
            ["haproxy", "-c", "-q", "-f", str(self.root / "haproxy.cfg")],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise ClusterError(f"haproxy -c: {check.stderr.strip()} {check.stdout.strip()}")
        logf = (self.logs / "haproxy.log").open("ab")
        proc = subprocess.Popen(
            ["haproxy", "-db", "-f", str(self.root / "haproxy.cfg")],
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logf.close()
        h["pid"] = proc.pid
        self.save()

    def haproxy_cmd(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.root / "haproxy.sock"))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def haproxy_servers(self) -> dict[str, dict[str, str]]:
        """`show stat` rows of the app backend's servers: status (UP, DOWN, DRAIN, MAINT…),
        scur (sessions now)…"""
        try:
            text = self.haproxy_cmd("show stat")
        except OSError:
            return {}
        lines = text.strip().splitlines()
        if not lines:
            return {}
        header = lines[0].lstrip("# ").split(",")
        rows = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "app" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                rows[row["svname"]] = row
        return rows

    def all_up(self) -> bool:
        servers = self.haproxy_servers()
        names = [inst["name"] for inst in self.s["instances"]]
        return bool(servers) and all(servers.get(n, {}).get("status") == "UP" for n in names)

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.s['haproxy']['port']}"

    # --- commands -----------------------------------------------------------------------------

    def up(self) -> None:
        started = time.monotonic()
        if self.s.get("up"):
            log(f"already set up in {self.root}; migrating, starting what is not running")
            self.start_all(migrate=True)
            return
        wanted = int(os.environ.get("CLUSTER_PORT", "8080"))
        if wanted and not port_free(wanted):
            raise ClusterError(
                f"port {wanted} is taken: set CLUSTER_PORT to a free one (0 = any free port)"
            )
        for tool in ("haproxy", "pgbouncer"):
            if not shutil.which(tool):
                raise ClusterError(f"{tool} is not installed: scripts/install.sh cluster")
        if self.s:
            self.down()  # what a failed `up` left running
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.logs.mkdir()
        give_to_postgres(self.logs)
        taken: set[int] = {wanted} if wanted else set()
        n_inst = int(os.environ.get("CLUSTER_INSTANCES", "3"))
        n_work = int(os.environ.get("CLUSTER_WORKERS", "2"))
        self.s = {
            "password": secrets.token_hex(16),
            "admin_token": secrets.token_urlsafe(24),
            "sync": os.environ.get("CLUSTER_SYNC", "0") in ("1", "on", "true", "yes"),
            "primary": "n1",
            "nodes": {"n1": {"port": free_port(taken)}, "n2": {"port": free_port(taken)}},
            "pgbouncer": {"port": free_port(taken)},
            "haproxy": {"port": wanted or free_port(taken), "stats_port": free_port(taken)},
            "instances": [{"name": f"app{i + 1}", "port": free_port(taken)} for i in range(n_inst)],
            "workers": [{"name": f"worker{i + 1}"} for i in range(n_work)],
        }
        self.save()
        log(f"PostgreSQL primary n1 on port {self.s['nodes']['n1']['port']}")
        self.init_primary()
        self.setup_database()
        log(f"hot standby n2 on port {self.s['nodes']['n2']['port']} (pg_basebackup)")
        self.make_standby("n1", "n2")
        self.wait_streaming("n1", "n2")
        if self.s["sync"]:
            self.s["sync_active"] = True
            self.save()
            self.write_pg_conf("n1")
            self.pg_ctl("reload", "-s", "-D", str(self.data("n1")))
            log("synchronous_commit = remote_apply, standby n2")
        self.write_pgbouncer()
        self.write_haproxy()
        self.s["up"] = True
        self.save()
        self.start_all()
        log(
            f"ready in {time.monotonic() - started:.0f} s: {self.base_url()}"
            f"/promotor/miguel/festa-verao (state and logs in {self.root})"
        )

    def start_all(self, migrate: bool = False) -> None:
        """Start every part not running; `migrate`: first bring the database up to this
        checkout's code (a cluster set up by an older one)."""
        for node in ("n1", "n2"):
            # never the old primary a failover fenced: two writable nodes would split the data
            fenced = self.s["nodes"][node].get("fenced")
            if (self.data(node) / "PG_VERSION").exists() and not fenced:
                self.pg_start(node)
        if migrate:
            self.run_guestlist("migrate")
        self.start_pgbouncer()
        for i in range(len(self.s["instances"])):
            self.start_instance(i)
        for i in range(len(self.s["workers"])):
            self.start_worker(i)
        self.start_haproxy()
        self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        for i, inst in enumerate(self.s["instances"]):
            wait_until(f"{inst['name']} /readyz", lambda i=i: self.instance_ready(i), timeout)
        for w in self.s["workers"]:
            if not alive(w.get("pid")):
                raise ClusterError(f"{w['name']} exited: see {self.logs / (w['name'] + '.log')}")
        wait_until("HAProxy: every instance UP", self.all_up, timeout)
        wait_until(
            "/readyz through HAProxy",
            lambda: http_status(self.base_url() + "/readyz") == 200,
            timeout,
        )

    def stop_process(self, pid: int | None, sig: signal.Signals, timeout: float) -> None:
        if not alive(pid):
            return
        assert pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if not wait_exit(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_exit(pid, 5)

    def down(self) -> None:
        if not self.s:
            log(f"nothing set up in {self.root}")
            return
        self.stop_process(self.s["haproxy"].get("pid"), signal.SIGUSR1, 10)  # soft stop
        serve, work = "guestlist-serve@.service", "guestlist-worker@.service"
        for inst in self.s["instances"]:
            with contextlib.suppress(ProcessLookupError):
                if alive(inst.get("pid")):
                    os.kill(inst["pid"], unit_signal(serve))
        for w in self.s["workers"]:
            with contextlib.suppress(ProcessLookupError):
                if alive(w.get("pid")):
                    os.kill(w["pid"], unit_signal(work))
        for inst in self.s["instances"]:
            self.stop_process(
                inst.get("pid"), unit_signal(serve), unit_seconds(serve, "TimeoutStopSec")
            )
        for w in self.s["workers"]:
            self.stop_process(w.get("pid"), unit_signal(work), unit_seconds(work, "TimeoutStopSec"))
        self.stop_process(self.pgbouncer_pid(), signal.SIGINT, 10)  # SIGINT: safe shutdown
        for node in ("n1", "n2"):
            self.pg_stop(node)
        log("stopped")

    def restart(self) -> None:
        """Rolling restart: each instance drained in HAProxy, stopped the way systemd stops it,
        started, ready and UP again before the next."""
        name = "guestlist-serve@.service"
        sig, stop_timeout = unit_signal(name), unit_seconds(name, "TimeoutStopSec")
        for i, inst in enumerate(self.s["instances"]):
            t0 = time.monotonic()
            self.haproxy_cmd(f"set server app/{inst['name']} state drain")
            # the requests it has in hand finish: wait (briefly) for its sessions to end
            with contextlib.suppress(ClusterError):
                wait_until(
                    f"{inst['name']} drained",
                    lambda n=inst["name"]: self.haproxy_servers().get(n, {}).get("scur") == "0",
                    5,
                    0.1,
                )
            self.stop_process(inst.get("pid"), sig, stop_timeout)
            inst["pid"] = None
            self.start_instance(i)
            wait_until(f"{inst['name']} /readyz", lambda i=i: self.instance_ready(i), 60)
            self.haproxy_cmd(f"set server app/{inst['name']} state ready")
            wait_until(
                f"{inst['name']} UP in HAProxy",
                lambda n=inst["name"]: self.haproxy_servers().get(n, {}).get("status") == "UP",
                30,
                0.1,
            )
            log(f"{inst['name']} restarted in {time.monotonic() - t0:.1f} s")

    def failover(self) -> None:
        old, new = self.primary(), self.standby()
        if new is None:
            raise ClusterError("no standby to promote (a failover already happened)")
        lag = float(os.environ.get("CLUSTER_WAL_LAG") or 0)
        receiver = None
        if lag > 0:
            # the standby falls behind, as behind a slow or broken link: its WAL receiver
            # stops for `lag` seconds before the primary dies (a crash: a clean stop would
            # wait to ship its last WAL), so what the primary committed meanwhile is not there
            receiver = int(self.psql(new, "SELECT pid FROM pg_stat_wal_receiver", "postgres"))
            os.kill(receiver, signal.SIGSTOP)
            log(f"{new}'s WAL receiver paused for {lag:g} s")
            time.sleep(lag)
        t0 = time.monotonic()
        # fence the old primary first: two writable nodes would split the data
        crash = bool(os.environ.get("CLUSTER_CRASH")) or receiver is not None
        self.pg_stop(old, mode="immediate" if crash else "fast")
        if receiver is not None:
            os.kill(receiver, signal.SIGCONT)
        out = subprocess.run(
            [
                str(REPO / "scripts" / "failover.sh"),
                str(self.data(new)),
                str(self.pgb_dir / "pgbouncer.ini"),
                str(self.pgb_dir / "pgbouncer.pid"),
                "127.0.0.1",
                str(self.s["nodes"][new]["port"]),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise ClusterError(f"scripts/failover.sh: {out.stderr.strip() or out.stdout.strip()}")
        if self.s.get("sync"):
            # it would wait for the fenced node on every commit: no standby is left to wait for
            self.psql(new, "ALTER SYSTEM SET synchronous_standby_names = ''", dbname="postgres")
            self.psql(new, "SELECT pg_reload_conf()", dbname="postgres")
        self.s["primary"] = new
        self.s["nodes"][new]["standby"] = False
        self.s["nodes"][old]["standby"] = False
        self.s["nodes"][old]["fenced"] = True
        self.save()
        log(
            f"{new} promoted, pgbouncer points at it ({time.monotonic() - t0:.1f} s); "
            f"{old} stays down"
        )
        wait_until(
            "/readyz through HAProxy after the failover",
            lambda: http_status(self.base_url() + "/readyz") == 200,
            60,
        )
        log(f"serving again {time.monotonic() - t0:.1f} s after the primary stopped")

    def pg_restart(self) -> None:
        """Restart the primary (fast: open transactions are rolled back), as a crash-free
        maintenance restart does; the standby reconnects to it by itself. A stop and a start,
        not `pg_ctl restart`: restart takes no log file (-l), so the new postmaster would keep
        pg_ctl's output pipes open and this command would never see them close."""
        t0 = time.monotonic()
        node = self.primary()
        self.pg_stop(node)
        self.pg_start(node)
        log(f"primary {node} restarted in {time.monotonic() - t0:.1f} s")

    def status(self) -> int:
        if not self.s:
            print(f"no cluster in {self.root}")
            return 3
        ok = True

        def line(name: str, running: bool, detail: str, expected: bool = True) -> None:
            # a part meant to be stopped (the fenced old primary) is shown off, not failing
            nonlocal ok
            ok &= running or not expected
            state = "up" if running else "DOWN" if expected else "off"
            print(f"{name:<12} {state:<5} {detail}")

        for node in ("n1", "n2"):
            info = self.s["nodes"][node]
            running = self.pg_running(node)
            role = (
                "primary"
                if node == self.primary()
                else "standby"
                if info.get("standby")
                else "fenced"
            )
            detail = f"port {info['port']} {role}" + ("" if running else " (stopped)")
            if running and node == self.primary():
                with contextlib.suppress(ClusterError):
                    rep = self.psql(
                        node,
                        "SELECT string_agg(application_name || ' ' || state || ' ' || sync_state,"
                        " ', ') FROM pg_stat_replication",
                    )
                    detail += f", replicas: {rep or 'none'}"
            line(f"postgres {node}", running, detail, expected=role != "fenced")
        line("pgbouncer", alive(self.pgbouncer_pid()), f"port {self.s['pgbouncer']['port']}")
        servers = self.haproxy_servers()
        for i, inst in enumerate(self.s["instances"]):
            hap = servers.get(inst["name"], {})
            line(
                inst["name"],
                self.instance_ready(i),
                f"port {inst['port']} pid {inst.get('pid')} haproxy {hap.get('status', '?')} "
                f"sessions {hap.get('scur', '?')}",
            )
        for w in self.s["workers"]:
            line(w["name"], alive(w.get("pid")), f"pid {w.get('pid')}")
        line(
            "haproxy",
            alive(self.s["haproxy"].get("pid")),
            f"{self.base_url()} (stats http://127.0.0.1:{self.s['haproxy']['stats_port']}/)",
        )
        return 0 if ok else 1

    def env(self) -> None:
        values = {
            "CLUSTER_URL": self.base_url(),
            "CLUSTER_DATABASE_URL": self.direct_url(self.primary()),
            "CLUSTER_APP_DATABASE_URL": self.app_url(),
            "CLUSTER_ADMIN_TOKEN": self.s["admin_token"],
            "CLUSTER_DIR": str(self.root),
        }
        for key, value in values.items():
            print(f"{key}={shlex.quote(value)}")


def main(argv: list[str]) -> int:
    commands = ("up", "down", "restart", "failover", "pg-restart", "status", "env")
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: scripts/cluster.py {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    cluster = Cluster(cluster_dir())
    try:
        result = getattr(cluster, argv[0].replace("-", "_"))()
    except ClusterError as err:
        print(f"cluster: {err}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
