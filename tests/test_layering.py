"""Imports go one way: control plane → aionova.rpc ← aionova.drivers.

The folders are ``rpc/``, ``drivers/`` and ``aionova/``; the installed names are
``aionova.rpc``, ``aionova.drivers`` and the control plane's ``aionova.<service>``.
``aionova.rpc`` imports neither of the others; the drivers import only the RPC
layer; the control plane never imports a driver. Nothing anywhere imports the
old top-level names ``rpc`` or ``drivers``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What each folder may import of the project (third-party imports are not checked here).
ALLOWED = {
    "rpc": ("aionova.rpc",),
    "drivers": ("aionova.rpc", "aionova.drivers"),
}
SCANNED = ("rpc", "drivers", "aionova", "bench", "tests")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _project(names: set[str]) -> set[str]:
    return {n for n in names if n == "aionova" or n.startswith("aionova.")}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_imports_go_one_way(folder: str) -> None:
    offenders = {}
    for path in (ROOT / folder).rglob("*.py"):
        # ``from aionova import rpc`` names the module aionova.rpc, which is allowed.
        bad = {
            n
            for n in _project(_imports(path))
            if n != "aionova" and not _within(n, ALLOWED[folder])
        }
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_control_plane_never_imports_a_driver() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if "aionova.drivers" in n)
        for path in (ROOT / "aionova").rglob("*.py")
        if any("aionova.drivers" in n for n in _imports(path))
    }
    assert offenders == {}


def test_nothing_imports_the_old_top_level_names() -> None:
    offenders = {}
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*.py"):
            old = {n for n in _imports(path) if n.split(".")[0] in ("rpc", "drivers")}
            if old:
                offenders[str(path.relative_to(ROOT))] = sorted(old)
    assert offenders == {}


def test_rpc_finds_drivers_by_entry_point_only() -> None:
    source = (ROOT / "rpc" / "_transport.py").read_text()
    assert "entry_points" in source and "drivers." not in source
