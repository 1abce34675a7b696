#!/usr/bin/env bash
# Promote a hot standby to primary and point pgbouncer at it.
#
#   scripts/failover.sh STANDBY_DATA PGBOUNCER_INI PGBOUNCER_PIDFILE NEW_HOST NEW_PORT
#
# 1. `pg_ctl promote -w` on the standby's data directory (as the postgres OS user when run as
#    root: scripts/pg_ctl): it leaves recovery and accepts writes.
# 2. Rewrites host= and port= of every [databases] entry of the pgbouncer configuration to the
#    new primary, then SIGHUP (pgbouncer's reload): new server connections go there; the
#    old primary's are gone with it, and the clients' next transactions open new ones.
#
# Fence the old primary BEFORE running this (stop it, or cut it off): two writable nodes
# would each take registrations. Connections that need a session (DATABASE_SESSION_URL: the
# LISTEN connections) reach the new primary by themselves when their URL lists both nodes
# with target_session_attrs=read-write. docs/deploy.md walks through it.
set -euo pipefail

if (($# != 5)); then
    echo "usage: $0 STANDBY_DATA PGBOUNCER_INI PGBOUNCER_PIDFILE NEW_HOST NEW_PORT" >&2
    exit 2
fi
DATA=$1 INI=$2 PIDFILE=$3 HOST=$4 PORT=$5
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

started=$(date +%s.%N)
"$HERE/pg_ctl" promote -w -t 60 -D "$DATA"

# only the [databases] section: host=… port=… of each entry
tmp=$(mktemp)
awk -v host="$HOST" -v port="$PORT" '
    /^\[/ { in_db = ($0 == "[databases]") }
    in_db && /^[A-Za-z0-9_]+ *=/ {
        gsub(/host=[^ ]+/, "host=" host)
        gsub(/port=[^ ]+/, "port=" port)
    }
    { print }
' "$INI" >"$tmp"
cat "$tmp" >"$INI" # keep the file's owner and mode
rm -f -- "$tmp"
kill -HUP "$(cat -- "$PIDFILE")"

ended=$(date +%s.%N)
printf 'failover: %s promoted, pgbouncer reloaded with %s:%s (%.1f s)\n' \
    "$DATA" "$HOST" "$PORT" "$(echo "$ended - $started" | bc 2>/dev/null || echo 0)"
