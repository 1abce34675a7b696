"""The door page over HTTP (the browser tests drive it): /porta/{token} answers the page for a
live link, the refusal page (401) for a revoked or unknown one and the message page (404) for a
path that cannot be a link; only the door page may use the camera; its QR decoder comes from
node_modules/ and its service worker never caches an API answer; and the token never reaches
the log."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from guestlist.web import page
from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_door_page")) as server:
        yield server


def door_link(web: LiveServer, label: str = "Porta 1") -> dict[str, str]:
    link = web.sql("web_test_door_link", {"event_id": web.demo["eventId"], "label": label})
    web.secrets.add(link["token"])
    return link


def page_data(html: str) -> dict:
    start = html.index('<script type="application/json" id="door-data">') + len(
        '<script type="application/json" id="door-data">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_a_live_link_answers_the_door_page(web: LiveServer) -> None:
    link = door_link(web, "Porta Norte")
    with web.client() as c:
        r = c.get(f"/porta/{link['token']}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert "camera=(self)" in r.headers["permissions-policy"]
    data = page_data(r.text)
    assert data["event"]["title"] == "Festa de Verão"
    assert data["door"]["label"] == "Porta Norte"
    assert not data.get("refused")
    assert '<script src="/vendor/jsQR.js" defer></script>' in r.text
    assert link["token"] not in r.text  # the page reads it from its own address


def test_a_revoked_or_unknown_link_is_refused_without_the_page_data(web: LiveServer) -> None:
    link = door_link(web)
    web.sql("web_test_door_revoke", {"door_id": link["doorId"]})
    unknown = secrets.token_urlsafe(32)
    with web.client() as c:
        for token in (link["token"], unknown):
            r = c.get(f"/porta/{token}")
            assert r.status_code == 401, token
            assert r.headers["content-type"].startswith("text/html")
            assert page_data(r.text) == {"refused": True}  # the page wipes what it kept
            assert "Link da porta inválido" in r.text
    log = web.log_text()
    assert link["token"] not in log and unknown not in log


@pytest.mark.parametrize("path", ["/porta/curto", "/porta/" + "a" * 42, "/porta/" + "é" * 43])
def test_a_path_that_cannot_be_a_link_is_no_page(web: LiveServer, path: str) -> None:
    with web.client() as c:
        r = c.get(path)
    assert r.status_code == 404
    assert "Página não encontrada" in r.text


def test_only_the_door_page_may_use_the_camera(web: LiveServer) -> None:
    with web.client() as c:
        guest_page = c.get("/promotor/miguel/festa-verao")
        door_page = c.get(f"/porta/{door_link(web)['token']}")
    assert "camera=()" in guest_page.headers["permissions-policy"]
    assert "camera=(self)" in door_page.headers["permissions-policy"]
    for r in (guest_page, door_page):  # the rest of the policy is the same
        assert "microphone=()" in r.headers["permissions-policy"]
        assert "geolocation=()" in r.headers["permissions-policy"]


def test_the_qr_decoder_is_served_from_node_modules(web: LiveServer) -> None:
    assert page.JSQR_FILE.exists(), "jsqr not installed: make install (npm ci)"
    with web.client() as c:
        r = c.get("/vendor/jsQR.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == page.JSQR_FILE.read_bytes()
    assert "jsQR" in r.text


def test_the_service_worker_keeps_the_page_not_the_api(web: LiveServer) -> None:
    with web.client() as c:
        r = c.get("/porta-sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    # what it caches: the door pages and their static files, never an /api/ answer
    assert "'/vendor/jsQR.js'" in r.text and "'/static/door.js'" in r.text
    assert "/api/" not in r.text
