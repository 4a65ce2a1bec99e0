"""Validated tokens, kept for at most ``token_cache_time`` and never past their expiry.

Only valid tokens are cached (no negative caching, as keystonemiddleware): an
invalid or revoked token is asked about again, and a Keystone outage is never
remembered. Keys are SHA-256 digests, so the cache holds no usable token.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache(Generic[T]):
    """A bounded LRU map from token digest to a value with a deadline."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, token: str) -> T | None:
        key = token_key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline, value = entry
        if self._clock() >= deadline:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, token: str, value: T, lifetime: float | None = None) -> None:
        """Keep ``value`` for ``token_cache_time`` or ``lifetime`` (its expiry), if shorter."""
        keep = self._ttl if lifetime is None else min(self._ttl, lifetime)
        if keep <= 0:
            return
        key = token_key(token)
        self._entries[key] = (self._clock() + keep, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
