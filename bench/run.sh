#!/usr/bin/env bash
# The bench: does the system keep its promise (500+ people at once, p95 < 100 ms, 500+
# registrations a minute, 99.9% success) on this machine? See bench/README.md.
#
#   bench/run.sh [--quick | --smoke] [--out DIR] [--overload-peak N] [--no-carry] [--pool-max N] [--keep-db]
#                [--cluster [--cluster-event KIND@SECONDS]] [scenario ...]
#   scenarios: limits verify-phone saturation time-to-qr doors-open door overload (alias: seed),
#              console, organizers, scaling (--cluster only)
#
# Full run (default): ~87 minutes. --quick: ~20 minutes. --smoke: under a minute (the test
# suite's tests/bench/test_smoke.py). Uses DATABASE_URL's server, else the project-local
# cluster (scripts/local-db.sh); makes and drops its own databases; serves on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
if [[ ! -x $PY ]]; then
    echo "bench: no .venv; run 'make install' first" >&2
    exit 1
fi
exec "$PY" -m bench.runner "$@"
