"""plpgsql_check finds nothing to report in any PL/pgSQL function of schemas app, api, admin."""

from __future__ import annotations

import psycopg

from tests.support.database import tq


def test_plpgsql_check_reports_nothing(conn: psycopg.Connection) -> None:
    installed = conn.execute(tq("extension_installed"), {"name": "plpgsql_check"}).fetchone()
    assert installed == (True,), "plpgsql_check extension missing (postgresql-15-plpgsql-check)"
    functions = conn.execute(tq("plpgsql_functions")).fetchall()
    assert functions, "no PL/pgSQL function in schemas app, api, admin"

    report: list[str] = []
    checked = 0
    for signature, oid, is_trigger, trigger_relid in functions:
        if is_trigger and trigger_relid is None:
            report.append(f"{signature}: trigger function used by no trigger (not checked)")
            continue
        rows = conn.execute(
            tq("plpgsql_check_function"), {"oid": oid, "relid": trigger_relid}
        ).fetchall()
        checked += 1
        for level, sqlstate, message, detail, hint, lineno, statement, query, context in rows:
            where = f"line {lineno}" if lineno else "?"
            parts = [f"{signature} {where} [{level} {sqlstate}] {message}"]
            parts += [f"    {label}: {value}" for label, value in (
                ("statement", statement), ("query", query), ("detail", detail),
                ("hint", hint), ("context", context),
            ) if value]  # fmt: skip
            report.append("\n".join(parts))

    assert checked >= 1
    assert not report, f"plpgsql_check ({checked} functions checked):\n" + "\n".join(report)
