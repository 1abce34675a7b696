"""The admin token check: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
With no ADMIN_TOKEN configured, admin routes refuse everyone."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers


def admin_authorized(headers: Headers, admin_token: str) -> bool:
    if not admin_token:
        return False
    scheme, _, presented = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), admin_token.encode())
