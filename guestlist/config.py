"""Every setting, read once from the environment by `load_settings` (documented in
docs/config.md and docs/queue.md); the defaults are written once, in the dataclasses."""

from __future__ import annotations

import ipaddress
import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """An environment variable holds a value the app cannot use."""


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0,
    maximum: float = math.inf,
    *,
    integer: bool = False,
    above: bool = False,
) -> float:
    """A number between minimum and maximum (above minimum when `above`), or the default."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError as exc:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from exc
    if not math.isfinite(value) or not minimum <= value <= maximum or (above and value == minimum):
        low = f"> {minimum}" if above else f">= {minimum}"
        bounds = low if maximum == math.inf else f"between {minimum} and {maximum}"
        raise ConfigError(f"{name} must be {bounds}, got {raw!r}")
    return value


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: float = math.inf
) -> int:
    return int(_number(env, name, default, minimum, maximum, integer=True))


_TRUE = ("1", "true", "on", "yes")
_FALSE = ("0", "false", "off", "no")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), got {raw!r}")


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


_CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class MailSettings:
    """Outgoing mail (SMTP_URL, MAIL_FROM, PUBLIC_URL): the password reset links. With no
    SMTP_URL nothing is sent; on a plain-http deployment (`make run`) the link is logged."""

    smtp_url: str = ""  # smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://
    mail_from: str = ""  # the sender, e.g. "Guestlist <noreply@example.pt>"
    # the site's origin for links in mail, e.g. https://lista.example.pt: never the request's
    # Host header, which a client chooses (a reset link pointing at another site)
    public_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_url)


def _smtp_url(raw: str) -> str:
    url = urlsplit(raw)
    try:
        url.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"SMTP_URL: bad port in {url.netloc.rpartition('@')[2]!r}") from exc
    if url.scheme not in ("smtp", "smtps") or not url.hostname or url.path not in ("", "/"):
        raise ConfigError("SMTP_URL must be smtp://[user:password@]host[:port] or smtps://…")
    return raw


def _public_url(raw: str) -> str:
    url = urlsplit(raw)
    if (
        url.scheme not in ("http", "https")
        or not url.hostname
        or url.path not in ("", "/")
        or url.query
        or url.fragment
    ):
        raise ConfigError(f"PUBLIC_URL must be an origin such as https://example.pt, got {raw!r}")
    return f"{url.scheme}://{url.netloc}"


def _mail(env: Mapping[str, str]) -> MailSettings:
    smtp_url = env.get("SMTP_URL", "").strip()
    mail_from = env.get("MAIL_FROM", "").strip()
    public_url = env.get("PUBLIC_URL", "").strip()
    if not smtp_url:
        return MailSettings(public_url=_public_url(public_url) if public_url else "")
    if not mail_from or "@" not in mail_from:
        raise ConfigError("MAIL_FROM (the sender's address) is required with SMTP_URL")
    if not public_url:
        raise ConfigError(
            "PUBLIC_URL (the site's https:// origin, for links in mail) is required with SMTP_URL"
        )
    return MailSettings(_smtp_url(smtp_url), mail_from, _public_url(public_url))


@dataclass(frozen=True)
class WorkerSettings:
    """The queue workers' settings (WORKERS_*, WORKER_*, SCALE_*, WEB_CALM_SECONDS)."""

    # bcrypt runs in the database's backends: one task per core keeps them all busy at once
    # (an idle task sleeps on LISTEN, so the floor costs nothing when the queue is empty)
    workers_min: int = _CORES
    workers_max: int = 2 * _CORES
    idle_seconds: float = 1.0  # an idle task re-claims after this even without a NOTIFY
    scale_interval: float = 1.0
    scale_up_per_worker: int = 2  # waiting jobs per running task beyond which to add tasks
    scale_down_idle_seconds: float = 5.0
    # tasks while requests wait for a connection of the pool the workers share with the web
    web_busy_workers: int = max(1, _CORES - 1)
    web_calm_seconds: float = 5.0  # how long the pool has had no waiter before that cap lifts
    # how long stop() lets jobs in hand finish before cancelling them (a cancelled job is
    # retried after its backoff by another worker, its secret kept);
    # SHUTDOWN_TIMEOUT - 2 s, so a stopping process exits within SHUTDOWN_TIMEOUT
    stop_timeout: float = 18.0
    batch_max: int = 50  # jobs per transaction at most
    batch_ms: int = 10  # no new claim in a transaction after this (0: one job per transaction)


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    # Where the connections that need a session of their own go (the LISTEN connection): a
    # direct or session-pooled URL when DATABASE_URL is a transaction pooler (pgbouncer's
    # pool_mode = transaction hands each transaction to any server connection, and a LISTEN
    # there hears nothing after its transaction ends). Empty: DATABASE_URL.
    database_session_url: str = ""
    # Server-side prepared statements (psycopg prepares a query run 5 times on a connection).
    # Off behind a transaction pooler that does not track them (pgbouncer before 1.21): the
    # next transaction may land on a server connection that never saw the PREPARE.
    prepared_statements: bool = True
    host: str = "0.0.0.0"
    port: int = 8000
    pool_min: int = 2
    pool_max: int = 20
    pool_timeout: float = 5.0
    keep_alive_seconds: float = 75.0
    trusted_proxies: tuple[IPNetwork, ...] = field(default_factory=tuple)
    admin_token: str = ""
    cleanup_interval_seconds: int = 60
    log_level: str = "info"
    # The deployment is served over HTTPS: the session cookie is `__Host-gl_session` with
    # Secure, and answers carry HSTS. Off only for plain http (make run, tests); even then a
    # request a trusted proxy says came over https gets them (inputs.uses_https).
    https: bool = True
    # held answers (?wait) one client key may have at once in this process; 0 = no bound
    long_polls_per_client: int = 20
    # after the database answered queue_full, this process refuses submits itself for this
    # long (the same 503, its Retry-After counted down) instead of asking again: under a flood
    # the refusals stay off the primary (0: ask every time)
    queue_full_memory_seconds: float = 1.0
    run_workers: bool = True  # RUN_WORKERS=0: no workers in the app (`guestlist worker` runs them)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    # SIGTERM: the whole stop (drain, answers in flight, workers, pool) within this bound
    shutdown_timeout: float = 20.0
    # SIGTERM: /readyz answers 503 and held long-polls are answered at once, but new
    # connections are still accepted for this long, so a load balancer's health check sees
    # the 503 and stops sending before the port closes (0: close the port at once)
    shutdown_drain_seconds: float = 0.0
    # this process's name in the figures summed across instances (INSTANCE_ID; host:pid)
    instance_id: str = ""
    mail: MailSettings = field(default_factory=MailSettings)

    @property
    def admin_enabled(self) -> bool:
        return bool(self.admin_token)

    @property
    def session_url(self) -> str:
        """The URL of connections that keep session state (LISTEN)."""
        return self.database_session_url or self.database_url


def _instance_id(env: Mapping[str, str]) -> str:
    raw = env.get("INSTANCE_ID", "").strip()
    if len(raw) > 100:
        raise ConfigError("INSTANCE_ID must be at most 100 characters")
    return raw or f"{socket.gethostname()}:{os.getpid()}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Every setting, from `env` (default: the process environment); the defaults are the
    dataclasses' own. Raises ConfigError naming the first bad variable."""
    env = os.environ if env is None else env
    base, w = Settings(), WorkerSettings()
    pool_min = _int(env, "POOL_MIN", base.pool_min, minimum=0)
    pool_max = _int(env, "POOL_MAX", base.pool_max, minimum=1)
    if pool_max < pool_min:
        raise ConfigError(f"POOL_MAX ({pool_max}) must be >= POOL_MIN ({pool_min})")
    if env.get("RATE_LIMIT_PER_MINUTE", "").strip():
        # a security setting the app no longer sets: say so rather than ignore it
        raise ConfigError(
            "RATE_LIMIT_PER_MINUTE is no longer read by the app: rate limits are database "
            "settings (guestlist migrate with GUESTLIST_SETTINGS, or admin.set_setting); "
            "see docs/config.md"
        )
    workers_min = _int(env, "WORKERS_MIN", w.workers_min, minimum=0)
    workers_max = _int(env, "WORKERS_MAX", w.workers_max, minimum=1)
    if workers_max < workers_min:
        raise ConfigError(f"WORKERS_MAX ({workers_max}) must be >= WORKERS_MIN ({workers_min})")
    shutdown_timeout = _number(env, "SHUTDOWN_TIMEOUT", base.shutdown_timeout, 1.0, 3600.0)
    shutdown_drain = _number(env, "SHUTDOWN_DRAIN_SECONDS", base.shutdown_drain_seconds)
    if shutdown_drain >= shutdown_timeout / 2:
        raise ConfigError(
            f"SHUTDOWN_DRAIN_SECONDS ({shutdown_drain:g}) must be under half of "
            f"SHUTDOWN_TIMEOUT ({shutdown_timeout:g})"
        )
    workers = WorkerSettings(
        workers_min=workers_min,
        workers_max=workers_max,
        idle_seconds=_number(env, "WORKER_IDLE_SECONDS", w.idle_seconds, 0.05),
        scale_up_per_worker=_int(env, "SCALE_UP_PER_WORKER", w.scale_up_per_worker, 1),
        scale_down_idle_seconds=_number(env, "SCALE_DOWN_IDLE_SECONDS", w.scale_down_idle_seconds),
        web_busy_workers=_int(env, "WORKERS_WEB_BUSY", w.web_busy_workers, 1),
        web_calm_seconds=_number(env, "WEB_CALM_SECONDS", w.web_calm_seconds),
        # the bounds api.work_guest_jobs accepts
        batch_max=_int(env, "WORKER_BATCH_MAX", w.batch_max, 1, 1000),
        batch_ms=_int(env, "WORKER_BATCH_MS", w.batch_ms, 0, 1000),
        stop_timeout=max(0.5, shutdown_timeout - 2.0),
    )
    return Settings(
        database_url=env.get("DATABASE_URL", "").strip(),
        database_session_url=env.get("DATABASE_SESSION_URL", "").strip(),
        prepared_statements=_flag(env, "PREPARED_STATEMENTS", base.prepared_statements),
        host=env.get("HOST", "").strip() or base.host,
        port=_int(env, "PORT", base.port, minimum=1, maximum=65535),
        pool_min=pool_min,
        pool_max=pool_max,
        pool_timeout=_number(env, "POOL_TIMEOUT", base.pool_timeout, above=True),
        keep_alive_seconds=_number(env, "KEEP_ALIVE_SECONDS", base.keep_alive_seconds, above=True),
        trusted_proxies=parse_networks(env.get("TRUSTED_PROXIES", "")),
        admin_token=env.get("ADMIN_TOKEN", "").strip(),
        cleanup_interval_seconds=_int(
            env, "CLEANUP_INTERVAL_SECONDS", base.cleanup_interval_seconds
        ),
        log_level=env.get("LOG_LEVEL", "").strip().lower() or base.log_level,
        https=_flag(env, "HTTPS", base.https),
        long_polls_per_client=_int(env, "LONG_POLLS_PER_CLIENT", base.long_polls_per_client),
        queue_full_memory_seconds=_number(
            env, "QUEUE_FULL_MEMORY_SECONDS", base.queue_full_memory_seconds, 0.0, 10.0
        ),
        run_workers=_flag(env, "RUN_WORKERS", base.run_workers),
        workers=workers,
        shutdown_timeout=shutdown_timeout,
        shutdown_drain_seconds=shutdown_drain,
        instance_id=_instance_id(env),
        mail=_mail(env),
    )
