"""NotificationFilter: which notifications an endpoint wants, by regular expression.

Each given field is a pattern matched with ``re.match`` (anchored at the
start, so ``'^compute'`` and ``'compute'`` mean the same); ``context``,
``metadata`` and ``payload`` take a dict of patterns, matched key by key (a
missing key or a value that is not a string is a mismatch) and, beyond
oslo.messaging, a nested dict of patterns matches a nested dict, so a
versioned payload can be filtered on ``{"nova_object.data": {"state": "^active$"}}``.
The context is matched as it came off the wire (a dict), before any serializer.

The patterns are the operator's, but the strings they run on come off the
wire, and ``re`` matches on the event loop with no time limit. Two guards:

* a pattern with an unbounded repeat inside another (``(a+)+``, ``(\\w+\\.)*``),
  which backtracks exponentially on a near miss, is refused when the filter
  is built (write ``[\\w.]*`` instead);
* a value longer than ``MAX_MATCHED_CHARS`` never matches, which bounds the
  polynomial cases (``.*a.*b``) to what they cost on that many characters.
  Event types, publisher ids, ids and names are far shorter.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any, Final

# The stdlib's own regex parser (private, hence looked up by name); it is only
# used to refuse catastrophic patterns, and a Python without it skips the check.
try:
    sre_parser: Any = importlib.import_module("re._parser")
    sre_constants: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover
    sre_parser = sre_constants = None

MAX_MATCHED_CHARS: Final = 1024

Patterns = dict[str, "re.Pattern[str] | Patterns"]


def _nested_unbounded(items: Any, in_unbounded_repeat: bool) -> bool:
    for op, av in items:
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            unbounded = av[1] == sre_constants.MAXREPEAT
            if unbounded and in_unbounded_repeat:
                return True
            if _nested_unbounded(av[2], in_unbounded_repeat or unbounded):
                return True
        elif op == sre_constants.SUBPATTERN:
            if _nested_unbounded(av[-1], in_unbounded_repeat):
                return True
        elif op == sre_constants.BRANCH:
            if any(_nested_unbounded(sub, in_unbounded_repeat) for sub in av[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT) and _nested_unbounded(
            av[1], in_unbounded_repeat
        ):
            return True
    return False


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile an operator's pattern; refuse one that backtracks exponentially."""
    compiled = re.compile(pattern)
    if sre_parser is not None and _nested_unbounded(sre_parser.parse(pattern), False):
        raise ValueError(
            f"notification filter pattern {pattern!r} nests an unbounded repeat in another "
            "(catastrophic backtracking); flatten it, e.g. '(\\w+\\.)*' → '[\\w.]*'"
        )
    return compiled


def _compile(spec: Mapping[str, Any] | None, field: str) -> Patterns:
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise TypeError(f"NotificationFilter {field} must be a dict of patterns")
    patterns: Patterns = {}
    for key, value in spec.items():
        nested = isinstance(value, Mapping)
        patterns[key] = _compile(value, f"{field}[{key!r}]") if nested else compile_pattern(value)
    return patterns


def _text_matches(value: Any, pattern: re.Pattern[str]) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= MAX_MATCHED_CHARS
        and pattern.match(value) is not None
    )


def _dict_matches(data: Any, patterns: Patterns) -> bool:
    if not patterns:
        return True
    if not isinstance(data, Mapping):
        return False
    for key, pattern in patterns.items():
        if key not in data:
            return False
        value = data[key]
        if isinstance(pattern, dict):
            if not _dict_matches(value, pattern):
                return False
        elif not _text_matches(value, pattern):
            return False
    return True


class NotificationFilter:
    """Set as an endpoint's ``filter_rule``; patterns are compiled (and checked) here."""

    def __init__(
        self,
        context: Mapping[str, Any] | None = None,
        publisher_id: str | None = None,
        event_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        self._publisher_id = compile_pattern(publisher_id) if publisher_id is not None else None
        self._event_type = compile_pattern(event_type) if event_type is not None else None
        self._context = _compile(context, "context")
        self._metadata = _compile(metadata, "metadata")
        self._payload = _compile(payload, "payload")

    def match(
        self, context: Any, publisher_id: Any, event_type: Any, metadata: Any, payload: Any
    ) -> bool:
        """True when every given pattern matches its field."""
        if self._publisher_id is not None and not _text_matches(publisher_id, self._publisher_id):
            return False
        if self._event_type is not None and not _text_matches(event_type, self._event_type):
            return False
        return (
            _dict_matches(context, self._context)
            and _dict_matches(metadata, self._metadata)
            and _dict_matches(payload, self._payload)
        )
