"""What the wheel installs: the package list in pyproject.toml matches the folders."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        setuptools: dict[str, object] = tomllib.load(f)["tool"]["setuptools"]
    return setuptools


def test_every_package_folder_is_listed() -> None:
    config = _config()
    package_dir: dict[str, str] = config["package-dir"]  # type: ignore[assignment]
    found = set()
    for name, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert set(config["packages"]) == found  # type: ignore[arg-type]


def test_nothing_installs_at_the_top_level_but_aionova() -> None:
    config = _config()
    tops = {name.split(".")[0] for name in config["packages"]}  # type: ignore[attr-defined]
    assert tops == {"aionova"}
