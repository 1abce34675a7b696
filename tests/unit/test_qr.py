"""qr.py: QR images are made locally, as plain SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import segno

from guestlist.web.qr import render_svg

CODE = "0123456789abcdef0123456789abcdef"
SVG_NS = "{http://www.w3.org/2000/svg}"


def test_svg_is_well_formed_and_self_contained() -> None:
    svg = render_svg(CODE)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert int(root.attrib["width"]) == int(root.attrib["height"]) > 200
    text = svg.decode()
    assert "http://www.w3.org/2000/svg" in text
    assert "href" not in text and "<script" not in text and "<style" not in text
    assert "style=" not in text


def test_same_code_same_image_other_code_other_image() -> None:
    assert render_svg(CODE) == render_svg(CODE)
    assert render_svg(CODE) != render_svg("f" * 32)


def test_the_symbol_holds_the_code() -> None:
    # the image's size follows the symbol segno builds for exactly this data
    symbol = segno.make(CODE, error="m", micro=False)
    width, _ = symbol.symbol_size(scale=8, border=4)
    assert f'width="{width}"'.encode() in render_svg(CODE)


def dark_modules(svg: bytes) -> set[tuple[int, int]]:
    """Read the dark modules back from segno's path (M x y, then h n / m dx dy, y at row + .5)."""
    root = ET.fromstring(svg)
    path = next(p for p in root.iter(f"{SVG_NS}path") if p.attrib.get("stroke") == "#000")
    tokens = re.findall(r"[Mmh]|-?\d+(?:\.\d+)?", path.attrib["d"])
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    i = 0
    while i < len(tokens):
        op = tokens[i]
        if op == "M":
            x, y = float(tokens[i + 1]), float(tokens[i + 2])
            i += 3
        elif op == "m":
            x, y = x + float(tokens[i + 1]), y + float(tokens[i + 2])
            i += 3
        else:  # h
            length = int(float(tokens[i + 1]))
            dark.update((int(x) + k, int(y - 0.5)) for k in range(length))
            x += length
            i += 2
    return dark


def test_the_image_is_the_symbol_of_exactly_this_code() -> None:
    symbol = segno.make(CODE, error="m", micro=False)
    expected = {
        (col + 4, row + 4)  # border of 4 modules
        for row, line in enumerate(symbol.matrix)
        for col, value in enumerate(line)
        if value
    }
    assert dark_modules(render_svg(CODE)) == expected
    assert dark_modules(render_svg("f" * 32)) != expected
