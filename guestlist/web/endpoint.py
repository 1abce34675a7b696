"""The one endpoint class: the ASGI app behind every route row (routes.ApiRoute).

By default a row is answered by read → ONE SQL call → respond; a row whose answer is more than
that (web/jobs.py: enqueue, then hold the answer until the job ends) passes its own `answer`.
Either way the admin check comes first and every failure goes through the one error mapper
(errors.from_exception), shown the way the row says (JSON, the pt-PT page, or readiness).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from guestlist import db
from guestlist.config import Settings
from guestlist.web import page
from guestlist.web.admin_auth import admin_authorized
from guestlist.web.errors import ApiError, api_error, error_response, from_exception, json_response
from guestlist.web.middleware import note
from guestlist.web.routes import ApiRoute

Answer = Callable[[Request, Settings], Awaitable[Response]]


# How a route's errors are shown (routes.ApiRoute.errors_as).


def errors_as_json(err: ApiError) -> Response:
    return error_response(err)


def errors_as_html(err: ApiError) -> Response:
    return page.error_page_response(err)


def errors_as_not_ready(err: ApiError) -> Response:
    return json_response({"ready": False}, status=503)


_ERROR_RENDERERS: dict[str, Callable[[ApiError], Response]] = {
    "json": errors_as_json,
    "html": errors_as_html,
    "ready": errors_as_not_ready,
}


class ApiEndpoint:
    """read → one SQL call → respond (or the row's own `answer`); every failure goes through
    errors.from_exception.

    A plain ASGI app, which Starlette's Route calls as is: it catches every exception itself,
    so Starlette's per-route wrappers for functions (request_response and
    wrap_app_handling_exceptions: two more layers, two more send wrappers) had nothing left to
    do but cost time on every request."""

    def __init__(self, route: ApiRoute, settings: Settings, answer: Answer | None = None) -> None:
        self.route = route
        self.settings = settings
        self.answer = answer
        self.render_error = _ERROR_RENDERERS[route.errors_as]
        self.__name__ = f"{route.method.lower()}_{route.path}"  # Starlette's route name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, settings = self.route, self.settings
        request = Request(scope, receive, send)
        response: Response
        try:
            if route.admin and not admin_authorized(request.headers, settings.admin_token):
                raise api_error("unauthorized")
            if self.answer is not None:
                response = await self.answer(request, settings)
            else:
                params = await route.read(request, settings)
                result = None
                if route.query is not None:
                    result = await db.call(request.state.pool, route.query, params)
                response = route.respond(request, settings, params, result)
        except Exception as exc:  # the one error mapper decides
            err = from_exception(exc)
            note(scope, code=err.code, error=err.log_hint)
            response = self.render_error(err)
        await response(scope, receive, send)
