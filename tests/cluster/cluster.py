"""The three-node RabbitMQ cluster of scripts/rabbitmq-cluster.sh, seen by the tests.

Nodes ``rabbit<PORT>@localhost`` on 127.0.0.1:PORT for PORT = BASE, BASE+1, BASE+2
(``AIONOVA_CLUSTER_PORT``, default 5781). Everything goes through the script and
``rabbitmqctl``: what the broker itself reports (queue types, leaders, the port each
client connection came in on).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "rabbitmq-cluster.sh"
NODE_TIMEOUT = 180.0


class Cluster:
    """Start/stop nodes and ask the broker what it holds."""

    def __init__(self, base: int | None = None) -> None:
        self.base = base or int(os.environ.get("AIONOVA_CLUSTER_PORT", "5781"))
        self.ports = (self.base, self.base + 1, self.base + 2)

    # -- the script ---------------------------------------------------------------
    def _script(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "AIONOVA_CLUSTER_PORT": str(self.base)}
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
            check=check,
        )

    def start(self) -> None:
        """All three nodes up, joined (idempotent)."""
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def is_formed(self) -> bool:
        return self._script("status", check=False).returncode == 0

    def node_of(self, port: int) -> int:
        """1, 2 or 3: the node number of ``port``."""
        return self.ports.index(port) + 1

    def stop_node(self, node: int) -> None:
        self._script("stop-node", str(node))

    def start_node(self, node: int) -> None:
        """Start node 1..3 again and wait until it runs as a member of the cluster."""
        self._script("start-node", str(node))
        deadline = time.monotonic() + NODE_TIMEOUT
        while not self.is_formed():
            assert time.monotonic() < deadline, f"node {node} did not rejoin the cluster"
            time.sleep(0.5)

    def wait_safe_to_stop(self, node: int, timeout: float = NODE_TIMEOUT) -> None:
        """Wait until stopping ``node`` leaves every quorum queue a majority (the node
        that came back last has caught up): RabbitMQ's own check before a node stops."""
        port = self.ports[node - 1]
        deadline = time.monotonic() + timeout
        while True:
            check = subprocess.run(
                ["rabbitmq-queues", "-q", "check_if_node_is_quorum_critical"],
                env={**os.environ, "RABBITMQ_NODENAME": f"rabbit{port}@localhost"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            if check.returncode == 0:
                return
            assert time.monotonic() < deadline, f"node {node} stays quorum-critical: {check}"
            time.sleep(1.0)

    def url(self, **query: object) -> str:
        """The multi-host transport URL, with oslo option query parameters."""
        hosts = ",".join(f"guest:guest@127.0.0.1:{port}" for port in self.ports)
        params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items()}
        return f"rabbit://{hosts}/" + (f"?{urlencode(params)}" if params else "")

    # -- rabbitmqctl --------------------------------------------------------------
    def running_ports(self) -> list[int]:
        up = []
        for port in self.ports:
            ping = subprocess.run(
                ["rabbitmq-diagnostics", "-q", "ping"],
                env={**os.environ, "RABBITMQ_NODENAME": f"rabbit{port}@localhost"},
                capture_output=True,
                timeout=60,
            )
            if ping.returncode == 0:
                up.append(port)
        return up

    def ctl(self, *args: str, port: int | None = None) -> str:
        """``rabbitmqctl -q ARGS`` on ``port``'s node (by default a running one)."""
        if port is None:
            running = self.running_ports()
            assert running, "no cluster node is running"
            port = running[0]
        proc = subprocess.run(
            ["rabbitmqctl", "-q", *args],
            env={**os.environ, "RABBITMQ_NODENAME": f"rabbit{port}@localhost"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, f"rabbitmqctl {args}: {proc.stderr}"
        return proc.stdout

    def _json(self, *args: str) -> list[dict[str, Any]]:
        out = self.ctl(*args, "--formatter", "json").strip()
        return list(json.loads(out)) if out else []

    def queues(self, vhost: str = "/") -> dict[str, dict[str, Any]]:
        """name → {type, durable, arguments (a dict), leader, members, messages …}."""
        rows = self._json(
            "list_queues",
            "-p",
            vhost,
            "name",
            "type",
            "durable",
            "arguments",
            "leader",
            "members",
            "messages",
            "consumers",
        )
        for row in rows:
            row["arguments"] = {key: value for key, _, value in row["arguments"]}
        return {row["name"]: row for row in rows}

    def leader_port(self, queue: str, vhost: str = "/") -> int:
        """The port of the node holding ``queue``'s leader (a quorum queue)."""
        leader = self.queues(vhost)[queue]["leader"]
        return int(leader.split("@")[0].removeprefix("rabbit"))

    def connections(self) -> list[dict[str, Any]]:
        """Client connections: the client's ``connection_name`` (``program:pid:uuid``)
        and the port (so the node) it came in on."""
        rows = self._json("list_connections", "port", "client_properties")
        for row in rows:
            props = {key: value for key, _, value in row.pop("client_properties")}
            row["name"] = str(props.get("connection_name", ""))
        return rows

    def ports_of_pid(self, pid: int) -> set[int]:
        """The node ports the process ``pid`` is connected to."""
        return {c["port"] for c in self.connections() if f":{pid}:" in c["name"]}

    def delete_queues(self, prefix: str) -> None:
        for name in self.queues():
            if name.startswith(prefix):
                self.ctl("delete_queue", name)


def node_name(port: int) -> str:
    """The node scripts/rabbitmq.sh runs on ``port``."""
    return "rabbit@localhost" if port == 5672 else f"rabbit{port}@localhost"


def rabbitmqctl(port: int, *args: str) -> str:
    proc = subprocess.run(
        ["rabbitmqctl", "-q", *args],
        env={**os.environ, "RABBITMQ_NODENAME": node_name(port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"rabbitmqctl {args}: {proc.stderr}"
    return proc.stdout


class VirtualHost:
    """A vhost of its own for one deployment: its queues (``conductor``, ``compute.h1`` …)
    are named by topic alone, so deployments on one broker are kept apart by vhost."""

    def __init__(self, port: int, name: str) -> None:
        self.port, self.name = port, name

    def __enter__(self) -> VirtualHost:
        rabbitmqctl(self.port, "add_vhost", self.name)
        rabbitmqctl(self.port, "set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return self

    def __exit__(self, *exc: object) -> None:
        rabbitmqctl(self.port, "delete_vhost", self.name)

    def queues(self) -> dict[str, dict[str, Any]]:
        out = rabbitmqctl(
            self.port,
            "list_queues",
            "-p",
            self.name,
            "name",
            "type",
            "consumers",
            "messages",
            "--formatter",
            "json",
        ).strip()
        return {q["name"]: q for q in (json.loads(out) if out else [])}

    def url(self, base: str) -> str:
        """``base`` (a rabbit:// URL ending in ``/``) on this vhost."""
        head, _, query = base.partition("?")
        return head.rstrip("/") + "/" + self.name + (f"?{query}" if query else "")


def unacked_by_pid(cluster: Cluster, vhost: str) -> dict[int, int]:
    """pid of a client process → messages delivered to it and not yet acknowledged."""
    channels = cluster._json("list_channels", "name", "messages_unacknowledged", "vhost")
    owners = {}
    for row in cluster._json("list_connections", "name", "client_properties"):
        props = {key: value for key, _, value in row["client_properties"]}
        parts = str(props.get("connection_name", "")).split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            owners[row["name"]] = int(parts[1])
    totals: dict[int, int] = {}
    for channel in channels:
        if channel["vhost"] != vhost:
            continue
        connection = channel["name"].rpartition(" (")[0]
        pid = owners.get(connection)
        if pid is not None:
            totals[pid] = totals.get(pid, 0) + int(channel["messages_unacknowledged"])
    return totals
