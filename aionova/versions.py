"""Service versions and the compute RPC version each one speaks (Nova's history table, ours)."""

from __future__ import annotations

SERVICE_VERSION_HISTORY: tuple[dict[str, str], ...] = (
    {"compute_rpc": "4.0"},  # 0: no version recorded yet
    {"compute_rpc": "4.0"},  # 1: build_and_run_instance at 4.0 (Kilo)
    {"compute_rpc": "4.5"},  # 2: rebuild_instance gains migration/scheduled_node/limits
    {"compute_rpc": "4.13"},  # 3: current
)
SERVICE_VERSION = len(SERVICE_VERSION_HISTORY) - 1
COMPUTE_RPC_VERSION = SERVICE_VERSION_HISTORY[SERVICE_VERSION]["compute_rpc"]
