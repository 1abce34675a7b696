#!/usr/bin/env bash
# Everything `make run` and `make test` need on a fresh Debian 12 machine. Idempotent.
#
# 1. Debian packages (root: apt-get update once, then install what is missing;
#    otherwise: say which are missing and fail).
#    PostgreSQL 15's contrib modules (pgcrypto) ship inside postgresql-15 on Debian 12
#    (postgresql-contrib-15 is only a virtual name it provides), so it is not listed.
# 2. .venv (python3 -m venv) and `pip install -e '.[dev]'` whenever pyproject.toml is
#    newer than the stamp .venv/.installed.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"

PACKAGES=(
    postgresql-15
    postgresql-client-15
    postgresql-15-cron
    postgresql-15-pgtap
    postgresql-15-plpgsql-check
    libtap-parser-sourcehandler-pgtap-perl
    chromium
)
PYTHON=${PYTHON:-python3}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
# `python3 -m venv` needs ensurepip, which Debian's own python3 keeps in python3-venv.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
# The bench's peer (PostGraphile, installed by npm at bench time) needs Node.js;
# a machine that has node from elsewhere keeps it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install: missing Debian packages: ${missing[*]}" >&2
        echo "install: as root run:  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "install: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install: Debian packages present"
fi

VENV="$REPO/.venv"
STAMP="$VENV/.installed"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "install: creating $VENV"
    rm -rf -- "$VENV"
    "$PYTHON" -m venv "$VENV"
    rm -f -- "$STAMP"
fi
if [[ ! -f "$STAMP" || pyproject.toml -nt "$STAMP" ]]; then
    echo "install: pip install -e '.[dev]'"
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    touch "$STAMP"
else
    echo "install: .venv up to date"
fi
