#!/usr/bin/env bash
# A real Keystone from PyPI for the tests: its own venv, SQLite, fernet keys, one
# gunicorn worker with the in-process dogpile cache, on a loopback port.
#
#   bash scripts/keystone.sh install|start|stop|status|url
#
# Every command is idempotent. Environment:
#   AIONOVA_KEYSTONE_PORT            port on 127.0.0.1 (default 35357)
#   AIONOVA_KEYSTONE_VENV            the venv, reused when present
#                                    (default ~/.cache/aionova/keystone-venv)
#   AIONOVA_KEYSTONE_DIR             state: config, SQLite, keys, logs, pid
#                                    (default /tmp/aionova-keystone-<port>)
#   AIONOVA_KEYSTONE_ADMIN_PASSWORD  the bootstrap admin's password (default keystone-admin)
set -euo pipefail

PORT=${AIONOVA_KEYSTONE_PORT:-35357}
VENV=${AIONOVA_KEYSTONE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/aionova/keystone-venv}
DIR=${AIONOVA_KEYSTONE_DIR:-/tmp/aionova-keystone-$PORT}
PASSWORD=${AIONOVA_KEYSTONE_ADMIN_PASSWORD:-keystone-admin}
PYTHON=${PYTHON:-python3}
URL="http://127.0.0.1:$PORT/v3"
PIDFILE="$DIR/gunicorn.pid"

log() { echo "keystone.sh: $*" >&2; }

install() {
    if [ -x "$VENV/bin/keystone-manage" ] && [ -x "$VENV/bin/gunicorn" ]; then
        return 0
    fi
    local start=$SECONDS
    log "installing keystone and gunicorn into $VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q keystone gunicorn
    log "installed in $((SECONDS - start)) s"
}

write_config() {
    mkdir -p "$DIR/fernet" "$DIR/credential" "$DIR/log"
    cat >"$DIR/keystone.conf" <<EOF
[DEFAULT]
log_dir = $DIR/log
[database]
connection = sqlite:///$DIR/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $DIR/fernet
[credential]
key_repository = $DIR/credential
[cache]
enabled = true
backend = dogpile.cache.memory
EOF
    # Keystone's WSGI factory takes no arguments and oslo.config parses sys.argv,
    # which under gunicorn holds gunicorn's flags: clear them first.
    cat >"$DIR/keystone_wsgi.py" <<'EOF'
import sys

sys.argv[1:] = []
from keystone.server.wsgi import initialize_public_application  # noqa: E402

application = initialize_public_application()
EOF
}

initialise() {
    [ -f "$DIR/bootstrapped" ] && return 0
    log "initialising $DIR (db_sync, fernet and credential keys, bootstrap)"
    local manage=("$VENV/bin/keystone-manage" --config-file "$DIR/keystone.conf")
    "${manage[@]}" db_sync
    "${manage[@]}" fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    "${manage[@]}" credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    "${manage[@]}" bootstrap --bootstrap-password "$PASSWORD" \
        --bootstrap-admin-url "$URL" --bootstrap-public-url "$URL" \
        --bootstrap-internal-url "$URL" --bootstrap-region-id RegionOne
    touch "$DIR/bootstrapped"
}

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

answering() {
    "$VENV/bin/python" - "$URL" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except OSError:
    sys.exit(1)
EOF
}

start() {
    install
    if running && answering; then
        return 0
    fi
    write_config
    initialise
    if ! running; then
        rm -f "$PIDFILE"
        log "starting on $URL"
        OS_KEYSTONE_CONFIG_DIR="$DIR" "$VENV/bin/gunicorn" --daemon --pid "$PIDFILE" \
            --bind "127.0.0.1:$PORT" --workers 1 --timeout 120 --chdir "$DIR" \
            --error-logfile "$DIR/log/gunicorn.log" keystone_wsgi:application
    fi
    local deadline=$((SECONDS + 120))
    until answering; do
        if [ $SECONDS -ge $deadline ]; then
            log "Keystone did not answer on $URL within 120 s; see $DIR/log"
            tail -n 30 "$DIR/log/gunicorn.log" >&2 || true
            return 1
        fi
        sleep 0.5
    done
    log "up on $URL"
}

stop() {
    if running; then
        local pid
        pid=$(cat "$PIDFILE")
        kill "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
        log "stopped"
    fi
    rm -f "$PIDFILE"
}

status() {
    if running && answering; then
        echo "keystone running on $URL (pid $(cat "$PIDFILE"), state $DIR)"
    else
        echo "keystone not running (port $PORT)"
        return 3
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) echo "$URL" ;;
    *)
        echo "usage: $0 install|start|stop|status|url" >&2
        exit 2
        ;;
esac
