"""Endpoint lookup (spec rpc.md §3.2–3.3, conformance items 23–32)."""

from __future__ import annotations

from typing import Any

import pytest
from aionova.rpc._dispatcher import Dispatcher

from aionova import rpc


class Endpoint:
    def __init__(self, name: str, target: rpc.Target | None = None) -> None:
        self.name = name
        if target is not None:
            self.target = target

    def foo(self, ctxt: Any) -> str:
        return self.name

    def _private(self, ctxt: Any) -> str:
        return "secret"

    @rpc.expose
    def shown(self, ctxt: Any) -> str:
        return "shown"


def resolve(
    endpoints: list[object],
    namespace: str | None,
    version: str | None,
    method: str,
    policy: type[rpc.RPCAccessPolicyBase] | None = None,
) -> Any:
    return Dispatcher(endpoints, policy).lookup(namespace, version, method).func(None)


def test_no_endpoints_is_unsupported_version() -> None:
    with pytest.raises(rpc.UnsupportedVersion):
        resolve([], None, "1.0", "foo")


def test_default_target_serves_null_namespace_at_1_0() -> None:
    assert resolve([Endpoint("a")], None, None, "foo") == "a"
    assert resolve([Endpoint("a")], None, "1.0", "foo") == "a"
    with pytest.raises(rpc.UnsupportedVersion):
        resolve([Endpoint("a")], None, "1.1", "foo")


def test_namespace_mismatch_is_unsupported_version() -> None:
    with pytest.raises(rpc.UnsupportedVersion):
        resolve([Endpoint("a", rpc.Target(namespace="ns"))], None, "1.0", "foo")


def test_first_compatible_endpoint_with_the_method_wins() -> None:
    endpoints = [
        Endpoint("v1", rpc.Target(version="1.5")),
        Endpoint("v3", rpc.Target(version="3.4")),
    ]
    assert resolve(endpoints, None, "3.2", "foo") == "v3"
    assert resolve(endpoints, None, "1.1", "foo") == "v1"


def test_no_compatible_version() -> None:
    endpoints = [Endpoint("a", rpc.Target(version="1.5")), Endpoint("b", rpc.Target(version="3.0"))]
    with pytest.raises(rpc.UnsupportedVersion) as info:
        resolve(endpoints, None, "3.2", "foo")
    assert (info.value.version, info.value.method) == ("3.2", "foo")


def test_legacy_namespaces_are_accepted() -> None:
    endpoint = Endpoint("a", rpc.Target(namespace="new", legacy_namespaces=[None, "old"]))
    for namespace in ("new", "old", None):
        assert resolve([endpoint], namespace, "1.0", "foo") == "a"
    with pytest.raises(rpc.UnsupportedVersion):
        resolve([endpoint], "other", "1.0", "foo")


def test_missing_method_on_compatible_endpoint_is_no_such_method() -> None:
    with pytest.raises(rpc.NoSuchMethod) as info:
        resolve([Endpoint("a")], None, "1.0", "bar")
    assert info.value.method == "bar"
    assert isinstance(info.value, AttributeError)


def test_private_methods_are_refused_by_default() -> None:
    with pytest.raises(rpc.NoSuchMethod):
        resolve([Endpoint("a")], None, "1.0", "_private")
    assert resolve([Endpoint("a")], None, "1.0", "_private", rpc.LegacyRPCAccessPolicy) == "secret"


def test_explicit_policy_allows_only_exposed_methods() -> None:
    policy = rpc.ExplicitRPCAccessPolicy
    assert resolve([Endpoint("a")], None, "1.0", "shown", policy) == "shown"
    with pytest.raises(rpc.NoSuchMethod):
        resolve([Endpoint("a")], None, "1.0", "foo", policy)


def test_expose_survives_expected_exceptions_in_any_order() -> None:
    class Both:
        @rpc.expected_exceptions(KeyError)
        @rpc.expose
        def inner(self, ctxt: Any) -> str:
            return "inner"

        @rpc.expose
        @rpc.expected_exceptions(KeyError)
        def outer(self, ctxt: Any) -> str:
            return "outer"

    for name in ("inner", "outer"):
        assert resolve([Both()], None, "1.0", name, rpc.ExplicitRPCAccessPolicy) == name


def test_bad_target_attribute_is_a_type_error() -> None:
    class Bad:
        target = "compute"

    with pytest.raises(TypeError, match="reserved"):
        rpc.get_rpc_server(None, rpc.Target(topic="t", server="s"), [Bad()])  # type: ignore[arg-type]


def test_access_policy_must_be_a_policy_class() -> None:
    with pytest.raises(TypeError):
        Dispatcher([], rpc.DefaultRPCAccessPolicy())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Dispatcher([], dict)  # type: ignore[arg-type]


def test_malformed_request_version_is_unsupported() -> None:
    with pytest.raises(rpc.UnsupportedVersion):
        resolve([Endpoint("a")], None, "one.two", "foo")


def test_lookups_are_cached_but_errors_are_fresh() -> None:
    dispatcher = Dispatcher([Endpoint("a")])
    assert dispatcher.lookup(None, "1.0", "foo") is dispatcher.lookup(None, "1.0", "foo")
    errors = []
    for _ in range(2):
        with pytest.raises(rpc.NoSuchMethod) as info:
            dispatcher.lookup(None, "1.0", "bar")
        errors.append(info.value)
    assert errors[0] is not errors[1]
