#!/usr/bin/env bash
# Policy engine benchmark: effective_policy / policy_allows vs the same
# decision written as plain SQL.
#
#   bench/policy/run.sh 'host=/var/run/postgresql port=5499 user=postgres dbname=bench'
#
# Environment: USERS (default 1000000), DURATION seconds per pgbench run
# (default 10), CLIENTS (default "1 2"), RELOAD=0 to reuse loaded data,
# INQUERY_CALLS (default 200000; calls per in-query loop).
#
# Needs a superuser (bulk load runs with session_replication_role=replica so
# that triggers and FK checks do not slow it down; the data is generated
# consistent). Creates the extension if missing and works in its own tenant
# "bench_policy" (recreated on each load), so other tenants are untouched.
set -euo pipefail

DB=${1:?usage: run.sh <database url or conninfo>}
USERS=${USERS:-1000000}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-"1 2"}
RELOAD=${RELOAD:-1}
INQUERY_CALLS=${INQUERY_CALLS:-200000}
TENANT=bench_policy
WORK=$(mktemp -d /tmp/bench-policy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

psql_() { PGOPTIONS="-c scim.tenant=$TENANT" psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

if [[ $RELOAD == 1 ]]; then
    echo "== loading $USERS users into tenant $TENANT"
    start=$(date +%s)
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<SQL
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS scim_pg;
-- drop a previous load quickly (triggers and cascades off; every table by tenant)
SET session_replication_role = replica;
DO \$\$
DECLARE t uuid := (SELECT id FROM scim.tenants WHERE name = '$TENANT');
BEGIN
    IF t IS NOT NULL THEN
        DELETE FROM scim.policy_bindings WHERE tenant_id = t;
        DELETE FROM scim.members WHERE tenant_id = t;
        DELETE FROM scim.policies WHERE tenant_id = t;
        DELETE FROM scim.groups WHERE tenant_id = t;
        DELETE FROM scim.tokens WHERE tenant_id = t;
        DELETE FROM scim.users WHERE tenant_id = t;
        DELETE FROM scim.tenants WHERE id = t;
    END IF;
END
\$\$;
RESET session_replication_role;
SELECT scim.scim_tenant_create('$TENANT') IS NOT NULL AS tenant_created;
SQL
    psql_ <<SQL
SET session_replication_role = replica;
SET synchronous_commit = off;
CREATE TEMP TABLE t AS SELECT scim.current_tenant() AS id;

-- 1M users: u1 … uN, plus the three probe users.
INSERT INTO scim.users (tenant_id, user_name, external_id, active, resource)
SELECT t.id, 'u' || i, 'ext-' || i, true,
       jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                          'userName', 'u' || i, 'externalId', 'ext-' || i, 'active', true)
  FROM t, generate_series(1, $USERS) AS i;
INSERT INTO scim.users (tenant_id, user_name, active, resource)
SELECT t.id, n, true,
       jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'), 'userName', n)
  FROM t, unnest(ARRAY['probe1', 'probe10', 'probe50']) AS n;

-- 200 groups: bg1..bg100 bound to policies bp1..bp100, ug1..ug100 unbound,
-- and "everyone" (unbound) containing bg1..bg100 (one nesting level).
INSERT INTO scim.groups (tenant_id, display_name, resource)
SELECT t.id, n, jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'), 'displayName', n)
  FROM t, (SELECT 'bg' || i AS n FROM generate_series(1, 100) i
           UNION ALL SELECT 'ug' || i FROM generate_series(1, 100) i
           UNION ALL SELECT 'everyone') g;
CREATE TEMP TABLE gids AS SELECT display_name AS name, id FROM scim.groups WHERE tenant_id = (SELECT id FROM t);
CREATE UNIQUE INDEX ON gids (name);

-- every user in one bound and one unbound group (10k members each at 1M)
INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
SELECT u.tenant_id, g.id, u.id, 'User'
  FROM scim.users u
  JOIN gids g ON g.name IN ('bg' || (1 + substr(u.user_name, 2)::int % 100), 'ug' || (1 + substr(u.user_name, 2)::int % 100))
 WHERE u.tenant_id = (SELECT id FROM t) AND u.user_name ~ '^u[0-9]+$';
INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
SELECT (SELECT id FROM t), e.id, g.id, 'Group'
  FROM gids e, gids g WHERE e.name = 'everyone' AND g.name LIKE 'bg%';
-- probes: probeK in bg1..bgK
INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
SELECT u.tenant_id, g.id, u.id, 'User'
  FROM scim.users u, generate_series(1, 50) k, gids g
 WHERE u.tenant_id = (SELECT id FROM t) AND u.user_name IN ('probe1', 'probe10', 'probe50')
   AND k <= substr(u.user_name, 6)::int AND g.name = 'bg' || k;
RESET session_replication_role;
-- The load bypassed the triggers that version the policy graph backends keep.
UPDATE scim.tenants SET policy_epoch = policy_epoch + 1 WHERE id = (SELECT id FROM t);

-- policies (through the API: validated and normalised) and bindings
SELECT count(scim.scim_policy_put('bp' || i, jsonb_build_object(
         'allow', jsonb_build_object(
             'skills', (SELECT jsonb_agg(s) FROM (SELECT 'git' AS s UNION ALL SELECT 'docker'
                                                   UNION ALL SELECT 'skill' || j FROM generate_series(i, i + 20) j) x),
             'models', '*'),
         'deny', jsonb_build_object('models', jsonb_build_array('model' || i)),
         'require', jsonb_build_object('hooks', jsonb_build_array('audit')),
         'limits', jsonb_build_object('tokens', 1000 + i))))
  FROM generate_series(1, 100) i;
SELECT count(scim.scim_policy_bind(g.id::text, 'bp' || substr(g.name, 3))) FROM gids g WHERE g.name LIKE 'bg%';
SQL
    psql -X -q -d "$DB" -c "VACUUM ANALYZE scim.users, scim.groups, scim.members, scim.policies, scim.policy_bindings" >/dev/null
    echo "   loaded in $(( $(date +%s) - start )) s"
fi

psql_ -At -c "SELECT 'users=' || count(*) FROM scim.users WHERE tenant_id = scim.current_tenant()" \
           -c "SELECT 'memberships=' || count(*) FROM scim.members WHERE tenant_id = scim.current_tenant()"

# Sanity: the Rust function and the hand-written SQL agree.
cat > "$WORK/handwritten.sql" <<'SQL'
-- The same allow decision as scim.policy_allows(:ref, :domain, :item),
-- written directly against the tables (userName lookup only).
WITH RECURSIVE
u AS (SELECT x.id FROM scim.users x
       WHERE x.tenant_id = (SELECT scim.current_tenant()) AND scim.fold(x.user_name) = scim.fold(:'ref')
         AND coalesce(x.active, true)),
g(id) AS (SELECT m.group_id FROM u JOIN scim.members m ON m.tenant_id = (SELECT scim.current_tenant()) AND m.member_id = u.id
          UNION
          SELECT m.group_id FROM g JOIN scim.members m ON m.tenant_id = (SELECT scim.current_tenant()) AND m.member_id = g.id),
d AS (SELECT p.document FROM scim.policies p
       WHERE p.tenant_id = (SELECT scim.current_tenant())
         AND p.name IN (SELECT b.policy FROM g JOIN scim.policy_bindings b
                         ON b.tenant_id = (SELECT scim.current_tenant()) AND b.group_id = g.id)),
dd AS (SELECT coalesce((SELECT array_agg(document) FROM d),
                       (SELECT array_agg(p.document) FROM scim.tenants t
                          JOIN scim.policies p ON p.tenant_id = t.id AND p.name = t.default_policy
                         WHERE t.id = (SELECT scim.current_tenant()) AND EXISTS (SELECT FROM u))) AS docs)
SELECT coalesce(bool_and(coalesce(doc->'allow'->:'domain' = '"*"' OR doc->'allow'->:'domain' ? :'item', false))
       AND NOT bool_or(coalesce(doc->'deny'->:'domain' = '"*"' OR doc->'deny'->:'domain' ? :'item', false)), false)
       AND :'item' NOT IN ('', '*') AS allowed
  FROM dd, unnest(dd.docs) AS doc;
SQL

check() {
    local ref=$1 domain=$2 item=$3
    local a b
    a=$(psql_ -At -c "SELECT scim.policy_allows('$ref', '$domain', '$item')")
    b=$(psql_ -At -v ref="$ref" -v domain="$domain" -v item="$item" -f "$WORK/handwritten.sql")
    [[ $a == "$b" ]] || { echo "MISMATCH for ($ref, $domain, $item): policy_allows=$a handwritten=$b"; exit 1; }
}
for r in probe1 probe10 probe50 u42 nobody; do
    for di in "skills git" "skills skill30" "models model5" "models other" "plugins x"; do
        # shellcheck disable=SC2086
        check $r $di
    done
done
echo "== sanity: policy_allows and the hand-written SQL agree on 25 cases"

# pgbench: one script per measured statement.
mk() { # name, sql
    printf '%s\n' "$2" > "$WORK/$1.pgb"
}
for k in 1 10 50; do
    mk "allows_$k" "SELECT scim.policy_allows('probe$k', 'skills', 'git');"
    mk "sql_$k" "$(sed -e "s/:'ref'/'probe$k'/g; s/:'domain'/'skills'/g; s/:'item'/'git'/g; /^--/d" "$WORK/handwritten.sql")"
done
mk "effective_10" "SELECT scim.effective_policy('probe10');"
mk "effective_50" "SELECT scim.effective_policy('probe50');"

# p50 (µs) from a pgbench per-transaction log (column 3 = latency in µs).
p50() { cat "$@" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }

declare -A TPS P50
run() { # name clients
    local name=$1 c=$2 out
    rm -f "$WORK"/log.*
    out=$(cd "$WORK" && PGOPTIONS="-c scim.tenant=$TENANT" pgbench -n -M prepared -c "$c" -j "$c" -T "$DURATION" \
          -l --log-prefix="$WORK/log" -f "$WORK/$name.pgb" "$DB" 2>&1) || { echo "$out"; exit 1; }
    TPS[$name,$c]=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
    P50[$name,$c]=$(p50 "$WORK"/log.*)
}

names="allows_1 sql_1 allows_10 sql_10 allows_50 sql_50 effective_10 effective_50"
for c in $CLIENTS; do
    for n in $names; do
        printf '   running %-13s clients=%s …\r' "$n" "$c"
        run "$n" "$c"
    done
done
printf '%60s\r' ''

echo
echo "== pgbench -M prepared, ${DURATION}s per run, users=$USERS (latency p50 in µs, per round trip)"
printf '%-28s' "statement"
for c in $CLIENTS; do printf ' | %10s %8s' "tps c=$c" "p50 µs"; done
echo
for n in $names; do
    printf '%-28s' "$n"
    for c in $CLIENTS; do printf ' | %10.0f %8s' "${TPS[$n,$c]}" "${P50[$n,$c]}"; done
    echo
done
echo
echo "== ratio policy_allows / hand-written SQL (throughput; >1 = policy_allows faster)"
for k in 1 10 50; do
    printf '%-28s' "user in $k bound groups"
    for c in $CLIENTS; do
        printf ' | c=%s %6.2fx' "$c" "$(awk -v a="${TPS[allows_$k,$c]}" -v b="${TPS[sql_$k,$c]}" 'BEGIN {print a / b}')"
    done
    echo
done

# Per-call cost without the client round trip: many calls in one statement.
echo
echo "== in-query: $INQUERY_CALLS calls in one statement, one backend (µs per call, calls/s)"
for k in 1 10 50; do
    psql_ -At <<SQL
SELECT scim.policy_allows('probe$k', 'skills', 'git');  -- warm plans and cache
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE scim.policy_allows('probe$k', 'skills', CASE WHEN i % 2 = 0 THEN 'git' ELSE 'nope' END)) FROM generate_series(1, $INQUERY_CALLS) i \g /dev/null
SELECT format('policy_allows probe%s: %s µs/call, %s calls/s', $k,
              round((extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1e6 / $INQUERY_CALLS)::numeric, 1),
              round($INQUERY_CALLS / extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)));
SQL
done
echo
echo "(2 shared cores, other engineers' builds and tests may run concurrently: expect noise of ±20%.)"
