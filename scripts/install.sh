#!/usr/bin/env bash
# What `make run` (scripts/install.sh) and `make test` (scripts/install.sh test) need on a fresh
# Debian 12 machine. Idempotent.
#
#   runtime (default): PostgreSQL 15 with pg_cron, and .venv with the runtime packages at the
#                      versions of requirements/runtime.lock plus this checkout (editable), and
#                      node + npm for the front-end libraries package.json lists as
#                      dependencies (jsqr, the door page's QR decoder) into node_modules/;
#   test:              the runtime, then pgTAP, plpgsql_check, pg_prove, chromium, the `test`
#                      and `bench` extras, and the npm test tools of package.json (axe-core)
#                      into node_modules/ (node also runs the bench's PostGraphile).
#   cluster:           the runtime, plus haproxy and pgbouncer for `make cluster` (the test
#                      list has them too: the cluster smoke test). Debian starts their own
#                      services on install; the cluster runs its own processes with its own
#                      configurations, so those services are stopped and disabled here.
#
# Debian packages: as root, apt-get update once and install what is missing; otherwise say
# which are missing and fail. PostgreSQL 15's contrib modules (pgcrypto) ship inside
# postgresql-15 on Debian 12 (postgresql-contrib-15 is only a virtual name it provides).
# The venv is (re)installed whenever pyproject.toml or the lock is newer than its stamp.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"

MODE=${1:-runtime}
case "$MODE" in
    runtime | test | cluster) ;;
    *)
        echo "usage: scripts/install.sh [runtime | test | cluster]" >&2
        exit 2
        ;;
esac

PACKAGES=(postgresql-15 postgresql-client-15 postgresql-15-cron)
if [[ $MODE == test ]]; then
    PACKAGES+=(
        postgresql-15-pgtap
        postgresql-15-plpgsql-check
        libtap-parser-sourcehandler-pgtap-perl
        chromium
    )
fi
if [[ $MODE == test || $MODE == cluster ]]; then
    PACKAGES+=(haproxy pgbouncer)
fi
PYTHON=${PYTHON:-python3}
LOCK=requirements/runtime.lock

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
# npm installs the served front-end libraries (runtime) and the test tools; the bench's peer
# (PostGraphile, installed by npm at bench time) runs on Node.js. A machine that has node from
# elsewhere keeps it.
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
    echo "install: Debian packages present ($MODE)"
fi
# Debian's haproxy and pgbouncer services would hold ports (pgbouncer 6432) with configs of
# their own: the cluster starts its own processes (scripts/cluster.py).
if [[ $(id -u) -eq 0 ]] && [[ -d /run/systemd/system ]]; then
    for service in haproxy pgbouncer; do
        if systemctl is-enabled --quiet "$service" 2>/dev/null || systemctl is-active --quiet "$service" 2>/dev/null; then
            echo "install: stopping and disabling Debian's $service service (the cluster runs its own)"
            systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    done
fi

VENV="$REPO/.venv"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "install: creating $VENV"
    rm -rf -- "$VENV"
    "$PYTHON" -m venv "$VENV"
    rm -f -- "$VENV"/.installed-*
fi

# Installs when the stamp is missing or older than pyproject.toml or the lock.
stale() {
    [[ ! -f $1 || pyproject.toml -nt $1 || $LOCK -nt $1 ]]
}

STAMP="$VENV/.installed-runtime"
if stale "$STAMP"; then
    echo "install: runtime packages from $LOCK, then this checkout (editable)"
    "$VENV/bin/python" -m pip install -q -r "$LOCK"
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    touch "$STAMP"
else
    echo "install: .venv runtime up to date"
fi

if [[ $MODE == test ]]; then
    STAMP="$VENV/.installed-test"
    if stale "$STAMP"; then
        # the lock as constraints: the test stack never moves a runtime package off its pin
        echo "install: the test and bench extras"
        "$VENV/bin/python" -m pip install -q -c "$LOCK" -e '.[test,bench]'
        touch "$STAMP"
    else
        echo "install: .venv test stack up to date"
    fi
fi

# npm's libraries at the lock's versions into the git-ignored node_modules/, again when the lock
# is newer: the served ones (package.json dependencies: jsqr for the door page) always, the test
# tools (devDependencies: axe-core for the browser accessibility test) with `test`. The stamp says
# which set is there (npm ci empties node_modules/ first, stamps included): a runtime install
# after a test install keeps the test tools; a test install after a runtime one adds them.
npm_fresh() {
    [[ -f node_modules/.installed-$1 && ! package-lock.json -nt node_modules/.installed-$1 ]]
}
NPM_STAMP=node_modules/.installed-$MODE
if ! npm_fresh "$MODE" && ! npm_fresh test; then
    if [[ $MODE == test ]]; then
        echo "install: npm libraries and test tools (npm ci)"
        npm ci --no-audit --no-fund --loglevel=error
    else
        echo "install: npm libraries (npm ci --omit=dev)"
        npm ci --omit=dev --no-audit --no-fund --loglevel=error
    fi
    touch "$NPM_STAMP"
else
    echo "install: npm libraries up to date ($MODE)"
fi
