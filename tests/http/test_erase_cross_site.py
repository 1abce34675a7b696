"""The erasure route over real HTTP refuses a request a browser marks as coming from another
site (Sec-Fetch-Site), as the logout does: an erasure is final, so a cross-site page must not
be able to trigger it with the guest's cookie, whatever SameSite and the JSON body already stop.
The guest's own page (same-origin) and a request typed by hand (none, or no header) erase."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guestlist.web.readers import SESSION_COOKIE
from tests.support.database import PgServer
from tests.support.server import LiveServer, live_server, new_guest, register_body


@pytest.fixture(scope="module")
def web(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("web_erase_cross_site")
    with live_server(pg_server, template_db, workdir, {}) as server:
        yield server


@pytest.mark.parametrize("site", ["cross-site", "same-site", "Cross-Site"])
def test_a_cross_site_erasure_is_refused_and_erases_nothing(web: LiveServer, site: str) -> None:
    guest = new_guest()
    with web.client() as c:
        r = c.post("/api/guest/register", json=register_body(web, guest))
        assert r.status_code == 200, r.text
        web.secrets.update({r.json()["qr_code"], r.cookies[SESSION_COOKIE]})
        refused = c.post("/api/guest/erase", json={"confirm": True},
                         headers={"Sec-Fetch-Site": site})  # fmt: skip
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
        assert "set-cookie" not in refused.headers
        assert web.sql("web_test_phone_traces", {"phone": guest["e164"]}) > 0
        own = c.post("/api/guest/erase", json={"confirm": True},
                     headers={"Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert own.status_code == 200, own.text
    assert own.json()["erased"]["accounts"] == 1
    assert web.sql("web_test_phone_traces", {"phone": guest["e164"]}) == 0
