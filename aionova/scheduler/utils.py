"""Retry bookkeeping shared by conductor and scheduler (Newton's scheduler/utils.py rules)."""

from __future__ import annotations

from typing import Any

from aionova import exception
from aionova.objects import RequestSpec


def request_is_rebuild(spec: RequestSpec) -> bool:
    """Whether the request only re-validates the current host for a rebuild."""
    return spec.scheduler_hints.get("_nova_check_type") == ["rebuild"]


def _single_forced(spec: RequestSpec | None) -> bool:
    if spec is None:
        return False
    return len(spec.force_hosts or []) == 1 or len(spec.force_nodes or []) == 1


def populate_retry(
    filter_properties: dict[str, Any],
    instance_uuid: str,
    max_attempts: int,
    spec: RequestSpec | None = None,
) -> None:
    """Count one more attempt; raise ``MaxRetriesExceeded`` past ``max_attempts``.

    No retry record at all when max_attempts is 1 or exactly one host/node is forced.
    """
    if max_attempts == 1 or _single_forced(spec):
        filter_properties.pop("retry", None)
        return
    retry = filter_properties.setdefault("retry", {"num_attempts": 0, "hosts": []})
    retry["num_attempts"] += 1
    reason = retry.pop("exc_reason", None)
    if retry["num_attempts"] > max_attempts:
        msg = (
            f"Exceeded max scheduling attempts {max_attempts} for instance {instance_uuid}. "
            f"Last exception: {reason}"
        )
        raise exception.MaxRetriesExceeded(reason=msg)


def populate_filter_properties(
    filter_properties: dict[str, Any], selection: dict[str, Any], spec: RequestSpec | None = None
) -> None:
    """Record the chosen [host, node] in the retry list and the limits (unless forced)."""
    retry = filter_properties.get("retry")
    if retry is not None:
        retry["hosts"].append([selection["host"], selection["nodename"]])
    if spec is None or not spec.force_hosts:
        filter_properties["limits"] = selection["limits"]
