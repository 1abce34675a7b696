"""The queued routes over real HTTP (app.py without in-process workers: the tests work each
job by hand): login-v2/register-v2 and the status route, their refusals, and the long-poll's
wake-up (the one time bound asserted: the answer within 100 ms of the job's end)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from guestlist.queries import q
from guestlist.web.jobs import JOB_NOT_FOUND
from tests.queue.jobs import job_row, qq, wait_until, work
from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, login_body, new_guest, register_body

WRONG_PASSWORD = "Errada123"


# --- over HTTP: the v2 routes and the long-poll ---------------------------------------------------


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """app.py without in-process workers (RUN_WORKERS=0): the tests decide when a job is done.
    One held answer per client (LONG_POLLS_PER_CLIENT=1), an hour of hold for admission; each
    test client has an address of its own."""
    with live_server(
        pg_server,
        template_db,
        tmp_path_factory.mktemp("web_queue"),
        # jobs are worked by hand, a few a minute: admission by that drain rate would refuse
        # the next submit (a test of its own covers it); an hour's hold admits these
        settings={"queue_hold_seconds": "3600"},
        RUN_WORKERS="0",
        LONG_POLLS_PER_CLIENT="1",
    ) as server:
        yield server
        log = server.log_text()
        for secret in server.pii | server.secrets:
            assert secret not in log, "a guest's data reached the log"


# what login-v2/register-v2 answer, and what GET status (and a held submit) adds
QUEUED_KEYS = {
    "success", "jobId", "jobToken", "message", "estimatedTime", "estimatedSeconds", "duplicate"
}  # fmt: skip
STATUS_KEYS = {"id", "status", "result", "error", "createdAt", "processedAt", "finishedAt"}
GUEST_PASS_KEYS = {"success", "guest_id", "qr_code", "first_name", "message", "recovered", "event"}


def owner(job: dict[str, Any]) -> dict[str, str]:
    """The header that reads a job: its submitter's token."""
    return {"X-Job-Token": job["jobToken"]}


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
        assert again["jobToken"] != queued["jobToken"]

        pending = c.get(f"/api/guest/status/{job_id}", headers=owner(queued))
        assert pending.status_code == 200
        assert pending.json()["status"] == "waiting" and pending.json()["result"] is None
        assert "gl_session" not in pending.cookies

        assert _work_one(web) == {"jobId": job_id, "status": "completed"}
        done = c.get(f"/api/guest/status/{job_id}", headers=owner(queued))
        body = done.json()
        assert set(body) == STATUS_KEYS
        assert body["status"] == "completed" and body["id"] == job_id
        assert body["result"]["success"] is True
        assert set(body["result"]) == GUEST_PASS_KEYS
        assert "session_token" not in done.text
        cookie = done.headers["set-cookie"]
        assert cookie.startswith("gl_session=") and "HttpOnly" in cookie
        web.secrets.update({body["result"]["qr_code"], done.cookies["gl_session"]})

        # the returning device's cookie works like the synchronous route's
        me = c.get(f"/api/guest/me/{web.demo['eventId']}")
        assert me.status_code == 200 and me.json()["qr_code"] == body["result"]["qr_code"]

        # login with a wrong password: completed, the refusal as the sync route's error body
        r = c.post("/api/guest/login-v2", json=login_body(web, guest, password=WRONG_PASSWORD))
        login_job = r.json()
        _work_one(web)
        refused = c.get(f"/api/guest/status/{login_job['jobId']}", headers=owner(login_job)).json()
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
    token = {"X-Job-Token": "A" * 32}
    with web.client() as c:
        for path in ("/api/guest/status/nope", "/api/guest/status/" + "0" * 32 + "x"):
            r = c.get(path, headers=token)
            assert r.status_code == 404 and r.json()["code"] == "job_not_found"
        unknown = c.get("/api/guest/status/6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11", headers=token)
        assert unknown.status_code == 404 and unknown.json()["code"] == "job_not_found"
        for headers in ({}, {"X-Job-Token": ""}, {"X-Job-Token": "A" * 31 + "="}):
            r = c.get("/api/guest/status/6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11", headers=headers)
            assert r.status_code == 404 and r.json() == unknown.json(), headers
        r = c.get("/api/guest/status/6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11?wait=soon", headers=token)
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
            job = c.post("/api/guest/register-v2", json=register_body(web, guest)).json()
        job_id = job["jobId"]
        answer: dict[str, Any] = {}

        def hold(job: dict[str, Any] = job, answer: dict[str, Any] = answer) -> None:
            with web.client() as poller:
                response = poller.get(
                    f"/api/guest/status/{job['jobId']}?wait=20", headers=owner(job)
                )
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
        job = c.post("/api/guest/login-v2", json=login_body(web, guest)).json()
        r = c.get(f"/api/guest/status/{job['jobId']}?wait=0.5", headers=owner(job))
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
    # the session went to this answer only: a later poll with the same token has no cookie
    with web.client() as c:
        again = c.get(f"/api/guest/status/{body['jobId']}", headers=owner(body))
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


# --- a job belongs to its submitter -----------------------------------------------------------


def _is_not_found(response: httpx.Response, unknown: httpx.Response) -> None:
    """Answered exactly as an unknown job: 404 job_not_found, the same body, no cookie."""
    assert response.status_code == unknown.status_code == 404
    assert response.json() == unknown.json() == {
        "success": False, "code": "job_not_found", "error": JOB_NOT_FOUND
    }  # fmt: skip
    assert "set-cookie" not in response.headers
    assert "qr_code" not in response.text and "first_name" not in response.text


def test_a_stranger_cannot_take_over_a_queued_registration(web: LiveServer) -> None:
    """With no worker running, the guest queues a registration for +351912345670; a stranger
    queues one for the same phone and event with another password and other names. The
    stranger gets a job of their own, cannot read the guest's (no token, their own token, held
    or not, before and after it is done), and is refused the phone; the guest gets their pass
    and their session."""
    real = new_guest(phone="+351 912 345 670", e164="+351912345670")
    web.remember(real)
    stranger_body = register_body(
        web, real, firstName="Mal", lastName="Feitor", email="mal@example.pt", password="Outra12345"
    )
    with web.client() as guest_c, web.client() as stranger_c:
        first = guest_c.post("/api/guest/register-v2", json=register_body(web, real)).json()
        r = stranger_c.post("/api/guest/register-v2", json=stranger_body)
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["jobId"] != first["jobId"] and second["duplicate"] is False
        assert second["jobToken"] != first["jobToken"]

        unknown = stranger_c.get(f"/api/guest/status/{uuid.uuid4()}", headers=owner(second))
        victim = f"/api/guest/status/{first['jobId']}"

        def try_the_guests_job() -> None:
            for path, headers in (
                (victim, {}),
                (victim, owner(second)),
                (victim + "?wait=0.2", owner(second)),
                (victim, {"X-Job-Token": second["jobToken"][::-1]}),
            ):
                _is_not_found(stranger_c.get(path, headers=headers), unknown)

        try_the_guests_job()
        assert _work_one(web) == {"jobId": first["jobId"], "status": "completed"}
        assert _work_one(web) == {"jobId": second["jobId"], "status": "completed"}
        try_the_guests_job()  # the guest pass exists now: still not theirs

        own = stranger_c.get(f"/api/guest/status/{second['jobId']}", headers=owner(second))
        assert own.status_code == 200 and own.json()["status"] == "completed"
        assert own.json()["result"]["code"] == "phone_exists"
        assert "set-cookie" not in own.headers and "qr_code" not in own.text

        done = guest_c.get(victim, headers=owner(first))
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["status"] == "completed" and set(body["result"]) == GUEST_PASS_KEYS
        assert body["result"]["first_name"] == "Ana"
        assert done.headers["set-cookie"].startswith("gl_session=")
        web.secrets.update({body["result"]["qr_code"], done.cookies["gl_session"]})
        me = guest_c.get(f"/api/guest/me/{web.demo['eventId']}")
        assert me.status_code == 200 and me.json()["qr_code"] == body["result"]["qr_code"]
        # the stranger's cookie jar never got a session
        assert stranger_c.get(f"/api/guest/me/{web.demo['eventId']}").status_code == 401


def test_a_wrong_password_login_never_reads_the_guests_job(web: LiveServer) -> None:
    guest = new_guest()
    web.remember(guest)
    with web.client() as guest_c, web.client() as stranger_c:
        assert (
            guest_c.post("/api/guest/register", json=register_body(web, guest)).status_code == 200
        )
        guest_c.cookies.clear()
        first = guest_c.post("/api/guest/login-v2", json=login_body(web, guest)).json()
        wrong = login_body(web, guest, password=WRONG_PASSWORD)
        second = stranger_c.post("/api/guest/login-v2", json=wrong).json()
        assert second["jobId"] != first["jobId"] and second["duplicate"] is False

        unknown = stranger_c.get(f"/api/guest/status/{uuid.uuid4()}", headers=owner(second))
        victim = f"/api/guest/status/{first['jobId']}"
        _is_not_found(stranger_c.get(victim, headers=owner(second)), unknown)
        _work_one(web)
        _work_one(web)
        _is_not_found(stranger_c.get(victim, headers=owner(second)), unknown)
        _is_not_found(stranger_c.get(victim), unknown)

        own = stranger_c.get(f"/api/guest/status/{second['jobId']}", headers=owner(second))
        assert own.json()["result"]["code"] == "invalid_credentials"
        assert "set-cookie" not in own.headers and "qr_code" not in own.text

        done = guest_c.get(victim, headers=owner(first))
        assert done.json()["result"]["success"] is True
        assert done.headers["set-cookie"].startswith("gl_session=")
        web.secrets.update({done.json()["result"]["qr_code"], done.cookies["gl_session"]})


def test_a_job_whose_secret_is_gone_fails_and_asks_to_submit_again(web: LiveServer) -> None:
    """What a crash does to a pending job (the unlogged side table is emptied): the job fails
    with the stable code job_expired and a pt-PT message, not retried, no session."""
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        job = c.post("/api/guest/login-v2", json=login_body(web, guest)).json()
        with psycopg.connect(web.db_url, autocommit=True) as admin:
            admin.execute(qq("queue_test_delete_secret"), {"job_id": job["jobId"]})
        assert _work_one(web) == {"jobId": job["jobId"], "status": "failed"}
        r = c.get(f"/api/guest/status/{job['jobId']}", headers=owner(job))
        assert r.status_code == 200 and "set-cookie" not in r.headers
        body = r.json()
        message = "O teu pedido expirou antes de ser processado. Submete-o novamente."
        assert body["status"] == "failed" and body["error"] == message
        assert body["result"] == {"success": False, "code": "job_expired", "error": message}
    assert job_row(web.db_url, job["jobId"])["attempts"] == 1


def test_one_client_holds_a_bounded_number_of_long_polls(web: LiveServer) -> None:
    """LONG_POLLS_PER_CLIENT=1 here: while a client's long-poll is held, its next one is
    refused (429, Retry-After) and its held submit answers at once; a plain read still
    answers; once the held one ends, the client may hold one again."""
    guest = new_guest()
    web.remember(guest)
    ip = web.new_ip()
    with web.client(ip=ip) as c:
        job = c.post("/api/guest/login-v2", json=login_body(web, guest)).json()
    path = f"/api/guest/status/{job['jobId']}"
    held: dict[str, Any] = {}

    def hold() -> None:
        with web.client(ip=ip) as poller:
            held["response"] = poller.get(path + "?wait=20", headers=owner(job))

    def park_first() -> threading.Thread:
        thread = threading.Thread(target=hold)
        thread.start()
        return thread

    thread = park_first()
    with web.client(ip=ip) as c:

        def probe() -> httpx.Response | None:
            """A second long-poll: refused once the first is parked. Until then it is held
            itself (1 s: at most 12, under this client's 20 status reads a minute), and if the
            first came while it was held, the first was the one refused: park it again."""
            nonlocal thread
            r = c.get(path + "?wait=1", headers=owner(job))
            if r.status_code == 429:
                return r
            if not thread.is_alive():
                assert held.pop("response").status_code == 429
                thread = park_first()
            return None

        refused = wait_until(probe, 12, "the second long-poll to be refused")
        assert refused.json()["code"] == "rate_limited" and refused.headers["Retry-After"] == "1"
        plain = c.get(path, headers=owner(job))
        assert plain.status_code == 200 and plain.json()["status"] == "waiting"
        other = new_guest()
        web.remember(other)
        submitted = c.post("/api/guest/login-v2?wait=20", json=login_body(web, other))
        assert submitted.status_code == 200 and set(submitted.json()) == QUEUED_KEYS
        assert "response" not in held, "the first is still held"
    _work_one(web)
    _work_one(web)
    thread.join(timeout=30)
    assert held["response"].status_code == 200 and held["response"].json()["status"] == "completed"
    with web.client(ip=ip) as c:
        again = c.get(path + "?wait=0.2", headers=owner(job))
        assert again.status_code == 200 and again.json()["status"] == "completed"


def test_status_is_rate_limited_per_client(web: LiveServer) -> None:
    """RATE_LIMIT_PER_MINUTE=20 here: the 21st status read of a client in a minute is 429;
    another client is not affected."""
    guest = new_guest()
    web.remember(guest)
    with web.client() as c:
        job = c.post("/api/guest/login-v2", json=login_body(web, guest)).json()
    path = f"/api/guest/status/{job['jobId']}"
    for _ in range(2):  # 21 reads straddling a minute's end start a new window: once more
        with web.client() as c:
            codes = [c.get(path, headers=owner(job)).status_code for _ in range(21)]
        if 429 in codes:
            break
    assert codes == [200] * 20 + [429]
    with web.client() as c:
        assert c.get(path, headers=owner(job)).status_code == 200
    _work_one(web)
