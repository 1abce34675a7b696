"""The queued guest API: answer at once with a job id, let a worker do the job.

* `POST /api/guest/login-v2`, `POST /api/guest/register-v2` — the synchronous routes' body
  validation (readers.LOGIN_BODY / REGISTER_BODY), then ONE call, api.enqueue_guest_job:
  `{success: true, jobId, jobToken, message, estimatedTime, estimatedSeconds, duplicate}`; the
  jobToken is the only way to read the job (each submission gets its own). With `?wait=N`
  (seconds, at most 25) the answer is held until the job ends or the time is up, and carries
  the job's status too (the keys of GET status below): a page gets its guest pass in one round
  trip instead of two. The job is accepted either way; a client that got no finished status
  long-polls GET status with the jobId.
* `GET /api/guest/status/{job_id}[?wait=N]` with header `X-Job-Token: <jobToken>` — `{id,
  status, result, error, createdAt, processedAt, finishedAt}`; no token or another job's: 404
  job_not_found, as for an unknown id. With `wait` the answer is held until the job ends or the
  time is up, woken by the process's one LISTEN connection (notify.JobWaiter); one client holds
  at most LONG_POLLS_PER_CLIENT such answers at once (429 past that). A completed job's guest
  pass is shown as the synchronous route shows it (same keys, and the HttpOnly session cookie
  the first time that token reads it, token never in the body); a refusal as the synchronous
  route's error body.

Both are served by the one endpoint class with an answer of their own (`routes()`): a held
answer is not one SQL call (enqueue or read, wait, read). The rows in ROUTES and STATUS
document them (openapi.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from guestlist import db
from guestlist.config import Settings
from guestlist.queue.listener import JobWaiter
from guestlist.web import readers, responders
from guestlist.web.endpoint import Answer, ApiEndpoint
from guestlist.web.errors import (
    ApiError,
    api_error,
    field_error,
    from_exception,
    invalid_input,
    json_response,
)
from guestlist.web.inputs import client_key
from guestlist.web.middleware import note
from guestlist.web.routes import BODY_REFUSALS, BUSY_REFUSALS, ApiRoute

MAX_WAIT_SECONDS = 25.0
FINISHED = frozenset({"completed", "failed"})
STATUS_PATH = "/api/guest/status/{job_id}"
JOB_TOKEN_HEADER = "x-job-token"
JOB_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")  # app._new_job_token: 24 bytes, base64url
# api.guest_job_status's own message: a 404 answered without SQL reads exactly as one from SQL
JOB_NOT_FOUND = "Pedido não encontrado. Submete o formulário novamente."
MSG_WAIT = "Indica em wait um número de segundos, de 0 a 25."

_MESSAGES = {
    "login": "Pedido de entrada recebido. A processar…",
    "register": "Registo recebido. A processar…",
}


# --- enqueue -----------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@dataclass(frozen=True)
class QueuedBody(readers.JsonBody):
    """The synchronous route's body reader; its parameters become the job's payload."""

    kind: str = "login"

    async def __call__(self, request: Request, settings: Settings) -> readers.Params:
        params = await super().__call__(request, settings)
        client_key = params.pop("client_key")
        payload = {k: _json_value(v) for k, v in params.items() if v is not None}
        # a login's device session: checked at enqueue, never part of the payload
        session = readers.request_session_token(request, settings) if self.kind == "login" else None
        return {
            "kind": self.kind,
            "payload": Jsonb(payload),
            "client_key": client_key,
            "session_token": session,
        }


def queued_body(params: readers.Params, result: Any) -> dict[str, Any]:
    """{success, jobId, jobToken, message, estimatedTime, estimatedSeconds, duplicate} (the
    seed's keys, and the token that reads the job)."""
    if not isinstance(result, dict) or not result.get("jobId") or not result.get("jobToken"):
        raise api_error("internal")
    seconds = result.get("estimatedSeconds")
    seconds = seconds if isinstance(seconds, int) and seconds > 0 else 1
    return {
        "success": True,
        "jobId": result["jobId"],
        "jobToken": result["jobToken"],
        "message": _MESSAGES[params["kind"]],
        "estimatedTime": f"{seconds}-{seconds + 2} segundos",
        "estimatedSeconds": seconds,
        "duplicate": bool(result.get("duplicate")),
    }


def queued(request: Request, settings: Settings, params: readers.Params, result: Any) -> Response:
    return json_response(queued_body(params, result))


_QUEUE = ("rate_limited", "queue_full", *BUSY_REFUSALS)

WAIT_PARAM: dict[str, Any] = {
    "name": "wait",
    "in": "query",
    "required": False,
    "description": f"Seconds to hold the answer until the job ends (more than "
    f"{MAX_WAIT_SECONDS:g} is cut to {MAX_WAIT_SECONDS:g}).",
    "schema": {"type": "number", "minimum": 0, "default": 0},
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "POST",
        "/api/guest/login-v2",
        "queue_enqueue",
        QueuedBody(readers.LOGIN_BODY, kind="login"),
        queued,
        "Queue a login; ?wait=N (≤ 25 s) holds the answer until the job ends, else poll "
        "/api/guest/status/{job_id} with the answer's jobToken for the guest pass.",
        refusals=(*BODY_REFUSALS, *_QUEUE),
        response_schema="QueuedJob",
        params=(WAIT_PARAM,),
    ),
    ApiRoute(
        "POST",
        "/api/guest/register-v2",
        "queue_enqueue",
        QueuedBody(readers.REGISTER_BODY, kind="register"),
        queued,
        "Queue a registration; ?wait=N (≤ 25 s) holds the answer until the job ends, else poll "
        "/api/guest/status/{job_id} with the answer's jobToken for the guest pass.",
        refusals=(*BODY_REFUSALS, *_QUEUE),
        response_schema="QueuedJob",
        params=(WAIT_PARAM,),
    ),
)


# --- status (long-poll) -------------------------------------------------------------------------


def read_wait(request: Request) -> float:
    """`?wait=N`: seconds to hold the answer, 0 … 25 (more is cut to 25); else 400."""
    raw = request.query_params.get("wait", "0").strip() or "0"
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not math.isfinite(wait) or wait < 0:
        raise invalid_input([field_error("wait", "invalid", MSG_WAIT)])
    return min(wait, MAX_WAIT_SECONDS)


async def read_status(request: Request, settings: Settings) -> readers.Params:
    """The job id and its X-Job-Token (either malformed or missing → 404 job_not_found, no
    SQL: the answer for an unknown job), `wait` seconds (0 … 25) and the client key."""
    try:
        job_id = str(uuid.UUID(request.path_params["job_id"]))
    except ValueError:
        raise api_error("job_not_found", JOB_NOT_FOUND) from None
    token = request.headers.get(JOB_TOKEN_HEADER, "")
    if not JOB_TOKEN_RE.match(token):
        raise api_error("job_not_found", JOB_NOT_FOUND)
    return {
        "job_id": job_id,
        "job_token": token,
        "wait": read_wait(request),
        "client_key": client_key(request.scope, settings.trusted_proxies),
    }


def _finished(status: Any) -> bool:
    return isinstance(status, dict) and status.get("status") in FINISHED


async def poll_status(
    request: Request,
    job_id: str,
    job_token: str,
    wait: float,
    rate_key: str | None = None,
    just_queued: bool = False,
) -> Any:
    """api.guest_job_status, held until the job ends or `wait` seconds pass. Subscribes before
    each read, so a NOTIFY between the read and the wait is not lost. `just_queued`: the job
    was queued a moment ago, so the first read is skipped and the first wait comes first (the
    waiter's memory of recently finished jobs covers one that ended before the subscription).
    `rate_key` (the client key) goes with the first read only: one request, one hit of the
    rate limit."""
    pool = request.state.pool
    waiter: JobWaiter | None = getattr(request.state, "job_waiter", None)
    drain = getattr(request.state, "drain", None)
    params = {"job_id": job_id, "job_token": job_token, "client_key": rate_key}
    if waiter is None or wait <= 0 or (drain is not None and drain.draining):
        # a stopping process holds nothing: the current status, and the page polls again
        return await db.call(pool, "queue_job_status", params)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    read = not just_queued
    while True:
        with waiter.job_done(job_id) as done:
            if read:
                status = await db.call(pool, "queue_job_status", params)
                params = {**params, "client_key": None}
                stopping = drain is not None and drain.draining
                if _finished(status) or deadline - loop.time() <= 0 or stopping:
                    return status
            read = True
            waits: set[asyncio.Future[Any]] = {done}
            if drain is not None:
                waits.add(drain.stopped())  # SIGTERM: answer now with the current status
            await asyncio.wait(
                waits, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
            )
        # woken (the job ended, the listener reconnected or the process is stopping) or out of
        # time: read again


def _guest_result(
    request: Request, settings: Settings, result: Any
) -> tuple[dict[str, Any] | None, list[tuple[bytes, bytes]]]:
    """The job's result as the synchronous route answers it (responders.guest_pass: the pass or the
    refusal's error body) and that route's Set-Cookie headers."""
    if result is None:
        return None, []
    try:
        response = responders.guest_pass(request, settings, {}, result)
    except ApiError as err:
        return err.body(), []
    cookies = [(k, v) for k, v in response.raw_headers if k == b"set-cookie"]
    return orjson.loads(response.body), cookies


def job_status(
    request: Request,
    settings: Settings,
    params: readers.Params,
    status: Any,
    base: dict[str, Any] | None = None,
) -> Response:
    """The job's status as the page reads it (after `base`'s keys, if given)."""
    if not isinstance(status, dict):
        raise api_error("internal")
    result, cookies = _guest_result(request, settings, status.get("result"))
    response = json_response(
        {
            **(base or {}),
            "id": status.get("id"),
            "status": status.get("status"),
            "result": result,
            "error": status.get("error"),
            "createdAt": status.get("createdAt"),
            "processedAt": status.get("processedAt"),
            "finishedAt": status.get("finishedAt"),
        }
    )
    response.raw_headers.extend(cookies)
    return response


STATUS: ApiRoute = ApiRoute(
    "GET",
    STATUS_PATH,
    "queue_job_status",
    read_status,
    job_status,
    "A queued job, for the holder of its X-Job-Token only: waiting, active, delayed, completed "
    "(result = the guest pass or the refusal; the first read of a guest pass sets gl_session) or "
    "failed. ?wait=N (≤ 25 s) answers when the job ends.",
    refusals=("invalid_input", "job_not_found", "rate_limited", *BUSY_REFUSALS),
    response_schema="JobStatus",
    params=(
        {
            "name": "X-Job-Token",
            "in": "header",
            "required": True,
            "description": "The jobToken login-v2 / register-v2 answered with this job.",
            "schema": {"type": "string", "pattern": JOB_TOKEN_RE.pattern},
        },
        WAIT_PARAM,
    ),
)


class HeldPolls:
    """How many held answers each client key has right now (this process). A held answer
    costs no connection, only a parked coroutine: the bound keeps one client from parking
    thousands."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._held: Counter[str] = Counter()

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[bool]:
        """Yields whether `key` may hold one more answer (counted until the block ends)."""
        if self.per_client and self._held[key] >= self.per_client:
            yield False
            return
        self._held[key] += 1
        try:
            yield True
        finally:
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]


class QueueFullMemory:
    """The database's last queue_full answer, repeated by this process for at most
    QUEUE_FULL_MEMORY_SECONDS (and never past its Retry-After), its Retry-After counted down,
    without asking the database again. Under a flood most submits are refused; asked of SQL,
    each costs the primary (the one tier that does not scale out) a round trip through the
    pooler, the rate limit, the backlog and the drain rate. Remembered, it costs the instance
    a few hundred microseconds and the primary nothing: SQL sees about one refusal a second per
    instance. The database stays the one judge: the first submit after the memory lapses asks
    it again, and an admission is only ever decided there."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._refusal: ApiError | None = None
        self._until = 0.0  # monotonic: when the memory lapses
        self._retry_at = 0.0  # monotonic: when the refusal's Retry-After ends

    def refusal(self) -> ApiError | None:
        """The remembered refusal, its Retry-After counted down, or None once it lapsed."""
        now = time.monotonic()
        if self._refusal is None or now >= self._until:
            return None
        return dataclasses.replace(
            self._refusal, retry_after=max(1, math.ceil(self._retry_at - now))
        )

    def remember(self, err: ApiError) -> None:
        if err.code != "queue_full" or self.seconds <= 0:
            return
        now = time.monotonic()
        retry = err.retry_after or 1
        self._refusal = dataclasses.replace(err, log_hint=None)
        self._until = now + min(self.seconds, retry)
        self._retry_at = now + retry


def submit(route: ApiRoute, held: HeldPolls, full: QueueFullMemory) -> Answer:
    """login-v2 / register-v2: read `wait` and the body, ONE call (the enqueue); with a wait,
    hold the answer until the job ends (the queued keys plus the job's status). A client
    already holding its bound of answers gets the queued answer at once. While the queue's
    last refusal is remembered (`full`), a valid body is refused without the call."""
    assert route.query is not None

    async def answer(request: Request, settings: Settings) -> Response:
        wait = read_wait(request)  # a bad wait queues nothing
        params = await route.read(request, settings)
        refused = full.refusal()
        if refused is not None:
            raise refused
        try:
            result = await db.call(request.state.pool, route.query, params)
        except Exception as exc:
            err = from_exception(exc)
            full.remember(err)
            raise err from exc
        if wait <= 0:
            return route.respond(request, settings, params, result)
        body = queued_body(params, result)
        with held.hold(params["client_key"]) as allowed:
            if not allowed:
                return json_response(body)
            try:
                # the enqueue counted this request against the rate limit: no client key here
                status = await poll_status(
                    request, body["jobId"], body["jobToken"], wait, just_queued=True
                )
                return job_status(request, settings, params, status, base=body)
            except Exception as exc:  # the job is queued whatever happens now: say so
                note(request.scope, error=from_exception(exc).log_hint)
                return json_response(body)

    return answer


def status(held: HeldPolls) -> Answer:
    """GET status: read, or hold the answer (`?wait`) within the client's bound (429 past it)."""

    async def answer(request: Request, settings: Settings) -> Response:
        params = await read_status(request, settings)
        job = (params["job_id"], params["job_token"])
        if params["wait"] <= 0:
            found = await poll_status(request, *job, 0, params["client_key"])
            return job_status(request, settings, params, found)
        with held.hold(params["client_key"]) as allowed:
            if not allowed:
                raise api_error("rate_limited", retry_after=1)
            found = await poll_status(request, *job, params["wait"], params["client_key"])
            return job_status(request, settings, params, found)

    return answer


def routes(settings: Settings) -> list[Route]:
    """The Starlette routes of ROUTES (submit, with the optional wait) and STATUS, sharing one
    bound on held answers per client and, for the submits, one memory of the queue's refusal
    (one queue behind both)."""
    held = HeldPolls(settings.long_polls_per_client)
    full = QueueFullMemory(settings.queue_full_memory_seconds)
    out = [
        Route(r.path, ApiEndpoint(r, settings, submit(r, held, full)), methods=[r.method])
        for r in ROUTES
    ]
    out.append(Route(STATUS_PATH, ApiEndpoint(STATUS, settings, status(held)), methods=["GET"]))
    return out
