"""docs/deployment.md's one-machine walkthrough, run as written: its exports, db-sync and
seed, then every daemon it starts (with the sample TOMLs of docs/deployment/), on the
three-node cluster. The test gives the run ports, a vhost and a database file of its own.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench._daemons import ControlPlane, Daemon, free_port, rest, wait_http
from tests.cluster.cluster import REPO, Cluster, VirtualHost
from tests.cluster.deploy import boot, unsettled, wait_for

pytestmark = pytest.mark.cluster
GUIDE = REPO / "docs" / "deployment.md"
BLOCK = re.compile(
    r"<!-- one-machine: begin -->\s*```sh\n(.*?)```\s*<!-- one-machine: end -->", re.S
)


def guide_commands() -> list[str]:
    match = BLOCK.search(GUIDE.read_text())
    assert match, "docs/deployment.md lost its one-machine block"
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def _exports(lines: list[str]) -> dict[str, str]:
    """What the block's ``export`` lines set, evaluated by bash in the repository."""
    script = "\n".join(lines) + "\nenv -0"
    out = subprocess.run(
        ["bash", "-c", script], cwd=REPO, capture_output=True, check=True, timeout=120
    ).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return {k: v for k, v in env.items() if k.startswith("AIONOVA_")}


class Walkthrough:
    """The block's commands, started as it says, tracked for the test."""

    def __init__(self, tmp: Path, vhost: str) -> None:
        self.tmp, self.vhost = tmp, vhost
        self.env: dict[str, str] = {}
        self.daemons: list[Daemon] = []
        self.ran: list[str] = []

    def run(self, lines: list[str]) -> None:
        exports = [line for line in lines if line.startswith("export ")]
        self.env = _exports(exports)
        url = self.env["AIONOVA_DEFAULT__TRANSPORT_URL"]
        assert url.count(",") == 2, url  # the three nodes
        self.env["AIONOVA_DEFAULT__TRANSPORT_URL"] = url.rstrip("/") + f"/{self.vhost}"
        self.env["AIONOVA_DATABASE__CONNECTION"] = f"sqlite:///{self.tmp / 'nova.sqlite'}"
        for line in lines:
            if line.startswith("export "):
                continue
            argv = shlex.split(line.removesuffix("&"))
            if argv[0] == "bash":
                subprocess.run(argv, cwd=REPO, check=True, capture_output=True, timeout=300)
            elif argv[0] == "aionova":
                self._aionova(argv[1:], background=line.endswith("&"))
            else:
                raise AssertionError(f"the guide runs something unexpected: {line}")
            self.ran.append(line)

    def _aionova(self, args: list[str], *, background: bool) -> None:
        port = None
        if "--port" in args:  # a port of the test's own instead of 8774/8775
            index = args.index("--port") + 1
            port = free_port()
            args[index] = str(port)
        env = {**os.environ, **self.env}
        argv = [sys.executable, "-m", "aionova", *args]
        if not background:
            done = subprocess.run(
                argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return
        host = args[args.index("--host") + 1]
        log = self.tmp / f"{args[0]}-{host}.log"
        proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        self.daemons.append(Daemon(args[0], host, proc, log, port))

    def plane(self) -> ControlPlane:
        """The started daemons, as a ControlPlane (readiness, stop)."""
        plane = ControlPlane(
            self.tmp,
            self.env["AIONOVA_DEFAULT__TRANSPORT_URL"],
            self.env["AIONOVA_DATABASE__CONNECTION"],
        )
        plane.daemons = self.daemons
        return plane


@pytest.fixture
def walkthrough(cluster: Cluster, tmp_path: Path) -> Iterator[Walkthrough]:
    name = f"guide-{uuid.uuid4().hex[:8]}"
    with VirtualHost(cluster.base, name):
        walk = Walkthrough(tmp_path, name)
        try:
            yield walk
        finally:
            codes = walk.plane().stop()
            for daemon in walk.daemons:
                text = daemon.log.read_text()
                assert "Traceback" not in text, f"{daemon.host}:\n{text[-3000:]}"
            assert set(codes.values()) <= {0}, codes


def test_the_one_machine_walkthrough_runs_as_written(walkthrough: Walkthrough) -> None:
    lines = guide_commands()
    walkthrough.run(lines)
    assert len(walkthrough.ran) == len([line for line in lines if not line.startswith("export ")])
    roles = sorted((d.role, d.host) for d in walkthrough.daemons)
    assert roles == [
        ("api", "ctl1"),
        ("api", "ctl2"),
        ("compute", "cmp1"),
        ("compute", "cmp2"),
        ("conductor", "ctl1"),
        ("conductor", "ctl2"),
        ("scheduler", "ctl1"),
        ("scheduler", "ctl2"),
    ]
    plane = walkthrough.plane()
    deadline = time.monotonic() + 120
    for api in plane.of("api"):
        wait_http(api, deadline)
    plane.wait_ready(timeout=120)
    status, body = rest(plane.of("api")[0].url, "GET", "/flavors")
    assert status == 200 and "m1.tiny" in {f["name"] for f in body["flavors"]}  # seeded
    ids = [boot(api.url, f"guide-{i}") for i, api in enumerate(plane.of("api") * 2)]
    assert None not in ids
    servers = [i for i in ids if i is not None]
    wait_for(lambda: not unsettled(plane.database, servers), "the guide's servers", 120)
    for server in servers:
        status, body = rest(plane.of("api")[1].url, "GET", f"/servers/{server}")
        assert body["server"]["status"] == "ACTIVE", body
