"""The app icons' PNG encoder (guestlist/web/icons.py): a valid PNG a decoder reads back pixel
for pixel, the favicon's motif in white on the accent, transparent corners unless maskable."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from guestlist.web.icons import ACCENT, ICONS, WHITE, encode_png, icon_png, manifest_icons


def test_encode_png_round_trips() -> None:
    rows = [bytes((x, y, 7, 255 - x)) * 1 for y in range(3) for x in range(2)]
    pixels = [b"".join(rows[y * 2 : y * 2 + 2]) for y in range(3)]
    with Image.open(io.BytesIO(encode_png(2, 3, pixels))) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (2, 3), "RGBA")
        assert image.getpixel((1, 2)) == (1, 2, 7, 254)


def test_encode_png_refuses_rows_of_another_size() -> None:
    with pytest.raises(ValueError):
        encode_png(2, 2, [b"\x00" * 8])


@pytest.mark.parametrize(("name", "size", "maskable"), [(n, s, m) for n, (s, m) in ICONS.items()])
def test_icons_draw_the_motif(name: str, size: int, maskable: bool) -> None:
    with Image.open(io.BytesIO(icon_png(size, maskable))) as image:
        assert image.size == (size, size)
        unit = size / 16
        at = lambda x, y: image.getpixel((int(x * unit), int(y * unit)))  # noqa: E731
        assert at(5.5, 5.5) == (*WHITE, 255)  # a finder square
        assert at(8, 8) == (*ACCENT, 255)  # between the squares
        assert at(0, 0)[3] == (255 if maskable else 0)  # a launcher's mask crops a maskable one
        assert at(8, 0.2) == (*ACCENT, 255)  # the edge's middle is always filled


def test_the_manifest_names_every_icon() -> None:
    srcs = {icon["src"] for icon in manifest_icons()}
    assert srcs == {"/static/favicon.svg", *(f"/icons/{name}" for name in ICONS)}
