"""Version strings ``'MAJOR.MINOR[.REVISION]'`` compared as integers."""

from __future__ import annotations

from functools import lru_cache

from aionova.rpc.errors import MessagingException

VersionTuple = tuple[int, int, int]


@lru_cache(maxsize=1024)
def parse(version: str) -> VersionTuple:
    """Parse once; '4.10' > '4.9', '4.05' == '4.5', a missing revision is 0.

    Raises ValueError for fewer than two parts or a part that is not an integer.
    """
    parts = version.split(".")
    if len(parts) < 2 or len(parts) > 3:
        raise ValueError(f"bad version {version!r}")
    major, minor = int(parts[0]), int(parts[1])
    rev = int(parts[2]) if len(parts) == 3 else 0
    return major, minor, rev


def is_compatible(implemented: str | None, requested: str | None) -> bool:
    """True when a peer implementing ``implemented`` (or a cap) accepts ``requested``.

    No ``implemented`` value accepts anything; no ``requested`` value is refused.
    Majors must be equal; the requested minor (then revision) must not be newer.
    """
    if implemented is None:
        return True
    if requested is None:
        return False
    have, want = parse(implemented), parse(requested)
    return have[0] == want[0] and want[1:] <= have[1:]


def validate(version: object) -> str:
    """``version``, unless it is not a string with a major and a minor integer
    (MessagingException)."""
    try:
        if not isinstance(version, str):
            raise ValueError(version)
        parse(version)
    except ValueError:
        raise MessagingException(
            f"Version must contain a major and minor integer. Got {version}"
        ) from None
    return version
