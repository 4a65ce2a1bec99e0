"""The docs tell the truth: their examples run, their tables match the code.

Blocks of ``docs/porting.md`` and the README preceded by ``<!-- example: NAME -->``
are run as scripts, with ``TRANSPORT_URL`` unset (``memory://``, oslo's
``fake://``) and set to the test broker. Every import they show uses the
installed names (``from aionova import rpc``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aionova.drivers.amqp.settings import _ALIASES

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "porting.md"
README = ROOT / "README.md"
EXAMPLE = re.compile(r"<!-- example: (\w+) -->\n```python\n(.*?)```", re.S)
OLD_IMPORT = re.compile(r"^\s*(from|import)\s+(rpc|drivers)\b", re.M)


def _examples(path: Path) -> dict[str, str]:
    return dict(EXAMPLE.findall(path.read_text()))


GUIDE_EXAMPLES = _examples(GUIDE)
README_EXAMPLES = _examples(README)


def test_the_guide_has_its_examples() -> None:
    assert set(GUIDE_EXAMPLES) == {
        "oslo_service",
        "aionova_service",
        "rabbit_settings",
        "versioned_objects",
    }
    assert set(README_EXAMPLES) == {"one_screen"}


def _run(tmp_path: Path, name: str, code: str, url: str | None) -> None:
    script = tmp_path / f"example_{name}.py"  # not a module name an import could mean
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "TRANSPORT_URL"}
    if url is not None:
        env["TRANSPORT_URL"] = url
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, f"example {name} failed:\n{done.stdout}\n{done.stderr}"


ALL_EXAMPLES = {**GUIDE_EXAMPLES, **README_EXAMPLES}


@pytest.mark.parametrize("name", sorted(ALL_EXAMPLES))
def test_example_runs_in_process(tmp_path: Path, name: str) -> None:
    _run(tmp_path, name, ALL_EXAMPLES[name], None)


@pytest.mark.rabbit
@pytest.mark.parametrize("name", ["oslo_service", "aionova_service", "versioned_objects"])
def test_example_runs_over_rabbitmq(tmp_path: Path, name: str, rabbit_url: str) -> None:
    _run(tmp_path, name, ALL_EXAMPLES[name], rabbit_url)


def test_the_options_table_lists_every_oslo_alias() -> None:
    """Each option name oslo.messaging uses, next to the setting it sets."""
    guide = GUIDE.read_text()
    for alias, name in _ALIASES.items():
        row = re.compile(rf"^\|[^|\n]*`{alias}`[^|\n]*\| `{name}`", re.M)
        assert row.search(guide), f"{alias} -> {name}"


@pytest.mark.parametrize(
    "path", [README, GUIDE, ROOT / "aionova" / "demo.py"], ids=lambda p: p.name
)
def test_docs_use_the_installed_names(path: Path) -> None:
    text = path.read_text()
    assert not OLD_IMPORT.findall(text)


def test_the_readme_names_the_distribution_and_the_extras() -> None:
    text = README.read_text()
    for phrase in (
        "pip install aionova-openstack",
        "'aionova-openstack[rabbit]'",
        "-e '.[nova]'",
        "docs/porting.md",
        "aionova.rpc.testing",
    ):
        assert phrase in text, phrase


def test_the_readme_driver_example_is_the_tested_one() -> None:
    """The README's third-party driver is tests/conformance/test_third_party_driver.py's."""
    block = re.search(r"<!-- kit example -->\n```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    tested = (ROOT / "tests" / "conformance" / "test_third_party_driver.py").read_text()
    for chunk in block.group(1).split("\n\n"):
        if chunk.strip() and not chunk.lstrip().startswith(("#", "...")):
            assert chunk.strip() in tested, chunk
