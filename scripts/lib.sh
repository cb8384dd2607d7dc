# Shared helpers for scripts/serve, scripts/test and scripts/bench.
# Everything here is idempotent: a second run reuses what exists.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_CONFIG="${PG_CONFIG:-/usr/bin/pg_config}"
PGRX_VERSION="0.18.0"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m[scim_pg]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt packages, cargo-pgrx and `cargo pgrx init` (never downloads Postgres).
ensure_toolchain() {
    local missing=()
    for pkg in postgresql-15 postgresql-server-dev-15 sudo libclang-dev pkg-config; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing apt packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
        log "installing cargo-pgrx $PGRX_VERSION (takes a few minutes once)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
    fi
    if ! grep -q '^pg15' "$HOME/.pgrx/config.toml" 2>/dev/null; then
        cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
    fi
}

# ensure_nginx: the nginx binary for examples/postgrest/check_nginx.sh.
# The package's service is not started (a policy-rc.d refuses it for the
# length of the install): the check runs its own nginx on loopback ports.
ensure_nginx() {
    command -v nginx >/dev/null && return 0
    log "installing nginx (for the PostgREST mapping check)"
    local policy=/usr/sbin/policy-rc.d made=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod 755 "$policy" && made=1
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx-light >/dev/null
    local rc=$?
    [ "$made" = 1 ] && as_root rm -f "$policy"
    return $rc
}

# regress_files DIR: the pg_regress test names in DIR/sql, in run order.
regress_files() { (cd "$1/sql" && ls ./*.sql | sed 's|./||; s|\.sql$||' | sort); }

# run_pg_regress PORT INPUTDIR OUTPUTDIR DB TEST...: the pg_regress of the
# tree PGBIN belongs to, against the existing database DB on 127.0.0.1.
run_pg_regress() {
    local port="$1" input="$2" out="$3" db="$4"
    shift 4
    "$(dirname "$("$PGBIN/pg_config" --pgxs)")/../test/regress/pg_regress" \
        --host=127.0.0.1 --port="$port" --user=postgres --use-existing \
        --inputdir="$input" --outputdir="$out" --dbname="$db" "$@"
}

# ── Private PostgreSQL trees ────────────────────────────────────────────
# Every cluster the scripts start (serve, test, bench) runs the binaries of
# its own relocated copy of the system PostgreSQL 15 tree, and loads the
# extension from that copy's lib/ and share/. So no script ever replaces the
# library under another one's running server. PostgreSQL binaries find
# their share/ and lib/ directories relative to their own location, so a
# copy of the two directories under a new prefix is a complete install.
#
# Installing writes each file under a temporary name and renames it into
# place: a backend that already mapped the old scim_pg.so keeps the old
# inode. (`cargo pgrx install` copies over the installed file in place, so
# running backends see their mapped code change under them: that is how a
# serve cluster's backend died of signal 11 after scripts/test installed a
# debug build into the shared system directory.)

SYS_PREFIX="/usr"

# pg_tree DIR: create (or refresh, when the system package changed) the
# private tree DIR. Prints nothing; use tree_bin DIR for its bindir.
pg_tree() {
    local dir="$1" stamp want bindir sharedir
    bindir="$($PG_CONFIG --bindir)"
    sharedir="$($PG_CONFIG --sharedir)"
    stamp="$dir/.system-stamp"
    want="$($PG_CONFIG --version) $(stat -c %Y "$bindir/postgres")"
    [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
    log "copying the PostgreSQL tree to $dir (private install)"
    local new="$dir.new.$$" libroot
    libroot="$(dirname "$bindir")"
    rm -rf "$new"
    mkdir -p "$new/$(dirname "${libroot#"$SYS_PREFIX"/}")" "$new/$(dirname "${sharedir#"$SYS_PREFIX"/}")" "$new/include" &&
        cp -a "$libroot" "$new/${libroot#"$SYS_PREFIX"/}" &&
        cp -a "$sharedir" "$new/${sharedir#"$SYS_PREFIX"/}" &&
        ln -s "$($PG_CONFIG --includedir)" "$new/include/" || return 1
    local got
    got="$("$new/${bindir#"$SYS_PREFIX"/}/pg_config" --pkglibdir)"
    case "$got" in
    "$new"/*) ;;
    *) log "the relocated tree does not resolve its own paths ($got)"; rm -rf "$new"; return 1 ;;
    esac
    rm -rf "$dir" && mv "$new" "$dir" && echo "$want" >"$stamp"
    chmod 755 "$dir"
}

tree_bin() { local bindir; bindir="$($PG_CONFIG --bindir)"; echo "$1/${bindir#"$SYS_PREFIX"/}"; }

# build_extension [--debug]: build the extension package (against the
# system headers; one pg_config for every build, so pgrx's bindings are
# never rebuilt) into target/scim_pg-package-{debug,release}, made afresh
# (files of an earlier version's build must not ride along). pgrx writes
# the library, the control file and the full install script; the upgrade
# scripts (sql/scim_pg--A--B.sql, written by hand) are added beside them.
# Prints the package directory.
build_extension() {
    local kind=release flags=()
    [ "${1:-}" = "--debug" ] && kind=debug && flags=(--debug)
    local out="$ROOT/target/scim_pg-package-$kind" log_file
    log "building the extension ($kind)"
    rm -rf "$out"
    log_file="$(mktemp)"
    if ! (cd "$ROOT" && cargo pgrx package "${flags[@]}" --pg-config "$PG_CONFIG" --out-dir "$out" >"$log_file" 2>&1); then
        cat "$log_file" >&2
        rm -f "$log_file"
        return 1
    fi
    rm -f "$log_file"
    local extdir
    extdir="$(dirname "$(find "$out" -name 'scim_pg.control' -print -quit)")"
    [ -f "$extdir/scim_pg--$EXT_VERSION.sql" ] || { log "no scim_pg--$EXT_VERSION.sql in $out"; return 1; }
    cp "$ROOT"/sql/scim_pg--*--*.sql "$extdir/" || return 1
    echo "$out"
}

# install_package PACKAGE_DIR TREE: copy the built files into the private
# tree, each through a temporary name and an atomic rename.
install_package() {
    local pkg="$1" tree="$2" f rel dest
    while IFS= read -r f; do
        rel="${f#"$pkg"}"
        rel="${rel#"$SYS_PREFIX"}"
        dest="$tree/${rel#/}"
        mkdir -p "$(dirname "$dest")" || return 1
        cp "$f" "$dest.tmp.$$" && chmod 644 "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest" || return 1
    done < <(find "$pkg" -type f)
    local lib
    lib="$(find "$pkg" -name 'scim_pg*.so' -printf '%f\n' -quit)"
    [ -n "$lib" ] && [ -f "$tree/$PG_LIB_REL/$lib" ] ||
        { log "install_package: no scim_pg library in $pkg, or missing after install into $tree"; return 1; }
}

# install_extension TREE [--debug]: build and install into a private tree.
install_extension() {
    local tree="$1" pkg
    shift
    pg_tree "$tree" || return 1
    pkg="$(build_extension "$@")" || return 1
    install_package "$pkg" "$tree"
}

# The extension's version (Cargo.toml) and its library: versioned, so that
# the library of an older version stays installed beside it for databases
# not yet upgraded (scim_pg.control).
EXT_VERSION="$(grep -m1 '^version' "$ROOT/Cargo.toml" | cut -d'"' -f2)"
EXT_LIBRARY="scim_pg-$EXT_VERSION"

PGBIN="$($PG_CONFIG --bindir)"
PG_LIB_REL="$($PG_CONFIG --pkglibdir)"
PG_LIB_REL="${PG_LIB_REL#"$SYS_PREFIX"/}"

# use_tree TREE: the scripts' server binaries (PGBIN) come from TREE.
use_tree() { PGBIN="$(tree_bin "$1")"; }

# A directory the postgres user can reach (a checkout under /root is not).
reachable_dir() {
    local want="$1" fallback="$2"
    mkdir -p "$want"
    chown postgres:postgres "$want"
    if runuser -u postgres -- test -w "$want" 2>/dev/null; then
        echo "$want"
    else
        mkdir -p "$fallback" && chown postgres:postgres "$fallback"
        echo "$fallback"
    fi
}

# without_inherited_fds CMD...: exec CMD with no descriptor above 2 open
# (call it in a subshell). A server it starts outlives the caller and
# would keep the caller's pipes open: scripts/test's per-step log (a tee
# on a pipe) then never sees EOF and the step never ends.
without_inherited_fds() {
    local f n
    for f in /proc/"$BASHPID"/fd/*; do
        n="${f##*/}"
        [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"
    done
    exec "$@"
}

# cluster_start DATADIR PORT: initdb (once) and start a private cluster on
# 127.0.0.1:PORT with its socket inside DATADIR.
cluster_start() {
    local data="$1" port="$2"
    if [ ! -f "$data/PG_VERSION" ]; then
        log "initdb $data"
        runuser -u postgres -- "$PGBIN/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
        cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
fsync = off
max_connections = 100
shared_buffers = 256MB
# SQLSTATE in every line: scripts/test's crash sweep looks for XX000
# (a Rust panic or an internal error) besides crashes.
log_line_prefix = '%m [%p] %e '
CONF
    fi
    cluster_try_start "$data" "$port" || { cat "$data/server.log" >&2; die "postgres did not start"; }
}

# cluster_try_start DATADIR PORT: start an initialised cluster on PORT
# (nothing if it runs); returns non-zero instead of dying.
cluster_try_start() {
    local data="$1" port="$2"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1 && return 0
    # No RUST_BACKTRACE in the server: pgrx would append backtraces to
    # re-raised errors' DETAIL, which carries our JSON status.
    (without_inherited_fds env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- \
        "$PGBIN/pg_ctl" -D "$data" -l "$data/server.log" -w -o "-p $port" start >/dev/null)
}

# cluster_secure DATADIR PORT PWFILE: make a cluster fit for real data
# (scripts/serve): durable (fsync and synchronous_commit on, set with ALTER
# SYSTEM so they override the fast settings of cluster_start), and
# password-protected (scram-sha-256 for every connection, TCP and socket;
# the superuser's password is the one in PWFILE, made on first use).
# Idempotent: a cluster already secured is left alone.
cluster_secure() {
    local data="$1" port="$2" pwfile="$3" marker="# scim_pg: password authentication"
    if [ ! -s "$pwfile" ]; then
        (umask 077 && head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$pwfile") || return 1
    fi
    export PGPASSFILE="${pwfile}.pgpass"
    (umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$(cat "$pwfile")" >"$PGPASSFILE") || return 1
    grep -qF "$marker" "$data/pg_hba.conf" 2>/dev/null && return 0
    log "securing $data: durable settings, password authentication"
    # The password is [A-Za-z0-9]{32}: safe as a literal.
    pq "$data" "$port" postgres -c "ALTER ROLE postgres PASSWORD '$(cat "$pwfile")'" \
        -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
        -c "ALTER SYSTEM SET full_page_writes = on" >/dev/null || return 1
    # Data written while fsync was off goes to disk now.
    runuser -u postgres -- "$PGBIN/initdb" --sync-only -D "$data" >/dev/null || return 1
    cat >"$data/pg_hba.conf" <<HBA
$marker (scripts/serve; password in .local/pg-password)
local   all          all                   scram-sha-256
host    all          all   127.0.0.1/32    scram-sha-256
host    all          all   ::1/128         scram-sha-256
host    replication  all   127.0.0.1/32    scram-sha-256
HBA
    chown postgres "$data/pg_hba.conf"
    pq "$data" "$port" postgres -tAc "SELECT pg_reload_conf()" >/dev/null
}

cluster_stop() {
    local data="$1"
    if [ -f "$data/PG_VERSION" ]; then
        local ctl="$PGBIN/pg_ctl"
        [ -x "$ctl" ] || ctl="$($PG_CONFIG --bindir)/pg_ctl"
        runuser -u postgres -- "$ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

# psql against a private cluster: pq DATADIR PORT DB [psql args...]
pq() {
    local data="$1" port="$2" db="$3"
    shift 3
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# Create DB (if missing) with the extension installed. Development builds
# of one version all carry its number and there are no upgrade scripts
# between them, so when the installed extension script changed since this
# database got the extension, the extension is recreated (its data in this
# local database is reset, and said so).
ensure_database() {
    local data="$1" port="$2" db="$3"
    pq "$data" "$port" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
        || pq "$data" "$port" postgres -c "CREATE DATABASE \"$db\""
    local script stamp_file current
    script="$("$PGBIN/pg_config" --sharedir)/extension/scim_pg--$EXT_VERSION.sql"
    stamp_file="$data/scim_pg-$db.sha256"
    current="$(sha256sum "$script" | cut -d' ' -f1)"
    if [ "$(cat "$stamp_file" 2>/dev/null)" != "$current" ]; then
        if [ "$(pq "$data" "$port" "$db" -tAc "SELECT count(*) FROM pg_namespace WHERE nspname = 'scim'")" != 0 ]; then
            log "the extension's SQL changed since database $db was set up: recreating scim_pg there (local data reset)"
        fi
        # (older builds left the schema outside the extension; this is the
        # scripts' own local database, so drop it too.)
        pq "$data" "$port" "$db" -c "DROP EXTENSION IF EXISTS scim_pg CASCADE" -c "DROP SCHEMA IF EXISTS scim CASCADE"
    fi
    pq "$data" "$port" "$db" -c "CREATE EXTENSION IF NOT EXISTS btree_gin; CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE EXTENSION IF NOT EXISTS scim_pg;" &&
        echo "$current" >"$stamp_file"
}

# A Python venv for the HTTP black-box tests and the scim2 compliance tester.
VENV="$ROOT/.local/venv"
ensure_venv() {
    if [ ! -x "$VENV/bin/pytest" ] || [ "$ROOT/tests/http/requirements.txt" -nt "$VENV/.stamp" ]; then
        log "preparing the Python test venv"
        python3 -m venv "$VENV" &&
            "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/tests/http/requirements.txt" &&
            touch "$VENV/.stamp"
    fi
}

# ── Earlier releases (the upgrade test) ─────────────────────────────────
# Release 0.1.0 is commit d3d36c8: the version an upgrade starts from.
UPGRADE_BASE_VERSION="0.1.0"
UPGRADE_BASE_COMMIT="d3d36c8f5be4e85af73dd8f0a2463bf2b5cfa2e7"

# build_base_package COMMIT: the extension package of an earlier release,
# built (debug) from the repository's history once and cached by commit in
# target/upgrade-base/COMMIT/package. It builds in a target directory of
# its own, removed afterwards: in a shared one the two versions' cdylibs
# (deps/libscim_pg.so, no hash in the name) and pgrx_embed binaries are
# one file each, and cargo, finding either version's unit fresh, would
# package whichever was written last. Prints the package directory.
build_base_package() {
    local commit="$1" dir="$ROOT/target/upgrade-base/$1"
    if [ -f "$dir/.complete" ]; then
        echo "$dir/package"
        return 0
    fi
    git -C "$ROOT" cat-file -e "$commit^{commit}" 2>/dev/null || {
        log "commit $commit (release $UPGRADE_BASE_VERSION) is not in this clone: the upgrade test builds it" \
            "from history (a shallow clone needs 'git fetch --unshallow')"
        return 1
    }
    log "building release $UPGRADE_BASE_VERSION from commit ${commit:0:7} (cached in ${dir#"$ROOT"/})"
    rm -rf "$dir" && mkdir -p "$dir/src" || return 1
    git -C "$ROOT" archive "$commit" | tar -x -C "$dir/src" || return 1
    if ! (cd "$dir/src" && CARGO_TARGET_DIR="$dir/target" cargo pgrx package --debug \
        --pg-config "$PG_CONFIG" --out-dir "$dir/package" >"$dir/build.log" 2>&1); then
        tail -50 "$dir/build.log" >&2
        return 1
    fi
    rm -rf "$dir/target" "$dir/src"
    touch "$dir/.complete"
    echo "$dir/package"
}
