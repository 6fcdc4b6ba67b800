#!/usr/bin/env bash
# The embedded local TimescaleDB: a PostgreSQL 15 cluster the project owns under ./var/pg,
# on its own port and socket, used whenever DATABASE_URL is not set.
#   scripts/localdb.sh start      init (first time), lock down, start; idempotent
#   scripts/localdb.sh stop       stop if running; idempotent
#   scripts/localdb.sh url        print the DATABASE_URL of the embedded cluster (the app role)
#   scripts/localdb.sh admin-url  print the superuser's URL (unix socket, peer auth; for tests)
#   scripts/localdb.sh psql       print a ready psql command
#   scripts/localdb.sh status     exit 0 when running
#
# Who can get in: the superuser `postgres` only over the unix socket, whose folder is 0700, by
# peer authentication (the server's OS user, and root); the app role `flowline` (no superuser,
# owns the tables it writes) over TCP on 127.0.0.1 with a generated password kept in
# var/pg/pgpass (mode 0600, libpq's passfile format; the URL names the file, not the password).
# No replication entries; Grafana's read-only role `flowline_grafana` exists without a login.
# A cluster made by the earlier version of this script (trust for
# everyone, `flowline` the superuser) is converted in place by `start`, keeping its data.
# FLOWLINE_PGHOME moves the whole cluster elsewhere (tests build a throw-away one).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_MAJOR="${PG_MAJOR:-15}"
BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PGHOME="${FLOWLINE_PGHOME:-$ROOT/var/pg}"
DATA="$PGHOME/data"
SOCK="$PGHOME/run"
LOG="$PGHOME/postgres.log"
PASSFILE="$PGHOME/pgpass"
PORT="${FLOWLINE_DB_PORT:-54329}"
ADMIN=postgres
DB_USER=flowline
DB_NAME=flowline
HBA_MARK="# flowline: locked down by scripts/localdb.sh"

die() { echo "localdb: $*" >&2; exit 1; }

# PostgreSQL refuses to run as root; the server then runs as the 'postgres' system user.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

server_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

url_path() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

url() { echo "postgresql://$DB_USER@127.0.0.1:$PORT/$DB_NAME?passfile=$(url_path "$PASSFILE")"; }

admin_url() { echo "postgresql://$ADMIN@/postgres?host=$(url_path "$SOCK")&port=$PORT"; }

running() { [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# psql as a superuser over the socket; SQL on stdin (so no secret shows in `ps`)
sql_as() {
    local role="$1" db="$2"
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$role" -d "$db" -tA
}

secure_dirs() {
    mkdir -p "$PGHOME" "$SOCK"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (it comes with the postgresql package)"
        chown postgres: "$PGHOME" "$SOCK"
        runuser -u postgres -- test -x "$PGHOME" \
            || die "the 'postgres' user cannot reach $PGHOME; move the checkout somewhere world-traversable or set DATABASE_URL"
    fi
    chmod 0700 "$PGHOME" "$SOCK"
}

init_cluster() {
    [ -x "$BIN/initdb" ] || die "PostgreSQL $PG_MAJOR is not installed (run: make deps)"
    [ -f "$("$BIN/pg_config" --sharedir)/extension/timescaledb.control" ] \
        || die "the timescaledb extension is not installed (run: scripts/install_timescaledb.sh)"
    secure_dirs
    as_owner "$BIN/initdb" -D "$DATA" -U "$ADMIN" --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$PGHOME/initdb.log" \
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

# pg_hba.conf and pg_ident.conf, rewritten whole: returns 0 when they changed.
write_access_rules() {
    local hba ident
    hba="$HBA_MARK
# superuser and app role over the socket: only the OS users mapped in pg_ident.conf
local   all   all                          peer map=flowline
# the app role over TCP, with the password in var/pg/pgpass; nothing else, no replication
host    all   $DB_USER   127.0.0.1/32      scram-sha-256"
    ident="# flowline: OS users that may log in over the socket (the server's user, and root)"
    local os role
    for os in "$(server_user)" root; do
        # 'flowline' too: a cluster from before has its superuser under that name until start()
        for role in "$ADMIN" "$DB_USER"; do ident="$ident
flowline   $os   $role"; done
    done
    if [ "$(cat "$DATA/pg_hba.conf")" = "$hba" ] && [ "$(cat "$DATA/pg_ident.conf")" = "$ident" ]; then
        return 1
    fi
    as_owner tee "$DATA/pg_hba.conf" >/dev/null <<<"$hba"
    as_owner tee "$DATA/pg_ident.conf" >/dev/null <<<"$ident"
    grep -q "^unix_socket_permissions" "$DATA/postgresql.conf" \
        || as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<<"unix_socket_permissions = 0700"
    return 0
}

# A cluster from before this script locked things down has `flowline` as its bootstrap
# superuser. That role (OID 10) owns the system catalogs, so it cannot simply lose SUPERUSER:
# it is renamed to `postgres` (through a short-lived second superuser, since a session cannot
# rename its own role) and a new, plain `flowline` role takes over the tables below.
rename_old_superuser() {
    sql_as "$ADMIN" postgres <<<"SELECT 1" >/dev/null 2>&1 && return 0
    [ "$(sql_as "$DB_USER" postgres <<<"SELECT rolsuper FROM pg_roles WHERE oid = 10 AND rolname = '$DB_USER'")" = t ] \
        || die "cannot log in as $ADMIN over $SOCK (see $LOG)"
    echo "localdb: converting a cluster from before: $DB_USER stops being a superuser" >&2
    sql_as "$DB_USER" postgres >/dev/null <<'SQL'
SELECT 'CREATE ROLE flowline_setup SUPERUSER LOGIN'
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flowline_setup') \gexec
SQL
    # the peer map lets the OS user in as flowline_setup through this one-off entry
    as_owner tee -a "$DATA/pg_ident.conf" >/dev/null <<<"flowline   $(server_user)   flowline_setup"
    as_owner "$BIN/pg_ctl" -D "$DATA" reload >/dev/null
    local tries=0
    until sql_as flowline_setup postgres <<<"ALTER ROLE $DB_USER RENAME TO $ADMIN" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 50 ] || die "could not rename the old superuser (see $LOG)"
        sleep 0.1  # the reload above is asynchronous
    done
    sql_as "$ADMIN" postgres <<<"DROP ROLE flowline_setup" >/dev/null
    write_access_rules || true
    as_owner "$BIN/pg_ctl" -D "$DATA" reload >/dev/null
}

password() {
    if [ ! -s "$PASSFILE" ]; then
        (umask 077 && echo "127.0.0.1:*:*:$DB_USER:$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" >"$PASSFILE")
    fi
    chmod 0600 "$PASSFILE"
    cut -d: -f5 "$PASSFILE"
}

# The app role, its database and its grants; objects the superuser still owns in that database
# (a cluster from before) are handed to the app role. Idempotent: runs on every start.
ensure_app_role() {
    sql_as "$ADMIN" postgres >/dev/null <<SQL
SET client_min_messages = warning;
DROP ROLE IF EXISTS flowline_setup;  -- left by a conversion that stopped half-way
SELECT format('CREATE ROLE %I LOGIN', '$DB_USER')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') \gexec
ALTER ROLE $DB_USER NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS LOGIN
    PASSWORD '$(password)';
SELECT format('CREATE DATABASE %I', '$DB_NAME')
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE $DB_NAME TO $DB_USER;
-- Grafana's read-only role (sql/020 grants it SELECT; the app role may not create roles)
SELECT 'CREATE ROLE flowline_grafana NOLOGIN'
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flowline_grafana') \gexec
COMMENT ON ROLE flowline_grafana IS
    'Grafana''s read-only role: SELECT on the tables and views of public; LOGIN and password from GRAFANA_DB_PASSWORD at db init';
SQL
    sql_as "$ADMIN" "$DB_NAME" >/dev/null <<'SQL'
GRANT USAGE, CREATE ON SCHEMA public TO flowline;
-- Tables first: ALTER TABLE also moves their indexes, owned sequences and TimescaleDB chunks.
-- Extension members (TimescaleDB's functions live in public too) and dependent objects stay.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.oid::regclass AS rel, c.relkind
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relowner = 'postgres'::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))
        ORDER BY c.relkind IN ('r', 'p') DESC
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO flowline',
            CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                           WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.rel);
    END LOOP;
END $$;
SQL
}

start() {
    mkdir -p "$(dirname "$PGHOME")"
    exec 9>>"$PGHOME.lock"  # one start at a time (parallel test sessions)
    flock 9
    [ -d "$DATA" ] || init_cluster
    secure_dirs
    local changed=0
    write_access_rules && changed=1
    if running; then
        [ "$changed" -eq 0 ] || as_owner "$BIN/pg_ctl" -D "$DATA" reload >/dev/null
    else
        [ "$(id -u)" -ne 0 ] || { touch "$LOG"; chown postgres: "$LOG"; }
        as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null 9>&- \
            || { tail -5 "$LOG" >&2; die "the embedded database did not start (log: $LOG)"; }
    fi
    rename_old_superuser
    ensure_app_role
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
    admin-url) admin_url ;;
    psql) echo "psql '$(url)'" ;;
    status) running ;;
    *) die "usage: $0 start|stop|url|admin-url|psql|status" ;;
esac
