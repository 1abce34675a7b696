"""Responders, the second half of every route around its one SQL call (routes.py; the first half
is readers.py): the query's result → the HTTP answer, with only the keys a client may see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from guestlist import mail
from guestlist.config import Settings
from guestlist.web import icons, page, qr
from guestlist.web.errors import api_error, from_refusal, json_response
from guestlist.web.inputs import session_token
from guestlist.web.readers import SECURE_SESSION_COOKIE, Params, session_cookie_name

Responder = Callable[[Request, Settings, Params, Any], Response]


def _event(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {k: value.get(k) for k in ("id", "title", "startsAt", "location")}


def phone_answer(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """{exists, user: null, source}: nothing about the owner of a phone (`user` keeps the seed's
    shape; the name is shown after the password)."""
    return json_response(
        {
            "exists": bool(result.get("exists")),
            "user": None,
            "source": result.get("source"),
        }
    )


def _cookie_max_age(expires_at: Any) -> int | None:
    if not isinstance(expires_at, str):
        return None
    try:
        when = datetime.fromisoformat(expires_at)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - datetime.now(UTC)).total_seconds()))


def guest_pass(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """Login/register: a refusal becomes its HTTP error; success answers the guest's pass and
    keeps the session token in an HttpOnly cookie (never in the body)."""
    if not isinstance(result, dict):
        raise api_error("internal")
    if result.get("success") is not True:
        raise from_refusal(result)
    response = json_response(
        {
            "success": True,
            "guest_id": result.get("guest_id"),
            "qr_code": result.get("qr_code"),
            "first_name": result.get("first_name"),
            "message": result.get("message"),
            "recovered": bool(result.get("recovered")),
            "event": _event(result.get("event")),
        }
    )
    token = session_token(result.get("session_token"))
    if token is not None:
        name = session_cookie_name(request, settings)
        response.set_cookie(
            name,
            token,
            max_age=_cookie_max_age(result.get("session_expires_at")),
            path="/",  # no Domain: this host only (required by the __Host- prefix)
            secure=name == SECURE_SESSION_COOKIE,
            httponly=True,
            samesite="lax",
        )
    return response


def logged_out(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """The session is over server-side (or there was none): the browser forgets the cookie."""
    response = json_response({"success": True})
    _forget_session_cookie(request, settings, response)
    return response


def _forget_session_cookie(request: Request, settings: Settings, response: Response) -> None:
    """The browser drops this request's session cookie (logout, erasure)."""
    name = session_cookie_name(request, settings)
    response.delete_cookie(
        name, path="/", secure=name == SECURE_SESSION_COOKIE, httponly=True, samesite="lax"
    )


def page_json(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return json_response(page.public_page(result))


def returning_guest(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    if not isinstance(result, dict):
        raise api_error("internal")
    return json_response(
        {
            "success": True,
            "guest_id": result.get("guest_id"),
            "qr_code": result.get("qr_code"),
            "first_name": result.get("first_name"),
            # the session's own guest: their full name, for the ticket they save
            "last_name": result.get("last_name"),
            "event": _event(result.get("event")),
        }
    )


def session_pass(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """{"guest": the returning device's pass, or null; "session": whether the device holds a
    valid session at all}: never cached, it is this device's."""
    guest = result.get("guest") if isinstance(result, dict) else None
    body = None
    if isinstance(guest, dict):
        body = {
            "guest_id": guest.get("guest_id"),
            "qr_code": guest.get("qr_code"),
            "first_name": guest.get("first_name"),
            "last_name": guest.get("last_name"),
            "event": _event(guest.get("event")),
        }
    session = isinstance(result, dict) and result.get("session") is True
    return json_response({"guest": body, "session": session}, headers={"Cache-Control": "no-store"})


def qr_svg(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    if result is not True:
        raise api_error("qr_not_found")
    return Response(
        qr.render_svg(params["qr_code"]),
        media_type=qr.SVG_MEDIA_TYPE,
        headers={"Cache-Control": "private, max-age=86400"},
    )


def health(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return json_response({"status": "ok"})


def ready(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    ok = isinstance(result, dict) and result.get("ready") is True
    return json_response({"ready": ok}, status=200 if ok else 503)


def openapi_doc(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return Response(request.app.state.openapi_json, media_type="application/json")


def guest_page(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return page.guest_page_response(result)


DATA_FILENAME = "os-meus-dados.json"


def data_download(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """A data export as a JSON file to download (indented for people to read), never cached."""
    if not isinstance(result, dict):
        raise api_error("internal")
    if result.get("success") is not True:
        raise from_refusal(result)
    return Response(
        orjson.dumps(result.get("data"), option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{DATA_FILENAME}"',
            "Cache-Control": "no-store",
        },
    )


def erased(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """An erased account: the counts of what went, and this device's session cookie cleared."""
    if not isinstance(result, dict):
        raise api_error("internal")
    if result.get("success") is not True:
        raise from_refusal(result)
    counts = result.get("erased") if isinstance(result.get("erased"), dict) else {}
    response = json_response(
        {
            "success": True,
            "message": "A tua conta foi apagada e os teus dados pessoais foram eliminados.",
            "erased": {k: v for k, v in counts.items() if isinstance(v, int)},
        },
        headers={"Cache-Control": "no-store"},
    )
    _forget_session_cookie(request, settings, response)
    return response


# The guest page as an installable app (static/guest-sw.js keeps the pass offline). The worker is
# served from the root so that it may control /promotor/ (a script's scope cannot be wider than
# its folder); never cached by HTTP, so a new version reaches devices at their next visit.
SERVICE_WORKER = (page.STATIC_DIR / "guest-sw.js").read_bytes()
SERVICE_WORKER_SCOPE = "/promotor/"
MANIFEST_MEDIA_TYPE = "application/manifest+json"
THEME_COLOR = "#047857"


def service_worker(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    return Response(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": SERVICE_WORKER_SCOPE},
    )


def manifest(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """The web app manifest of one guest page: installed, it opens that promoter link (the pass
    is there, offline too). Icons from this origin only."""
    data = page.public_page(result)
    title = (data.get("event") or {}).get("title") or page.PAGE_TITLE
    start = f"/promotor/{params['promoter']}/{params['event']}"  # slugs: [a-z0-9-] (readers)
    body = {
        "id": start,
        "name": f"{title} · {page.PAGE_TITLE}",
        "short_name": title[:24],
        "lang": "pt-PT",
        "start_url": start,
        "scope": SERVICE_WORKER_SCOPE,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "description": f"O teu código de entrada para {title}, também sem rede.",
        "orientation": "portrait",
        "icons": icons.manifest_icons(),
    }
    return Response(
        orjson.dumps(body), media_type=MANIFEST_MEDIA_TYPE, headers={"Cache-Control": "no-cache"}
    )


def icon(request: Request, settings: Settings, params: Params, result: Any) -> Response:
    """An app icon (PNG), drawn once per process; the same bytes for everyone, cached a day."""
    size, maskable = icons.ICONS[params["icon"]]
    return Response(
        icons.icon_png(size, maskable),
        media_type=icons.PNG_MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=86400"},
    )


RESET_REQUESTED = (
    "Se este número tiver conta, enviámos um email para o endereço da conta com um link para "
    "definires uma nova palavra-passe. O link é válido durante 30 minutos. Não chegou? Vê a "
    "pasta de spam ou pede outro daqui a um minuto."
)
RESET_LINK_FRAGMENT = "#redefinir="


def password_reset_requested(
    request: Request, settings: Settings, params: Params, result: Any
) -> Response:
    """The same answer whether or not the phone has an account (nothing in it, its status or
    its timing says which); the mail, when there is one, goes after the answer (a background
    task), so sending it adds nothing to the answer's time. The link opens the guest page it
    came from with the token in the fragment, which browsers send to no server (no access log,
    no Referer); its origin is PUBLIC_URL, else (a plain-http deployment without mail) this
    request's own."""
    if not isinstance(result, dict):
        raise api_error("internal")
    response = json_response(
        {"success": True, "message": RESET_REQUESTED}, headers={"Cache-Control": "no-store"}
    )
    sent = result.get("mail")
    if isinstance(sent, dict):
        origin = settings.mail.public_url or str(request.base_url).rstrip("/")
        reset = mail.ResetMail(
            to=str(sent.get("to")),
            first_name=str(sent.get("firstName")),
            link=f"{origin}{result.get('pagePath')}{RESET_LINK_FRAGMENT}{sent.get('token')}",
            expires_at=str(sent.get("expiresAt")),
        )
        response.background = BackgroundTask(mail.deliver_reset, settings, reset)
    return response


def password_reset_done(
    request: Request, settings: Settings, params: Params, result: Any
) -> Response:
    """A new password is set and every session of the account has ended: the guest logs in
    with it (the page goes to its login step)."""
    if not isinstance(result, dict) or result.get("success") is not True:
        raise api_error("internal")
    return json_response(
        {
            "success": True,
            "message": "Palavra-passe alterada. Entra com o teu número e a nova palavra-passe.",
        },
        headers={"Cache-Control": "no-store"},
    )
