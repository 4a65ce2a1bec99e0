"""``bench.boot_storm`` over RabbitMQ with the computes in child processes.

A tiny storm runs to the end with a well-formed JSON line, every instance
settled and no host overcommitted; SIGTERM mid-storm leaves no child behind.
Speed is never asserted. Needs ``bash scripts/rabbitmq.sh start`` (or
``AIONOVA_RABBIT_URL``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench._compute_host import drop_exchange
from bench.boot_storm import _config, notification_queues
from tests.conftest import DEFAULT_RABBIT_URL

pytestmark = pytest.mark.rabbit
REPO = Path(__file__).resolve().parents[2]
KEYS = {
    "bench": str,
    "transport": str,
    "via": str,
    "computes": int,
    "instances": int,
    "active": int,
    "error": int,
    "overcommitted_hosts": int,
    "seconds": float,
    "boots_per_s": float,
    "rpc_messages_per_boot": float,
    "notifications": str,
    "notifications_per_boot": float,
    "peak_rss_mb": float,
    "compute_processes": int,
    "peak_rss_mb_computes": float,
    "startup_seconds": float,
}


@pytest.fixture
def exchange(rabbit_url: str) -> Iterator[str]:
    """A control exchange of the test's own (so its children can be found by name)."""
    name = f"bench_storm_test_{uuid.uuid4().hex[:8]}"
    yield name
    asyncio.run(drop_exchange(_url(name)))


def _url(exchange: str) -> str:
    base = os.environ.get("AIONOVA_RABBIT_URL", DEFAULT_RABBIT_URL)  # checked by rabbit_url
    return f"{base}?control_exchange={exchange}"


def _command(exchange: str, computes: int, processes: int, instances: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.boot_storm",
        "--transport",
        _url(exchange),
        "--computes",
        str(computes),
        "--compute-processes",
        str(processes),
        "--instances",
        str(instances),
    ]


def _children(exchange: str) -> list[psutil.Process]:
    """Live compute-host processes of this run (their command line names its exchange)."""
    return [
        proc
        for proc in psutil.process_iter(["cmdline", "status"])
        if "bench._compute_host" in (proc.info["cmdline"] or [])
        and exchange in proc.info["cmdline"]
        and proc.info["status"] != psutil.STATUS_ZOMBIE
    ]


def test_tiny_storm_json_and_settled(exchange: str) -> None:
    done = subprocess.run(
        _command(exchange, computes=4, processes=2, instances=20),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].split() == ["bench", "boot_storm"]  # the table comes first
    result: dict[str, Any] = json.loads(lines[-1])
    for key, kind in KEYS.items():
        assert isinstance(result[key], kind if kind is not float else int | float), key
    assert result["bench"] == "boot_storm" and result["transport"] == "rabbit"
    assert (result["computes"], result["instances"], result["compute_processes"]) == (4, 20, 2)
    assert result["active"] + result["error"] == 20
    assert result["overcommitted_hosts"] == 0
    assert result["rpc_messages_per_boot"] > 0
    assert result["peak_rss_mb"] > result["peak_rss_mb_computes"] > 0
    assert result["notifications"] == "off" and result["notifications_per_boot"] == 0
    assert not _children(exchange)


def test_tiny_storm_with_notifications_cleans_its_queues(exchange: str) -> None:
    """Both formats, computes in a child: every boot's create.start/end in both formats
    counted; the queues of the run's own notification topics are gone afterwards."""
    command = [
        *_command(exchange, computes=2, processes=1, instances=10),
        "--notifications",
        "both",
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["notifications"] == "both" and result["active"] == 10
    assert result["notifications_per_boot"] >= 4  # create.start and .end, twice each
    leftovers = asyncio.run(_existing(notification_queues(_config("both", f"{exchange}_"))))
    assert leftovers == []


async def _existing(queues: list[str]) -> list[str]:
    import aio_pika

    from tests.notify.helpers import amqp_url

    found = []
    connection = await aio_pika.connect(amqp_url(_url("x")))
    async with connection:
        for name in queues:
            channel = await connection.channel()
            try:
                await channel.declare_queue(name, passive=True)
                found.append(name)
            except aio_pika.exceptions.ChannelClosed:
                pass
    return found


def test_sigterm_mid_storm_reaps_children(exchange: str) -> None:
    proc = subprocess.Popen(
        _command(exchange, computes=6, processes=2, instances=100_000),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_children(exchange)) < 2:
            assert proc.poll() is None, "the bench ended before its children started"
            assert time.monotonic() < deadline, "children did not start"
            time.sleep(0.2)
        time.sleep(2)  # mid-storm
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
        deadline = time.monotonic() + 10
        while _children(exchange) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _children(exchange)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in _children(exchange):
            child.kill()
