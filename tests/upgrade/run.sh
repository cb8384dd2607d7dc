# shellcheck shell=bash
# The upgrade test (scripts/test step `upgrade`; sourced by scripts/test,
# which provides DATA, PORT, TREE, TMP, PGBIN and scripts/lib.sh).
#
# Done the way a package upgrade happens: the previous release's package
# (built from the repository's history, cached by commit) is installed in
# the test cluster's PostgreSQL tree and databases are made with it; then
# the current package is installed over it (the previous library stays
# beside the new one) and ALTER EXTENSION scim_pg UPDATE is run. Checks:
#   - calls through the old catalog work before the UPDATE (they run the old
#     library), and fail with an error, not a crash, once it is gone; two
#     scim_pg libraries of 0.2.0 or later refuse to share a session;
#   - the fixture (tests/upgrade/fixture-0.1.0.sql: 3 tenants, 1,000 users,
#     nested groups, policies, tokens) reads back identically through the
#     API (tests/upgrade/readback.sql), tokens included;
#   - the upgraded schema equals a fresh install's (tests/upgrade/schema.py:
#     pg_dump of the extension, roles, grants, configuration tables), and
#     the comparison itself reports a planted difference by name;
#   - the pg_regress suite passes on an upgraded database (its 99_drop:
#     DROP EXTENSION leaves nothing), and DROP EXTENSION of the upgraded
#     fixture database leaves nothing;
#   - data that breaks a new constraint stops the UPDATE with nothing
#     changed, and the fix the error's HINT gives makes it pass.

UPG_PASSED=0
UPG_FAILED=0
# check NAME CMD...: one named check, counted.
check() {
    local name="$1"
    shift
    if "$@"; then
        UPG_PASSED=$((UPG_PASSED + 1))
        echo "ok: $name"
    else
        UPG_FAILED=$((UPG_FAILED + 1))
        echo "FAILED: $name"
    fi
}

upg_sql() { pq "$DATA" "$PORT" "$@"; }
upg_version() { upg_sql "$1" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'scim_pg'"; }
upg_snapshot() {
    PATH="$PGBIN:$PATH" python3 "$ROOT/tests/upgrade/schema.py" snapshot "$PGBIN/pg_dump" \
        "host=127.0.0.1 port=$PORT user=postgres dbname=$1" "$2"
}
upg_compare() { python3 "$ROOT/tests/upgrade/schema.py" compare "$1" "$2"; }

upgrade() {
    local base current="$ROOT/target/scim_pg-package-debug"
    base="$(build_base_package "$UPGRADE_BASE_COMMIT")" || return 1
    install_package "$base" "$TREE" || return 1
    # A step the checks build on failed: counted, and said.
    upgrade_checks "$current" || { UPG_FAILED=$((UPG_FAILED + 1)); echo "FAILED: the upgrade test stopped early"; }
    # Whatever happened, the tree ends with the current package (the
    # control file names the current version again).
    install_package "$current" "$TREE" || UPG_FAILED=$((UPG_FAILED + 1))
    echo "$UPG_PASSED passed, $UPG_FAILED failed"
    [ "$UPG_FAILED" -eq 0 ]
}

upgrade_checks() {
    local current="$1" out="$TMP/upgrade" db=scim_upgrade
    local regress_db=scim_upgrade_regress refused=scim_upgrade_refused fresh=scim_upgrade_fresh
    local lib="$TREE/$PG_LIB_REL"
    mkdir -p "$out" && chmod 755 "$out"
    upg_sql postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS $regress_db" \
        -c "DROP DATABASE IF EXISTS $refused" -c "DROP DATABASE IF EXISTS $fresh" \
        -c "DROP DATABASE IF EXISTS ${fresh}_planted" -c "DROP DATABASE IF EXISTS ${fresh}_no_trgm" || return 1

    # Release 0.1.0 installed: three databases made with it, the first two
    # with the optional contrib extensions as the regress suite makes them
    # (btree_gin is not used by 0.1.0; 0.2.0 puts it to use), the third
    # with neither.
    local d
    for d in $db $regress_db; do
        upg_sql postgres -c "CREATE DATABASE $d" &&
            upg_sql "$d" -c "CREATE EXTENSION btree_gin" -c "CREATE EXTENSION pg_trgm" -c "CREATE EXTENSION scim_pg" || return 1
    done
    upg_sql postgres -c "CREATE DATABASE $refused" && upg_sql $refused -c "CREATE EXTENSION scim_pg" || return 1
    check "databases created at $UPGRADE_BASE_VERSION" [ "$(upg_version $db)" = "$UPGRADE_BASE_VERSION" ]
    local t0=$SECONDS
    upg_sql $db -f "$ROOT/tests/upgrade/fixture-0.1.0.sql" >/dev/null || return 1
    log "fixture loaded through the $UPGRADE_BASE_VERSION API in $((SECONDS - t0)) s"
    upg_sql $db -tA -f "$ROOT/tests/upgrade/readback.sql" >"$out/before.txt" || return 1
    check "fixture read back: 1,000 users, 15 groups, 6 tokens" \
        [ "$(grep -c '^[a-z]* user ' "$out/before.txt")/$(grep -c '^[a-z]* group ' "$out/before.txt")/$(grep -c '^[a-z]* token ' "$out/before.txt")" = 1000/15/6 ]
    # Data 0.2.0's constraints refuse: a membership naming a user that does
    # not exist, and two userNames that only Unicode case folding equates.
    upg_sql $refused -c "INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                         SELECT '00000000-0000-0000-0000-000000000000', (scim.scim_create_group('{\"displayName\": \"g\"}')->>'id')::uuid,
                                gen_random_uuid(), 'User'" \
        -c "SELECT scim.scim_create_user('{\"userName\": \"straße\"}'), scim.scim_create_user('{\"userName\": \"STRASSE\"}')" >/dev/null || return 1

    # The current package installed over it.
    install_package "$current" "$TREE" || return 1
    check "both libraries installed" test -f "$lib/scim_pg.so" -a -f "$lib/$EXT_LIBRARY.so"
    check "old catalog, new package: the old functions run the old library" \
        [ "$(upg_sql $db -tAc 'SELECT scim.scim_build_info()')" = "$UPGRADE_BASE_VERSION (debug)" ]
    upg_sql $db -tA -f "$ROOT/tests/upgrade/readback.sql" >"$out/before-new-package.txt" 2>&1
    check "old catalog, new package: the fixture reads back as before" cmp -s "$out/before.txt" "$out/before-new-package.txt"
    # scim_token_issue kept its C symbol in 0.2.0 but takes three arguments
    # there: through the old catalog it must still run 0.1.0's code.
    local between
    between=$(upg_sql $db -tA -c "SELECT FROM scim.scim_tenant_create('between')" -c "SET scim.tenant = 'between'" \
        -c "SELECT scim.scim_token_issue('issued before the UPDATE')")
    check "old catalog, new package: scim_token_issue(label) (same C symbol, new arguments in 0.2.0) runs 0.1.0's" \
        [ "${between#scim_}" != "$between" ]
    # A package that removed the old library: an error, not a crash.
    mv "$lib/scim_pg.so" "$lib/scim_pg.so.aside" || return 1
    upg_sql $db -tAc "SELECT scim.scim_get('User', '00000000-0000-0000-0000-000000000001')" >"$out/no-old-lib.txt" 2>&1
    mv "$lib/scim_pg.so.aside" "$lib/scim_pg.so" || return 1
    check "old catalog without its library: an error" grep -q 'could not access file "$libdir/scim_pg"' "$out/no-old-lib.txt"
    # Two libraries of 0.2.0 or later in one session: refused by the second.
    cp "$lib/$EXT_LIBRARY.so" "$lib/scim_pg-second-copy.so" || return 1
    upg_sql $db -c "LOAD '$EXT_LIBRARY'" -c "LOAD 'scim_pg-second-copy'" >"$out/two-libs.txt" 2>&1
    rm -f "$lib/scim_pg-second-copy.so"
    check "a second scim_pg library in a session is refused" \
        grep -q "cannot be loaded: this session already runs scim_pg library" "$out/two-libs.txt"

    # The UPDATE, in a session that has used the old library.
    t0=$(date +%s%N)
    upg_sql $db -tA -c "SELECT scim.scim_build_info()" -c "ALTER EXTENSION scim_pg UPDATE" \
        -c "SELECT scim.scim_build_info()" >"$out/update.txt" 2>&1
    log "ALTER EXTENSION scim_pg UPDATE ($UPGRADE_BASE_VERSION -> $EXT_VERSION, 1,000 users): $((($(date +%s%N) - t0) / 1000000)) ms"
    check "UPDATE in a session that used the old library" \
        [ "$(tr '\n' ' ' <"$out/update.txt")" = "$UPGRADE_BASE_VERSION (debug) $EXT_VERSION (debug) " ]
    check "extension at $EXT_VERSION" [ "$(upg_version $db)" = "$EXT_VERSION" ]
    upg_sql $db -tA -f "$ROOT/tests/upgrade/readback.sql" >"$out/after.txt" 2>&1
    if ! cmp -s "$out/before.txt" "$out/after.txt"; then
        diff "$out/before.txt" "$out/after.txt" | head -40
    fi
    check "every fixture object reads back identically, old tokens authenticate" cmp -s "$out/before.txt" "$out/after.txt"
    check "a token issued between install and UPDATE authenticates" [ "$(upg_sql $db -tAc "
        SELECT r.status || ' ' || (r.body->>'totalResults')
          FROM scim.scim_http('GET', '/Users', 'count=1', jsonb_build_object('authorization', 'Bearer $between')) r")" = "200 0" ]
    check "stored emails refolded (ß matches SS)" [ "$(upg_sql $db -tAc "SET scim.tenant = 'second'" \
        -c "SELECT scim.scim_list('User', 'emails.value sw \"STRASSE.20@\"', 1, 10)->'Resources'->0->>'userName'")" = second-user-20 ]

    # The schema: as a fresh install's.
    upg_sql postgres -c "CREATE DATABASE $fresh" &&
        upg_sql $fresh -c "CREATE EXTENSION btree_gin" -c "CREATE EXTENSION pg_trgm" -c "CREATE EXTENSION scim_pg" || return 1
    upg_snapshot $fresh "$out/fresh.schema" && upg_snapshot $db "$out/upgraded.schema" || return 1
    check "upgraded schema = fresh install's (tests/upgrade/schema.py)" upg_compare "$out/fresh.schema" "$out/upgraded.schema"
    # The comparison names what differs: plant two differences.
    upg_sql postgres -c "CREATE DATABASE ${fresh}_planted TEMPLATE $fresh" &&
        upg_sql ${fresh}_planted -c "DROP INDEX scim.users_created" -c "ALTER FUNCTION scim.scim_tokens() RESET search_path" &&
        upg_snapshot ${fresh}_planted "$out/planted.schema" || return 1
    upg_compare "$out/fresh.schema" "$out/planted.schema" >"$out/planted.txt"
    check "the comparison names each difference" \
        [ "$(grep -E '^(MISSING|EXTRA|DIFFERS) ' "$out/planted.txt" | tr -s ' ' | tr '\n' ';')" = "MISSING INDEX users_created;DIFFERS FUNCTION scim_tokens();" ]

    # The regress suite on an upgraded database (its setup without the
    # CREATE EXTENSIONs: the database has them).
    upg_sql $regress_db -c "ALTER EXTENSION scim_pg UPDATE" >/dev/null || return 1
    local input="$out/regress-input"
    mkdir -p "$input" && cp -r tests/pg_regress/sql tests/pg_regress/expected "$input/" &&
        sed -i '/^CREATE EXTENSION \(btree_gin\|pg_trgm\|scim_pg\);$/d' "$input/sql/00_setup.sql" "$input/expected/00_setup.out" || return 1
    # shellcheck disable=SC2046
    if ! run_pg_regress "$PORT" "$input" "$out/regress" "$regress_db" $(regress_files "$input"); then
        cat "$out/regress/regression.diffs" 2>/dev/null | head -80
        UPG_FAILED=$((UPG_FAILED + 1))
    fi

    # DROP EXTENSION after the upgrade leaves nothing of it.
    upg_sql $db -c "DROP EXTENSION scim_pg" >/dev/null
    check "DROP EXTENSION after the upgrade leaves nothing" [ "$(upg_sql $db -tAc "
        SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'scim')
             + (SELECT count(*) FROM pg_proc WHERE probin LIKE '%scim_pg%' OR proname LIKE 'scim\_%')
             + (SELECT count(*) FROM pg_type WHERE typname = 'http_response')
             + (SELECT count(*) FROM pg_extension WHERE extname = 'scim_pg')")" = 0 ]

    # Data that breaks a new constraint: refused, nothing changed, and the
    # HINT's fix works.
    upg_snapshot $refused "$out/refused-before.schema" || return 1
    upg_sql $refused -c "ALTER EXTENSION scim_pg UPDATE" >"$out/refused-1.txt" 2>&1
    upg_snapshot $refused "$out/refused-after.schema" || return 1
    check "dangling membership: UPDATE refused, saying which rows" \
        grep -q "1 membership row(s) name a member that is not a user or group of their tenant; nothing was changed" "$out/refused-1.txt"
    check "refused UPDATE left the version" [ "$(upg_version $refused)" = "$UPGRADE_BASE_VERSION" ]
    check "refused UPDATE left the schema" upg_compare "$out/refused-before.schema" "$out/refused-after.schema"
    local fix
    fix=$(sed -n 's/^HINT:  Delete those rows (\(.*\)), then run ALTER EXTENSION scim_pg UPDATE again\.$/\1/p' "$out/refused-1.txt")
    upg_sql $refused -c "$fix" >/dev/null
    upg_sql $refused -c "ALTER EXTENSION scim_pg UPDATE" >"$out/refused-2.txt" 2>&1
    check "names equal under case folding: UPDATE refused, naming them" \
        grep -q "default (00000000-0000-0000-0000-000000000000): userName 'strasse' held by STRASSE (.*), straße (" "$out/refused-2.txt"
    upg_sql $refused -c "SELECT scim.scim_delete('User', id::text) FROM scim.users WHERE user_name = 'STRASSE'" >/dev/null
    upg_sql $refused -c "ALTER EXTENSION scim_pg UPDATE" >"$out/refused-3.txt" 2>&1
    check "after the fixes the HINTs give, the UPDATE passes" [ "$(upg_version $refused)" = "$EXT_VERSION" ]
    upg_sql postgres -c "CREATE DATABASE ${fresh}_no_trgm" && upg_sql ${fresh}_no_trgm -c "CREATE EXTENSION scim_pg" &&
        upg_snapshot ${fresh}_no_trgm "$out/fresh-no-trgm.schema" && upg_snapshot $refused "$out/refused-upgraded.schema" || return 1
    check "without pg_trgm too, upgraded schema = fresh install's" \
        upg_compare "$out/fresh-no-trgm.schema" "$out/refused-upgraded.schema"
    # A plain pg_dump (what a restore replays) prints no difference either:
    # the privileges the UPDATE set are recorded as the extension's own, as
    # a fresh install's are (pg_init_privs).
    local plain=(--schema-only -h 127.0.0.1 -p "$PORT" -U postgres)
    check "plain pg_dump --schema-only: upgraded = fresh" cmp -s \
        <("$PGBIN/pg_dump" "${plain[@]}" ${fresh}_no_trgm | grep -v '^\\\(un\)\?restrict ') \
        <("$PGBIN/pg_dump" "${plain[@]}" $refused | grep -v '^\\\(un\)\?restrict ')
}
