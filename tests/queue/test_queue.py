"""The job queue with real workers and real connections: every job done exactly once (200 jobs,
8 workers), a worker process killed mid-job, a PostgreSQL restart under load, duplicates, the
depth limit, retries with backoff and the dead letter, passwords erased, and the long-poll's
wake-up (the one time bound asserted: the answer within 100 ms of the job's end).

Jobs here hash with bcrypt cost 4 (`weak_hash`): these tests are about the queue, not hashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, LiteralString, cast

import orjson
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from guestlist.queries import load_queries, q
from guestlist.queue import workers as worker
from guestlist.queue.listener import CHANNEL_DONE, CHANNEL_NEW, RECENT_DONE, JobWaiter
from guestlist.web.errors import from_exception
from tests.support.database import ROOT, PgServer
from tests.support.server import LiveServer, live_server, login_body, new_guest, register_body, wq

QQ = load_queries(Path(__file__).with_name("queries.sql"))
PASSWORD = "Segredo123"
WRONG_PASSWORD = "Errada123"
GENERIC_FAILURE = "Não foi possível processar o pedido. Tenta novamente."


def qq(name: str) -> LiteralString:
    return cast(LiteralString, QQ[name])


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
        q("queue_enqueue"), {"kind": kind, "payload": Jsonb(payload), "client_key": None}
    ).fetchone()
    assert row is not None
    return cast(dict[str, Any], row[0])


def work(conn: psycopg.Connection, name: str = "test") -> dict[str, Any] | None:
    row = conn.execute(qq("queue_test_work_one"), {"worker": name}).fetchone()
    return cast("dict[str, Any] | None", row[0] if row else None)


def status(conn: psycopg.Connection, job_id: str) -> dict[str, Any]:
    row = conn.execute(q("queue_job_status"), {"job_id": job_id}).fetchone()
    assert row is not None
    return cast(dict[str, Any], row[0])


def rows(db_url: str, name: str, **params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(qq(name), params).fetchall()


def scalar(db_url: str, name: str, **params: Any) -> Any:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(qq(name), params).fetchone()
    assert row is not None
    return row[0]


def job_row(db_url: str, job_id: str) -> dict[str, Any]:
    found = rows(db_url, "queue_test_job", job_id=job_id)
    assert len(found) == 1
    return found[0]


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy; a failure guard, not a time assertion."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(psycopg.OperationalError):
            value = check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(0.05)


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
    """bcrypt cost 4 on the test database (for connections opened from now on)."""
    with pg_server.connect(autocommit=True) as admin:
        for name in ("queue_test_weak_hash", "queue_test_bcrypt_cost"):
            admin.execute(sql.SQL(qq(name)).format(dbname=sql.Identifier(fresh_db)))


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
        job_id = enqueue(web, "register", register_payload(demo, 1))["jobId"]
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
            assert status(web, job_id)["status"] == "active", "a held job reads as active"
            first.send_signal(signal.SIGKILL)
            first.wait()
        # its backend notices the dead client (client_connection_check_interval) and rolls back
        wait_until(
            lambda: not scalar(db_url, "queue_test_backend_alive", pid=blocked[0]),
            30,
            "the killed worker's backend to end",
        )
        assert status(web, job_id)["status"] == "waiting"
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


def test_one_wake_per_notification_asleep_workers_first() -> None:
    async def run() -> None:
        waiter = JobWaiter("postgresql:///unused")
        claiming = waiter.new_job()  # a worker inside a claim
        sleepers = [waiter.new_job(), waiter.new_job()]
        for fut in sleepers:
            waiter.asleep(fut)
        waiter._dispatch(CHANNEL_NEW, "")
        assert [f.done() for f in (claiming, *sleepers)] == [False, True, False]
        waiter.took(sleepers[0])
        waiter._dispatch(CHANNEL_NEW, "")
        assert sleepers[1].done() and not claiming.done()
        # a woken worker that will not claim (it stops) hands its wake-up on
        waiter.forget(sleepers[1])
        assert claiming.done()

    asyncio.run(run())


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
    demo: dict[str, str], web_conn_factory: Callable[..., psycopg.Connection]
) -> None:
    web = web_conn_factory()
    web.execute(qq("queue_test_set_max_depth"), {"depth": "3"})
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
    dup = enqueue(web, "login", {"phone": phone(0), "password": "y", "event_id": demo["eventId"]})
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
            assert "password" in row["payload"], "kept for the retry"
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
        assert "password" not in dead["payload"]
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


# --- over HTTP: the v2 routes and the long-poll ---------------------------------------------------


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """app.py without in-process workers (RUN_WORKERS=0): the tests decide when a job is done."""
    with live_server(
        pg_server, template_db, tmp_path_factory.mktemp("web_queue"), RUN_WORKERS="0"
    ) as server:
        yield server
        log = server.log_text()
        for secret in server.pii | server.secrets:
            assert secret not in log, "a guest's data reached the log"


# what login-v2/register-v2 answer, and what GET status (and a held submit) adds
QUEUED_KEYS = {"success", "jobId", "message", "estimatedTime", "estimatedSeconds", "duplicate"}
STATUS_KEYS = {"id", "status", "result", "error", "createdAt", "processedAt", "finishedAt"}


def _work_one(server: LiveServer) -> dict[str, Any] | None:
    with psycopg.connect(server.db_url, autocommit=True) as conn:
        conn.execute(q("web_set_role"))
        return work(conn, "http-test")


def test_v2_routes_queue_and_status_shows_the_guest_pass(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        r = c.post("/api/guest/register-v2", json=register_body(web, guest))
        assert r.status_code == 200, r.text
        queued = r.json()
        assert set(queued) == QUEUED_KEYS
        assert queued["success"] is True and queued["duplicate"] is False
        job_id = queued["jobId"]
        again = c.post("/api/guest/register-v2", json=register_body(web, guest)).json()
        assert again["jobId"] == job_id and again["duplicate"] is True

        pending = c.get(f"/api/guest/status/{job_id}")
        assert pending.status_code == 200
        assert pending.json()["status"] == "waiting" and pending.json()["result"] is None
        assert "gl_session" not in pending.cookies

        assert _work_one(web) == {"jobId": job_id, "status": "completed"}
        done = c.get(f"/api/guest/status/{job_id}")
        body = done.json()
        assert set(body) == STATUS_KEYS
        assert body["status"] == "completed" and body["id"] == job_id
        assert body["result"]["success"] is True
        assert set(body["result"]) == {
            "success", "guest_id", "qr_code", "first_name", "message", "recovered", "event"
        }  # fmt: skip
        assert "session_token" not in done.text
        cookie = done.headers["set-cookie"]
        assert cookie.startswith("gl_session=") and "HttpOnly" in cookie
        web.secrets.update({body["result"]["qr_code"], done.cookies["gl_session"]})

        # the returning device's cookie works like the synchronous route's
        me = c.get(f"/api/guest/me/{web.demo['eventId']}")
        assert me.status_code == 200 and me.json()["qr_code"] == body["result"]["qr_code"]

        # login with a wrong password: completed, the refusal as the sync route's error body
        r = c.post("/api/guest/login-v2", json=login_body(web, guest, password=WRONG_PASSWORD))
        login_job = r.json()["jobId"]
        _work_one(web)
        refused = c.get(f"/api/guest/status/{login_job}").json()
        assert refused["status"] == "completed"
        assert refused["result"]["success"] is False
        assert refused["result"]["code"] == "invalid_credentials"


def test_v2_routes_validate_like_the_sync_routes(web: LiveServer) -> None:
    bad = {"phone": "12", "firstName": "", "password": "", "eventId": "nope"}
    with web.client() as c:
        sync = c.post("/api/guest/register", json=bad)
        queued = c.post("/api/guest/register-v2", json=bad)
        assert queued.status_code == sync.status_code == 400
        assert queued.json() == sync.json()
        assert c.post("/api/guest/login-v2", json={"phone": "+351912345678"}).status_code == 400
        r = c.post("/api/guest/login-v2", content=b"x", headers={"content-type": "text/plain"})
        assert r.status_code == 415


def test_status_refusals(web: LiveServer) -> None:
    with web.client() as c:
        for path in ("/api/guest/status/nope", "/api/guest/status/" + "0" * 32 + "x"):
            r = c.get(path)
            assert r.status_code == 404 and r.json()["code"] == "job_not_found"
        r = c.get("/api/guest/status/6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11")
        assert r.status_code == 404 and r.json()["code"] == "job_not_found"
        r = c.get("/api/guest/status/6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11?wait=soon")
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "wait"


def test_long_poll_answers_within_100ms_of_the_job_end(
    web: LiveServer, artifacts_dir: Path
) -> None:
    """The one time bound asserted: the held request answers within 100 ms of the job's
    finished_at (the NOTIFY → listener → status read → response path)."""
    gaps = []
    for _ in range(5):
        guest = new_guest()
        web.remember(guest)
        with web.client() as c:
            job_id = c.post("/api/guest/register-v2", json=register_body(web, guest)).json()[
                "jobId"
            ]
        answer: dict[str, Any] = {}

        def hold(job_id: str = job_id, answer: dict[str, Any] = answer) -> None:
            with web.client() as poller:
                response = poller.get(f"/api/guest/status/{job_id}?wait=20")
                answer["at"] = time.time()
                answer["response"] = response

        thread = threading.Thread(target=hold)
        thread.start()
        time.sleep(0.5)  # the request is parked on its subscription
        assert "response" not in answer, "still held while the job waits"
        assert _work_one(web) == {"jobId": job_id, "status": "completed"}
        thread.join(timeout=30)
        response = answer["response"]
        assert response.status_code == 200 and response.json()["status"] == "completed"
        web.secrets.update({response.json()["result"]["qr_code"], response.cookies["gl_session"]})
        finished = job_row(web.db_url, job_id)["finished_at"].timestamp()
        gaps.append(answer["at"] - finished)
    report = ", ".join(f"{gap * 1000:.1f}" for gap in gaps)
    (artifacts_dir / "queue_wakeup_gaps.txt").write_text(f"finished_at → answer (ms): {report}\n")
    assert all(gap <= 0.100 for gap in gaps), f"wake-up gaps (ms): {report}"


def test_long_poll_times_out_with_the_current_status(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        job_id = c.post("/api/guest/login-v2", json=login_body(web, guest)).json()["jobId"]
        r = c.get(f"/api/guest/status/{job_id}?wait=0.5")
        assert r.status_code == 200 and r.json()["status"] == "waiting"
    _work_one(web)


def test_submit_with_wait_answers_when_the_job_ends(web: LiveServer) -> None:
    """register-v2?wait=N: held until a worker ends the job, then the queued keys, the job's
    status with the guest pass, and the session cookie, in one answer."""
    guest = new_guest()
    web.remember(guest)
    answer: dict[str, Any] = {}

    def submit() -> None:
        with web.client() as c:
            answer["response"] = c.post(
                "/api/guest/register-v2?wait=20", json=register_body(web, guest)
            )

    thread = threading.Thread(target=submit)
    thread.start()
    worked = wait_until(lambda: _work_one(web), timeout=10, what="the held submit's job")
    thread.join(timeout=30)
    response = answer["response"]
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == QUEUED_KEYS | STATUS_KEYS
    assert body["jobId"] == body["id"] == worked["jobId"] and body["duplicate"] is False
    assert body["status"] == "completed" and body["result"]["success"] is True
    assert "session_token" not in response.text
    assert response.headers["set-cookie"].startswith("gl_session=")
    web.secrets.update({body["result"]["qr_code"], response.cookies["gl_session"]})
    # the token went to this answer only: a later poll of the job has no cookie
    with web.client() as c:
        again = c.get(f"/api/guest/status/{body['jobId']}")
        assert again.json()["result"]["qr_code"] == body["result"]["qr_code"]
        assert "gl_session" not in again.cookies


def test_submit_with_wait_times_out_with_the_job_still_queued(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        r = c.post("/api/guest/login-v2?wait=0.3", json=login_body(web, guest))
        assert r.status_code == 200
        body = r.json()
        assert set(body) == QUEUED_KEYS | STATUS_KEYS
        assert body["status"] == "waiting" and body["result"] is None
        assert body["id"] == body["jobId"] and "gl_session" not in r.cookies
        twin = c.post("/api/guest/login-v2?wait=0", json=login_body(web, guest)).json()
        assert set(twin) == QUEUED_KEYS  # no wait: answered at once, as without ?wait
        assert twin["jobId"] == body["jobId"] and twin["duplicate"] is True
    assert _work_one(web) == {"jobId": body["jobId"], "status": "completed"}


def test_submit_with_a_bad_wait_queues_nothing(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        for wait in ("soon", "-1", "nan", "inf"):
            r = c.post(f"/api/guest/register-v2?wait={wait}", json=register_body(web, guest))
            assert r.status_code == 400, wait
            assert [e["field"] for e in r.json()["errors"]] == ["wait"]
        first = c.post("/api/guest/register-v2", json=register_body(web, guest)).json()
        assert first["duplicate"] is False  # none of the refused submits left a job
    assert _work_one(web) == {"jobId": first["jobId"], "status": "completed"}


def test_job_waiter_remembers_recently_finished_jobs() -> None:
    """A subscription made after the job's NOTIFY (the held submit learns the job id from the
    enqueue) resolves at once; the memory keeps the last RECENT_DONE ids only."""

    async def run() -> None:
        waiter = JobWaiter("postgresql:///unused")
        waiter._dispatch(CHANNEL_DONE, "job-a")
        with waiter.job_done("job-a") as done:
            assert done.done()
        with waiter.job_done("job-b") as pending:
            assert not pending.done()
            waiter._dispatch(CHANNEL_DONE, "job-b")
            assert pending.done()
        for i in range(RECENT_DONE):
            waiter._dispatch(CHANNEL_DONE, f"later-{i}")
        with waiter.job_done("job-a") as forgotten, waiter.job_done("later-0") as kept:
            assert not forgotten.done() and kept.done()

    asyncio.run(run())


# --- the page: queued path, 503 fallback ------------------------------------------------------


CHROMIUM = Path("/usr/bin/chromium")
PAGE = "/promotor/miguel/festa-verao"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
def test_page_goes_through_the_queue_and_falls_back_on_503(
    pg_server: PgServer, template_db: str, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, Route, expect, sync_playwright

    guest = new_guest(firstName="Inês")
    with (
        live_server(pg_server, template_db, tmp_path) as server,  # in-process workers
        sync_playwright() as p,
    ):
        server.remember(guest)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])

        def log_in(page: Page) -> None:
            page.goto(server.base_url + PAGE)
            page.fill("#phone", guest["phone"])
            page.click("#form-phone button[type=submit]")
            page.fill("#login-password", guest["password"])
            page.click("#form-login button[type=submit]")
            expect(page.locator("#step-qr")).to_be_visible()

        try:
            # register, the submit's answer NOT held (as from a server without ?wait): the
            # page long-polls the job, then shows the QR code
            context = browser.new_context(locale="pt-PT")
            page = context.new_page()
            urls: list[str] = []
            page.on("request", lambda request: urls.append(request.url))
            page.route(
                "**/api/guest/register-v2?wait=25",
                lambda route: route.continue_(url=route.request.url.replace("wait=25", "wait=0")),
            )
            page.goto(server.base_url + PAGE)
            page.fill("#phone", guest["phone"])
            page.click("#form-phone button[type=submit]")
            expect(page.locator("#step-register")).to_be_visible()
            for field in ("firstName", "lastName", "email"):
                page.fill(f"#reg-{field}", guest[field])
            page.fill("#reg-password", guest["password"])
            page.fill("#reg-confirmPassword", guest["password"])
            page.click("#form-register button[type=submit]")
            expect(page.locator("#step-qr")).to_be_visible()
            expect(page.locator("#qr-greeting")).to_contain_text("Inês")
            paths = [u.removeprefix(server.base_url) for u in urls]
            assert "/api/guest/register-v2?wait=25" in paths
            assert any(u.startswith("/api/guest/status/") and "wait=25" in u for u in paths)
            assert "/api/guest/register" not in paths
            qr_code = page.locator("#qr-image").get_attribute("src")
            context.close()

            # login on another device: the held answer carries the guest pass, no long-poll
            context = browser.new_context(locale="pt-PT")
            page = context.new_page()
            urls.clear()
            page.on("request", lambda request: urls.append(request.url))
            log_in(page)
            assert page.locator("#qr-image").get_attribute("src") == qr_code
            paths = [u.removeprefix(server.base_url) for u in urls]
            assert "/api/guest/login-v2?wait=25" in paths
            assert not any(u.startswith("/api/guest/status/") for u in paths)
            assert "/api/guest/login" not in paths
            context.close()

            # login on a third device while the queue answers 503: the synchronous route
            context = browser.new_context(locale="pt-PT")
            page = context.new_page()
            urls.clear()
            page.on("request", lambda request: urls.append(request.url))

            def queue_full(route: Route) -> None:
                route.fulfill(
                    status=503,
                    headers={"Retry-After": "5"},
                    content_type="application/json",
                    body='{"success": false, "code": "queue_full", "error": "Cheio", '
                    '"retry_after": 5}',
                )

            page.route("**/api/guest/login-v2?*", queue_full)
            log_in(page)
            paths = [u.removeprefix(server.base_url) for u in urls]
            assert paths.index("/api/guest/login-v2?wait=25") < paths.index("/api/guest/login")
            assert not any(u.startswith("/api/guest/status/") for u in paths)
            context.close()
        finally:
            browser.close()
