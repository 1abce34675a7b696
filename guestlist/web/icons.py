"""The guest page's app icons as PNG, drawn here at first request (no binary file in the repo, no
imaging library at run time): the favicon's motif (static/favicon.svg: three QR finder squares
and a small one, white on the accent green) at the sizes an installable web app needs, 192 and
512 pixels, as a rounded square ("any") and full-bleed ("maskable": the motif already sits in
the middle half, inside the safe zone a launcher's mask keeps)."""

from __future__ import annotations

import math
import struct
import zlib
from functools import lru_cache

ACCENT = (0x04, 0x78, 0x57)  # responders.THEME_COLOR, the page's accent
WHITE = (0xFF, 0xFF, 0xFF)
# The favicon's white squares on its 16-unit grid: (x, y, width, height).
MOTIF = ((4, 4, 3, 3), (9, 4, 3, 3), (4, 9, 3, 3), (10, 10, 2, 2))
CORNER_UNITS = 3  # the favicon's rx

# name → (size in pixels, maskable)
ICONS: dict[str, tuple[int, bool]] = {
    "guest-192.png": (192, False),
    "guest-512.png": (512, False),
    "guest-maskable-512.png": (512, True),
}
PNG_MEDIA_TYPE = "image/png"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, rgba_rows: list[bytes]) -> bytes:
    """A truecolour-with-alpha PNG (8 bits a channel) of `height` rows of `width` RGBA pixels."""
    if len(rgba_rows) != height or any(len(row) != 4 * width for row in rgba_rows):
        raise ValueError("rows do not match the size")
    raw = b"".join(b"\x00" + row for row in rgba_rows)  # filter type 0 (None) on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _rounded_inset(y: float, size: int, radius: float) -> float:
    """How far in from each side the rounded square starts on the row whose centre is `y`."""
    dy = max(radius - y, y - (size - radius), 0.0)
    if dy <= 0:
        return 0.0
    return radius - math.sqrt(max(radius * radius - dy * dy, 0.0))


@lru_cache(maxsize=len(ICONS))
def icon_png(size: int, maskable: bool) -> bytes:
    """The app icon, `size` pixels square: transparent corners unless maskable."""
    unit = size / 16
    radius = 0.0 if maskable else CORNER_UNITS * unit
    accent = bytes((*ACCENT, 0xFF))
    white = bytes((*WHITE, 0xFF))
    rows: list[bytes] = []
    for y in range(size):
        centre = y + 0.5
        left = round(_rounded_inset(centre, size, radius))
        row = bytearray(4 * size)  # transparent black
        row[4 * left : 4 * (size - left)] = accent * (size - 2 * left)
        for x, top, width, height in MOTIF:
            if top * unit <= centre < (top + height) * unit:
                a, b = round(x * unit), round((x + width) * unit)
                row[4 * a : 4 * b] = white * (b - a)
        rows.append(bytes(row))
    return encode_png(size, size, rows)


def manifest_icons() -> list[dict[str, str]]:
    """The manifest's `icons`: the SVG for any size, and the PNGs browsers require to install."""
    out = [{"src": "/static/favicon.svg", "sizes": "any", "type": "image/svg+xml"}]
    for name, (size, maskable) in ICONS.items():
        out.append(
            {
                "src": f"/icons/{name}",
                "sizes": f"{size}x{size}",
                "type": PNG_MEDIA_TYPE,
                "purpose": "maskable" if maskable else "any",
            }
        )
    return out
