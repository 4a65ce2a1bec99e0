#!/usr/bin/env bash
# A loopback PostgreSQL server for tests and benches (no systemd, no Debian cluster).
#   scripts/postgres.sh start    install if needed, initdb once, start if not running, wait
#   scripts/postgres.sh stop     fast shutdown
#   scripts/postgres.sh status   exit 0 when the server accepts connections
#   scripts/postgres.sh url      print the connection URL (postgresql://aionova:aionova@…)
# Runs as the postgres user (the server refuses root) with its data in
# ${AIONOVA_PG_DIR:-/var/tmp/aionova-pg} on 127.0.0.1:${AIONOVA_PG_PORT:-55432}.
# Idempotent; needs root for the install.
set -euo pipefail

PORT=${AIONOVA_PG_PORT:-55432}
DIR=${AIONOVA_PG_DIR:-/var/tmp/aionova-pg}
DATA=$DIR/data
START_TIMEOUT=${AIONOVA_PG_START_TIMEOUT:-60}

bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$found" ] && echo "$found/$1"
}

install() {
    [ -n "$(bin initdb)" ] && [ -x "$(bin initdb)" ] && return 0
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

as_pg() { runuser -u postgres -- "$@"; }

ready() { as_pg "$(bin pg_isready)" -q -h 127.0.0.1 -p "$PORT"; }

init() {
    [ -f "$DATA/PG_VERSION" ] && return 0
    mkdir -p "$DIR"
    chown postgres:postgres "$DIR"
    as_pg "$(bin initdb)" -D "$DATA" -U postgres -A trust --no-sync -E UTF8 >/dev/null
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PORT"
        echo "unix_socket_directories = '$DIR'"
        echo "max_connections = 200"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
    } >> "$DATA/postgresql.conf"
}

start() {
    install
    init
    if ready; then echo "postgres: already running on 127.0.0.1:$PORT"; return 0; fi
    as_pg "$(bin pg_ctl)" -D "$DATA" -l "$DIR/server.log" -w -t "$START_TIMEOUT" start >/dev/null
    local deadline=$((SECONDS + START_TIMEOUT))
    until ready; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "postgres: did not answer within ${START_TIMEOUT}s" >&2
            tail -n 40 "$DIR/server.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
    # One role and database for the project; tests make their own databases from it.
    local psql=("$(bin psql)" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
    if ! as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'aionova'" | grep -q 1; then
        as_pg "${psql[@]}" -c "CREATE ROLE aionova LOGIN SUPERUSER PASSWORD 'aionova'"
    fi
    if ! as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'aionova'" | grep -q 1; then
        as_pg "${psql[@]}" -c "CREATE DATABASE aionova OWNER aionova"
    fi
    echo "postgres: running on 127.0.0.1:$PORT"
}

stop() {
    [ -f "$DATA/PG_VERSION" ] || { echo "postgres: not initialised"; return 0; }
    if ready; then as_pg "$(bin pg_ctl)" -D "$DATA" -m fast -w stop >/dev/null; fi
    echo "postgres: stopped"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) ready ;;
    url) echo "postgresql://aionova:aionova@127.0.0.1:$PORT/aionova" ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
