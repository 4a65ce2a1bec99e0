"""Filters, weighers, host narrowing and retry bookkeeping (spec §4, §9 6-7, 71-73)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from aionova.rpc.errors import ExpectedException

from aionova import exception
from aionova.config import Config
from aionova.objects import (
    ComputeNode,
    Destination,
    Flavor,
    ImageMeta,
    RequestSpec,
    SchedulerRetries,
    Service,
)
from aionova.scheduler import utils
from aionova.scheduler.filters import (
    ComputeFilter,
    CoreFilter,
    DiskFilter,
    ImagePropertiesFilter,
    RamFilter,
    RetryFilter,
    build_filters,
)
from aionova.scheduler.host_manager import HostManager
from aionova.scheduler.host_state import HostState
from aionova.scheduler.manager import SchedulerManager
from aionova.scheduler.weights import RAMWeigher, ranked, weigh
from aionova.servicegroup import ServiceGroupAPI


def _spec(memory: int = 1024, **kw: object) -> RequestSpec:
    flavor = Flavor(flavorid="f", name="f", memory_mb=memory, vcpus=1, root_gb=10)
    return RequestSpec(instance_uuid="u", flavor=flavor, **kw)  # type: ignore[arg-type]


def _host(name: str = "h", total: int = 2048, free: int = 2048, ratio: float = 1.0) -> HostState:
    host = HostState(name, name)
    host.total_usable_ram_mb, host.free_ram_mb, host.ram_allocation_ratio = total, free, ratio
    host.total_usable_disk_gb, host.free_disk_mb = 100, 100 * 1024
    host.vcpus_total = 2
    return host


def test_ram_filter_oversubscribe_records_limit() -> None:
    """Scenario 71: ratio 2.0 passes an over-committed host and records total x 2.0."""
    host = _host(total=2048, free=-1024, ratio=2.0)
    assert RamFilter().host_passes(host, _spec(1024))
    assert host.limits["memory_mb"] == 4096


def test_ram_filter_rejects_bigger_than_physical() -> None:
    host = _host(total=2048, free=2048, ratio=2.0)
    assert not RamFilter().host_passes(host, _spec(2049))


def test_disk_and_core_filters() -> None:
    host = _host()
    assert DiskFilter().host_passes(host, _spec()) and host.limits["disk_gb"] == 100
    host.free_disk_mb = 5 * 1024
    assert not DiskFilter().host_passes(host, _spec())
    host.vcpus_used, host.cpu_allocation_ratio = 32, 16.0
    assert not CoreFilter().host_passes(host, _spec())
    host.vcpus_total = 0
    assert CoreFilter().host_passes(host, _spec())  # unknown totals pass


def test_compute_filter_disabled_and_down() -> None:
    """Scenario 72."""
    sg = ServiceGroupAPI(10, 60)
    now = dt.datetime.now(dt.UTC)
    host = _host()
    host.service = Service(host="h", binary="nova-compute", last_seen_up=now)
    assert ComputeFilter(sg).host_passes(host, _spec())
    host.service.disabled = True
    assert not ComputeFilter(sg).host_passes(host, _spec())
    host.service = Service(
        host="h", binary="nova-compute", last_seen_up=now - dt.timedelta(seconds=61)
    )
    assert not ComputeFilter(sg).host_passes(host, _spec())


def test_retry_filter() -> None:
    spec = _spec(retry=SchedulerRetries(num_attempts=1, hosts=[["h", "h"]]))
    assert not RetryFilter().host_passes(_host("h"), spec)
    assert RetryFilter().host_passes(_host("g"), spec)


def test_ram_weigher_spreads() -> None:
    hosts = [_host("a", free=100), _host("b", free=900), _host("c", free=500)]
    assert [h.host for h in weigh(hosts, _spec(), [RAMWeigher()])] == ["b", "c", "a"]
    assert [h.host for h in weigh(hosts, _spec(), [RAMWeigher(-1.0)])] == ["a", "c", "b"]


def test_candidates_ignore_force_and_requested_destination() -> None:
    """Scenario 73 (ignore is case-insensitive; a wrong destination leaves nothing)."""
    manager = HostManager(db=None)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        manager.host_states[(name, name)] = _host(name)
    hosts, run = manager.candidates(_spec(ignore_hosts=["A"]))
    assert sorted(h.host for h in hosts) == ["b", "c"] and run
    hosts, run = manager.candidates(_spec(force_hosts=["c"]))
    assert [h.host for h in hosts] == ["c"] and not run
    hosts, _ = manager.candidates(_spec(requested_destination=Destination(host="b")))
    assert [h.host for h in hosts] == ["b"]
    hosts, _ = manager.candidates(_spec(requested_destination=Destination(host="zz")))
    assert hosts == []


def test_populate_retry_counts_and_gives_up() -> None:
    """Scenario 7: num_attempts beyond max_attempts -> MaxRetriesExceeded."""
    props: dict = {}
    for attempt in (1, 2, 3):
        utils.populate_retry(props, "u", 3)
        assert props["retry"]["num_attempts"] == attempt
    props["retry"]["exc_reason"] = "claim failed"
    with pytest.raises(exception.MaxRetriesExceeded, match="claim failed"):
        utils.populate_retry(props, "u", 3)


def test_no_retry_with_one_attempt_or_one_forced_host() -> None:
    """Scenario 6."""
    props: dict = {}
    utils.populate_retry(props, "u", 1)
    assert "retry" not in props
    utils.populate_retry(props, "u", 3, _spec(force_hosts=["a"]))
    assert "retry" not in props
    utils.populate_retry(props, "u", 3, _spec(force_hosts=["a", "b"]))
    assert props["retry"]["num_attempts"] == 1


def test_populate_filter_properties() -> None:
    props: dict = {"retry": {"num_attempts": 1, "hosts": []}}
    utils.populate_filter_properties(props, {"host": "a", "nodename": "n", "limits": {"x": 1}})
    assert props == {"retry": {"num_attempts": 1, "hosts": [["a", "n"]]}, "limits": {"x": 1}}


def test_weighing_one_weigher_matches_the_normalised_sum() -> None:
    """The single-weigher shortcut orders hosts exactly as the general sum does."""
    rng = random.Random(7)
    for multiplier in (2.0, 1.0, 0.0, -1.0):
        hosts = [_host(f"h{i}", free=rng.choice([512, 1024, 2048])) for i in range(30)]
        spec = _spec()
        fast = weigh(hosts, spec, [RAMWeigher(multiplier)])
        # Two equal weighers: the general path (normalised sum), the same order.
        general = weigh(hosts, spec, [RAMWeigher(multiplier), RAMWeigher(multiplier)])
        assert [h.host for h in fast] == [h.host for h in general]


def test_ranked_is_lazy_and_matches_a_full_stable_sort() -> None:
    """Past the first rounds of partial selection the order is still a stable sort."""
    rng = random.Random(11)
    hosts = [_host(f"h{i}", free=rng.choice([256, 512, 1024, 2048])) for i in range(700)]
    spec = _spec()
    for multiplier in (1.0, -1.0):
        expected = sorted(hosts, key=lambda h: h.free_ram_mb, reverse=multiplier > 0)
        it = ranked(hosts, spec, [RAMWeigher(multiplier)])
        first = [next(it) for _ in range(3)]
        assert first == expected[:3]
        assert first + list(it) == expected


def test_ranked_yields_every_host_once_while_hosts_change() -> None:
    """The scheduler awaits a claim between hosts while other requests consume from the
    same host states: the ranking of one request must still yield each host once (a
    ranking that re-read the changed weights skipped hosts, and boots failed with
    NoValidHost while a host had room)."""
    hosts = [_host(f"h{i}", free=2048 - i) for i in range(20)]
    spec = _spec()
    seen = []
    for host in ranked(hosts, spec, [RAMWeigher(1.0)]):
        seen.append(host.host)
        host.free_ram_mb -= 1024  # consumed by a racing request meanwhile
    assert sorted(seen) == sorted(h.host for h in hosts)
    assert seen == [f"h{i}" for i in range(20)]  # the order of the request's start


def _image(**props: object) -> ImageMeta:
    return ImageMeta(id="img", properties=props)


def test_image_properties_filter() -> None:
    """Scenario 23's filter: the image's arch / hv type / vm mode vs supported_instances."""
    host = HostState("h", "h")
    assert host.supported_instances == []  # nothing until its compute node is read
    node = ComputeNode(
        uuid="n",
        host="h",
        hypervisor_hostname="h",
        vcpus=2,
        memory_mb=2048,
        local_gb=100,
        supported_instances=[("x86_64", "fake", "hvm")],  # what its hypervisor reports
    )
    host.update_from_compute_node(node)
    assert host.supported_instances == [("x86_64", "fake", "hvm")]
    passes = ImagePropertiesFilter().host_passes
    assert passes(host, _spec())  # no image
    assert passes(host, _spec(image=_image(os_distro="fedora")))  # nothing host-related
    assert passes(host, _spec(image=_image(hw_architecture="x86_64")))
    assert passes(host, _spec(image=_image(architecture="AMD64")))  # legacy name, alias
    assert passes(host, _spec(image=_image(img_hv_type="fake", hw_vm_mode="hvm")))
    assert passes(host, _spec(image=_image(hypervisor_type="fake", vm_mode="hv")))
    assert not passes(host, _spec(image=_image(hw_architecture="aarch64")))
    assert not passes(host, _spec(image=_image(img_hv_type="kvm")))
    assert not passes(host, _spec(image=_image(hw_architecture="x86_64", hw_vm_mode="xen")))
    host.supported_instances = []  # a host advertising nothing takes only plain images
    assert not passes(host, _spec(image=_image(hw_architecture="x86_64")))
    assert passes(host, _spec(image=_image(os_distro="fedora")))


def test_only_policy_filters_run_on_rebuild() -> None:
    names = ["RetryFilter", "ComputeFilter", "RamFilter", "DiskFilter", "CoreFilter"]
    filters = build_filters([*names, "ImagePropertiesFilter"], ServiceGroupAPI(10, 60))
    assert [type(f).__name__ for f in filters if f.RUN_ON_REBUILD] == ["ImagePropertiesFilter"]


def _rebuild_check(image: ImageMeta, **kw: object) -> RequestSpec:
    hints = {"_nova_check_type": ["rebuild"]}
    return _spec(image=image, force_hosts=["a"], force_nodes=["a"], scheduler_hints=hints, **kw)


async def test_rebuild_check_runs_only_rebuild_filters_and_consumes_nothing() -> None:
    """Scenario 23's scheduler side: the forced host still goes through the RUN_ON_REBUILD
    filters (not the resource/service ones), and nothing is consumed."""
    manager = SchedulerManager("sched", Config(), None, None)  # type: ignore[arg-type]

    async def no_refresh(ctxt: object) -> None:
        return None

    manager.host_manager.refresh = no_refresh  # type: ignore[method-assign]
    full = _host("a", total=2048, free=0)  # RamFilter would refuse it; no service: nor
    full.supported_instances = [("x86_64", "fake", "hvm")]  # what its compute reported
    manager.host_manager.host_states = {("a", "a"): full, ("b", "b"): _host("b")}  # Compute
    before = (full.free_ram_mb, full.free_disk_mb, full.vcpus_used, full.num_instances)
    x86, arm = _image(hw_architecture="x86_64"), _image(hw_architecture="aarch64")
    selected = await manager.select_destinations(None, _rebuild_check(x86, memory=4096), ["u"])
    assert selected == [{"host": "a", "nodename": "a", "limits": {}}]
    assert (full.free_ram_mb, full.free_disk_mb, full.vcpus_used, full.num_instances) == before
    with pytest.raises(ExpectedException) as raised:  # forced, yet ImagePropertiesFilter ran
        await manager.select_destinations(None, _rebuild_check(arm), ["u"])
    assert isinstance(raised.value.exc_info[1], exception.NoValidHost)
    # Without the hint a forced host skips every filter, and is consumed.
    plain = _spec(image=arm, force_hosts=["a"], force_nodes=["a"])
    assert (await manager.select_destinations(None, plain, ["u"]))[0]["host"] == "a"
    assert full.free_ram_mb == -1024 and full.num_instances == before[3] + 1
