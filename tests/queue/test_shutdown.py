"""Graceful stop on SIGTERM, with real processes: `guestlist worker` finishes the job in hand or
gives it back (rolled back, done once by another worker), and `python app.py` answers /readyz
503 at once, answers its held long-polls with the job's current status (the page polls again),
finishes its in-process worker's job, and exits 0 within SHUTDOWN_TIMEOUT.

A job is held "mid-job" by the test holding the event's row (the job's guest insert waits on
it), as in test_workers.py. The process-exit waits are failure guards (SHUTDOWN_TIMEOUT plus
slack for a loaded machine), not timings."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.queue.jobs import job_row, qq, rows, wait_until
from tests.queue.test_workers import (
    enqueue,
    phone,
    register_payload,
    scalar,
    status,
    weak_hash,  # noqa: F401  (a fixture)
    worker_process,
)
from tests.support.database import PgServer
from tests.support.server import live_server, new_guest, register_body

SHUTDOWN_TIMEOUT = 6
SLACK = 20  # a loaded test machine: the guard, not the bound under test


def _blocked_worker(db_url: str) -> list[int]:
    return [
        r["pid"]
        for r in rows(db_url, "queue_test_worker_backends")
        if r["wait_event_type"] == "Lock"
    ]


def test_a_stopped_worker_finishes_its_job_and_exits_0(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    web = web_conn_factory()
    with psycopg.connect(db_url) as lock:
        lock.execute(qq("queue_test_lock_event"), {"event_id": demo["eventId"]})
        job = enqueue(web, "register", register_payload(demo, 1))
        with worker_process(
            db_url, tmp_path / "w.log", SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT)
        ) as proc:
            wait_until(lambda: _blocked_worker(db_url), 30, "the worker to block mid-job")
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert proc.poll() is None, "the job in hand is not dropped"
            lock.rollback()  # the job can go on
            assert proc.wait(timeout=SHUTDOWN_TIMEOUT + SLACK) == 0
    done = job_row(db_url, job["jobId"])
    assert done["status"] == "completed" and done["attempts"] == 1
    assert f":{proc.pid}:" in done["worker"]
    assert scalar(db_url, "queue_test_accounts_with_phone", phone=phone(1)) == 1


def test_a_worker_stuck_past_the_bound_gives_its_job_back(
    db_url: str,
    demo: dict[str, str],
    web_conn_factory: Callable[..., psycopg.Connection],
    weak_hash: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    web = web_conn_factory()
    log_path = tmp_path / "w.log"
    with psycopg.connect(db_url) as lock:
        lock.execute(qq("queue_test_lock_event"), {"event_id": demo["eventId"]})
        job = enqueue(web, "register", register_payload(demo, 2))
        with worker_process(db_url, log_path, SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT)) as first:
            wait_until(lambda: _blocked_worker(db_url), 30, "the worker to block mid-job")
            first.send_signal(signal.SIGTERM)
            # the lock is never released: past SHUTDOWN_TIMEOUT - 2 s the job is cancelled
            assert first.wait(timeout=SHUTDOWN_TIMEOUT + SLACK) == 0
        # the cancelled statement failed the attempt like any temporary error: the job is
        # pending again (delayed: retried after its backoff), its secret kept
        released = job_row(db_url, job["jobId"])
        assert status(web, job)["status"] == "delayed"
        assert released["attempts"] == 1 and released["finished_at"] is None
        assert scalar(db_url, "queue_test_job_has_secret", job_id=job["jobId"]) is True, (
            "the secret is kept for the next worker"
        )
        lock.rollback()
    with worker_process(db_url, log_path) as second:
        wait_until(
            lambda: job_row(db_url, job["jobId"])["finished_at"] is not None, 60, "the job done"
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=SHUTDOWN_TIMEOUT + SLACK) == 0
    done = job_row(db_url, job["jobId"])
    assert done["status"] == "completed" and done["attempts"] == 2
    assert f":{second.pid}:" in done["worker"], "done by the second worker"
    assert scalar(db_url, "queue_test_accounts_with_phone", phone=phone(2)) == 1


def test_a_stopped_app_drains_answers_held_polls_and_exits_0(
    pg_server: PgServer, template_db: str, tmp_path: Path
) -> None:
    """No in-process workers: the job stays waiting. SIGTERM with a 3-second drain: /readyz is
    503 at once while the port still answers; the held submit and the held status poll are
    answered with `waiting` (the page polls again elsewhere); exit status 0."""
    with live_server(
        pg_server,
        template_db,
        tmp_path,
        RUN_WORKERS="0",
        SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT + 4),
        SHUTDOWN_DRAIN_SECONDS="3",
    ) as server:
        guest = new_guest()
        server.remember(guest)
        answers: dict[str, Any] = {}

        def held_submit() -> None:
            with server.client() as client:
                answers["submit"] = client.post(
                    "/api/guest/register-v2?wait=25", json=register_body(server, guest)
                )

        submit = threading.Thread(target=held_submit)
        submit.start()
        # the job row exists: the submit is now held on it
        with psycopg.connect(server.db_url) as conn:
            wait_until(lambda: conn.execute(qq("queue_test_jobs")).fetchall(), 30, "the job queued")
            job_id = str(conn.execute(qq("queue_test_jobs")).fetchall()[0][0])
        with server.client() as client:
            assert client.get("/readyz").status_code == 200
            time.sleep(0.5)
            server.proc.send_signal(signal.SIGTERM)
            submit.join(timeout=SLACK)
            assert not submit.is_alive(), "the held submit was answered at SIGTERM"
            body = answers["submit"].json()
            assert answers["submit"].status_code == 200
            assert body["jobId"] == job_id and body["status"] == "waiting"
            # draining: not ready, but still answering, and a new poll is not held
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json() == {"ready": False}
            polled = client.get(
                f"/api/guest/status/{job_id}?wait=25", headers={"X-Job-Token": body["jobToken"]}
            )
            assert polled.status_code == 200 and polled.json()["status"] == "waiting"
        assert server.proc.wait(timeout=SHUTDOWN_TIMEOUT + 4 + SLACK) == 0
        assert "shutdown_draining" in server.log_text()
        # the job was never touched: another instance's worker does it
        row = job_row(server.db_url, job_id)
        assert row["status"] == "waiting" and row["attempts"] == 0


def test_a_stopped_app_finishes_its_workers_job(
    pg_server: PgServer, template_db: str, tmp_path: Path
) -> None:
    """In-process workers: the job in hand when SIGTERM comes is finished, then exit 0."""
    with live_server(
        pg_server, template_db, tmp_path, SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT)
    ) as server:
        guest = new_guest()
        server.remember(guest)
        with psycopg.connect(server.db_url) as lock:
            lock.execute(qq("queue_test_lock_event"), {"event_id": server.demo["eventId"]})
            with server.client() as client:
                queued = client.post("/api/guest/register-v2", json=register_body(server, guest))
            assert queued.status_code == 200
            job_id = queued.json()["jobId"]
            wait_until(
                lambda: rows(server.db_url, "queue_test_guestlist_backends_locked"),
                30,
                "the app's worker to block mid-job",
            )
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.proc.poll() is None, "the job in hand is not dropped"
            with pytest.raises(httpx.HTTPError):  # the port closed at once (no drain delay)
                httpx.get(f"{server.base_url}/readyz", timeout=2)
            lock.rollback()
            assert server.proc.wait(timeout=SHUTDOWN_TIMEOUT + SLACK) == 0
        done = job_row(server.db_url, job_id)
        assert done["status"] == "completed" and done["attempts"] == 1
