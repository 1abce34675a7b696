"""The one middleware: times and logs every HTTP request (one JSON line: method, route template,
status, duration, request id), feeds the same numbers to the load figures, answers
X-Request-ID, and turns an exception that escapes the app into the generic 500.

Never the path (it can hold a QR code), the query string, a body, a header value or an address
in the line: nothing a guest typed reaches the log. Errors add only the exception class and
SQLSTATE (`errors.ApiError.log_hint`), never its message.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guestlist.logs import log_request
from guestlist.monitor import figures
from guestlist.web.errors import api_error, from_exception

LOG_SCOPE_KEY = "guestlist.log"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ids = random.Random()


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
            now = time.time()
            figures.observe(scope, fields, now)  # whatever the log level
            log_request(fields, now)
