"""The web app: Starlette routes built from routes.ROUTES, each ONE SQL call through the pool.

`guestlist serve` (or `python app.py`) serves it with uvicorn (uvloop + httptools); configuration
from the environment (config.py, docs/config.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
import uvicorn
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from guestlist import cleanup, db
from guestlist.config import Settings, load_settings
from guestlist.logs import configure_logging, flush_logs
from guestlist.monitor import figures, instances
from guestlist.queue import service
from guestlist.web import export, jobs, monitoring, security_headers, shutdown, staff_pages
from guestlist.web.endpoint import ApiEndpoint
from guestlist.web.errors import api_error, error_response
from guestlist.web.middleware import RequestLogMiddleware
from guestlist.web.openapi import build_openapi
from guestlist.web.page import STATIC_DIR, error_page_response
from guestlist.web.routes import ROUTES, ApiRoute

# Background services started with the pool and stopped before it closes: a callable
# (pool, settings) → async context manager, which may yield a dict to add to the lifespan state.
BackgroundService = Callable[[AsyncConnectionPool, Settings], AbstractAsyncContextManager[Any]]
BACKGROUND: list[BackgroundService] = [
    cleanup.running,  # api.cleanup() on a timer when pg_cron does not run it
    figures.sampling,  # a queue sample every 5 s for the load monitor's history
    instances.reporting,  # this instance's request figures to the database every 5 s
    # the LISTEN connection (status long-poll) and, unless RUN_WORKERS=0, the worker pool;
    # yields {"job_waiter": …}
    service.running,
]

# Answers smaller than this go uncompressed: gzip's header and the CPU would cost more than
# the bytes saved (most guest API answers are a few hundred bytes). Level 6: nearly level 9's
# size for the page's text files, at a fraction of its CPU under load.
GZIP_MINIMUM_BYTES = 500
# The hot routes whose answers are small JSON (under GZIP_MINIMUM_BYTES, or a guest pass of
# about a kilobyte) skip the gzip layer altogether: wrapping every answer cost the phone check
# about 6% of its throughput (A/B at 50 VUs: 0.765 → 0.81 x the bare route) for bytes it would
# never compress.
UNCOMPRESSED_PREFIXES = (
    "/api/guest/verify-phone",
    "/api/guest/login",
    "/api/guest/register",
    "/api/guest/status/",
    "/api/door/check-in",
)


class CompressLarge:
    """Starlette's GZipMiddleware for every answer but those of UNCOMPRESSED_PREFIXES."""

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(UNCOMPRESSED_PREFIXES):
            await self.plain(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)


# The route rows: the guest API's, the queued routes', then the monitoring routes.
ALL_ROUTES: tuple[ApiRoute, ...] = (
    *ROUTES,
    *jobs.ROUTES,
    *monitoring.ROUTES,
    *staff_pages.ROUTES,  # the console's and the promoter's pages
    *export.ROUTES,  # the console's CSV export (streamed)
)


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Router-level 404/405 (no route matched): JSON under /api, the pt-PT page elsewhere."""
    status = getattr(exc, "status_code", 500)
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "internal")
    err = api_error(code)
    headers = getattr(exc, "headers", None) or {}
    response = (
        error_response(err) if request.url.path.startswith("/api/") else error_page_response(err)
    )
    response.headers.update(headers)
    return response


class ExactPaths(BaseRoute):
    """The routes without path parameters, found by one dict lookup (path, method) instead of
    Starlette's scan, which tries every route's regex in turn (a few µs for the seventh row).
    It goes first in the route list and answers only what the scan would have given the same
    route: a (path, method) an earlier route also matches is left out, and anything not in
    the dict (405s, parameters, a root_path) falls through to the scan."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.by_key: dict[tuple[str, str], Route] = {}
        for i, route in enumerate(routes):
            if not isinstance(route, Route) or route.param_convertors or not route.methods:
                continue
            for method in route.methods:
                probe = {"type": "http", "path": route.path, "root_path": "", "method": method}
                if not any(r.matches(probe)[0] is Match.FULL for r in routes[:i]):
                    self.by_key.setdefault((route.path, method), route)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.by_key.get((scope["path"], scope["method"]))
            if route is not None:
                # "route" overrides the router's scope["route"] = self: the log and the
                # handle below see the real route
                path_params = dict(scope.get("path_params", {}))
                return Match.FULL, {"endpoint": route.endpoint, "path_params": path_params,
                                    "route": route}  # fmt: skip
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the routes themselves answer this


def build_routes(settings: Settings) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route(r.path, ApiEndpoint(r, settings), methods=[r.method])
        for r in (*ROUTES, *monitoring.ROUTES, *staff_pages.ROUTES)
    ]
    routes += jobs.routes(settings)  # v2 submit (?wait) and status: own endpoints
    routes += export.routes(settings)  # the CSV export streams: its own answer
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    return [ExactPaths(routes), *routes]


# Objects the cyclic collector lets pile up before a young collection (CPython: 700). Requests
# in flight hold thousands of container objects (scopes, frames, psycopg cursors) that each
# collection walks again, and at 700 one ran every few requests: timed with gc.callbacks at 200
# concurrent verify-phone requests, ~25 µs of collections per request (~6% of the app's CPU);
# ~2 µs at 10 000. Nearly everything a request makes is freed by reference counting anyway.
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Once the app has started: what startup made (modules, phonenumbers metadata, the route
    table) lives as long as the process, so it leaves the collector's generations (gc.freeze)
    and no full collection walks it again; young collections run less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    drain = shutdown.Drain()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        pool = db.make_pool(settings)
        await pool.open(wait=True)
        try:
            async with contextlib.AsyncExitStack() as services:
                state: dict[str, Any] = {"pool": pool, "settings": settings, "drain": drain}
                for background in BACKGROUND:
                    extra = await services.enter_async_context(background(pool, settings))
                    if isinstance(extra, dict):  # a service may add lifespan state
                        state.update(extra)
                in_process = state.pop("workers", None)
                if in_process is not None:  # SIGTERM: the workers claim nothing new at once
                    stopping: list[asyncio.Task[None]] = []  # a reference keeps the task alive
                    stop = in_process.stop
                    drain.on_drain(lambda: stopping.append(asyncio.ensure_future(stop())))
                tune_gc()
                yield state
        finally:
            await pool.close()
            flush_logs()

    app = Starlette(
        routes=build_routes(settings),
        # The request log, which also adds the security headers to every answer (its 500s,
        # static files and router 404s included) in its send wrapper; inside it, gzip for
        # answers of GZIP_MINIMUM_BYTES or more when the client accepts it (the page's files,
        # the QR SVG, larger JSON), but not on the hot small-answer routes (CompressLarge). A
        # streamed body (text/event-stream) is left alone.
        middleware=[
            Middleware(RequestLogMiddleware, add_headers=security_headers.secure),
            Middleware(CompressLarge),
        ],
        exception_handlers={HTTPException: _http_exception},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.drain = drain
    app.state.openapi_json = orjson.dumps(build_openapi((*ALL_ROUTES, jobs.STATUS)))
    return app


def serve(settings: Settings | None = None) -> None:
    """Serve the app with uvicorn until stopped (`guestlist serve`, `python app.py`)."""
    settings = settings or load_settings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # web/middleware.py logs the route template, never the path
        log_config=None,  # uvicorn's loggers write through logs.configure_logging's JSON handler
        proxy_headers=False,  # X-Forwarded-* are read by inputs.py, from TRUSTED_PROXIES only
        server_header=False,
        # longer than clients' and proxies' own idle timeouts (nginx 60 s): they close an idle
        # connection first, never sending a request on one the server is closing (docs/config.md)
        timeout_keep_alive=settings.keep_alive_seconds,
        log_level=settings.log_level,
        # answers in flight once the port is closed: what SHUTDOWN_TIMEOUT leaves (shutdown.py)
        timeout_graceful_shutdown=shutdown.graceful_timeout(
            settings.shutdown_timeout, settings.shutdown_drain_seconds
        ),
    )
    server = shutdown.DrainingServer(
        config, app.state.drain, settings.shutdown_timeout, settings.shutdown_drain_seconds
    )
    server.run()
