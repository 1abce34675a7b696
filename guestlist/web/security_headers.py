"""Security headers on every answer (pure ASGI middleware, so errors and static files get them
too): a CSP allowing only this origin and no inline code; no framing, sniffing or referrer; HSTS
when the answer goes out over HTTPS (inputs.uses_https)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

from guestlist.config import Settings
from guestlist.web.inputs import uses_https

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        # the guest page's service worker (/sw.js) and manifest: this origin only
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
# The door page (/porta/…) scans QR codes with this origin's camera; every other page may not.
DOOR_PREFIX = "/porta/"
DOOR_PERMISSIONS = (
    b"permissions-policy",
    b"camera=(self), microphone=(), geolocation=(), payment=()",
)
DOOR_HEADERS: list[tuple[bytes, bytes]] = [
    DOOR_PERMISSIONS if name == b"permissions-policy" else (name, value) for name, value in HEADERS
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_NAMES = {name for name, _ in HEADERS} | {HSTS[0]}

# Answers without their own Cache-Control: static files may be cached briefly (and revalidated
# by ETag), everything else (JSON with per-guest data, the page) must not be stored.
STATIC_PREFIX = "/static/"
STATIC_CACHE = b"public, max-age=300"


def secure(scope: Scope, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An answer's headers plus the security headers (replacing any of the same name) and, when
    the answer set none, Cache-Control. web/middleware.RequestLogMiddleware calls it from its own
    send wrapper (app.py: one middleware instead of two)."""
    out: list[tuple[bytes, bytes]] = []
    has_cache_control = False
    for header in headers:
        name = header[0]
        if name not in _NAMES:
            out.append(header)
            has_cache_control = has_cache_control or name == b"cache-control"
    out.extend(DOOR_HEADERS if scope.get("path", "").startswith(DOOR_PREFIX) else HEADERS)
    if _https(scope):
        out.append(HSTS)
    if not has_cache_control:
        static = scope.get("path", "").startswith(STATIC_PREFIX)
        out.append((b"cache-control", STATIC_CACHE if static else b"no-store"))
    return out


def _https(scope: Scope) -> bool:
    """Whether this answer goes out over HTTPS, by the app's settings (app.state.settings, as
    app.create_app keeps them; Starlette puts the app in the scope)."""
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    if isinstance(settings, Settings):
        return uses_https(scope, settings)
    return scope.get("scheme") == "https"
