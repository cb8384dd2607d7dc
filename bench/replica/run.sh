#!/usr/bin/env bash
# policy_allows on a primary alone vs the primary plus one hot standby.
#
#   bench/replica/run.sh
#
# Builds and installs the release extension into a private PostgreSQL
# tree, starts a primary (port $PORT, default 54370) and a standby made
# with pg_basebackup (PORT+1), loads bench/policy/run.sh's data set
# (USERS, default 100000), then runs pgbench with
# `SELECT scim.policy_allows('probe10', 'skills', 'git')` for DURATION
# seconds (default 10) per configuration:
#   primary alone, 2 clients | primary 1 + standby 1 | primary 2 + standby 2
# and prints calls/s. Both servers share this machine's cores: on one
# machine a standby adds no CPU, only on its own machine does it add
# capacity (docs/scale.md).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

PORT=${PORT:-54370}
SPORT=$((PORT + 1))
USERS=${USERS:-100000}
DURATION=${DURATION:-10}
WORK="$(reachable_dir "$ROOT/.local/bench-replica" "/tmp/scim_pg-bench-replica-$(id -u)")"
TREE="$WORK/pgtree"
PRIMARY="$WORK/primary"
STANDBY="$WORK/standby"
cleanup() { cluster_stop "$STANDBY"; cluster_stop "$PRIMARY"; }
trap cleanup EXIT

ensure_toolchain
install_extension "$TREE" --release
use_tree "$TREE"
cleanup
rm -rf "$PRIMARY" "$STANDBY"
mkdir -p "$PRIMARY" "$STANDBY" && chown postgres "$PRIMARY" "$STANDBY" && chmod 700 "$STANDBY"
cluster_start "$PRIMARY" "$PORT"
pq "$PRIMARY" "$PORT" postgres -c "CREATE DATABASE bench" >/dev/null
runuser -u postgres -- "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$STANDBY" -R -X stream -c fast
printf "port = %s\nunix_socket_directories = '%s'\nhot_standby = on\n" "$SPORT" "$STANDBY" >>"$STANDBY/postgresql.conf"
cluster_start "$STANDBY" "$SPORT"

P="host=127.0.0.1 port=$PORT user=postgres dbname=bench"
S="host=127.0.0.1 port=$SPORT user=postgres dbname=bench"
# The policy benchmark's data (and its own sanity check), on the primary.
USERS=$USERS DURATION=1 CLIENTS=1 INQUERY_CALLS=1000 "$ROOT/bench/policy/run.sh" "$P" >/dev/null
lsn=$(psql -X -At -d "$P" -c "SELECT pg_current_wal_insert_lsn()")
until [ "$(psql -X -At -d "$S" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ]; do sleep 0.2; done
[ "$(PGOPTIONS='-c scim.tenant=bench_policy' psql -X -At -d "$S" -c "SELECT scim.policy_allows('probe10', 'skills', 'git')")" = t ] ||
    die "the standby does not answer like the primary"

script="$(mktemp)"
echo "SELECT scim.policy_allows('probe10', 'skills', 'git');" >"$script"
bench() { # conninfo clients → tps
    PGOPTIONS="-c scim.tenant=bench_policy" pgbench -n -M prepared -c "$2" -j "$2" -T "$DURATION" -f "$script" "$1" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}
alone=$(bench "$P" 2)
read -r p1 s1 < <(
    bench "$P" 1 >"$WORK/p1" &
    bench "$S" 1 >"$WORK/s1"
    wait
    echo "$(cat "$WORK/p1") $(cat "$WORK/s1")"
)
read -r p2 s2 < <(
    bench "$P" 2 >"$WORK/p2" &
    bench "$S" 2 >"$WORK/s2"
    wait
    echo "$(cat "$WORK/p2") $(cat "$WORK/s2")"
)
rm -f "$script"
printf '== policy_allows (user in 10 groups), pgbench -M prepared, %ss each, %s users, %s cores\n' "$DURATION" "$USERS" "$(nproc)"
printf '%-32s %12s\n' "configuration" "calls/s"
printf '%-32s %12.0f\n' "primary alone, 2 clients" "$alone"
printf '%-32s %12.0f  (primary %.0f + standby %.0f)\n' "primary 1 + standby 1 client" "$(awk -v a="$p1" -v b="$s1" 'BEGIN{print a+b}')" "$p1" "$s1"
printf '%-32s %12.0f  (primary %.0f + standby %.0f)\n' "primary 2 + standby 2 clients" "$(awk -v a="$p2" -v b="$s2" 'BEGIN{print a+b}')" "$p2" "$s2"
