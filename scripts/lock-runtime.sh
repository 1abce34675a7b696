#!/usr/bin/env bash
# Rewrite requirements/runtime.lock: the exact versions a runtime-only install of this checkout
# resolves to (what `make run` installs). Run after changing [project].dependencies.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q "$REPO"
{
    echo "# The runtime packages \`make run\` installs, at exact versions: a fresh runtime-only"
    echo "# venv's \`pip freeze\` after \`pip install .\` (scripts/lock-runtime.sh writes this file)."
    "$tmp/venv/bin/python" -m pip freeze --exclude guestlist
} >"$REPO/requirements/runtime.lock"
echo "lock-runtime: wrote requirements/runtime.lock"
