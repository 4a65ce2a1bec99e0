"""The real ``openstack`` and ``nova`` CLIs through Keystone's catalog: password auth
against the real Keystone, aionova registered by ``aionova keystone-register`` as
``compute`` (and its Glance-style image document as ``image``), the API in
``auth_strategy = keystone``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients.conftest import NOVA, OPENSTACK, Process, _run, free_port, table, wait_http
from tests.conftest import database_for
from tests.keystone import ADMIN_PASSWORD, PASSWORD, SERVICE_PASSWORD, Keystone

pytestmark = pytest.mark.keystone


class KeystoneCloud:
    """The all-in-one in keystone mode, and the CLIs as a given Keystone user."""

    def __init__(self, base: str, keystone: Keystone) -> None:
        self.base = base
        self.keystone = keystone

    def env(self, user: str, password: str, project: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "NOVA"))}
        env.update(
            OS_AUTH_URL=self.keystone.url,
            OS_AUTH_TYPE="password",
            OS_USERNAME=user,
            OS_PASSWORD=password,
            OS_PROJECT_NAME=project,
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
            OS_REGION_NAME="RegionOne",
            OS_INTERFACE="public",
        )
        return env

    def openstack(self, who: tuple[str, str, str], *args: str, ok: bool = True) -> str:
        return _run([str(OPENSTACK), *args], self.env(*who), ok)

    def nova(self, who: tuple[str, str, str], *args: str, ok: bool = True) -> str:
        return _run([str(NOVA), *args], self.env(*who), ok)


MEMBER = ("cli-member", PASSWORD, "cli")
ADMIN = ("admin", ADMIN_PASSWORD, "admin")


def register(keystone: Keystone, base: str) -> str:
    argv = [sys.executable, "-m", "aionova", "keystone-register", "--url", base]
    argv += ["--os-auth-url", keystone.url, "--os-password", ADMIN_PASSWORD]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def kcloud(keystone: Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneCloud]:
    keystone.user(MEMBER[0], MEMBER[2], ["member"])
    tmp = tmp_path_factory.mktemp("ks-aio")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = register(keystone, base)
    assert first.count("\n") == 6 and "kept" not in first.replace(base, ""), first
    assert register(keystone, base).count(": kept") == 6  # idempotent
    env = {
        "AIONOVA_API__AUTH_STRATEGY": "keystone",
        "AIONOVA_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI": keystone.root,
        "AIONOVA_KEYSTONE_AUTHTOKEN__AUTH_URL": keystone.root,
        "AIONOVA_KEYSTONE_AUTHTOKEN__USERNAME": "nova",
        "AIONOVA_KEYSTONE_AUTHTOKEN__PASSWORD": SERVICE_PASSWORD,
        "AIONOVA_KEYSTONE_AUTHTOKEN__PROJECT_NAME": "service",
    }
    log = tmp / "all-in-one.log"
    argv = ["all-in-one", "--port", str(port), "--database", database_for(tmp)]
    proc = Process(argv, log, env)
    try:
        wait_http(f"{base}/v2.1")
        yield KeystoneCloud(base, keystone)
    finally:
        rc = proc.stop()
        text = log.read_text()
        assert "Traceback" not in text, text[-4000:]
        assert rc == 0, text[-2000:]
        assert SERVICE_PASSWORD not in text and PASSWORD not in text


def _wait_for(kcloud: KeystoneCloud, name: str, timeout: float = 60.0, **want: Any) -> None:
    """Poll ``openstack server show`` as the admin until every field has its value."""
    deadline = time.monotonic() + timeout
    while True:
        out = kcloud.openstack(ADMIN, "server", "show", name, "-f", "json")
        server: dict[str, Any] = json.loads(out)
        if all(server.get(key) == value for key, value in want.items()):
            return
        assert time.monotonic() < deadline, (want, server)
        time.sleep(0.5)


def test_openstack_cli_through_the_catalog(kcloud: KeystoneCloud) -> None:
    kcloud.openstack(
        MEMBER, "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--wait", "ks-os1"
    )
    listed = kcloud.openstack(MEMBER, "server", "list", "-f", "value", "-c", "Name")
    assert "ks-os1" in listed.split()
    shown = kcloud.openstack(MEMBER, "server", "show", "ks-os1", "-f", "value", "-c", "status")
    assert shown.strip() == "ACTIVE"
    kcloud.openstack(MEMBER, "server", "reboot", "--wait", "ks-os1")
    kcloud.openstack(MEMBER, "server", "delete", "--wait", "ks-os1")
    assert "ks-os1" not in kcloud.openstack(MEMBER, "server", "list", "-f", "value", "-c", "Name")
    # The member's admin-only commands are refused by policy.
    refused = kcloud.openstack(MEMBER, "compute", "service", "list", ok=False)
    assert "403" in refused and "os_compute_api:os-services:list" in refused, refused
    refused = kcloud.openstack(MEMBER, "hypervisor", "list", ok=False)
    assert "403" in refused, refused


def test_nova_cli_through_the_catalog(kcloud: KeystoneCloud) -> None:
    kcloud.nova(MEMBER, "boot", "--flavor", "m1.tiny", "--image", "cirros", "--poll", "ks-nova1")
    rows = table(kcloud.nova(MEMBER, "list"))
    assert [r["Status"] for r in rows if r["Name"] == "ks-nova1"] == ["ACTIVE"]
    assert "ks-nova1" in kcloud.nova(MEMBER, "show", "ks-nova1")
    kcloud.nova(MEMBER, "reboot", "--poll", "ks-nova1")
    refused = kcloud.nova(MEMBER, "evacuate", "ks-nova1", ok=False)
    assert "(HTTP 403)" in refused and "os_compute_api:os-evacuate" in refused, refused
    kcloud.nova(MEMBER, "delete", "ks-nova1")
    refused = kcloud.nova(MEMBER, "service-list", ok=False)
    assert "(HTTP 403)" in refused, refused
    refused = kcloud.nova(MEMBER, "migration-list", ok=False)
    assert "(HTTP 403)" in refused, refused


def test_admin_forces_down_and_evacuates(kcloud: KeystoneCloud) -> None:
    kcloud.openstack(
        ADMIN,
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--availability-zone",
        "nova:compute3",
        "--wait",
        "ks-evac",
    )
    _wait_for(kcloud, "ks-evac", **{"OS-EXT-SRV-ATTR:host": "compute3", "status": "ACTIVE"})
    refused = kcloud.openstack(
        MEMBER, "compute", "service", "set", "--down", "compute3", "nova-compute", ok=False
    )
    assert "403" in refused, refused
    kcloud.openstack(ADMIN, "compute", "service", "set", "--down", "compute3", "nova-compute")
    services = table(kcloud.nova(ADMIN, "service-list", "--binary", "nova-compute"))
    assert {r["Host"]: r["Forced down"] for r in services}["compute3"] == "True"
    kcloud.nova(ADMIN, "evacuate", "ks-evac")
    _wait_for(kcloud, "ks-evac", status="ACTIVE", **{"OS-EXT-STS:task_state": None})
    shown = json.loads(kcloud.openstack(ADMIN, "server", "show", "ks-evac", "-f", "json"))
    assert shown["OS-EXT-SRV-ATTR:host"] in ("compute1", "compute2")
