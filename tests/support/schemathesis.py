"""One way to run schemathesis's CLI against the live app's /openapi.json: the hooks module
(tests/http/schemathesis_hooks.py: real phone numbers, bodies SQL's cross-field rules allow),
every check but those that need a second identity, a short seeded run, and a pass asserted on
its output. Each test adds what it sends (headers, paths, a parameters file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import LiveServer

HOOKS_DIR = Path(__file__).resolve().parents[1] / "http"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS_MODULE = "schemathesis_hooks"
# Checks that need a second identity or auth to mean anything here (the admin token is not
# given to the run; routes without auth have no resource to take from another user).
NOT_RUN = ("ignored_auth", "object_level_authorization", "use_after_free")


def run_schemathesis(
    web: LiveServer,
    workdir: Path,
    seed: str,
    run_args: list[str],
    config: Path | None = None,
) -> None:
    """Run it; fail with its output unless it found nothing. workdir: its .schemathesis/ cache
    and reports; config: a schemathesis.toml (e.g. [parameters] of real path ids)."""
    assert SCHEMATHESIS.exists(), "schemathesis missing: make install-test (the test extra)"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HOOKS_DIR), str(HOOKS_DIR.parents[1])]),
        "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
        "NO_COLOR": "1",
    }
    cmd = [str(SCHEMATHESIS), *(["--config-file", str(config)] if config else []), "run"]
    cmd += [
        f"{web.base_url}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(NOT_RUN),
        "--max-examples",
        "25",
        "--seed",
        seed,
        # one worker: CPython 3.11's ast module is not thread-safe (hypothesis parses lambdas
        # to describe strategies), and the machine's cores are shared anyway
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--no-shrink",
        # a failure's reproduction shows the body as sent (test data only, no real secrets)
        "--output-sanitize",
        "false",
        # not the coverage phase: its boundary cases for the name patterns (the long classes of
        # invisible characters) take over a minute to generate on two shared cores
        "--phases",
        "examples,fuzzing,stateful",
        *run_args,
    ]
    run = subprocess.run(
        cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=240, check=False
    )  # cwd: schemathesis keeps a .schemathesis/ cache there
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    assert "No issues found" in output or "passed" in output, output[-5000:]
