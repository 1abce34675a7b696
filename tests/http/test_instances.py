"""Figures across instances: two real app processes on one database each report their request
figures; /api/admin/metrics on either shows the sum over both and says 2 instances report,
beside its own figures; a stopped instance withdraws its report; /metrics names the instance."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx

from tests.queue.jobs import wait_until
from tests.support.database import PgServer
from tests.support.server import UNLIMITED, live_server, run_app

TOKEN = "instances-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _metrics(base_url: str) -> dict[str, Any]:
    answer = httpx.get(f"{base_url}/api/admin/metrics", headers=AUTH, timeout=10)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_two_instances_are_summed(pg_server: PgServer, template_db: str, tmp_path: Path) -> None:
    with live_server(
        pg_server,
        template_db,
        tmp_path,
        settings=UNLIMITED,
        ADMIN_TOKEN=TOKEN,
        RUN_WORKERS="0",
        INSTANCE_ID="app-a",
    ) as a:
        with run_app(
            a.db_url, tmp_path / "b.log", ADMIN_TOKEN=TOKEN, RUN_WORKERS="0", INSTANCE_ID="app-b"
        ) as (b_url, b_proc):
            with a.client() as client:
                for _ in range(3):
                    assert client.get("/api/guest/page/miguel/festa-verao").status_code == 200
            with httpx.Client(base_url=b_url) as client:
                for _ in range(5):
                    assert client.get("/api/guest/page/miguel/festa-verao").status_code == 200

            def both_reported() -> dict[str, Any] | None:
                body = _metrics(a.base_url)
                system = body["system"]
                done = system["instances"] == 2 and system["requestsLastMinute"] >= 8
                return body if done else None

            body = wait_until(both_reported, 30, "both instances' reports")
            system = body["system"]
            assert body["instance"] == "app-a"
            assert system["instanceIds"] == ["app-a", "app-b"]
            # a's own figures: its 3 requests (the metrics calls are monitoring, not counted)
            assert body["requestsLastMinute"] == 3
            assert system["requestsLastMinute"] == 8 and system["requestsTotal"] == 8
            assert system["serverErrorsLastMinute"] == 0
            assert system["p95ResponseTime"] is not None and system["p95ResponseTime"] > 0
            from_b = _metrics(b_url)
            assert from_b["instance"] == "app-b" and from_b["requestsLastMinute"] == 5
            assert from_b["system"]["requestsLastMinute"] == 8

            scrape = httpx.get(f"{b_url}/metrics", headers=AUTH, timeout=10).text
            assert 'guestlist_instance_info{instance_id="app-b"} 1.0' in scrape

            b_proc.send_signal(signal.SIGTERM)
            assert b_proc.wait(timeout=30) == 0
        # b withdrew its report on the way out
        after = _metrics(a.base_url)["system"]
        assert after["instances"] == 1 and after["instanceIds"] == ["app-a"]
        assert after["requestsLastMinute"] == 3
