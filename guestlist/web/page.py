"""The guest page's HTML: static/guest.html with the page data inlined as a JSON data block
(`<script type="application/json" id="page-data">`, inert under the CSP), and the pt-PT
message page (404 and other errors) from static/message.html."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import orjson
from starlette.responses import HTMLResponse

from guestlist.web.errors import ApiError

STATIC_DIR = Path(__file__).with_name("static")
_GUEST_TEMPLATE = (STATIC_DIR / "guest.html").read_text(encoding="utf-8")
_MESSAGE_TEMPLATE = (STATIC_DIR / "message.html").read_text(encoding="utf-8")
_DOOR_TEMPLATE = (STATIC_DIR / "door.html").read_text(encoding="utf-8")

PAGE_TITLE = "Lista de convidados"

# Titles and texts of the message page, by status (others fall back to the error's message).
_MESSAGES: dict[int, tuple[str, str]] = {
    404: (
        "Página não encontrada",
        "Este link não existe ou já não está disponível. Confirma o endereço com quem to enviou.",
    ),
    429: ("Demasiados pedidos", "Tenta novamente daqui a pouco."),
    503: ("Serviço indisponível", "Estamos com muito movimento. Tenta novamente daqui a pouco."),
    504: ("Serviço indisponível", "Estamos com muito movimento. Tenta novamente daqui a pouco."),
}


def public_page(result: Any) -> dict[str, Any]:
    """Only the keys the page needs from api.resolve_guest_page."""
    if not isinstance(result, dict):
        return {}
    event = result.get("event") if isinstance(result.get("event"), dict) else {}
    org = result.get("organization") if isinstance(result.get("organization"), dict) else {}
    promoter = result.get("promoter") if isinstance(result.get("promoter"), dict) else {}
    return {
        "event": {k: event.get(k) for k in ("id", "title", "startsAt", "location")},
        "organization": {
            "id": org.get("id"),
            "name": org.get("name"),
            # the privacy notice's retention periods (admin.set_retention)
            "accountRetentionMonths": org.get("accountRetentionMonths"),
            "guestRetentionMonths": org.get("guestRetentionMonths"),
        },
        "promoter": {"id": promoter.get("id"), "displayName": promoter.get("displayName")},
        "teamId": result.get("teamId"),
        "guestListOpen": bool(result.get("guestListOpen")),
        "closesAt": result.get("closesAt"),
    }


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` can close or open a tag."""
    text = orjson.dumps(data).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def guest_page_response(result: Any) -> HTMLResponse:
    data = public_page(result)
    title = (data.get("event") or {}).get("title") or PAGE_TITLE
    body = _GUEST_TEMPLATE.replace("{{title}}", html.escape(f"{title} · {PAGE_TITLE}")).replace(
        "{{page_data}}", script_json(data)
    )
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


# --- the door page (/porta/{token}) ----------------------------------------------------------

DOOR_PAGE_TITLE = "Porta"
# The door page's refusal: a link that is unknown, revoked or expired.
DOOR_REFUSED_CODE = "door_invalid"


def door_page_data(result: Any) -> dict[str, Any]:
    """Only what the door page shows before its first API call: the event's title, start and
    minimum age (for the age warning), the door's label (no guest data: the list comes from
    /api/door/list, with the token)."""
    if not isinstance(result, dict):
        return {}
    event = result.get("event") if isinstance(result.get("event"), dict) else {}
    door = result.get("door") if isinstance(result.get("door"), dict) else {}
    return {
        "event": {k: event.get(k) for k in ("id", "title", "startsAt", "minAge")},
        "door": {"label": door.get("label")},
    }


def door_page_response(result: Any, *, status: int = 200) -> HTMLResponse:
    data = door_page_data(result) if status == 200 else {"refused": True}
    title = (data.get("event") or {}).get("title") or DOOR_PAGE_TITLE
    body = _DOOR_TEMPLATE.replace("{{title}}", html.escape(f"{title} · {DOOR_PAGE_TITLE}")).replace(
        "{{door_data}}", script_json(data)
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def error_page_response(err: ApiError) -> HTMLResponse:
    if err.code == DOOR_REFUSED_CODE:
        # the door page itself, saying so: its script wipes this door's offline list and
        # waiting scans from the device, and its service worker drops the cached page
        return door_page_response(None, status=err.status)
    title, text = _MESSAGES.get(err.status, ("Algo correu mal", err.message))
    if err.status >= 500 and err.status not in _MESSAGES:
        text = "Ocorreu um erro. Tenta novamente daqui a pouco."
    body = _MESSAGE_TEMPLATE.replace("{{title}}", html.escape(title)).replace(
        "{{message}}", html.escape(text)
    )
    return HTMLResponse(body, status_code=err.status, headers=err.headers())


# npm's jsqr, installed by scripts/install.sh into the checkout's git-ignored node_modules/ and
# served from there (/vendor/jsQR.js), never copied into the repo.
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
JSQR_FILE = NODE_MODULES / "jsqr" / "dist" / "jsQR.js"
_jsqr: bytes | None = None


def jsqr_script() -> bytes | None:
    """jsQR.js, read once; None when npm has not installed it."""
    global _jsqr
    if _jsqr is None:
        try:
            _jsqr = JSQR_FILE.read_bytes()
        except OSError:
            return None
    return _jsqr
