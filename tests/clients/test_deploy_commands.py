"""What a deployment runs before its services, through the ``aionova`` command: db-sync and
seed (idempotent, either database), and clear errors for a database URL it cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aionova.db.schema import LATEST
from tests.clients.conftest import Cloud


def aionova(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aionova", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_sync_and_seed_are_idempotent(backend: str, tmp_path: Path, postgres_url: str) -> None:
    if backend == "sqlite":
        database = f"sqlite:///{tmp_path / 'deploy.sqlite'}"
    else:
        from tests.conftest import schemas

        database = schemas().new()
    for _ in range(2):
        done = aionova("db-sync", "--database", database)
        assert done.returncode == 0, done.stderr
        assert f"schema version {LATEST} (latest {LATEST})" in done.stdout
        assert "aionova:aionova@" not in done.stdout  # the password is not printed
    for _ in range(2):
        done = aionova("seed", "--database", database)
        assert done.returncode == 0, done.stderr
        assert "5 flavors, 3 images" in done.stdout


@pytest.mark.parametrize("command", ["api", "conductor", "scheduler", "all-in-one", "db-sync"])
def test_unknown_scheme_is_a_clear_error(command: str) -> None:
    done = aionova(command, "--database", "mysql://nova:pw@127.0.0.1/nova")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "unsupported database URL scheme 'mysql'" in done.stderr
    assert "postgresql://" in done.stderr  # says what would work


@pytest.mark.parametrize("command", ["api", "conductor", "scheduler", "db-sync"])
def test_unreachable_server_is_a_clear_error(command: str) -> None:
    env = {"AIONOVA_DATABASE__MAX_RETRIES": "1", "AIONOVA_DATABASE__RETRY_INTERVAL": "0.1"}
    url = "postgresql://nova:secret@127.0.0.1:1/nova"  # nothing listens on port 1
    done = aionova(command, "--database", url, env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "aionova: database: PostgreSQL at postgresql://nova:***@127.0.0.1:1/nova" in done.stderr
    assert "secret" not in done.stderr
    assert "cannot reach the database (attempt 1)" in done.stderr  # it did retry first


def test_openstack_flavor_create_and_delete(cloud: Cloud) -> None:
    """The real CLI against POST /flavors and DELETE /flavors/{id}."""
    created = cloud.openstack_json(
        "flavor", "create", "--ram", "256", "--disk", "1", "--vcpus", "2", "--id", "cli-1",
        "--description", "from the CLI", "cli.flavor",
    )  # fmt: skip
    assert isinstance(created, dict)
    assert created["name"] == "cli.flavor" and created["id"] == "cli-1"
    assert created["ram"] == 256 and created["vcpus"] == 2
    listed = cloud.openstack_json("flavor", "list")
    assert isinstance(listed, list) and "cli.flavor" in {f["Name"] for f in listed}
    cloud.openstack("flavor", "delete", "cli-1")
    listed = cloud.openstack_json("flavor", "list")
    assert isinstance(listed, list) and "cli.flavor" not in {f["Name"] for f in listed}
