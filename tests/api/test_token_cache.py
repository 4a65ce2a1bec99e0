"""The token cache and the pieces of Keystone mode that need no Keystone: how long a
validated token is kept, URL forms, the token body → context mapping."""

from __future__ import annotations

import datetime as dt

import pytest

from aionova.api.keystone.cache import TokenCache
from aionova.api.keystone.client import identity_root, seconds_left
from aionova.api.keystone.identity import identity_from_token, normalize_catalog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_kept_for_token_cache_time_at_most() -> None:
    clock = Clock()
    cache: TokenCache[str] = TokenCache(300, clock=clock)
    cache.put("tok", "alice")
    clock.now += 299.9
    assert cache.get("tok") == "alice"
    clock.now += 0.2
    assert cache.get("tok") is None and len(cache) == 0


def test_never_kept_past_the_tokens_expiry() -> None:
    clock = Clock()
    cache: TokenCache[str] = TokenCache(300, clock=clock)
    cache.put("tok", "alice", lifetime=5)
    clock.now += 5
    assert cache.get("tok") is None
    cache.put("expired", "bob", lifetime=-1)
    assert cache.get("expired") is None


def test_zero_cache_time_keeps_nothing_and_size_is_bounded() -> None:
    assert TokenCache[str](0).get("x") is None
    off: TokenCache[str] = TokenCache(0)
    off.put("tok", "alice")
    assert len(off) == 0
    small: TokenCache[int] = TokenCache(300, max_entries=3)
    for i in range(5):
        small.put(f"t{i}", i)
    assert len(small) == 3 and small.get("t0") is None and small.get("t4") == 4


def test_tokens_are_not_kept_in_clear() -> None:
    cache: TokenCache[str] = TokenCache(300)
    cache.put("gAAAAAsecret-token", "alice")
    assert "gAAAAAsecret-token" not in repr(cache._entries)


@pytest.mark.parametrize(
    "url",
    [
        "http://k:5000",
        "http://k:5000/",
        "http://k:5000/v3",
        "http://k:5000/v3/",
        " http://k:5000/v3 ",
    ],
)
def test_identity_root(url: str) -> None:
    assert identity_root(url) == "http://k:5000"


def test_identity_root_keeps_a_path_prefix() -> None:
    assert identity_root("http://h/identity/v3") == "http://h/identity"


def test_seconds_left() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert seconds_left({"expires_at": "2026-01-01T00:01:00.000000Z"}, now) == 60
    assert seconds_left({"expires_at": "garbage"}, now) is None
    assert seconds_left({}, now) is None


V3_TOKEN = {
    "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
    "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
    "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}],
    "expires_at": "2030-01-01T00:00:00.000000Z",
    "catalog": [
        {
            "type": "compute",
            "name": "nova",
            "endpoints": [{"interface": "public", "region": "RegionOne", "url": "http://n/v2.1"}],
        },
        {
            "type": "image",
            "name": "glance",
            "endpoints": [
                {"interface": "public", "region": "RegionOne", "url": "http://g"},
                {"interface": "internal", "region": "RegionOne", "url": "http://g-int"},
                {"interface": "public", "region": "RegionTwo", "url": "http://g2"},
            ],
        },
    ],
}


def test_identity_from_a_v3_token() -> None:
    ident = identity_from_token(V3_TOKEN)
    ctxt = ident.context("req-1")
    assert (ctxt.user_id, ctxt.user_name, ctxt.user_domain_id) == ("u1", "alice", "default")
    assert (ctxt.project_id, ctxt.project_name, ctxt.project_domain_id) == ("p1", "demo", "default")
    assert ctxt.roles == ["member", "reader"] and ctxt.request_id == "req-1"
    assert ctxt.service_catalog == [
        {
            "type": "image",
            "name": "glance",
            "endpoints": [
                {"region": "RegionOne", "publicURL": "http://g", "internalURL": "http://g-int"},
                {"region": "RegionTwo", "publicURL": "http://g2"},
            ],
        }
    ]


def test_domain_and_system_scoped_tokens() -> None:
    domain = identity_from_token({"user": {"id": "u"}, "domain": {"id": "d1"}, "roles": []})
    assert domain.domain_id == "d1" and domain.project_id is None
    system = identity_from_token({"user": {"id": "u"}, "system": {"all": True}})
    assert system.system_scope == "all"
    assert normalize_catalog("not a list") == []
