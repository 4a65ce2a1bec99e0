"""The rebuild_instance example: 4.5 with newer arguments, or 4.0 without them."""

from __future__ import annotations

import pytest
from aionova.rpc.testing import capture

from aionova import demo, rpc

CTX = {"user": "u"}


@pytest.fixture
async def hosts(transport: rpc.Transport):  # type: ignore[no-untyped-def]
    new, old = demo.RebuildEndpoint("new-host", "4.5"), demo.RebuildEndpoint("old-host", "4.0")
    servers = [
        rpc.get_rpc_server(transport, rpc.Target(topic=demo.TOPIC, server=e.host), [e])
        for e in (new, old)
    ]
    for server in servers:
        await server.start()
    yield new, old
    for server in servers:
        await server.stop()
        await server.wait()


async def test_uncapped_client_sends_4_5_with_new_arguments(
    transport: rpc.Transport, hosts: tuple[demo.RebuildEndpoint, ...]
) -> None:
    new, _ = hosts
    client = demo.ComputeClient(transport)
    result = await client.rebuild_instance(CTX, "new-host", "vm", "img", scheduled_node="n1")
    assert result == "vm rebuilt on new-host"
    assert new.log == ["rebuild vm with img, newer args ['limits', 'migration', 'scheduled_node']"]


async def test_capped_client_falls_back_to_4_0_and_old_host_accepts(
    transport: rpc.Transport, hosts: tuple[demo.RebuildEndpoint, ...]
) -> None:
    _, old = hosts
    client = demo.ComputeClient(transport, version_cap="4.0")
    assert not client.client.can_send_version("4.5")
    assert await client.rebuild_instance(CTX, "old-host", "vm", "img", limits={"a": 1}) == (
        "vm rebuilt on old-host"
    )
    assert old.log == ["rebuild vm with img, newer args none"]


async def test_uncapped_client_to_old_host_is_unsupported_version(
    transport: rpc.Transport, hosts: tuple[demo.RebuildEndpoint, ...]
) -> None:
    with pytest.raises(rpc.UnsupportedVersion) as info:
        await demo.ComputeClient(transport).rebuild_instance(CTX, "old-host", "vm", "img")
    assert info.value.version == "4.5"


async def test_the_fallback_message_on_the_wire(transport: rpc.Transport) -> None:
    target = rpc.Target(topic=demo.TOPIC, server="wire-host")
    async with capture(transport, target) as wire:
        client = demo.ComputeClient(transport, version_cap="4.0")
        client.client = client.client.prepare(timeout=0.2)
        with pytest.raises(rpc.MessagingTimeout):
            await client.rebuild_instance(CTX, "wire-host", "vm", "img", migration={"id": 1})
        (message,) = await wire.wait(1)
    assert message["version"] == "4.0"
    assert message["args"] == {"instance": "vm", "image": "img"}


async def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    await demo.main()
    out = capsys.readouterr().out
    assert "can_send_version('4.5') under cap 4.0: False" in out
    assert "vm-2 rebuilt on old-host" in out
    assert "UnsupportedVersion" in out
