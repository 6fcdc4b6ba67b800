#!/usr/bin/env bash
# The embedded local TimescaleDB: a PostgreSQL 15 cluster the project owns under ./var/pg,
# on its own port and socket, used whenever DATABASE_URL is not set.
#   scripts/localdb.sh start    init (first time) and start; idempotent
#   scripts/localdb.sh stop     stop if running; idempotent
#   scripts/localdb.sh url      print the DATABASE_URL of the embedded cluster
#   scripts/localdb.sh psql     print a ready psql command
#   scripts/localdb.sh status   exit 0 when running
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_MAJOR="${PG_MAJOR:-15}"
BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PGHOME="$ROOT/var/pg"
DATA="$PGHOME/data"
SOCK="$PGHOME/run"
LOG="$PGHOME/postgres.log"
PORT="${FLOWLINE_DB_PORT:-54329}"
DB_USER=flowline
DB_NAME=flowline

die() { echo "localdb: $*" >&2; exit 1; }

# PostgreSQL refuses to run as root; the server then runs as the 'postgres' system user.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() { echo "postgresql://$DB_USER@127.0.0.1:$PORT/$DB_NAME"; }

running() { [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

init_cluster() {
    [ -x "$BIN/initdb" ] || die "PostgreSQL $PG_MAJOR is not installed (run: make deps)"
    [ -f "$("$BIN/pg_config" --sharedir)/extension/timescaledb.control" ] \
        || die "the timescaledb extension is not installed (run: scripts/install_timescaledb.sh)"
    mkdir -p "$PGHOME" "$SOCK"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (it comes with the postgresql package)"
        chown postgres: "$PGHOME" "$SOCK"
        runuser -u postgres -- test -x "$PGHOME" \
            || die "the 'postgres' user cannot reach $PGHOME; move the checkout somewhere world-traversable or set DATABASE_URL"
    fi
    as_owner "$BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$PGHOME/initdb.log" \
        || die "initdb failed (see $PGHOME/initdb.log)"
    # Settings for a recorder box; tune shared_buffers to ~25% of RAM on a dedicated machine.
    as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<CONF

# --- flowline embedded cluster ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
shared_buffers = 512MB
max_wal_size = 4GB
wal_compression = on
max_connections = 200
CONF
}

start() {
    [ -d "$DATA" ] || init_cluster
    if running; then
        return 0
    fi
    mkdir -p "$SOCK"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$SOCK" "$PGHOME"
    [ "$(id -u)" -ne 0 ] || { touch "$LOG"; chown postgres: "$LOG"; }
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null \
        || { tail -5 "$LOG" >&2; die "the embedded database did not start (log: $LOG)"; }
    # the role and database exist from initdb's -U; create the database once
    if ! as_owner "$BIN/psql" -h "$SOCK" -p "$PORT" -U "$DB_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        as_owner "$BIN/createdb" -h "$SOCK" -p "$PORT" -U "$DB_USER" "$DB_NAME"
    fi
}

stop() {
    if running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    psql) echo "psql '$(url)'" ;;
    status) running ;;
    *) die "usage: $0 start|stop|url|psql|status" ;;
esac
