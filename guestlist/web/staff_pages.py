"""The staff's pages: the console (/organizador, and its invite page /organizador/convite, whose
token travels after '#', so it never reaches a server or its logs) and the promoter's page
(/promotor/painel). Each is a static HTML file holding no data: its script asks the console API
(/api/staff/…, /api/console/…, /api/promoter/…) with the staff cookie."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from guestlist.config import Settings
from guestlist.web import readers as read
from guestlist.web.page import STATIC_DIR
from guestlist.web.readers import Params
from guestlist.web.routes import ApiRoute

_CONSOLE_HTML = (STATIC_DIR / "console.html").read_text(encoding="utf-8")
_PROMOTER_HTML = (STATIC_DIR / "promoter.html").read_text(encoding="utf-8")


def _html(text: str) -> HTMLResponse:
    # no-store: the page itself holds nothing private, but a shared computer's back button
    # should not show a console after "Terminar sessão"
    return HTMLResponse(text, headers={"Cache-Control": "no-store"})


def console_page(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return _html(_CONSOLE_HTML)


def promoter_page(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return _html(_PROMOTER_HTML)


# fmt: off
ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("GET", "/organizador", None, read.no_input, console_page,
             "The organizer's console (HTML, pt-PT): login, events, promoters, lists, export.",
             errors_as="html", tags=("console",)),
    ApiRoute("GET", "/organizador/convite", None, read.no_input, console_page,
             "The console's invite page: the token after '#' (never sent), a password to set.",
             errors_as="html", tags=("console",)),
    ApiRoute("GET", "/promotor/painel", None, read.no_input, promoter_page,
             "A promoter's page (HTML, pt-PT): their links, figures, team ranking and guests.",
             errors_as="html", tags=("console",)),
)
# fmt: on
