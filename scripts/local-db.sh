#!/usr/bin/env bash
# The project-local PostgreSQL cluster behind `make run`.
#
#   scripts/local-db.sh start    init (once) and start the cluster, create database guestlist
#   scripts/local-db.sh stop     stop it
#   scripts/local-db.sh status   running or not, and where
#   scripts/local-db.sh url      print the libpq URL of database guestlist
#
# Data lives in .pgdata/ in the repo (git-ignored) when the postgres OS user can
# reach it, else in /var/tmp/guestlist-<hash of the repo path>/. The cluster has
# no TCP listener: one Unix socket in its own folder (mode 0700: only its owner
# and root get in), trust auth. Port: $PGPORT_LOCAL, default 54329.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
PG_CTL="$REPO/scripts/pg_ctl"
PORT=${PGPORT_LOCAL:-54329}
DBNAME=guestlist
IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n "$dir" && -x "$dir/psql" ]]; then
            printf '%s\n' "$dir"
            return
        fi
    fi
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    printf '%s\n' "${dir:-/usr/bin}"
}
BINDIR=${PG_BINDIR:-$(bindir)}

# Where the cluster lives. The socket path must stay under the 107-byte limit.
choose_area() {
    local in_repo="$REPO/.pgdata"
    local fallback
    fallback="/var/tmp/guestlist-$(printf '%s' "$REPO" | sha256sum | cut -c1-10)"
    if ((${#in_repo} + ${#PORT} + 20 > 100)); then
        printf '%s\n' "$fallback"
    elif ((IS_ROOT)) && ! runuser -u postgres -- test -x "$REPO" 2>/dev/null; then
        printf '%s\n' "$fallback"
    else
        printf '%s\n' "$in_repo"
    fi
}
AREA=$(choose_area)
DATA="$AREA/data"
SOCK="$AREA/sock"
LOG="$AREA/postgres.log"

urlencode() {
    local s=$1 out='' c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case "$c" in
            [A-Za-z0-9/._~-]) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

url() {
    printf 'postgresql:///%s?host=%s&port=%s&user=postgres\n' "$DBNAME" "$(urlencode "$SOCK")" "$PORT"
}

running() {
    [[ -f "$DATA/PG_VERSION" ]] && "$PG_CTL" status -D "$DATA" >/dev/null 2>&1
}

psql_local() {
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres "$@"
}

init_cluster() {
    mkdir -p -- "$AREA"
    if ((IS_ROOT)); then
        chown postgres: -- "$AREA"
    fi
    echo "local-db: initdb in $DATA"
    "$PG_CTL" initdb -s -D "$DATA" \
        -o "--username=postgres --auth-local=trust --auth-host=reject --encoding=UTF8 --locale=C.UTF-8"
}

write_conf() {
    # Settings live in a file of their own, included from postgresql.conf (paths with
    # spaces survive this; they would not survive pg_ctl -o).
    local conf="$DATA/guestlist.conf" tmp
    tmp=$(mktemp)
    cat >"$tmp" <<CONF
# Written by scripts/local-db.sh on every start; edit that script, not this file.
port = $PORT
listen_addresses = ''
unix_socket_directories = '${SOCK//\'/\'\'}'
unix_socket_permissions = 0700
max_connections = 300
shared_preload_libraries = 'pg_cron'
cron.database_name = '$DBNAME'
cron.host = '${SOCK//\'/\'\'}'
CONF
    cat "$tmp" >"$conf"
    rm -f -- "$tmp"
    if ! grep -q "^include_if_exists = 'guestlist.conf'" "$DATA/postgresql.conf"; then
        printf "\ninclude_if_exists = 'guestlist.conf'\n" >>"$DATA/postgresql.conf"
    fi
    if ((IS_ROOT)); then
        chown postgres: -- "$conf"
    fi
}

wait_ready() {
    local i
    for ((i = 0; i < 60; i++)); do
        if "$BINDIR/pg_isready" -q -h "$SOCK" -p "$PORT" -U postgres -d postgres; then
            return 0
        fi
        sleep 0.5
    done
    echo "local-db: server did not become ready; last lines of $LOG:" >&2
    tail -n 20 -- "$LOG" >&2 || true
    return 1
}

start() {
    [[ -f "$DATA/PG_VERSION" ]] || init_cluster
    mkdir -p -- "$SOCK"
    chmod 0700 -- "$SOCK"
    if ((IS_ROOT)); then
        chown postgres: -- "$SOCK"
    fi
    if running; then
        echo "local-db: already running ($DATA)"
    else
        write_conf
        if ! "$PG_CTL" start -s -w -t 60 -D "$DATA" -l "$LOG"; then
            echo "local-db: pg_ctl start failed; last lines of $LOG:" >&2
            tail -n 20 -- "$LOG" >&2 || true
            exit 1
        fi
        echo "local-db: started on port $PORT, socket folder $SOCK"
    fi
    wait_ready
    if [[ -z $(psql_local -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'") ]]; then
        psql_local -d postgres -c "CREATE DATABASE $DBNAME"
        echo "local-db: created database $DBNAME"
    fi
}

stop() {
    if running; then
        "$PG_CTL" stop -s -D "$DATA" -m fast
        echo "local-db: stopped"
    else
        echo "local-db: not running"
    fi
}

status() {
    if running; then
        echo "local-db: running, data $DATA, port $PORT"
        echo "DATABASE_URL=$(url)"
    else
        echo "local-db: not running (data $DATA, port $PORT)"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) url ;;
    *)
        echo "usage: $0 {start|stop|status|url}" >&2
        exit 2
        ;;
esac
