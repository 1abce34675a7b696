"""The page's static files obey the CSP and the no-third-party rule (read as files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "guestlist" / "web" / "static"
FILES = sorted(p for p in STATIC.iterdir() if p.suffix in {".html", ".css", ".js", ".svg"})
# Addresses a file may name without loading anything from them: the SVG namespace, and the
# promoter page's "Partilhar no WhatsApp", a plain link the promoter follows (CSP: no fetch).
NAMED_NOT_LOADED = {"//www.w3.org": None, "https://wa.me": "promoter.js"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_other_host(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    urls = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, flags=re.I)
    allowed = {u for u, where in NAMED_NOT_LOADED.items() if where in (None, path.name)}
    assert [u for u in urls if not any(u.endswith(a) for a in allowed)] == []
    assert "@import" not in text and "@font-face" not in text


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix == ".html"], ids=lambda p: p.name)
def test_html_has_no_inline_code(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", text):
        # this origin's files: static/, or npm's libraries served from node_modules/ (/vendor/)
        own = 'src="/static/' in tag or 'src="/vendor/' in tag
        assert own or 'type="application/json"' in tag, tag
    assert "<style" not in text
    assert not re.search(r"\sstyle=", text)
    assert not re.search(r"\son[a-z]+=", text)  # no inline event handlers
    assert 'lang="pt-PT"' in text


def test_page_speaks_european_portuguese() -> None:
    html = (STATIC / "guest.html").read_text(encoding="utf-8")
    for word in ("Telemóvel", "Palavra-passe", "Registar", "Entrar", "Apelido", "Cidade"):
        assert word in html
    js = (STATIC / "guest.js").read_text(encoding="utf-8")
    assert "pt-PT" in js and "Europe/Lisbon" in js
    assert "innerHTML" not in js  # text only: nothing from the server is parsed as HTML
    assert "eval(" not in js and "new Function" not in js


def test_door_page_speaks_european_portuguese_and_parses_no_html() -> None:
    html = (STATIC / "door.html").read_text(encoding="utf-8")
    for words in ("dentro / na lista", "Anular a última entrada", "Link da porta inválido"):
        assert words in html
    js = (STATIC / "door.js").read_text(encoding="utf-8")
    for words in ("Pode entrar", "Já entrou", "Não está na lista", "pendente", "'pt-PT'"):
        assert words in js
    assert "innerHTML" not in js  # names from the server are text, never HTML
    assert "eval(" not in js and "new Function" not in js
    assert "localStorage" not in js  # the offline list lives in IndexedDB, wiped when refused
