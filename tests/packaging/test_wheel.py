"""The wheel: what it holds, and what a base install of it (no extras) can do.

One wheel is built per test session from a copy of the sources (so no build
output lands in the work tree), without build isolation: the setuptools of the
test extra builds it, offline. A fresh venv gets that wheel alone: pip brings
its one dependency (msgspec) and nothing of the extras.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = "aionova-openstack"
#: What a base install must not import (nor even have): the extras' libraries.
HEAVY = (
    "aio_pika",
    "aiormq",
    "pamqp",
    "aiohttp",
    "aiosqlite",
    "yarl",
    "multidict",
    "uvloop",
    "re2",
    "oslo_policy",
    "oslo_config",
    "asyncpg",
)


def _run(args: list[str | Path], timeout: float = 600, **kwargs: object) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("aionova", "rpc", "drivers"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", out, src])  # fmt: skip
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def base_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and no extra: its bin/ folder."""
    venv = tmp_path_factory.mktemp("base") / "venv"
    _run([sys.executable, "-m", "venv", venv])
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel])
    return venv / "bin"


def test_the_wheel_installs_only_under_aionova(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"aionova", "aionova_openstack-0.1.0.dist-info"}
    assert "aionova/rpc/py.typed" in names
    for module in ("rpc/__init__", "rpc/driver", "rpc/testing/__init__", "drivers/amqp/driver"):
        assert f"aionova/{module}.py" in names, module
    assert not [n for n in names if n.startswith(("rpc/", "drivers/", "tests/", "bench/"))]


def test_the_wheel_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        info = "aionova_openstack-0.1.0.dist-info"
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
        metadata = whl.read(f"{info}/METADATA").decode()
    assert "memory = aionova.drivers.memory:MemoryDriver" in entry_points
    assert "rabbit = aionova.drivers.amqp:AmqpDriver [rabbit]" in entry_points
    assert "aionova = aionova.cmd.console:main" in entry_points
    drivers = entry_points.split("[aionova.rpc.drivers]")[1].split("[")[0]
    for line in filter(None, drivers.strip().splitlines()):
        assert line.split("=")[1].strip().startswith("aionova.drivers."), line
    assert f"Name: {DIST}\n" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert [r for r in requires if "extra ==" not in r] == ["Requires-Dist: msgspec>=0.18"]
    for extra in ("rabbit", "nova", "speed", "test"):
        assert f"Provides-Extra: {extra}" in metadata


BASE_SCRIPT = r"""
import asyncio, importlib.util, sys
import aionova.rpc as rpc

heavy = HEAVY
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
assert not loaded, f"import aionova.rpc loaded {loaded}"
control = sorted(m for m in sys.modules if m.startswith("aionova.")
                 and not m.startswith(("aionova.rpc", "aionova.drivers")))
assert not control, f"import aionova.rpc loaded the control plane: {control}"
assert not [m for m in heavy if importlib.util.find_spec(m)], "an extra's library is installed"


class Endpoint:
    def __init__(self):
        self.cast = asyncio.Event()

    async def add(self, ctxt, a, b):
        return a + b

    async def note(self, ctxt):
        self.cast.set()


async def main():
    endpoint = Endpoint()
    async with rpc.get_rpc_transport("memory://base") as transport:
        target = rpc.Target(topic="t", server="s")
        async with rpc.get_rpc_server(transport, target, [endpoint]):
            client = rpc.get_rpc_client(transport, rpc.Target(topic="t"), timeout=5)
            assert await client.call({}, "add", a=2, b=3) == 5
            await client.cast({}, "note")
            await asyncio.wait_for(endpoint.cast.wait(), 5)
    try:
        rpc.get_rpc_transport("rabbit://guest:guest@127.0.0.1:5672/")
    except rpc.MessagingException as exc:
        print("RABBIT:", exc)
    else:
        raise AssertionError("rabbit:// worked without aio-pika")
    try:
        rpc.get_rpc_transport("guest:guest@127.0.0.1:5672/")
    except rpc.MessagingException as exc:
        print("MALFORMED:", exc)
    from aionova.rpc import testing
    assert "pytest" not in sys.modules
    passed = await testing.check_driver(testing.url_transports("memory://kit"))
    print("KIT:", len(passed))

asyncio.run(main())
"""


def test_a_base_install_imports_light_and_serves_memory(base_venv: Path) -> None:
    script = BASE_SCRIPT.replace("HEAVY", repr(HEAVY))
    out = _run([base_venv / "python", "-c", script], timeout=300, cwd=base_venv)
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["RABBIT"].startswith(
        "rabbit:// needs the 'rabbit' extra: pip install 'aionova-openstack[rabbit]'"
    )
    assert "No module named 'aio_pika'" in lines["RABBIT"]
    assert lines["MALFORMED"].startswith("malformed transport URL")
    assert int(lines["KIT"]) >= 22


def test_the_command_without_the_nova_extra_says_what_to_install(base_venv: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIONOVA_")}
    done = subprocess.run(
        [base_venv / "aionova", "all-in-one"],
        capture_output=True, text=True, timeout=60, cwd=base_venv, env=env,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "pip install 'aionova-openstack[nova]'" in done.stderr
    assert "missing: aio_pika, aiohttp, re2, oslo_policy, asyncpg" in done.stderr


def test_the_nova_extra_lists_what_the_command_checks() -> None:
    import tomllib

    from aionova.cmd.console import NOVA_EXTRA

    with (ROOT / "pyproject.toml").open("rb") as f:
        nova = tomllib.load(f)["project"]["optional-dependencies"]["nova"]
    names = {req.split(">")[0].split("<")[0].split("=")[0].strip() for req in nova}
    assert names == set(NOVA_EXTRA)
