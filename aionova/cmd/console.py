"""The ``aionova`` command's entry point: check the control plane's extra, then run.

The control plane needs the ``[nova]`` extra (aiohttp, aio-pika, RE2, oslo.policy, asyncpg); a
base install (``pip install aionova-openstack``) has only the RPC layer. Without
the extra the command says what to install instead of failing on an import.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.util import find_spec

DISTRIBUTION = "aionova-openstack"
#: The [nova] extra's distributions (pyproject.toml; a test checks) → their import names.
NOVA_EXTRA = {
    "aio-pika": "aio_pika",
    "aiohttp": "aiohttp",
    "google-re2": "re2",
    "oslo.policy": "oslo_policy",
    "asyncpg": "asyncpg",
}


def missing_modules() -> list[str]:
    """The modules of the [nova] extra that cannot be imported here."""
    return [name for name in NOVA_EXTRA.values() if find_spec(name) is None]


def main(argv: Sequence[str] | None = None) -> None:
    missing = missing_modules()
    if missing:
        sys.exit(
            f"aionova: the control plane needs the 'nova' extra "
            f"(missing: {', '.join(missing)}): pip install '{DISTRIBUTION}[nova]'"
        )
    from aionova.cmd.main import main as run

    run(argv)
