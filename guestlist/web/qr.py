"""QR images made here, with segno: a guest's code never goes to a third-party QR service."""

from __future__ import annotations

import io
from functools import lru_cache

import segno

SVG_MEDIA_TYPE = "image/svg+xml"


@lru_cache(maxsize=2048)
def render_svg(data: str, scale: int = 8) -> bytes:
    """An SVG of `data` (the guest's 32-hex qr_code): black on white, quiet zone of 4 modules."""
    code = segno.make(data, error="m", micro=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=scale,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=True,
        svgclass=None,
        lineclass=None,
        title="Código QR de entrada",
        nl=True,
    )
    return out.getvalue()
