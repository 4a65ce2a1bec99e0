"""Finding a driver by the URL's scheme, and the clear errors when there is none.

Drivers are registered as ``aionova.rpc.drivers`` entry points. These tests add
distributions of their own (a ``*.dist-info`` folder on ``sys.path``, which is all
an installed distribution is to ``importlib.metadata``). The missing-extra case
of a real base install (``rabbit://`` without aio-pika) runs in
tests/packaging/test_wheel.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from aionova.rpc.testing import check_driver, url_transports

from aionova import rpc


def _register(root: Path, dist: str, entry_points: str) -> None:
    """Install a distribution named ``dist`` with these entry points under ``root``."""
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    body = textwrap.dedent(entry_points).strip()
    (info / "entry_points.txt").write_text(f"[aionova.rpc.drivers]\n{body}\n")


@pytest.mark.parametrize(
    "url", ["", "localhost:5672", "guest:secret@broker:5672/", "//broker/", "rabbit:/broker"]
)
def test_a_url_without_scheme_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(rpc.MessagingException, match="malformed transport URL") as info:
        rpc.get_rpc_transport(url)
    assert "must start with a scheme, e.g. memory://" in str(info.value)
    assert "secret" not in str(info.value)


def test_a_url_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="string"):
        rpc.get_rpc_transport(None)  # type: ignore[arg-type]


def test_a_scheme_without_a_driver_names_the_installed_ones() -> None:
    with pytest.raises(rpc.MessagingException) as info:
        rpc.get_rpc_transport("kafka://broker:9092/")
    message = str(info.value)
    assert "no RPC driver for kafka://" in message
    assert "memory://" in message and "rabbit://" in message
    assert "aionova.rpc.drivers" in message


def test_a_driver_whose_module_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry point is there but its distribution's code is gone (a broken install)."""
    _register(tmp_path, "ghost-driver", "ghost = ghost_driver_gone.driver:GhostDriver")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(rpc.MessagingException) as info:
        rpc.get_rpc_transport("ghost://x")
    message = str(info.value)
    assert "the ghost:// driver (ghost_driver_gone.driver:GhostDriver from ghost-driver)" in message
    assert "No module named 'ghost_driver_gone'" in message
    assert isinstance(info.value.__cause__, ImportError)


def test_a_driver_needing_an_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How ``rabbit = "aionova.drivers.amqp:AmqpDriver [rabbit]"`` reads without aio-pika."""
    _register(tmp_path, "spooky-bus", "spooky = spooky_bus_missing:Driver [spooky]")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(rpc.MessagingException) as info:
        rpc.get_rpc_transport("spooky://x")
    assert str(info.value).startswith(
        "spooky:// needs the 'spooky' extra: pip install 'spooky-bus[spooky]'"
    )


def test_our_rabbit_entry_point_declares_its_extra() -> None:
    from importlib.metadata import entry_points

    (rabbit,) = entry_points(group="aionova.rpc.drivers", name="rabbit")
    assert rabbit.extras == ["rabbit"] and rabbit.value.startswith("aionova.drivers.amqp:")
    assert rabbit.dist is not None and rabbit.dist.name == "aionova-openstack"


async def test_a_driver_registered_by_a_test_distribution_passes_the_kit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registration end to end: a new scheme, found by entry point, runs the kit."""
    _register(
        tmp_path, "counting-bus", "counting = tests.conformance.test_third_party_driver:from_url"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    transports = url_transports("counting://lookup-test")
    passed = await check_driver(transports, only=["cast_reaches_the_server", "two_transports_talk"])
    assert passed == ["cast_reaches_the_server", "two_transports_talk"]
    async with rpc.get_rpc_transport("counting://lookup-test") as transport:
        assert type(transport._driver).__name__ == "CountingDriver"
