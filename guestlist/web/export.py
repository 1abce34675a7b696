"""The guest list of an event as CSV (GET /api/console/events/{event_id}/export.csv): the one
route that streams. Its row in ROUTES names its query like every other row; its answer
(`streamed_csv`, the endpoint's `answer`, as web/jobs.py's rows have) reads the query's rows
one at a time (libpq's single-row mode, psycopg's `stream`) and sends them in chunks of about
spreadsheet.CHUNK_BYTES, so 20 000 rows never sit in the app's memory at once.

The file's format (BOM, `;`, neutralized formulas): guestlist/spreadsheet.py and docs/export.md.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from guestlist.config import Settings
from guestlist.queries import q
from guestlist.spreadsheet import BOM, HEADER, CsvLines, export_row
from guestlist.web import console as staff
from guestlist.web.endpoint import Answer, ApiEndpoint
from guestlist.web.errors import api_error
from guestlist.web.readers import Params
from guestlist.web.routes import BUSY_REFUSALS, ApiRoute

SAFE_NAME_RE = re.compile(r"[^a-z0-9-]+")


def filename(event_id: str) -> str:
    """A file name safe in any header and file system, made of the event's id (already checked
    as a uuid): nothing a caller typed reaches the header."""
    return f"convidados-{SAFE_NAME_RE.sub('-', event_id.lower()).strip('-')}.csv"


async def _rows(pool: AsyncConnectionPool, name: str, params: Params) -> AsyncIterator[Any]:
    """The query's rows one at a time, on one connection held until the last (or until the
    consumer stops: the generator's close ends the query and gives the connection back)."""
    # The stream is closed explicitly: an abandoned one would hold the connection's lock (and
    # so the connection) until garbage collection; its close cancels the query instead.
    async with pool.connection() as conn, aclosing(conn.cursor().stream(q(name), params)) as rows:
        async for row in rows:
            yield row


def streamed_csv(route: ApiRoute) -> Answer:
    """The endpoint's answer for the export row: read the input (the staff cookie, the event
    id), fetch the first row before answering, so a refusal (no session, an event outside the
    caller's organizations, a promoter's role) is still an ordinary JSON error, then stream."""

    async def answer(request: Request, settings: Settings) -> Response:
        params = await route.read(request, settings)
        assert route.query is not None
        rows = _rows(request.state.pool, route.query, params)
        try:
            first = await anext(rows)
        except StopAsyncIteration:
            first = None
        except BaseException:
            await rows.aclose()
            raise

        async def body() -> AsyncIterator[bytes]:
            try:
                lines = CsvLines()
                lines.add(HEADER)
                if first is not None:
                    lines.add(export_row(first))
                yield (BOM + lines.take()).encode("utf-8")
                if first is not None:
                    async for row in rows:
                        chunk = lines.add(export_row(row))
                        if chunk:
                            yield chunk.encode("utf-8")
                rest = lines.take()
                if rest:
                    yield rest.encode("utf-8")
            finally:
                # A client that leaves cancels this task: the close must still run (shielded),
                # or the query's connection stays out of the pool until garbage collection.
                with anyio.CancelScope(shield=True):
                    await rows.aclose()

        name = filename(str(params["event_id"]))
        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    return answer


def not_streamed(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """Never called: the export row is answered by streamed_csv."""
    raise api_error("internal")


# fmt: off
ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("GET", "/api/console/events/{event_id}/export.csv", "web_console_export_rows",
             staff.StaffQuery(), not_streamed,
             "The event's guest list as CSV for Excel/LibreOffice in pt-PT: UTF-8 with BOM, `;` "
             "separator, CRLF, formula-like cells prefixed with ', times in Lisbon; streamed. "
             "Owner or manager.",
             refusals=("invalid_input", "forbidden", "not_found", "session_invalid",
                       *BUSY_REFUSALS),
             response_schema="Csv", tags=("console",), params=(staff.STAFF_COOKIE_PARAM,)),
)
# fmt: on


def routes(settings: Settings) -> list[Route]:
    """The Starlette routes of ROUTES, each answered by streamed_csv."""
    return [
        Route(r.path, ApiEndpoint(r, settings, streamed_csv(r)), methods=[r.method]) for r in ROUTES
    ]
