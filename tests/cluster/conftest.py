"""The three-node cluster, started once per session (scripts/rabbitmq-cluster.sh).

Tests that stop a node start it again before they end; the ``cluster`` fixture also
brings back any node a failed test left down, so every test begins with three.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster

STARTED: list[float] = []


@pytest.fixture(scope="session")
def cluster_session() -> Iterator[Cluster]:
    cluster = Cluster()
    t0 = time.monotonic()
    try:
        cluster.start()
    except Exception as exc:  # the script's own message says what failed
        pytest.fail(f"the RabbitMQ cluster did not start: {exc}", pytrace=False)
    STARTED.append(time.monotonic() - t0)
    yield cluster


@pytest.fixture
def cluster(cluster_session: Cluster) -> Cluster:
    """The cluster, all three nodes running as one."""
    if not cluster_session.is_formed():
        cluster_session.start()
    return cluster_session


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Where the deployment's state lives: ``AIONOVA_TEST_DATABASE_URL`` (a fresh
    database, e.g. ``postgresql://…``) or a SQLite file of the test's own."""
    return os.environ.get("AIONOVA_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'nova.sqlite'}"
