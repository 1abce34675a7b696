"""Every SQL statement Python runs, loaded from `queries.sql`.

The file is a list of statements, each under a header line `-- name: <name>`.
Comment lines right under a header describe the statement and are kept with it
(PostgreSQL ignores them). Usage::

    from guestlist.queries import q
    conn.execute(q("demo_load"))

A statement whose text holds `{placeholders}` is an identifier template: compose it with
`psycopg.sql.SQL(q(name)).format(...)`, never with str.format.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import LiteralString, cast

QUERIES_FILE = Path(__file__).with_name("queries.sql")

_HEADER = re.compile(r"^--\s*name:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$")


class QueryFileError(ValueError):
    """queries.sql is malformed (text before the first header, a duplicate or empty entry)."""


def load_queries(path: Path) -> dict[str, str]:
    """Parse a queries file into {name: statement text}."""
    queries: dict[str, str] = {}
    name: str | None = None
    body: list[str] = []

    def flush(lineno: int) -> None:
        if name is None:
            return
        text = "\n".join(body).strip()
        if not text or all(ln.lstrip().startswith("--") for ln in text.splitlines()):
            raise QueryFileError(f"{path}:{lineno}: query {name!r} has no SQL")
        queries[name] = text

    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _HEADER.match(line)
        if match:
            flush(lineno)
            name = match.group("name")
            if name in queries:
                raise QueryFileError(f"{path}:{lineno}: duplicate query name {name!r}")
            body = []
        elif name is None:
            if line.strip() and not line.lstrip().startswith("--"):
                raise QueryFileError(f"{path}:{lineno}: SQL before the first '-- name:' header")
        else:
            body.append(line)
    flush(lineno=-1)
    return queries


QUERIES: dict[str, str] = load_queries(QUERIES_FILE)


def q(name: str) -> LiteralString:
    """The statement stored under `name` (KeyError names the missing query)."""
    try:
        text = QUERIES[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in {QUERIES_FILE.name}") from None
    # The text comes from a file under version control, never from user input.
    return cast(LiteralString, text)
