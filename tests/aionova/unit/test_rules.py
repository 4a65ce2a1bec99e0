"""Layering rules and the compute client's version cap (spec §2.5, §9 79)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aionova import rpc
from aionova.compute.rpcapi import ComputeAPI
from aionova.config import Config, UpgradeLevels
from aionova.db import Database
from aionova.objects import Service
from aionova.versions import COMPUTE_RPC_VERSION

ROOT = Path(__file__).resolve().parents[3] / "aionova"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_aionova_never_imports_drivers() -> None:
    for path in ROOT.rglob("*.py"):
        assert not any(n.split(".")[0] == "drivers" for n in _imports(path)), path


def test_services_talk_through_rpcapi_only() -> None:
    """A service module may import another service's rpcapi, never its manager."""
    for service in ("compute", "conductor", "scheduler"):
        for path in (ROOT / service).glob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if len(parts) >= 3 and parts[0] == "aionova" and parts[2] == "manager":
                    assert parts[1] == service, f"{path} imports {name}"


@pytest.fixture
async def db(db_url):
    async with Database(db_url) as database:
        yield database


def _api(db: Database, level: str | None) -> ComputeAPI:
    config = Config(upgrade_levels=UpgradeLevels(compute=level))
    transport = rpc.get_rpc_transport("memory://versions-unit")
    return ComputeAPI(transport, db, config)


async def test_version_cap_levels(db: Database) -> None:
    assert await _api(db, None).determine_version_cap(None) == (None, True)
    assert await _api(db, "liberty").determine_version_cap(None) == ("4.5", True)
    assert await _api(db, "4.11").determine_version_cap(None) == ("4.11", True)
    auto = _api(db, "auto")
    # no computes yet: the current version, not cached
    assert await auto.determine_version_cap(None) == (COMPUTE_RPC_VERSION, False)
    await db.service_create(None, Service(host="a", binary="nova-compute", version=3))
    await db.service_create(None, Service(host="b", binary="nova-compute", version=2))
    assert await auto.determine_version_cap(None) == ("4.5", True)
    client = await auto.client(None)
    assert client is await auto.client(None)  # cached
    assert client.can_send_version("4.5") and not client.can_send_version("4.13")
