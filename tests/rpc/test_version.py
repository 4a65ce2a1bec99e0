"""Version compatibility (spec rpc.md §2.3, conformance items 1–5, 14)."""

from __future__ import annotations

import pytest
from aionova.rpc import MessagingException
from aionova.rpc._version import is_compatible, parse, validate
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("implemented", "requested", "ok"),
    [
        ("1.23", "1.23", True),
        ("1.24", "1.23", True),
        ("1.22", "1.23", False),
        ("2.23", "1.23", False),
        ("1.23", "2.23", False),
        ("1.23", "1.23.1", False),
        ("1.23.1", "1.23.2", False),
        ("1.23.2", "1.23.1", True),
        ("1.24", "1.23.1", True),
        ("1.23.0", "1.23", True),
        ("4.10", "4.9", True),
        ("4.9", "4.10", False),
        ("4.05", "4.5", True),
        (None, "9.9", True),
        ("4.0", None, False),
        ("4.0", "3.9", False),
    ],
)
def test_is_compatible(implemented: str | None, requested: str | None, ok: bool) -> None:
    assert is_compatible(implemented, requested) is ok


@pytest.mark.parametrize("bad", ["5", "5.a", "5.5.a", "", "1.2.3.4"])
def test_malformed_versions_are_refused(bad: str) -> None:
    with pytest.raises(MessagingException, match="major and minor"):
        validate(bad)


versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 5))


@given(versions, versions)
def test_numeric_rule_matches_tuple_order(have: tuple[int, ...], want: tuple[int, ...]) -> None:
    text = ".".join(map(str, have)), ".".join(map(str, want))
    expected = have[0] == want[0] and want[1:] <= have[1:]
    assert is_compatible(*text) is expected
    assert parse(text[0]) == have
