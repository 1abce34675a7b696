"""config.py: settings from the environment."""

from __future__ import annotations

import ipaddress
import os

import pytest

from guestlist.config import ConfigError, load_settings


def test_defaults() -> None:
    s = load_settings({})
    assert (s.host, s.port, s.trusted_proxies, s.admin_token) == ("0.0.0.0", 8000, (), "")
    assert s.pool_min <= s.pool_max
    assert s.keep_alive_seconds == 75.0  # not uvicorn's 5 s: clients close idle ones first
    assert not s.admin_enabled


def test_values() -> None:
    s = load_settings(
        {
            "DATABASE_URL": "postgresql:///guestlist",
            "PORT": "9000",
            "HOST": "127.0.0.1",
            "POOL_MIN": "1",
            "POOL_MAX": "4",
            "TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1 ,::1",
            "ADMIN_TOKEN": "s3cret",
            "CLEANUP_INTERVAL_SECONDS": "0",
            "KEEP_ALIVE_SECONDS": "2.5",
        }
    )
    assert s.database_url == "postgresql:///guestlist"
    assert (s.port, s.host, s.pool_min, s.pool_max) == (9000, "127.0.0.1", 1, 4)
    assert s.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    assert s.admin_enabled and s.cleanup_interval_seconds == 0
    assert s.keep_alive_seconds == 2.5


@pytest.mark.parametrize(
    "env",
    [
        {"PORT": "http"},
        {"PORT": "70000"},
        {"POOL_MIN": "5", "POOL_MAX": "2"},
        {"RATE_LIMIT_PER_MINUTE": "100"},  # a database setting now: refused, not ignored
        {"TRUSTED_PROXIES": "10.0.0.0/33"},
        {"TRUSTED_PROXIES": "proxy.local"},
        {"POOL_TIMEOUT": "0"},
        {"KEEP_ALIVE_SECONDS": "0"},
        {"KEEP_ALIVE_SECONDS": "forever"},
    ],
)
def test_bad_values_fail_loudly(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


@pytest.mark.parametrize(
    ("raw", "https"),
    [(None, True), ("", True), ("1", True), ("on", True), ("0", False), ("off", False),
     ("False", False), ("no", False)],
)  # fmt: skip
def test_https_is_on_unless_turned_off(raw: str | None, https: bool) -> None:
    assert load_settings({} if raw is None else {"HTTPS": raw}).https is https


def test_https_needs_a_yes_or_no() -> None:
    with pytest.raises(ConfigError, match="HTTPS"):
        load_settings({"HTTPS": "sometimes"})


def test_worker_settings() -> None:
    s = load_settings({"WORKERS_MIN": "2", "WORKERS_MAX": "6"}).workers
    assert (s.workers_min, s.workers_max) == (2, 6)
    assert load_settings({}).workers.workers_max == 2 * (os.cpu_count() or 1)
    with pytest.raises(ConfigError):
        load_settings({"WORKERS_MIN": "5", "WORKERS_MAX": "2"})
    with pytest.raises(ConfigError):
        load_settings({"WORKERS_MAX": "many"})
    s = load_settings({"WORKER_BATCH_MAX": "7", "WORKER_BATCH_MS": "0"}).workers
    assert (s.batch_max, s.batch_ms) == (7, 0)
    assert load_settings({}).workers.web_busy_workers == max(1, (os.cpu_count() or 1) - 1)
    s = load_settings({"WORKERS_WEB_BUSY": "3", "WEB_CALM_SECONDS": "0"}).workers
    assert (s.web_busy_workers, s.web_calm_seconds) == (3, 0)
    for name, value in (("WORKER_BATCH_MAX", "0"), ("WORKER_BATCH_MAX", "1001"),
                        ("WORKER_BATCH_MS", "-1"), ("WORKER_BATCH_MS", "5000"),
                        ("WORKERS_WEB_BUSY", "0"), ("WEB_CALM_SECONDS", "-1"),
                        ("WORKER_IDLE_SECONDS", "0"), ("RUN_WORKERS", "sometimes")):  # fmt: skip
        with pytest.raises(ConfigError, match=name):
            load_settings({name: value})


def test_run_workers() -> None:
    assert load_settings({}).run_workers is True
    assert load_settings({"RUN_WORKERS": "0"}).run_workers is False
    assert load_settings({"RUN_WORKERS": "1"}).run_workers is True


# --- behind a transaction pooler (docs/deploy.md) ---------------------------------------------


def test_session_url_defaults_to_the_database_url() -> None:
    s = load_settings({"DATABASE_URL": "postgresql://pgbouncer:6432/guestlist"})
    assert s.session_url == "postgresql://pgbouncer:6432/guestlist"
    assert s.prepared_statements


def test_session_url_and_prepared_statements_for_a_transaction_pooler() -> None:
    s = load_settings(
        {
            "DATABASE_URL": "postgresql://pgbouncer:6432/guestlist",
            "DATABASE_SESSION_URL": "host=a,b port=5432,5433 target_session_attrs=read-write",
            "PREPARED_STATEMENTS": "off",
        }
    )
    assert s.session_url == "host=a,b port=5432,5433 target_session_attrs=read-write"
    assert not s.prepared_statements


def test_pool_prepares_nothing_with_prepared_statements_off() -> None:
    from guestlist.db import make_pool

    off = make_pool(load_settings({"DATABASE_URL": "dbname=x", "PREPARED_STATEMENTS": "0"}))
    on = make_pool(load_settings({"DATABASE_URL": "dbname=x"}))
    assert off.kwargs["prepare_threshold"] is None
    assert "prepare_threshold" not in on.kwargs
