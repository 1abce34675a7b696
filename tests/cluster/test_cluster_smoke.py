"""The local cluster of scripts/cluster.py, smaller (2 app instances, 1 worker, ports chosen
free): every part up from deploy/'s files, one registration through HAProxy, pgbouncer, a
standalone worker and the LISTEN connection (and on the standby by streaming replication),
then a rolling restart with a client loop running through it that sees no failed request."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.queue.jobs import wait_until
from tests.support.server import new_guest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster.py"


def run(
    cluster: dict[str, Any], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=cluster["env"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    # a short folder: PostgreSQL's socket path must stay under 107 bytes
    root = Path(tempfile.mkdtemp(prefix="glc-", dir="/tmp"))
    env = {
        **os.environ,
        "CLUSTER_DIR": str(root),
        "CLUSTER_PORT": "0",
        "CLUSTER_INSTANCES": "2",
        "CLUSTER_WORKERS": "1",
        "CLUSTER_POOL_MAX": "4",
        "CLUSTER_PYTHON": sys.executable,
    }
    info: dict[str, Any] = {"env": env, "root": root}
    try:
        up = run(info, "up", timeout=150)
        assert up.returncode == 0, up.stdout + up.stderr
        info["state"] = json.loads((root / "state.json").read_text())
        info["url"] = f"http://127.0.0.1:{info['state']['haproxy']['port']}"
        yield info
    finally:
        down = run(info, "down", timeout=120)
        shutil.rmtree(root, ignore_errors=True)
        assert down.returncode == 0, down.stdout + down.stderr


def test_every_part_is_up(cluster: dict[str, Any]) -> None:
    status = run(cluster, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert any("n1" in line and "primary" in line and "n2 streaming" in line for line in lines)
    assert any(line.startswith("postgres n2") and "standby" in line for line in lines)
    for name in ("pgbouncer", "app1", "app2", "worker1", "haproxy"):
        assert any(line.startswith(name) and " up " in line for line in lines), status.stdout
    assert sum("haproxy UP" in line for line in lines) == 2
    # the app's pools reach PostgreSQL through pgbouncer, never straight
    env_out = run(cluster, "env").stdout
    assert f"port={cluster['state']['pgbouncer']['port']}" in env_out


def psql(cluster: dict[str, Any], node: str, sql: str) -> str:
    state = cluster["state"]
    url = (
        f"host={cluster['root'] / 'pg' / 'sock'} port={state['nodes'][node]['port']} "
        "dbname=guestlist user=postgres"
    )
    out = subprocess.run(
        ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_one_registration_through_haproxy_pgbouncer_and_a_worker(
    cluster: dict[str, Any],
) -> None:
    demo = cluster["state"]["demo"]
    guest = new_guest()
    body = {
        "phone": guest["phone"],
        "firstName": guest["firstName"],
        "lastName": guest["lastName"],
        "email": guest["email"],
        "password": guest["password"],
        "eventId": demo["eventId"],
        "promoterId": demo["promoterId"],
        "teamId": demo["teamId"],
    }
    with httpx.Client(base_url=cluster["url"], timeout=30) as c:
        # queued: enqueued by an app instance, done by the standalone worker, the held answer
        # woken through the instance's LISTEN connection (DATABASE_SESSION_URL)
        r = c.post("/api/guest/register-v2", params={"wait": 20}, json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "completed", answer
    qr = answer["result"]["qr_code"]
    assert psql(cluster, "n1", f"SELECT count(*) FROM app.guests WHERE qr_code = '{qr}'") == "1"
    # pgbouncer's server connections carry the client's application_name plus its address
    apps = psql(
        cluster,
        "n1",
        "SELECT string_agg(DISTINCT application_name, '|') FROM pg_stat_activity "
        "WHERE usename = 'guestlist_app'",
    )
    assert "guestlist-web" in apps and "guestlist-worker" in apps, apps
    # streamed to the hot standby
    wait_sql = f"SELECT count(*) FROM app.guests WHERE qr_code = '{qr}'"
    for _ in range(100):
        if psql(cluster, "n2", wait_sql) == "1":
            break
        threading.Event().wait(0.1)
    assert psql(cluster, "n2", wait_sql) == "1"


def test_the_figures_count_every_instance_and_the_worker_process(
    cluster: dict[str, Any],
) -> None:
    # each process reports every 5 s: the dashboard's system block names the two app
    # instances and the standalone worker, whose tasks are the cluster's worker concurrency
    auth = {"Authorization": f"Bearer {cluster['state']['admin_token']}"}

    def system() -> dict[str, Any] | None:
        r = httpx.get(f"{cluster['url']}/api/admin/metrics", headers=auth, timeout=10)
        assert r.status_code == 200, r.text
        block: dict[str, Any] = r.json()["system"]
        return block if block["instances"] == 2 and block["workerProcesses"] == 1 else None

    block = wait_until(system, 30, "two instances and one worker process reporting")
    # each under the name the cluster gives it (INSTANCE_ID)
    assert block["instanceIds"] == ["app1", "app2"] and block["workerIds"] == ["worker1"]
    # the instances run no workers (RUN_WORKERS=0): every task counted is the worker's
    assert block["workerConcurrency"] >= 1


def test_rolling_restart_fails_no_request(cluster: dict[str, Any]) -> None:
    before = [inst["pid"] for inst in cluster["state"]["instances"]]
    statuses: Counter[int | str] = Counter()
    stop = threading.Event()

    def client_loop(t: int) -> None:
        # a different client each request, as a crowd is (the per-client rate limits): the
        # app trusts X-Forwarded-For from HAProxy on loopback, HAProxy appends to ours
        n = 0
        with httpx.Client(base_url=cluster["url"], timeout=15) as c:
            while not stop.is_set():
                n += 1
                xff = {"X-Forwarded-For": f"10.{t}.{n // 250 % 250}.{n % 250 + 1}"}
                try:
                    r = c.get("/api/guest/page/miguel/festa-verao", headers=xff)
                    statuses[r.status_code] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1

    threads = [threading.Thread(target=client_loop, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    try:
        restart = run(cluster, "restart", timeout=120)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert restart.stdout.count("restarted in") == 2
    after = json.loads((cluster["root"] / "state.json").read_text())
    assert all(inst["pid"] not in before for inst in after["instances"])
    assert statuses[200] > 0
    assert set(statuses) == {200}, statuses


def test_a_primary_restart_returns_and_the_instances_serve_again_by_themselves(
    cluster: dict[str, Any],
) -> None:
    """`cluster.py pg-restart` (stop and start the primary, fast) comes back, and the app
    instances answer from the database again without being restarted themselves."""
    state = cluster["root"] / "state.json"
    before = [inst["pid"] for inst in json.loads(state.read_text())["instances"]]
    restart = run(cluster, "pg-restart", timeout=120)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert "restarted in" in restart.stdout + restart.stderr
    with httpx.Client(base_url=cluster["url"], timeout=15) as c:
        for _ in range(100):  # each pooled connection the restart broke fails once (503)
            r = c.post("/api/guest/verify-phone-v2", json={"phone": "912345678"})
            if r.status_code == 200:
                break
            assert r.status_code == 503, r.text
            threading.Event().wait(0.1)
    assert r.status_code == 200, r.text
    assert [inst["pid"] for inst in json.loads(state.read_text())["instances"]] == before


def test_a_failover_serves_from_the_standby_and_up_never_starts_the_fenced_primary(
    cluster: dict[str, Any],
) -> None:
    """`cluster.py failover` (last: the cluster has one node afterwards): registrations land on
    the promoted standby through the repointed pgbouncer; a later `up` starts what is stopped
    but never the fenced old primary, which would be a second writable node."""
    failover = run(cluster, "failover", timeout=120)
    assert failover.returncode == 0, failover.stdout + failover.stderr
    state = json.loads((cluster["root"] / "state.json").read_text())
    assert state["primary"] == "n2" and state["nodes"]["n1"]["fenced"]
    demo = state["demo"]
    guest = new_guest()
    body = {
        **{k: guest[k] for k in ("phone", "firstName", "lastName", "email", "password")},
        "eventId": demo["eventId"],
        "promoterId": demo["promoterId"],
        "teamId": demo["teamId"],
    }
    with httpx.Client(base_url=cluster["url"], timeout=30) as c:
        for _ in range(100):  # each pooled connection to the old primary fails once (503)
            r = c.post("/api/guest/register-v2", params={"wait": 20}, json=body)
            if r.status_code != 503:
                break
            threading.Event().wait(0.1)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    qr = r.json()["result"]["qr_code"]
    assert psql(cluster, "n2", f"SELECT count(*) FROM app.guests WHERE qr_code = '{qr}'") == "1"

    for command in ("down", "up"):
        done = run(cluster, command, timeout=150)
        assert done.returncode == 0, done.stdout + done.stderr
    status = run(cluster, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert any(line.startswith("postgres n1") and " off " in line for line in lines), lines
    assert any(line.startswith("postgres n2") and "primary" in line for line in lines), lines
    with httpx.Client(base_url=cluster["url"], timeout=15) as c:
        assert c.get("/api/guest/page/miguel/festa-verao").status_code == 200
