"""A real ``aionova all-in-one`` subprocess and the real ``nova`` / ``openstack`` CLIs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import database_for
from tests.keystone import keystone

__all__ = ["keystone"]  # the session fixture (scripts/keystone.sh), for this directory

BIN = Path(sys.executable).parent
NOVA = shutil.which("nova", path=str(BIN)) or shutil.which("nova")
OPENSTACK = shutil.which("openstack", path=str(BIN)) or shutil.which("openstack")


@pytest.fixture(scope="session", autouse=True)
def _clients_installed() -> None:
    """The CLIs come with the test extra; their absence is a failure, not a skip."""
    if NOVA is None or OPENSTACK is None:
        pytest.fail("python-novaclient / python-openstackclient missing: pip install -e '.[test]'")


# Fast liveness so "force down" and heartbeats are observable within a test.
FAST_ENV = {
    "AIONOVA_DEFAULT__REPORT_INTERVAL": "0.5",
    "AIONOVA_DEFAULT__SERVICE_DOWN_TIME": "3",
    "AIONOVA_DEFAULT__INITIAL_REPORT_DELAY": "0",
    "AIONOVA_DEFAULT__RPC_RESPONSE_TIMEOUT": "20",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Process:
    """A background aionova command; SIGTERM then SIGKILL at the end."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aionova", *args],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **FAST_ENV, **(env or {})},
        )

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


class Cloud:
    """Where the all-in-one listens, and the two CLIs pointed at it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.endpoint = f"{base}/v2.1"

    def nova_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            OS_AUTH_TYPE="none",
            OS_ENDPOINT=self.endpoint,
            OS_USERNAME="admin",
            OS_PROJECT_ID="admin",
            OS_AUTH_URL="http://127.0.0.1:1/",
        )
        return env

    def openstack_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            OS_AUTH_TYPE="none",
            OS_ENDPOINT=self.endpoint,
            OS_COMPUTE_ENDPOINT_OVERRIDE=self.endpoint,
            OS_IMAGE_ENDPOINT_OVERRIDE=f"{self.base}/image",
            OS_IDENTITY_API_VERSION="3",
        )
        return env

    def nova(self, *args: str, version: str | None = None, ok: bool = True) -> str:
        """Run ``nova``; returns stdout (+stderr when ``ok=False``)."""
        argv = [str(NOVA)]
        if version:
            argv += ["--os-compute-api-version", version]
        return _run([*argv, *args], self.nova_env(), ok)

    def openstack(self, *args: str, ok: bool = True) -> str:
        return _run([str(OPENSTACK), *args], self.openstack_env(), ok)

    def openstack_json(self, *args: str) -> object:
        return json.loads(self.openstack(*args, "-f", "json"))


def _run(argv: list[str], env: dict[str, str], ok: bool) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert proc.returncode == 0, f"{argv} failed: {proc.stdout}\n{proc.stderr}"
        return proc.stdout
    return proc.stdout + proc.stderr


def table(output: str) -> list[dict[str, str]]:
    """Rows of a prettytable (nova's output), keyed by header."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in output.splitlines()
        if line.startswith("|")
    ]
    if not rows:
        return []
    header, *body = rows
    return [dict(zip(header, row, strict=False)) for row in body]


def fields(output: str) -> dict[str, str]:
    """A nova ``Property | Value`` table as a dict."""
    return {row["Property"]: row["Value"] for row in table(output) if "Property" in row}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """One all-in-one for a module: its tests boot servers of their own names."""
    yield from start_cloud(tmp_path_factory.mktemp("aio"))


def start_cloud(tmp: Path) -> Iterator[Cloud]:
    """Run an all-in-one (3 computes) in ``tmp`` until the generator is closed."""
    port = free_port()
    proc = Process(
        [
            "all-in-one",
            "--port",
            str(port),
            "--database",
            database_for(tmp),
            "--computes",
            "3",
        ],
        tmp / "all-in-one.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/v2.1")
        yield Cloud(base)
    finally:
        rc = proc.stop()
        log = (tmp / "all-in-one.log").read_text()
        assert "Traceback" not in log, log[-4000:]
        assert rc == 0, log[-2000:]


def call(base: str, method: str, path: str, body: object = None, version: str = "2.60") -> Any:
    """One REST call as the admin; returns (status, JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/v2.1{path}",
        data=data,
        method=method,
        headers={
            "X-Auth-Token": "notused",
            "OpenStack-API-Version": f"compute {version}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None
