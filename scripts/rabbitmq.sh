#!/usr/bin/env bash
# Install (Debian package) and run a loopback-only RabbitMQ node for tests and benchmarks.
#   scripts/rabbitmq.sh start    install if needed, start if not running, wait until it answers
#   scripts/rabbitmq.sh stop     shut the node down (used by broker-restart tests too)
#   scripts/rabbitmq.sh status   exit 0 when the node answers
# Idempotent; needs root for the install. The node is rabbit@localhost on 127.0.0.1:5672.
# AIONOVA_RABBIT_PORT=N runs a separate node rabbitN@localhost on 127.0.0.1:N with its
# own data and logs (so two test runs on one machine do not restart each other's broker).
set -euo pipefail

ENV_FILE=/etc/rabbitmq/rabbitmq-env.conf
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-90}
PORT=${AIONOVA_RABBIT_PORT:-5672}
NODE=rabbit
if [ "$PORT" != 5672 ]; then
    NODE=rabbit$PORT
    # The server and the CLI tools read these (they win over rabbitmq-env.conf).
    export RABBITMQ_NODENAME=$NODE@localhost RABBITMQ_NODE_PORT=$PORT
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=$((PORT + 20000))
    export RABBITMQ_MNESIA_BASE=/var/lib/rabbitmq/mnesia-$PORT
    export RABBITMQ_LOG_BASE=/var/log/rabbitmq/$PORT
fi

install() {
    command -v rabbitmq-server >/dev/null && return 0
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

configure() {
    mkdir -p /etc/rabbitmq
    cat > "$ENV_FILE" <<'CONF'
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=5672
export ERL_EPMD_ADDRESS=127.0.0.1
CONF
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

running() { epmd -names 2>/dev/null | grep -q "name $NODE " && rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

start() {
    install
    configure
    if [ "$PORT" != 5672 ]; then
        mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
        chown rabbitmq:rabbitmq "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    fi
    if running && port_open; then echo "rabbitmq: already running"; return 0; fi
    # A node that crashed may leave epmd and a pid behind; starting again is safe.
    rabbitmq-server -detached >/dev/null 2>&1 || true
    local deadline=$((SECONDS + START_TIMEOUT))
    until running && port_open; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "rabbitmq: did not answer within ${START_TIMEOUT}s" >&2
            tail -n 40 "${RABBITMQ_LOG_BASE:-/var/log/rabbitmq}"/*.log >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.5
    done
    echo "rabbitmq: $NODE@localhost running on 127.0.0.1:$PORT"
}

stop() {
    command -v rabbitmqctl >/dev/null || return 0
    if running; then rabbitmqctl -q shutdown >/dev/null 2>&1 || true; fi
    # epmd serves every node on the machine: end it only when none is left.
    epmd -names 2>/dev/null | grep -q "^name " || epmd -kill >/dev/null 2>&1 || true
    echo "rabbitmq: $NODE@localhost stopped"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) running && port_open ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
