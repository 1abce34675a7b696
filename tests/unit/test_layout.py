"""The repository's layout stays what the design and the package promise: one Python file at
the top (app.py), pgTAP files numbered like the sql/ files they test, and comments that say
what the code does rather than which change wrote it."""

from __future__ import annotations

import re

from tests.support.database import ROOT


def test_the_top_level_holds_app_py_only() -> None:
    assert sorted(p.name for p in ROOT.glob("*.py")) == ["app.py"]


def test_pgtap_files_are_numbered_like_the_sql_they_test() -> None:
    sql_numbers = {int(p.name[:2]) for p in (ROOT / "sql").glob("[0-9][0-9]_*.sql")}
    for path in sorted((ROOT / "pgtap").glob("[0-9][0-9]-*.sql")):
        number = int(path.name[:2])
        if number < 10:  # 00 fixture, 01 structure: the whole schema
            continue
        assert number // 10 * 10 in sql_numbers, f"{path.name}: no sql/{number // 10}0_*.sql"


def test_no_history_in_the_package() -> None:
    history = re.compile(r"\bissue\s*#?\d+|\bhelper\b", re.IGNORECASE)
    files = [ROOT / "app.py", *sorted((ROOT / "guestlist").rglob("*.py"))]
    files += sorted((ROOT / "guestlist").rglob("*.sql"))
    files += sorted((ROOT / "guestlist" / "web" / "static").glob("*"))
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if history.search(line)
    ]
    assert not found, "\n".join(found)
