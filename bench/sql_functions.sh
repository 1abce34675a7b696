#!/usr/bin/env bash
# Core SQL API against its limits, measured in one run with pgbench:
# bcrypt cost-10 hashes/s (crypt) and indexed lookups/s (lookup) beside
# check_phone_with_cache (hit and miss, cache off and on), login and register.
#
#   bench/sql_functions.sh [seconds per run, default 5]
#
# Uses DATABASE_URL's server (or the project-local cluster), in a fresh
# database guestlist_bench_sql. Prints a markdown table of medians of 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
USERS=10000
BASE_URL=${DATABASE_URL:-$(scripts/local-db.sh start >/dev/null && scripts/local-db.sh url)}
DB=guestlist_bench_sql
URL=$(.venv/bin/python -c "import sys; from psycopg.conninfo import make_conninfo; print(make_conninfo(sys.argv[1], dbname='$DB'))" "$BASE_URL")
psql -Xq "$BASE_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
.venv/bin/python migrate.py "$URL" >/dev/null
EVENT_ID=$(psql -XAtq "$URL" -v users=$USERS -f bench/pgbench/seed.sql | tail -1)

tps() {  # script clients [PGOPTIONS] -> tps (median of 3)
    local script=$1 clients=$2 opts=${3:-} runs=()
    for _ in 1 2 3; do
        runs+=("$(PGOPTIONS="$opts" pgbench -n -M prepared -T "$SECS" -c "$clients" -j "$clients" \
            -D users=$USERS -D event_id="$EVENT_ID" -f "bench/pgbench/$script.sql" "$URL" 2>/dev/null \
            | awk '/^tps/ {print $3}')")
    done
    printf '%s\n' "${runs[@]}" | sort -g | sed -n 2p
}
row() {  # label tps limit
    awk -v l="$1" -v t="$2" -v lim="$3" 'BEGIN { printf "| %s | %.0f | %.2f |\n", l, t, t / lim }'
}

echo "| run | tps | ratio to its limit |"
echo "|---|---|---|"
for c in 2 8; do
    LOOKUP=$(tps lookup "$c")
    row "indexed lookup, $c clients (limit)" "$LOOKUP" "$LOOKUP"
    row "check_phone hit, cache off, $c clients" "$(tps check_phone_hit "$c")" "$LOOKUP"
    row "check_phone miss, cache off, $c clients" "$(tps check_phone_miss "$c")" "$LOOKUP"
    tps check_phone_hit 1 "-c guestlist.phone_cache=on" >/dev/null  # warm the cache
    row "check_phone hit, cache on, $c clients" \
        "$(tps check_phone_hit "$c" "-c guestlist.phone_cache=on")" "$LOOKUP"
    row "check_phone miss, cache on, $c clients" \
        "$(tps check_phone_miss "$c" "-c guestlist.phone_cache=on")" "$LOOKUP"
done
for c in 2 4; do
    CRYPT=$(tps crypt "$c")
    row "crypt() bcrypt-10, $c clients (limit)" "$CRYPT" "$CRYPT"
    row "login, $c clients" "$(tps login "$c")" "$CRYPT"
    row "register, $c clients" "$(tps register "$c")" "$CRYPT"
done
awk -v t="$(tps crypt 1)" 'BEGIN { printf "\nbcrypt cost 10: %.1f ms per hash (1 client)\n", 1000 / t }'
psql -Xq "$BASE_URL" -c "DROP DATABASE $DB WITH (FORCE)"
