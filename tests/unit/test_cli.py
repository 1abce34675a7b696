"""The `guestlist` command (run as `python -m guestlist`, the console script's code): every
subcommand answers --help, and refuses to start without a database URL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from guestlist import cli
from tests.support.database import ROOT

SUBCOMMANDS = ("serve", "worker", "migrate", "demo")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guestlist", *args],
        cwd=ROOT,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_subcommand() -> None:
    res = _run("--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: guestlist")
    for name in SUBCOMMANDS:
        assert f"    {name} " in res.stdout, res.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(name: str) -> None:
    res = _run(name, "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"usage: guestlist {name}"), res.stdout
    assert "--database-url URL" in res.stdout
    assert "DATABASE_URL" in res.stdout


def test_no_subcommand_is_a_usage_error() -> None:
    res = _run()
    assert res.returncode == 2
    assert "usage: guestlist" in res.stderr


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_a_database_url_is_required(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli.main([name]) == 2


def test_a_bad_setting_is_one_line_and_status_2() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql:///nowhere", "WORKERS_MAX": "many"}
    res = _run("worker", env=env)
    assert res.returncode == 2
    assert res.stderr.strip() == "guestlist worker: WORKERS_MAX must be an integer, got 'many'"


def test_serve_rejects_a_port_out_of_range() -> None:
    res = _run("serve", "--port", "70000", "--database-url", "postgresql:///nowhere")
    assert res.returncode == 2
    assert "not a TCP port" in res.stderr
