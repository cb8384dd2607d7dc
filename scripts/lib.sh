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

# Build and install the extension into the system Postgres 15.
install_extension() {
    local profile=("$@")
    log "building and installing the extension ${profile[*]}"
    local out
    out="$(mktemp)"
    if ! (cd "$ROOT" && cargo pgrx install "${profile[@]}" --pg-config "$PG_CONFIG" >"$out" 2>&1); then
        cat "$out" >&2
        rm -f "$out"
        return 1
    fi
    rm -f "$out"
}

PGBIN="$($PG_CONFIG --bindir)"

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
CONF
    fi
    if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        # No RUST_BACKTRACE in the server: pgrx would append backtraces to
        # re-raised errors' DETAIL, which carries our JSON status.
        env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- \
            "$PGBIN/pg_ctl" -D "$data" -l "$data/server.log" -w -o "-p $port" start >/dev/null \
            || { cat "$data/server.log" >&2; die "postgres did not start"; }
    fi
}

cluster_stop() {
    local data="$1"
    if [ -f "$data/PG_VERSION" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

# psql against a private cluster: pq DATADIR PORT DB [psql args...]
pq() {
    local data="$1" port="$2" db="$3"
    shift 3
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# Create DB (if missing) with the extension installed. Development builds
# all carry version 0.1.0 and there are no upgrade scripts between them, so
# when the installed extension script changed since this database got the
# extension, the extension is recreated (its data in this local database
# is reset, and said so).
ensure_database() {
    local data="$1" port="$2" db="$3"
    pq "$data" "$port" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
        || pq "$data" "$port" postgres -c "CREATE DATABASE \"$db\""
    local script stamp_file current
    script="$($PG_CONFIG --sharedir)/extension/scim_pg--$(grep -m1 '^version' "$ROOT/Cargo.toml" | cut -d'"' -f2).sql"
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
    pq "$data" "$port" "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE EXTENSION IF NOT EXISTS scim_pg;" &&
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
