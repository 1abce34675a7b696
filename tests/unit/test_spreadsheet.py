"""The CSV a Portuguese spreadsheet opens: formula-like cells neutralized, times in Lisbon,
`;` and quotes, CRLF, the BOM, and the buffer handed out in chunks."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from guestlist import spreadsheet
from guestlist.spreadsheet import CsvLines, cell, csv_text, export_row, neutralize


@pytest.mark.parametrize(
    "value",
    ["=1+1", '=HYPERLINK("http://x";"y")', "+351912345678", "-2", "@SUM(A1)", "\tx", "\rx"],
)
def test_formula_like_cells_get_a_quote(value: str) -> None:
    assert neutralize(value) == "'" + value


@pytest.mark.parametrize("value", ["Conceição", "", "a=b", " =x", "'já citado", "1+1"])
def test_other_cells_stay(value: str) -> None:
    assert neutralize(value) == value


def test_cells() -> None:
    assert cell(None) == ""
    # 23:30 UTC on 1 July is 00:30 on 2 July in Lisbon (summer time, UTC+1)
    assert cell(datetime(2026, 7, 1, 23, 30, tzinfo=UTC)) == "2026-07-02 00:30"
    assert cell(datetime(2026, 1, 1, 23, 30, tzinfo=UTC)) == "2026-01-01 23:30"
    row = ("Zé", "+351910000000", "Ana", None, "checked_in", None, datetime(2026, 1, 1, tzinfo=UTC))
    assert export_row(row) == ("Zé", "'+351910000000", "Ana", "", "Entrou", "", "2026-01-01 00:00")


def test_whole_file() -> None:
    rows = [
        ('Zé "Tó"; Silva', "+351910000001", None, None, "pending", None, None),
        ("linha\nnova", "+351910000002", None, None, "pending", None, None),
    ]
    text = csv_text(rows)
    assert text.startswith("\ufeffNome;Telefone;")
    assert '"Zé ""Tó""; Silva";' in text
    parsed = list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))
    assert parsed[1][0] == 'Zé "Tó"; Silva' and parsed[2][0] == "linha\nnova"
    assert parsed[1][4] == "Na lista"
    assert text.endswith("\r\n") and text.count("\r\n") == 3


def test_chunks_come_out_at_the_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spreadsheet, "CHUNK_BYTES", 100)
    lines = CsvLines()
    out = [lines.add(("x" * 30,)) for _ in range(10)]
    chunks = [c for c in out if c]
    assert len(chunks) == 2 and all(len(c) >= 100 for c in chunks)
    assert "".join(chunks) + lines.take() == ("x" * 30 + "\r\n") * 10
