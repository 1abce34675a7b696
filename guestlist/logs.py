"""One JSON log line per request: method, route template, status, duration, request id.

Never the path (it can hold a QR code), the query string, a body, a header value or an address:
nothing a guest typed reaches the log. Errors add only the exception class and SQLSTATE
(`errors.ApiError.log_hint`), never its message. Also the last line of defence: an exception
that escapes the app becomes the generic 500.

One write path for every JSON line of the app (`LineWriter`): lines made while the event loop
runs are joined and written to stdout together, at most FLUSH_SECONDS after the first of them
(`loop.call_later`) or sooner when 64 KiB wait, so a burst of requests costs one write and one
flush, not one each; outside a running loop a line is written at once; whatever waits is
written when the app stops (and at exit). The request line itself skips the `logging`
machinery (no LogRecord, no handler locks): `log_request` hands its fields to the request
observers (metrics.py's figures) and writes the line through the handler `configure_logging`
put on the request logger, at that handler's level. Every other line (`guestlist.*` loggers)
goes through `logging` as before, into the same writer.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guestlist.web.errors import api_error, from_exception

LOG_SCOPE_KEY = "guestlist.log"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

logger = logging.getLogger("guestlist.request")
_ids = random.Random()

# Called with each request's log fields and its end time (epoch seconds), whatever the log
# level: metrics.install_request_hook adds the request figures here.
RequestObserver = Callable[[Scope, dict[str, Any], float], None]
REQUEST_OBSERVERS: list[RequestObserver] = []

# Lines made while the loop runs wait at most this long (seconds) before they are written, or
# until this many bytes are waiting: at a few hundred requests a second one write carries
# dozens of lines instead of one.
FLUSH_SECONDS = 0.05
_FLUSH_BYTES = 64 * 1024


# --- the one write path ---------------------------------------------------------------------


class LineWriter:
    """Lines (bytes, newline included) to a text stream, written in batches (see the module
    docstring). Thread-safe; a failed write drops its batch and says so once on stderr.

    Lines are copied into one bytearray as they come: keeping each line's own bytes object
    until the flush cost more than making the line (100 000 request lines in a loop: 3.8 µs a
    line kept as objects, 1.6 µs copied). Written to the stream's bytes layer when it has one
    (stdout): JSON lines are UTF-8 whatever the terminal's encoding."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._failed = False

    def write(self, line: bytes) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            self._buffer += line
            if loop is None or len(self._buffer) >= _FLUSH_BYTES:
                data = self._take()
            else:
                if self._scheduled_on is not loop:
                    self._scheduled_on = loop
                    loop.call_later(FLUSH_SECONDS, self.flush)
                return
        self._write(data)

    def flush(self) -> None:
        with self._lock:
            self._scheduled_on = None
            data = self._take()
        if data:
            self._write(data)

    def _take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _write(self, data: bytes) -> None:
        try:
            binary = getattr(self.stream, "buffer", None)
            if binary is not None:  # stdout: straight to its bytes layer, after its text
                self.stream.flush()
                binary.write(data)
                binary.flush()
            else:
                self.stream.write(data.decode())
                self.stream.flush()
        except Exception:  # closed or broken stdout: never break a request over its log line
            if not self._failed:
                self._failed = True
                with contextlib.suppress(Exception):
                    sys.stderr.write("guestlist: writing the log failed; lines were dropped\n")


_WRITERS: dict[int, LineWriter] = {}


def _writer_for(stream: IO[str]) -> LineWriter:
    """One writer per stream, so lines to the same stdout keep their order."""
    writer = _WRITERS.get(id(stream))
    if writer is None or writer.stream is not stream:
        writer = _WRITERS[id(stream)] = LineWriter(stream)
    return writer


@atexit.register
def flush_logs() -> None:
    """Write whatever is still batched (the app calls it when it stops; atexit too)."""
    for writer in list(_WRITERS.values()):
        writer.flush()


# --- formatting -----------------------------------------------------------------------------

_ts_second = -1
_ts_prefix = ""
# ".000+00:00" … ".999+00:00"; one more ".999" in case a float product rounds up to 1000
_MS_SUFFIX = tuple(f".{min(ms, 999):03d}+00:00" for ms in range(1001))


def _timestamp(now: float) -> str:
    """`2026-05-01T21:30:05.123+00:00` (UTC, milliseconds); the seconds part is cached."""
    global _ts_second, _ts_prefix
    second = int(now)
    if second != _ts_second:
        _ts_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _ts_second = second
    return _ts_prefix + _MS_SUFFIX[int((now - second) * 1000)]


def _line(level: str, event: str, fields: dict[str, Any], now: float) -> bytes:
    line = {"ts": _timestamp(now), "level": level, "event": event, **fields}
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


class JsonLineHandler(logging.Handler):
    """A log record → one JSON line (ts, level, event, then the record's `fields`)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.writer = _writer_for(stream)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = getattr(record, "fields", None)
            line = _line(
                record.levelname.lower(),
                record.getMessage(),
                fields if isinstance(fields, dict) else {},
                record.created,
            )
        except Exception:
            self.handleError(record)
            return
        self.writer.write(line)

    def write_fields(self, event: str, fields: dict[str, Any], now: float) -> None:
        """The request line's fast path: an INFO line without a LogRecord."""
        self.writer.write(_line("info", event, fields, now))


def configure_logging(level: str = "info") -> None:
    """JSON lines on stdout for the app's loggers (idempotent)."""
    for name in ("guestlist.request", "guestlist"):
        log = logging.getLogger(name)
        log.setLevel(level.upper())
        if not any(getattr(h, "_guestlist", False) for h in log.handlers):
            handler = JsonLineHandler(sys.stdout)
            handler._guestlist = True  # type: ignore[attr-defined]
            log.addHandler(handler)
        log.propagate = False


def log_request(scope: Scope, fields: dict[str, Any]) -> None:
    """The request's line and figures: observers first (always), then the line if INFO lines
    are on for the request logger."""
    now = time.time()
    for observe in REQUEST_OBSERVERS:
        try:
            observe(scope, fields, now)
        except Exception:  # a metrics bug must never break a request
            logging.getLogger("guestlist.metrics").exception("request_observer_failed")
    if not logger.isEnabledFor(logging.INFO):
        return
    handlers = logger.handlers
    if len(handlers) <= 2:  # configure_logging's handler (+ metrics' compat handler)
        for handler in handlers:
            if isinstance(handler, JsonLineHandler):
                if handler.level <= logging.INFO:
                    handler.write_fields("request", fields, now)
                return
    # Not configured by configure_logging (a test, an embedding app): through logging, marked
    # so that metrics.RequestFigures does not count it a second time.
    logger.info("request", extra={"fields": fields, "observed": True})


def note(scope: Scope, **fields: Any) -> None:
    """Add fields to this request's log line (e.g. error=ApiError.log_hint)."""
    bucket = scope.get(LOG_SCOPE_KEY)
    if isinstance(bucket, dict):
        bucket.update(fields)


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID_RE.match(text):
                return text
            break
    # 32 hex characters, as uuid4().hex was. Unique, not secret: the process's PRNG (seeded
    # from os.urandom) saves a getrandom system call per request.
    return f"{_ids.getrandbits(128):032x}"


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "-"
    if route.__class__.__name__ == "Mount":
        return path + "/{path}"
    return path


# (scope, an answer's headers) → a NEW list of the headers to send (RequestLogMiddleware adds
# X-Request-ID to it)
HeaderHook = Callable[[Scope, list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]]


class RequestLogMiddleware:
    """Times and logs every HTTP request, answers X-Request-ID, and turns an escaped exception
    into the generic 500. `add_headers` (app.py: security_headers.secure) gets every answer's
    headers in the same send wrapper, so the two jobs cost one middleware layer."""

    def __init__(self, app: ASGIApp, add_headers: HeaderHook | None = None) -> None:
        self.app = app
        self.add_headers = add_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        extra: dict[str, Any] = {}
        scope[LOG_SCOPE_KEY] = extra
        status = 500
        response_started = False
        add_headers = self.add_headers

        async def send_logged(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = message.get("headers", [])
                # a new list either way: the message's own may be shared (Response.raw_headers)
                headers = [*headers] if add_headers is None else add_headers(scope, headers)
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except Exception as exc:  # the generic 500, nothing leaks
            err = from_exception(exc)
            extra.setdefault("error", err.log_hint)
            if not response_started:
                err = err if err.status != 500 else api_error("internal")
                body = orjson.dumps(err.body())
                await send_logged(
                    {
                        "type": "http.response.start",
                        "status": err.status,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send_logged({"type": "http.response.body", "body": body})
        finally:
            fields = {
                "method": scope.get("method"),
                "route": _route_template(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
            }
            if extra:
                fields.update({k: v for k, v in extra.items() if v is not None})
            log_request(scope, fields)
