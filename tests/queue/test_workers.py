"""The job queue with real workers and real connections: every job done exactly once (200 jobs,
8 workers), a worker process killed mid-job, a PostgreSQL restart under load, duplicates, the
depth limit, retries with backoff and the dead letter, passwords erased (and never in the WAL),
duplicates joining only their own submitter's job, the autoscaler. The routes over HTTP (a job
readable by its submitter only): test_http.py; the listener alone: test_listener.py.

Jobs here hash with bcrypt cost 4 (`weak_hash`): these tests are about the queue, not hashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import orjson
import psycopg
import pytest
from psycopg.types.json import Jsonb

from guestlist.queries import q
from guestlist.queue import workers as worker
from guestlist.queue.listener import JobWaiter
from guestlist.web.errors import from_exception
from tests.queue.jobs import job_row, qq, rows, wait_until, work
from tests.support.database import ROOT, PgServer
from tests.support.server import wq

PASSWORD = "Segredo123"
WRONG_PASSWORD = "Errada123"
GENERIC_FAILURE = "Não foi possível processar o pedido. Tenta novamente."


# --- helpers -----------------------------------------------------------------------------------


def phone(n: int) -> str:
    return f"+3519{n:08d}"


def register_payload(demo: dict[str, str], n: int, **over: Any) -> dict[str, Any]:
    payload = {
        "phone": phone(n),
        "first_name": "Ana",
        "last_name": f"Silva{n}",
        "email": f"ana{n}@example.pt",
        "password": PASSWORD,
        "event_id": demo["eventId"],
        "promoter_id": demo["promoterId"],
        "team_id": demo["teamId"],
    }
    payload.update(over)
    return payload


def login_payload(demo: dict[str, str], n: int) -> dict[str, Any]:
    """A login job's payload for phone(n), password "x" (a worker would refuse it)."""
    return {"phone": phone(n), "password": "x", "event_id": demo["eventId"]}


def enqueue(conn: psycopg.Connection, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute(
        q("queue_enqueue"),
        {"kind": kind, "payload": Jsonb(payload), "client_key": None, "session_token": None},
    ).fetchone()
    assert row is not None
    return cast(dict[str, Any], row[0])


def status(conn: psycopg.Connection, job: dict[str, Any]) -> dict[str, Any]:
    """The status of a job enqueue answered (`{jobId, jobToken, …}`), read with its token."""
    params = {"job_id": job["jobId"], "job_token": job["jobToken"], "client_key": None}
    row = conn.execute(q("queue_job_status"), params).fetchone()
    assert row is not None
    return cast(dict[str, Any], row[0])


def scalar(db_url: str, name: str, **params: Any) -> Any:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(qq(name), params).fetchone()
    assert row is not None
    return row[0]


async def wait_finished(db_url: str, expected: int, timeout: float = 180.0) -> None:
    await asyncio.to_thread(
        wait_until,
        lambda: scalar(db_url, "queue_test_finished_count") >= expected,
        timeout,
        f"{expected} finished jobs",
    )


@contextlib.asynccontextmanager
async def running_workers(
    db_url: str, n: int, idle_seconds: float = 0.2, **settings_: Any
) -> AsyncIterator[tuple[worker.WorkerPool, JobWaiter]]:
    """n in-process workers (fixed: min = max = n) on a worker pool, with their listener."""
    pool = worker.make_worker_pool(db_url, n + 1)
    await pool.open(wait=True)
    waiter = JobWaiter(db_url)
    await waiter.start()
    settings = worker.WorkerSettings(
        workers_min=n, workers_max=n, idle_seconds=idle_seconds, **settings_
    )
    workers = worker.start(pool, settings, waiter, reserve=1)
    try:
        yield workers, waiter
    finally:
        await worker.stop(workers)
        await waiter.stop()
        await pool.close()


def drain_each_once(db_url: str, ids: list[str], n: int, **settings: Any) -> list[dict[str, Any]]:
    """Run n workers until the jobs `ids` (all the table holds) are finished; check that each
    was completed, on its first claim, and counted once by the workers; return the rows."""

    async def drain() -> dict[str, Any]:
        async with running_workers(db_url, n, **settings) as (workers, _):
            await wait_finished(db_url, len(ids))
        # read after the workers stopped: a call whose commit the database already shows may
        # not have been counted yet when wait_finished saw it
        return workers.stats()

    stats = asyncio.run(drain())
    assert stats["done"] == len(ids), stats
    jobs = rows(db_url, "queue_test_jobs")
    assert sorted(j["id"] for j in jobs) == sorted(ids)
    assert {j["status"] for j in jobs} == {"completed"}
    assert {j["attempts"] for j in jobs} == {1}, "no job was claimed twice"
    return jobs


@contextlib.contextmanager
def worker_process(db_url: str, log_path: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`guestlist worker` with one worker; killed at the end if still running."""
    full_env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "WORKERS_MIN": "1",
        "WORKERS_MAX": "1",
        "WORKER_IDLE_SECONDS": "0.2",
        **env,
    }
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guestlist", "worker"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=log,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def weak_hash(pg_server: PgServer, fresh_db: str) -> None:
    """bcrypt cost 4 on the test database (its settings, read on every call)."""
    with pg_server.connect(fresh_db, autocommit=True) as admin:
        for name in ("queue_test_weak_hash", "queue_test_bcrypt_cost"):
            admin.execute(qq(name))


# --- exactly once --------------------------------------------------------------------------------


def test_200_jobs_8_workers_each_done_exactly_once(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,
) -> None:
    web = web_conn_factory()
    ids = [enqueue(web, "register", register_payload(demo, n))["jobId"] for n in range(200)]
    assert len(set(ids)) == 200

    jobs = drain_each_once(db_url, ids, 8)
    assert all(j["result"]["success"] is True for j in jobs)
    assert len({j["worker"] for j in jobs}) > 1, "the work was shared"

    guests = rows(db_url, "queue_test_guests", event_id=demo["eventId"])
    assert sorted(g["phone"] for g in guests) == [phone(n) for n in range(200)]
    assert {g["guest_id"] for g in guests} == {j["result"]["guest_id"] for j in jobs}
    assert {g["qr_code"] for g in guests} == {j["result"]["qr_code"] for j in jobs}

    assert scalar(db_url, "queue_test_finished_with_password", password=PASSWORD) == 0
    counter = rows(db_url, "queue_test_pending_counter")[0]
    assert counter == {"counter": 0, "counted": 0}


def test_a_killed_worker_process_leaves_its_job_to_another(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,
    tmp_path: Path,
) -> None:
    web = web_conn_factory()
    log_path = tmp_path / "workers.log"
    with psycopg.connect(db_url) as lock:
        # the test holds the event's row: the job blocks inside its guest insert
        lock.execute(qq("queue_test_lock_event"), {"event_id": demo["eventId"]})
        job = enqueue(web, "register", register_payload(demo, 1))
        job_id = job["jobId"]
        with worker_process(db_url, log_path) as first:
            blocked = wait_until(
                lambda: [
                    r["pid"]
                    for r in rows(db_url, "queue_test_worker_backends")
                    if r["wait_event_type"] == "Lock"
                ],
                30,
                "the worker to block on the event row",
            )
            assert status(web, job)["status"] == "active", "a held job reads as active"
            first.send_signal(signal.SIGKILL)
            first.wait()
        # its backend notices the dead client (client_connection_check_interval) and rolls back
        wait_until(
            lambda: not scalar(db_url, "queue_test_backend_alive", pid=blocked[0]),
            30,
            "the killed worker's backend to end",
        )
        assert status(web, job)["status"] == "waiting"
        assert job_row(db_url, job_id)["attempts"] == 0, "the killed attempt left no trace"
        lock.rollback()

    with worker_process(db_url, log_path) as second:
        wait_until(
            lambda: job_row(db_url, job_id)["finished_at"] is not None, 60, "the job to finish"
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, "SIGTERM: a clean exit"
        done = job_row(db_url, job_id)
        assert done["status"] == "completed" and done["result"]["success"] is True
        assert done["attempts"] == 1
        assert f":{second.pid}:" in done["worker"], "done by the second worker"
    assert scalar(db_url, "queue_test_accounts_with_phone", phone=phone(1)) == 1
    guests = rows(db_url, "queue_test_guests", event_id=demo["eventId"])
    assert [g["phone"] for g in guests] == [phone(1)], "exactly one guest"


def test_a_worker_killed_mid_hash_leaves_its_job_to_another(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    pg_server: PgServer,
    fresh_db: str,
    tmp_path: Path,
) -> None:
    """SIGKILL while the worker's backend is inside the job's hash (bcrypt cost 15: seconds,
    and a hash cannot be interrupted): the claim, a row lock in the job's own transaction, goes
    with the backend once it notices its client is gone (client_connection_check_interval),
    so no lease is needed; another worker process does the job, once."""
    with pg_server.connect(fresh_db, autocommit=True) as admin:
        admin.execute(qq("queue_test_slow_hash"))
    web = web_conn_factory()
    log_path = tmp_path / "workers.log"
    job = enqueue(web, "register", register_payload(demo, 2))
    job_id = job["jobId"]
    with worker_process(db_url, log_path) as first:
        hashing = wait_until(
            lambda: rows(db_url, "queue_test_hashing_worker"), 30, "the worker to be hashing"
        )
        assert status(web, job)["status"] == "active", "the worker holds the job"
        first.send_signal(signal.SIGKILL)
        first.wait()
    with worker_process(db_url, log_path) as second:
        # the second worker skips the locked row until the first backend has rolled back
        wait_until(
            lambda: not scalar(db_url, "queue_test_backend_alive", pid=hashing[0]["pid"]),
            60,
            "the killed worker's backend to end",
        )
        wait_until(
            lambda: job_row(db_url, job_id)["finished_at"] is not None, 90, "the job to finish"
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, "SIGTERM: a clean exit"
    done = job_row(db_url, job_id)
    assert done["status"] == "completed" and done["result"]["success"] is True
    assert done["attempts"] == 1, "the killed attempt was undone, not counted"
    assert f":{second.pid}:" in done["worker"], "done by the second worker"
    assert scalar(db_url, "queue_test_accounts_with_phone", phone=phone(2)) == 1
    guests = rows(db_url, "queue_test_guests", event_id=demo["eventId"])
    assert [g["phone"] for g in guests] == [phone(2)], "exactly one guest"
    assert len(rows(db_url, "queue_test_jobs")) == 1, "one job, done once"


def test_workers_survive_a_postgres_restart(
    request: pytest.FixtureRequest,
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,
) -> None:
    web = web_conn_factory()
    total = 150
    for n in range(total):
        enqueue(web, "register", register_payload(demo, n))
    web.close()

    def restart() -> None:
        if os.environ.get("TEST_DATABASE_URL"):
            # someone else's server: cut every connection of the app instead
            assert scalar(db_url, "queue_test_terminate_app_backends") >= 1
            return
        proc = request.getfixturevalue("pg_proc")
        proc.stop()
        time.sleep(0.5)  # let the workers meet the closed server
        proc.start()

    async def run() -> tuple[dict[str, Any], int]:
        async with running_workers(db_url, 4) as (workers, waiter):
            await wait_finished(db_url, 20)
            await asyncio.to_thread(restart)
            await wait_finished(db_url, total)
            for _ in range(600):  # the listener's backoff may still be running: wait for it
                if waiter.connected and waiter.reconnects:
                    break
                await asyncio.sleep(0.05)
            return workers.stats(), waiter.reconnects

    stats, reconnects = asyncio.run(run())
    assert stats["errors"] >= 1, "the workers saw the restart"
    assert reconnects >= 1, "the listener reconnected"
    jobs = rows(db_url, "queue_test_jobs")
    assert len(jobs) == total and {j["status"] for j in jobs} == {"completed"}
    guests = rows(db_url, "queue_test_guests", event_id=demo["eventId"])
    assert sorted(g["phone"] for g in guests) == [phone(n) for n in range(total)]
    counter = rows(db_url, "queue_test_pending_counter")[0]
    assert counter == {"counter": 0, "counted": 0}


def test_idle_workers_wake_on_notify(
    db_url: str, demo: dict[str, str], web_conn_factory: Callable[..., psycopg.Connection]
) -> None:
    """Idle workers sleep on LISTEN with a 60 s timeout: a new job wakes one of them at once,
    which claims it and goes back to sleep without asking again (the batch said none is left).
    Four workers, three jobs one after another: three claims, none of them empty."""
    web = web_conn_factory()

    async def run() -> dict[str, Any]:
        async with running_workers(db_url, 4, idle_seconds=60) as (workers, _):

            async def all_asleep() -> None:  # each made its first claim, found nothing
                while True:
                    stats = workers.stats()
                    if stats["empty_claims"] >= 4 and stats["busy"] == 0:
                        return
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(all_asleep(), 20)  # not a fixed sleep: a busy machine is slow
            before = workers.stats()
            for i in range(3):
                await asyncio.to_thread(
                    enqueue,
                    web,
                    "login",
                    login_payload(demo, 5 + i),
                )
                await wait_finished(db_url, i + 1, timeout=20)
            await asyncio.sleep(0.3)  # a stray claim would have happened by now
            after = workers.stats()
            return {k: after[k] - before[k] for k in ("done", "empty_claims", "errors")}

    assert asyncio.run(run()) == {"done": 3, "empty_claims": 0, "errors": 0}
    finished = rows(db_url, "queue_test_jobs")
    assert [j["result"]["code"] for j in finished] == ["invalid_credentials"] * 3


# --- enqueue --------------------------------------------------------------------------------------


def test_concurrent_duplicate_submissions_share_one_job(
    db_url: str, demo: dict[str, str], web_conn_factory: Callable[..., psycopg.Connection]
) -> None:
    n = 20
    conns = [web_conn_factory() for _ in range(n)]
    spellings = ["+351 912 000 007", "00351912000007", "+351912000007", "+351-912-000-007"]
    barrier = threading.Barrier(n)

    def submit(i: int) -> dict[str, Any]:
        payload = {"phone": spellings[i % 4], "password": "x", "event_id": demo["eventId"]}
        barrier.wait()
        return enqueue(conns[i], "login", payload)

    with ThreadPoolExecutor(max_workers=n) as pool:
        answers = list(pool.map(submit, range(n)))
    assert len({a["jobId"] for a in answers}) == 1
    assert len({a["jobToken"] for a in answers}) == n, "each submission has a token of its own"
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * (n - 1)
    assert len(rows(db_url, "queue_test_jobs")) == 1

    # once the job is done, the same submission is a new job
    assert work(conns[0]) is not None
    again = enqueue(
        conns[0], "login", {"phone": spellings[0], "password": "x", "event_id": demo["eventId"]}
    )
    assert again["duplicate"] is False and again["jobId"] != answers[0]["jobId"]
    # another event, or a register of the same phone, is another job too
    other = enqueue(conns[0], "register", register_payload(demo, 0, phone=spellings[0]))
    assert other["jobId"] not in (again["jobId"], answers[0]["jobId"])


def test_concurrent_submissions_for_one_phone_join_only_their_own_job(
    db_url: str, demo: dict[str, str], web_conn_factory: Callable[..., psycopg.Connection]
) -> None:
    """20 clients at once submit a login for one phone and event: ten the same submission (a
    page retrying), ten each with a password of their own. The ten identical ones share one
    job; every other submission gets a job of its own, never someone else's."""
    n = 20
    conns = [web_conn_factory() for _ in range(n)]
    barrier = threading.Barrier(n)

    def submit(i: int) -> dict[str, Any]:
        password = PASSWORD if i % 2 == 0 else f"Outra{i}x"
        payload = {"phone": phone(42), "password": password, "event_id": demo["eventId"]}
        barrier.wait()
        return enqueue(conns[i], "login", payload)

    with ThreadPoolExecutor(max_workers=n) as pool:
        answers = list(pool.map(submit, range(n)))
    same = {a["jobId"] for a in answers[0::2]}
    others = [a["jobId"] for a in answers[1::2]]
    assert len(same) == 1, "the identical submissions share one job"
    assert len(set(others)) == len(others) == 10 and not same & set(others)
    assert sorted(a["duplicate"] for a in answers[0::2]) == [False] + [True] * 9
    assert not any(a["duplicate"] for a in answers[1::2])
    assert len({a["jobToken"] for a in answers}) == n
    assert len(rows(db_url, "queue_test_jobs")) == 11


def test_no_password_reaches_the_wal(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,
) -> None:
    """A registration queued, done and read: the WAL written meanwhile holds the guest's last
    name (the account row is logged: the check does see what is written) but never the
    password, nor the session token its owner was given."""
    web = web_conn_factory()
    password = f"Wal{secrets.token_hex(8)}A1"
    last_name = f"Walmarker{secrets.token_hex(6)}"
    since = scalar(db_url, "queue_test_wal_position")
    job = enqueue(
        web, "register", register_payload(demo, 77, password=password, last_name=last_name)
    )
    assert work(web) == {"jobId": job["jobId"], "status": "completed"}
    token = status(web, job)["result"]["session_token"]
    assert scalar(db_url, "queue_test_session_of", token=token) == phone(77)
    scalar(db_url, "queue_test_wal_switch")
    wal = scalar(db_url, "queue_test_wal_since", since=since)
    assert last_name.encode() in wal, "the WAL read covers the job's work"
    assert password.encode() not in wal
    assert token.encode() not in wal
    for secret in (password, token, job["jobToken"]):
        assert scalar(db_url, "queue_test_rows_with_text", text=secret) == 0


def _connect_in_slot(db_url: str, slot: int) -> psycopg.Connection:
    """A superuser connection whose backend's own counter slot (pid mod 16) is `slot`."""
    for _ in range(400):
        conn = psycopg.connect(db_url)
        pid = _pid(conn)
        conn.rollback()
        if pid % 16 == slot:
            return conn
        conn.close()
    raise AssertionError(f"no backend with pid mod 16 = {slot} in 400 connections")


def _until_waiting_for_a_lock(db_url: str, pid: int, what: str) -> None:
    wait_until(lambda: scalar(db_url, "queue_test_waits_for_lock", pid=pid), 10, what)


def _pid(conn: psycopg.Connection) -> int:
    row = conn.execute(wq("web_test_backend_pid")).fetchone()
    assert row is not None
    return int(row[0])


def test_the_depth_counter_closes_no_lock_cycle_with_the_event_row(
    db_url: str, demo: dict[str, str]
) -> None:
    """A worker's batch keeps the counter slot of its finished job until it commits, while its
    next job waits for the event row. If the transaction holding that event row then counted a
    job in the same slot, each would wait for the other: deadlock 40P01. Here A counts a job and
    then waits for the event row that B holds; B, whose backend has A's own slot, counts one."""
    a = psycopg.connect(db_url)
    b = None
    try:
        enqueue(a, "login", login_payload(demo, 1))
        a_pid = _pid(a)
        b = _connect_in_slot(db_url, a_pid % 16)
        b.execute(qq("queue_test_lock_event"), {"event_id": demo["eventId"]})

        def a_waits_for_the_event() -> None:
            a.execute(qq("queue_test_lock_event"), {"event_id": demo["eventId"]})
            a.commit()

        with ThreadPoolExecutor(max_workers=1) as pool:
            blocked = pool.submit(a_waits_for_the_event)
            _until_waiting_for_a_lock(db_url, a_pid, "A to wait for the event row")
            enqueue(b, "login", login_payload(demo, 2))
            b.commit()
            blocked.result(timeout=30)
    finally:
        a.close()
        if b is not None:
            b.close()
    assert rows(db_url, "queue_test_pending_counter")[0] == {"counter": 2, "counted": 2}


def test_the_depth_counter_waits_only_when_every_slot_is_held(
    db_url: str, demo: dict[str, str], web_conn_factory: Callable[..., psycopg.Connection]
) -> None:
    """16 open transactions that each counted a job, on backends that all have one slot (pid
    mod 16), hold the 16 slots without waiting for each other; the 17th waits for its own slot
    until they commit, and the sum stays exact."""
    slot = _pid(web_conn_factory()) % 16
    with contextlib.ExitStack() as stack:
        holders = [stack.enter_context(_connect_in_slot(db_url, slot)) for _ in range(16)]
        for n, conn in enumerate(holders):
            conn.execute(qq("queue_test_lock_timeout"), {"timeout": "5s"})  # fail, not hang
            enqueue(conn, "login", login_payload(demo, n))
        last = web_conn_factory(autocommit=False)
        last_pid = _pid(last)
        last.rollback()

        def count_one_more() -> None:
            enqueue(last, "login", login_payload(demo, 16))
            last.commit()

        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(count_one_more)
            _until_waiting_for_a_lock(db_url, last_pid, "the 17th transaction to wait for a slot")
            for conn in holders:
                conn.commit()
            waiting.result(timeout=30)
    assert rows(db_url, "queue_test_pending_counter")[0] == {"counter": 17, "counted": 17}


def test_queue_depth_limit_refuses_with_503(
    demo: dict[str, str],
    conn: psycopg.Connection,
    web_conn_factory: Callable[..., psycopg.Connection],
) -> None:
    # a database setting (app.settings): the web role cannot move the queue's ceiling
    conn.execute(qq("queue_test_set_max_depth"), {"depth": "3"})
    web = web_conn_factory()
    for n in range(3):
        enqueue(web, "login", login_payload(demo, n))
    with pytest.raises(psycopg.Error) as refused:
        enqueue(web, "login", login_payload(demo, 9))
    assert refused.value.sqlstate == "PT503"
    detail = orjson.loads(refused.value.diag.message_detail or "{}")
    assert detail["code"] == "queue_full" and detail["retry_after"] >= 1
    err = from_exception(refused.value)
    assert (err.status, err.code) == (503, "queue_full")
    assert int(err.headers()["Retry-After"]) >= 1
    # a duplicate of a pending job is still answered (it adds nothing)
    dup = enqueue(web, "login", login_payload(demo, 0))
    assert dup["duplicate"] is True


def test_invalid_payload_never_reaches_the_queue(
    db_url: str, web_conn_factory: Callable[..., psycopg.Connection]
) -> None:
    web = web_conn_factory()
    with pytest.raises(psycopg.Error) as refused:
        enqueue(web, "register", {"phone": "12", "first_name": "", "email": "x", "password": "abc"})
    assert refused.value.sqlstate == "PT400"
    fields = [e["field"] for e in orjson.loads(refused.value.diag.message_detail or "{}")["errors"]]
    assert fields == ["phone", "first_name", "last_name", "email", "password", "event_id"]
    assert rows(db_url, "queue_test_jobs") == []


# --- work: refusals, retries, the dead letter, passwords ------------------------------------------


def test_wrong_password_completes_once_and_is_not_retried(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,
) -> None:
    web = web_conn_factory()
    enqueue(web, "register", register_payload(demo, 3))
    assert work(web)["status"] == "completed"  # type: ignore[index]
    job_id = enqueue(
        web, "login", {"phone": phone(3), "password": WRONG_PASSWORD, "event_id": demo["eventId"]}
    )["jobId"]
    assert work(web) == {"jobId": job_id, "status": "completed"}
    assert work(web) is None, "nothing to retry"
    done = job_row(db_url, job_id)
    assert done["attempts"] == 1 and done["error"] is None
    assert done["result"]["success"] is False and done["result"]["code"] == "invalid_credentials"
    assert "password" not in done["payload"]
    assert scalar(db_url, "queue_test_job_has_secret", job_id=job_id) is False


def test_unexpected_errors_back_off_then_dead_letter(
    db_url: str, web_conn_factory: Callable[..., psycopg.Connection]
) -> None:
    web = web_conn_factory()
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(qq("queue_test_listen"))
        with psycopg.connect(db_url, autocommit=True) as admin:
            job_id = admin.execute(
                qq("queue_test_insert_job"),
                {
                    "kind": "login",
                    "payload": Jsonb(
                        {"phone": phone(4), "password": PASSWORD, "event_id": "not-a-uuid"}
                    ),
                },
            ).fetchone()[0]  # type: ignore[index]

        backoffs = []
        for attempt in (1, 2):
            assert work(web) == {"jobId": job_id, "status": "delayed"}
            row = job_row(db_url, job_id)
            assert row["attempts"] == attempt and row["finished_at"] is None
            assert scalar(db_url, "queue_test_job_has_secret", job_id=job_id), "kept for the retry"
            assert row["error"] == "Erro temporário. O pedido vai ser repetido."
            backoffs.append(row["run_at"] - row["processed_at"])
            assert work(web) is None, "not claimable before its run_at"
            wait_until(lambda: scalar(db_url, "queue_test_job_due", job_id=job_id), 10, "run_at")
        assert timedelta(seconds=1) <= backoffs[0] < timedelta(seconds=1.5)
        assert timedelta(seconds=2) <= backoffs[1] < timedelta(seconds=2.5)

        assert work(web) == {"jobId": job_id, "status": "failed"}
        dead = job_row(db_url, job_id)
        assert dead["attempts"] == 3 and dead["finished_at"] is not None
        assert dead["result"] is None and dead["error"] == GENERIC_FAILURE
        assert scalar(db_url, "queue_test_job_has_secret", job_id=job_id) is False
        assert work(web) is None, "a dead letter is not retried"
        notes = [n.payload for n in listener.notifies(timeout=1.0)]
        assert notes == [job_id], "one NOTIFY, when the job ended (not for the retries)"
    assert scalar(db_url, "queue_test_finished_with_password", password=PASSWORD) == 0


def test_no_password_in_any_finished_job(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,
) -> None:
    web = web_conn_factory()
    enqueue(web, "register", register_payload(demo, 10))
    enqueue(
        web, "login", {"phone": phone(11), "password": WRONG_PASSWORD, "event_id": demo["eventId"]}
    )
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(
            qq("queue_test_insert_job"),
            {"kind": "register", "payload": Jsonb(register_payload(demo, 12, birth_date="x"))},
        )

    async def drain() -> None:
        async with running_workers(db_url, 2, idle_seconds=0.1):
            await wait_finished(db_url, 3, timeout=60)

    asyncio.run(drain())
    jobs = rows(db_url, "queue_test_jobs")
    assert sorted(j["status"] for j in jobs) == ["completed", "completed", "failed"]
    for secret in (PASSWORD, WRONG_PASSWORD):
        assert scalar(db_url, "queue_test_finished_with_password", password=secret) == 0


# --- the autoscaler -------------------------------------------------------------------------------


class _FakePool:
    max_size = 9


def test_autoscaler_decisions_and_history() -> None:
    settings = worker.WorkerSettings(workers_min=1, workers_max=16, scale_up_per_worker=2)
    pool = worker.WorkerPool(_FakePool(), settings, JobWaiter("unused"), reserve=1)  # type: ignore[arg-type]
    assert (pool.low, pool.high, pool.target) == (1, 8, 1), "capped by the pool, minus reserve"
    assert pool.decide({"waiting": 2}, idle_for=0) is None
    assert pool.decide({"waiting": 3}, idle_for=0) == (2, "queue_high")
    assert pool.decide({"waiting": 500}, idle_for=0) == (8, "queue_high")
    pool.target = 8
    assert pool.decide({"waiting": 500}, idle_for=0) is None, "already at the maximum"
    assert pool.decide({"waiting": 0}, idle_for=1) is None, "not idle long enough"
    assert pool.decide({"waiting": 0}, idle_for=5) == (7, "idle")
    pool._record(8, 7, {"waiting": 0, "active": 0, "delayed": 0}, "idle")
    event = pool.history[-1]
    assert (event["from"], event["to"], event["reason"]) == (8, 7, "idle"), "from is the old value"


def test_autoscaler_yields_to_the_web() -> None:
    settings = worker.WorkerSettings(workers_min=2, workers_max=4, web_busy_workers=1)
    pool = worker.WorkerPool(_FakePool(), settings, JobWaiter("unused"), shares_web_pool=True)  # type: ignore[arg-type]
    pool.target = 4
    assert pool.decide({"waiting": 500}, idle_for=0, web_busy=True) == (1, "web_busy")
    pool.target = 1
    assert pool.decide({"waiting": 500}, idle_for=0, web_busy=True) is None, "no scale-up"
    assert pool.decide({"waiting": 0}, idle_for=9) == (2, "web_calm"), "back to the floor"
    assert pool.decide({"waiting": 500}, idle_for=0) == (4, "web_calm"), "or what the queue needs"
    pool.target = 2
    assert pool.decide({"waiting": 500}, idle_for=0) == (4, "queue_high")


def test_workers_yield_while_requests_wait_for_the_pool(db_url: str) -> None:
    """In-process workers share the app's pool: while a request waits for one of its
    connections the autoscaler keeps WORKERS_WEB_BUSY tasks (and asks the pool for nothing),
    and returns to WORKERS_MIN once the pool has had no waiter for WEB_CALM_SECONDS."""
    settings = worker.WorkerSettings(
        workers_min=2, workers_max=2, web_busy_workers=1, web_calm_seconds=0.5,
        scale_interval=0.1, idle_seconds=0.2, stop_timeout=5,
    )  # fmt: skip

    async def scenario() -> list[tuple[int, str]]:
        pool = worker.make_worker_pool(db_url, 4)
        await pool.open(wait=True)
        waiter = JobWaiter(db_url)
        await waiter.start()
        workers = worker.start(pool, settings, waiter, reserve=1, shares_web_pool=True)
        try:
            assert workers.target == 2
            held = [await pool.getconn() for _ in range(4)]  # the requests have them all
            blocked = asyncio.create_task(pool.getconn())  # … and one more waits
            await asyncio.to_thread(wait_until, lambda: workers.target == 1, 10, "web_busy")
            assert workers.stats()["web_waiting"] >= 1
            for conn in held:
                await pool.putconn(conn)
            await pool.putconn(await blocked)
            await asyncio.to_thread(wait_until, lambda: workers.target == 2, 10, "web_calm")
            return [(e["to"], e["reason"]) for e in workers.history]
        finally:
            await worker.stop(workers)
            await waiter.stop()
            await pool.close()

    assert asyncio.run(scenario()) == [(1, "web_busy"), (2, "web_calm")]


@pytest.mark.parametrize("batch_ms", [0, 1000])
def test_batched_workers_do_each_job_once_in_fewer_transactions(
    db_url: str,
    web_conn_factory: Callable[..., psycopg.Connection],
    batch_ms: int,
) -> None:
    """Quick jobs (logins onto an event that does not exist: refused after one lookup) share a
    worker's transaction up to WORKER_BATCH_MAX; with WORKER_BATCH_MS=0 each has its own."""
    web = web_conn_factory()
    nowhere = "6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11"
    ids = [
        enqueue(web, "login", {"phone": phone(n), "password": PASSWORD, "event_id": nowhere})[
            "jobId"
        ]
        for n in range(300)
    ]

    jobs = drain_each_once(db_url, ids, 2, batch_ms=batch_ms, batch_max=20)
    assert {j["result"]["code"] for j in jobs} == {"event_not_found"}
    transactions = scalar(db_url, "queue_test_job_transactions")
    if batch_ms == 0:
        assert transactions == 300
    else:
        # at most 20 jobs per transaction; far fewer transactions than jobs
        assert 300 / 20 <= transactions < 300 / 2, transactions
    counter = rows(db_url, "queue_test_pending_counter")[0]
    assert counter == {"counter": 0, "counted": 0}
