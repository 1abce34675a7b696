"""The queued routes over real HTTP (app.py without in-process workers: the tests work each
job by hand): login-v2/register-v2 and the status route, their refusals, and the long-poll's
wake-up (the one time bound asserted: the answer within 100 ms of the job's end)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from guestlist.queries import q
from tests.queue.jobs import job_row, wait_until, work
from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, login_body, new_guest, register_body

WRONG_PASSWORD = "Errada123"


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
