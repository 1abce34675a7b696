"""QR images made here, with segno: a guest's code or a door's link never goes to a third-party
QR service."""

from __future__ import annotations

import io
from functools import lru_cache

import segno

SVG_MEDIA_TYPE = "image/svg+xml"


@lru_cache(maxsize=2048)
def render_svg(data: str, scale: int = 8) -> bytes:
    """An SVG of `data` (the guest's 32-hex qr_code): black on white, quiet zone of 4 modules."""
    return _svg(data, scale, "Código QR de entrada", xmldecl=True)


def render_link_svg(url: str) -> str:
    """An inline SVG (no XML declaration) of a door link's URL for the console to show once.
    Not cached: the URL holds the door's token, which this process must not keep."""
    return _svg(url, 4, "Código QR do link da porta", xmldecl=False).decode()


def _svg(data: str, scale: int, title: str, *, xmldecl: bool) -> bytes:
    code = segno.make(data, error="m", micro=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=scale,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=xmldecl,
        svgclass=None,
        lineclass=None,
        title=title,
        nl=True,
    )
    return out.getvalue()
