"""Settings read once from the environment (documented in docs/config.md)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """An environment variable holds a value the app cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}")
    return value


def parse_networks(raw: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.1, 192.168.0.0/16, ::1` → networks (a bare address is a /32 or /128)."""
    networks: list[IPNetwork] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ConfigError(f"TRUSTED_PROXIES: {item!r} is not an IP or CIDR") from exc
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    host: str = "0.0.0.0"
    port: int = 8000
    pool_min: int = 2
    pool_max: int = 20
    pool_timeout: float = 5.0
    keep_alive_seconds: float = 75.0
    trusted_proxies: tuple[IPNetwork, ...] = field(default_factory=tuple)
    admin_token: str = ""
    rate_limit_per_minute: int = 100
    cleanup_interval_seconds: int = 60
    log_level: str = "info"

    @property
    def admin_enabled(self) -> bool:
        return bool(self.admin_token)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    pool_min = _int(env, "POOL_MIN", 2, minimum=0)
    pool_max = _int(env, "POOL_MAX", 20, minimum=1)
    if pool_max < pool_min:
        raise ConfigError(f"POOL_MAX ({pool_max}) must be >= POOL_MIN ({pool_min})")
    port = _int(env, "PORT", 8000, minimum=1)
    if port > 65535:
        raise ConfigError(f"PORT must be <= 65535, got {port}")
    return Settings(
        database_url=env.get("DATABASE_URL", "").strip(),
        host=env.get("HOST", "").strip() or "0.0.0.0",
        port=port,
        pool_min=pool_min,
        pool_max=pool_max,
        pool_timeout=_float(env, "POOL_TIMEOUT", 5.0),
        keep_alive_seconds=_float(env, "KEEP_ALIVE_SECONDS", 75.0),
        trusted_proxies=parse_networks(env.get("TRUSTED_PROXIES", "")),
        admin_token=env.get("ADMIN_TOKEN", "").strip(),
        rate_limit_per_minute=_int(env, "RATE_LIMIT_PER_MINUTE", 100, minimum=0),
        cleanup_interval_seconds=_int(env, "CLEANUP_INTERVAL_SECONDS", 60, minimum=0),
        log_level=env.get("LOG_LEVEL", "").strip().lower() or "info",
    )
