"""The guest page as an installable web app, over real HTTP: the service worker from the root with
its JavaScript type, its scope allowed and no HTTP caching; each guest page's manifest (start URL
the promoter link, scope /promotor/, icons from this origin); an unknown link has none; the CSP
lets the worker and the manifest come from this origin only."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from tests.support.database import PgServer
from tests.support.server import LiveServer, assert_security_headers, live_server


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(pg_server, template_db, tmp_path_factory.mktemp("web_app")) as server:
        yield server


def test_service_worker_is_served_from_the_root(web: LiveServer) -> None:
    with web.client() as c:
        answer = c.get("/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["service-worker-allowed"] == "/promotor/"
    assert answer.headers["cache-control"] == "no-cache"
    assert "guestlist-pass-v1" in answer.text
    assert_security_headers(answer)
    csp = answer.headers["content-security-policy"]
    assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp


def test_each_guest_page_has_its_manifest(web: LiveServer) -> None:
    with web.client() as c:
        answer = c.get("/promotor/miguel/festa-verao/manifest.webmanifest")
        unknown = c.get("/promotor/ninguem/nada/manifest.webmanifest")
        malformed = c.get("/promotor/Nin%20guem/nada/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/manifest+json"
    body = answer.json()
    assert body["start_url"] == body["id"] == "/promotor/miguel/festa-verao"
    assert body["scope"] == "/promotor/"
    assert body["display"] == "standalone"
    assert body["lang"] == "pt-PT"
    assert body["name"] == "Festa de Verão · Lista de convidados"
    assert body["theme_color"] == "#047857" and body["background_color"] == "#ffffff"
    assert all(icon["src"].startswith(("/static/", "/icons/")) for icon in body["icons"])
    # an installable app needs PNG icons of 192 and 512 pixels (Chromium: at least 144)
    pngs = {(i["sizes"], i.get("purpose")) for i in body["icons"] if i["type"] == "image/png"}
    assert pngs == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    assert_security_headers(answer)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "page_not_found")
    assert (malformed.status_code, malformed.json()["code"]) == (404, "page_not_found")


def test_the_manifest_icons_are_pngs_of_their_stated_size(web: LiveServer) -> None:
    with web.client() as c:
        body = c.get("/promotor/miguel/festa-verao/manifest.webmanifest").json()
        for icon in body["icons"]:
            answer = c.get(icon["src"])
            assert answer.status_code == 200, icon
            assert answer.headers["content-type"].startswith(icon["type"])
            if icon["type"] != "image/png":
                continue
            with Image.open(io.BytesIO(answer.content)) as image:
                assert image.format == "PNG"
                assert f"{image.width}x{image.height}" == icon["sizes"]
                assert image.mode == "RGBA"
            assert answer.headers["cache-control"] == "public, max-age=86400"
        unknown = c.get("/icons/other.png")
        sneaky = c.get("/icons/..%2Fguest.js")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert sneaky.status_code == 404
