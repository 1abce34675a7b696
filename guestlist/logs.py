"""Every log line of the process as one JSON object on stdout: `{ts, level, event, …fields}`.

`configure_logging` puts one handler on the root logger, so the app's loggers (`guestlist.*`)
and the libraries' (uvicorn, psycopg_pool, yoyo…) all write through it; a library's line also
carries its `logger` name, and an exception only its class: never a traceback or an exception
message, which may quote what a guest typed. psycopg's loggers stay at WARNING whatever
LOG_LEVEL says (at INFO psycopg_pool writes a line per connection handed out).

One write path for every line (`LineWriter`): lines made while the event loop runs are joined
and written to stdout together, at most FLUSH_SECONDS after the first of them
(`loop.call_later`) or sooner when 64 KiB wait, so a burst of requests costs one write and one
flush, not one each; outside a running loop a line is written at once; whatever waits is
written when the app stops (and at exit). The request line (web/middleware.py) skips the
`logging` machinery: `log_request` writes it through the configured handler directly.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import sys
import threading
import time
from typing import IO, Any

import orjson

logger = logging.getLogger("guestlist.request")

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
    """A log record → one JSON line (ts, level, event, then the record's `fields`; a record
    from outside the app also its `logger`, and an exception its class)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.writer = _writer_for(stream)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = getattr(record, "fields", None)
            fields = fields if isinstance(fields, dict) else {}
            if not record.name.startswith("guestlist"):
                fields = {"logger": record.name, **fields}
            if record.exc_info and record.exc_info[0] is not None:
                fields["exception"] = record.exc_info[0].__qualname__
            line = _line(record.levelname.lower(), record.getMessage(), fields, record.created)
        except Exception:
            self.handleError(record)
            return
        self.writer.write(line)

    def write_fields(self, event: str, fields: dict[str, Any], now: float) -> None:
        """The request line's fast path: an INFO line without a LogRecord."""
        self.writer.write(_line("info", event, fields, now))


# The loggers that write a line per connection or query at INFO: WARNING at least.
QUIET_LOGGERS = ("psycopg",)

_handler: JsonLineHandler | None = None  # the one configure_logging put on the root logger


def configure_logging(level: str = "info") -> None:
    """JSON lines on stdout for every logger of the process, at `level` (idempotent). Run the
    server with uvicorn's `log_config=None` so that its loggers keep no handler of their own."""
    global _handler
    level_no = logging.getLevelName(level.upper())
    if not isinstance(level_no, int):
        level_no = logging.INFO
    root = logging.getLogger()
    if _handler is None or _handler not in root.handlers:
        _handler = JsonLineHandler(sys.stdout)
        root.addHandler(_handler)
    root.setLevel(level_no)
    for name in ("guestlist", "guestlist.request"):
        app_logger = logging.getLogger(name)
        app_logger.setLevel(level_no)
        app_logger.propagate = True
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # lines that uvicorn's own handlers (plain text) would have written go to the root's
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level_no, logging.WARNING))


def log_request(fields: dict[str, Any], now: float) -> None:
    """The request's line, if INFO lines are on for the request logger: straight to the
    configured handler, else (not configured: a test, an embedding app) through `logging`."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _handler
    if handler is not None and handler.level <= logging.INFO and not logger.handlers:
        handler.write_fields("request", fields, now)
    else:
        logger.info("request", extra={"fields": fields})
