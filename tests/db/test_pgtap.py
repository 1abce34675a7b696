"""Run the pgTAP suite (pgtap/*.sql) with pg_prove against a fresh database."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.support.database import ROOT, PgServer

PGTAP_FILES = sorted((ROOT / "pgtap").glob("*.sql"))


def test_pg_prove(pg_server: PgServer, fresh_db: str, artifacts_dir: Path) -> None:
    assert PGTAP_FILES, "no pgtap/*.sql files"
    pg_prove = shutil.which("pg_prove")
    assert pg_prove, "pg_prove not found (Debian package libtap-parser-sourcehandler-pgtap-perl)"
    command = [
        pg_prove,
        "--verbose",
        "--host", pg_server.host,
        "--port", str(pg_server.port),
        "--username", pg_server.user,
        "--dbname", fresh_db,
        *(str(path.relative_to(ROOT)) for path in PGTAP_FILES),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=pg_server.libpq_env(fresh_db),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=280,
        check=False,
    )
    output = result.stdout
    (artifacts_dir / "pg_prove.txt").write_text(output)
    assert result.returncode == 0, f"pg_prove exited {result.returncode}:\n{output}"
    summary = re.search(r"^Files=(\d+), Tests=(\d+)", output, re.MULTILINE)
    assert summary, f"no pg_prove summary line:\n{output}"
    files, tests = int(summary.group(1)), int(summary.group(2))
    assert files == len(PGTAP_FILES) >= 1, output
    assert tests >= files, output
    assert re.search(r"^Result: PASS$", output, re.MULTILINE), output
