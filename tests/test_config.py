"""config.py: settings from the environment."""

from __future__ import annotations

import ipaddress

import pytest

from guestlist.config import ConfigError, load_settings


def test_defaults() -> None:
    s = load_settings({})
    assert (s.host, s.port, s.rate_limit_per_minute, s.trusted_proxies, s.admin_token) == (
        "0.0.0.0",
        8000,
        100,
        (),
        "",
    )
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
            "RATE_LIMIT_PER_MINUTE": "0",
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
    assert s.admin_enabled and s.rate_limit_per_minute == 0 and s.cleanup_interval_seconds == 0
    assert s.keep_alive_seconds == 2.5


@pytest.mark.parametrize(
    "env",
    [
        {"PORT": "http"},
        {"PORT": "70000"},
        {"POOL_MIN": "5", "POOL_MAX": "2"},
        {"RATE_LIMIT_PER_MINUTE": "-1"},
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
