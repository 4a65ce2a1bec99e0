#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback, for the cluster tests and benches.
#   scripts/rabbitmq-cluster.sh start        start the three nodes and join them (idempotent)
#   scripts/rabbitmq-cluster.sh stop         shut every node down
#   scripts/rabbitmq-cluster.sh stop-node N  shut node N (1..3) down, the others keep running
#   scripts/rabbitmq-cluster.sh start-node N start node N again; it rejoins the cluster
#   scripts/rabbitmq-cluster.sh status       exit 0 when all three run as one cluster
#   scripts/rabbitmq-cluster.sh url          print the multi-host transport URL
# Nodes are rabbit<PORT>@localhost on 127.0.0.1:PORT for PORT = BASE, BASE+1, BASE+2
# (AIONOVA_CLUSTER_PORT, default 5781), each a node of scripts/rabbitmq.sh with its own
# data; they share the rabbitmq user's Erlang cookie.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${AIONOVA_CLUSTER_PORT:-5781}
PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")
FIRST=rabbit$BASE@localhost

node_ctl() { AIONOVA_RABBIT_PORT=$1 bash scripts/rabbitmq.sh "$2"; }
ctl() { RABBITMQ_NODENAME=rabbit$1@localhost rabbitmqctl -q "${@:2}"; }

members() { ctl "$1" cluster_status --formatter json 2>/dev/null | tr -d ' \n' | grep -o '"running_nodes":\[[^]]*\]' || true; }

join() {
    local port=$1
    [ "$port" = "$BASE" ] && return 0
    if members "$port" | grep -q "$FIRST"; then return 0; fi
    ctl "$port" stop_app >/dev/null 2>&1
    ctl "$port" reset >/dev/null 2>&1
    ctl "$port" join_cluster "$FIRST" >/dev/null 2>&1
    ctl "$port" start_app >/dev/null 2>&1
}

port_of() {
    case "${1:-}" in
        1|2|3) echo "${PORTS[$(($1 - 1))]}" ;;
        *) echo "node must be 1, 2 or 3" >&2; exit 2 ;;
    esac
}

start() {
    # In parallel: a clustered node that restarts waits for its peers before it listens.
    local pids=()
    for port in "${PORTS[@]}"; do node_ctl "$port" start >/dev/null & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid"; done
    for port in "${PORTS[@]}"; do join "$port"; done
    status || { echo "rabbitmq-cluster: nodes did not form one cluster" >&2; return 1; }
    echo "rabbitmq-cluster: running on ports ${PORTS[*]}"
}

status() {
    local running
    running=$(members "$BASE")
    for port in "${PORTS[@]}"; do
        echo "$running" | grep -q "rabbit$port@localhost" || return 1
    done
}

url() {
    local hosts=()
    for port in "${PORTS[@]}"; do hosts+=("guest:guest@127.0.0.1:$port"); done
    (IFS=,; echo "rabbit://${hosts[*]}/")
}

case "${1:-start}" in
    start) start ;;
    stop) for port in "${PORTS[@]}"; do node_ctl "$port" stop >/dev/null; done; echo "rabbitmq-cluster: stopped" ;;
    stop-node) node_ctl "$(port_of "${2:-}")" stop ;;
    start-node) node_ctl "$(port_of "${2:-}")" start ;;
    status) status ;;
    url) url ;;
    *) echo "usage: $0 start|stop|stop-node N|start-node N|status|url" >&2; exit 2 ;;
esac
