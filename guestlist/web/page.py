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


def error_page_response(err: ApiError) -> HTMLResponse:
    title, text = _MESSAGES.get(err.status, ("Algo correu mal", err.message))
    if err.status >= 500 and err.status not in _MESSAGES:
        text = "Ocorreu um erro. Tenta novamente daqui a pouco."
    body = _MESSAGE_TEMPLATE.replace("{{title}}", html.escape(title)).replace(
        "{{message}}", html.escape(text)
    )
    return HTMLResponse(body, status_code=err.status, headers=err.headers())
