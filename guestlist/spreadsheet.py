"""The guest list as a CSV file a spreadsheet in a Portuguese locale opens as it should (the
console's export route, web/export.py, and `guestlist admin export-csv` both write it):
- UTF-8 with a byte order mark: without it Excel reads the bytes as Windows-1252 and mangles
  every accent;
- `;` between cells: pt-PT Windows has `,` as its decimal separator, so its list separator —
  the one Excel splits a double-clicked CSV on — is `;` (LibreOffice detects either);
- CRLF line ends, cells quoted only when they hold `;`, `"` or a line break (RFC 4180);
- a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`,
  so no spreadsheet runs a guest's name as a formula (OWASP "CSV injection"); a phone
  (+351…) shows as '+351… for the same reason;
- times in Lisbon's time zone, `YYYY-MM-DD HH:MM`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

BOM = "\ufeff"
SEPARATOR = ";"
LINE_END = "\r\n"
# Cells a spreadsheet would read as a formula (or, after a tab/CR, shift into one).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("Nome", "Telefone", "Promotor", "Equipa", "Estado", "Entrada", "Registo")
STATUS_LABELS = {"pending": "Na lista", "checked_in": "Entrou", "cancelled": "Cancelado"}
LISBON = ZoneInfo("Europe/Lisbon")
CHUNK_BYTES = 64 * 1024


def neutralize(value: str) -> str:
    """The cell as text no spreadsheet evaluates: a leading `'` before a formula's first
    character."""
    return "'" + value if value.startswith(FORMULA_START) else value


def cell(value: Any) -> str:
    """One value as the cell's text: times in Lisbon, None as empty, text neutralized."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(LISBON).strftime("%Y-%m-%d %H:%M")
    return neutralize(str(value))


def export_row(row: Sequence[Any]) -> tuple[str, ...]:
    """A row of api.console_export_rows (name, phone, promoter, team, status, checked_in_at,
    created_at) as the CSV's cells."""
    name, phone, promoter, team, status, checked_in_at, created_at = row
    label = STATUS_LABELS.get(status, status)
    return tuple(cell(v) for v in (name, phone, promoter, team, label, checked_in_at, created_at))


class CsvLines:
    """Rows to CSV text (`;`, CRLF, minimal quoting), written into a buffer that is handed out
    and emptied once it holds CHUNK_BYTES or more."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(
            self.buffer, delimiter=SEPARATOR, lineterminator=LINE_END, quoting=csv.QUOTE_MINIMAL
        )

    def add(self, cells: Iterable[str]) -> str | None:
        self.writer.writerow(cells)
        if self.buffer.tell() >= CHUNK_BYTES:
            return self.take()
        return None

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """The whole file for these rows (the CLI's and the tests' way; the route streams)."""
    lines = CsvLines()
    lines.add(HEADER)
    for row in rows:
        lines.add(export_row(row))
    return BOM + lines.take()
