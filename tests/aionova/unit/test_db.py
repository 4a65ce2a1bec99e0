"""Storage: migrations, compare-and-swap saves, heartbeats (spec §1.2, §7)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from aionova import exception
from aionova.context import RequestContext
from aionova.db import Database
from aionova.db.schema import LATEST
from aionova.objects import Flavor, Instance, RequestSpec, Service
from aionova.states import task_states, vm_states

FLAVOR = Flavor(flavorid="1", name="tiny", memory_mb=512, vcpus=1, root_gb=1)


@pytest.fixture
async def db(tmp_path):
    async with Database(tmp_path / "t.sqlite") as database:
        yield database


async def _instance(db: Database, task: str | None = task_states.SCHEDULING) -> Instance:
    return await db.instance_create(
        None, Instance(uuid="u1", flavor=FLAVOR, memory_mb=512, task_state=task)
    )


async def test_schema_is_migrated_once(tmp_path) -> None:
    for _ in range(2):
        async with Database(tmp_path / "m.sqlite") as db:
            rows = await db.db.fetchall("SELECT version FROM schema_version")
            assert [r[0] for r in rows] == list(range(1, LATEST + 1))


async def test_instance_round_trip_keeps_nested_flavor(db: Database) -> None:
    instance = await _instance(db)
    assert instance.flavor == FLAVOR and instance.created_at is not None
    assert instance.obj_what_changed() == {}


async def test_save_with_matching_expected_task_state(db: Database) -> None:
    instance = await _instance(db)
    instance.task_state = task_states.NETWORKING
    await instance.save(expected_task_state=[task_states.SCHEDULING, None])
    assert (await db.instance_get(None, "u1")).task_state == task_states.NETWORKING


async def test_save_expecting_none_list_requires_null(db: Database) -> None:
    instance = await _instance(db, task=None)
    instance.task_state = task_states.NETWORKING
    await instance.save(expected_task_state=[None])
    stale = await db.instance_get(None, "u1")
    await instance.refresh()
    stale.task_state = task_states.SPAWNING
    with pytest.raises(exception.UnexpectedTaskStateError) as err:
        await stale.save(expected_task_state=[None])
    assert err.value.kwargs["actual"] == task_states.NETWORKING


async def test_bare_none_means_no_check(db: Database) -> None:
    """Nova's gotcha: expected_task_state=None omits the check entirely."""
    instance = await _instance(db, task=task_states.REBOOTING)
    instance.task_state = task_states.REBUILDING
    await instance.save(expected_task_state=None)
    assert (await db.instance_get(None, "u1")).task_state == task_states.REBUILDING


async def test_cas_against_deleting_raises_the_deleting_error(db: Database) -> None:
    instance = await _instance(db)
    other = await db.instance_get(None, "u1")
    other.task_state = task_states.DELETING
    await other.save()
    instance.vm_state = vm_states.ACTIVE
    with pytest.raises(exception.UnexpectedDeletingTaskStateError):
        await instance.save(expected_task_state=task_states.SCHEDULING)


async def test_vm_state_mismatch_is_a_conflict(db: Database) -> None:
    instance = await _instance(db)
    instance.task_state = None
    with pytest.raises(exception.InstanceUpdateConflict):
        await instance.save(expected_vm_state=[vm_states.ACTIVE])


async def test_missing_instance(db: Database) -> None:
    with pytest.raises(exception.InstanceNotFound):
        await db.instance_update(None, "nope", {"task_state": None}, [None])


async def test_heartbeat_sets_last_seen_up_but_admin_updates_do_not(db: Database) -> None:
    service = await db.service_create(None, Service(host="h", binary="nova-compute", version=3))
    assert service.last_seen_up is None and service.created_at is not None
    service.disabled = True
    await service.save()
    assert service.last_seen_up is None
    service.report_count += 1
    await service.save()
    assert service.last_seen_up is not None and service.disabled


async def test_minimum_version_ignores_forced_down(db: Database) -> None:
    assert await db.service_get_minimum_version(None, "nova-compute") == 0
    await db.service_create(None, Service(host="a", binary="nova-compute", version=3))
    old = await db.service_create(None, Service(host="b", binary="nova-compute", version=1))
    assert await db.service_get_minimum_version(None, "nova-compute") == 1
    old.forced_down = True
    await old.save()
    assert await db.service_get_minimum_version(None, "nova-compute") == 3


async def test_concurrent_calls_share_a_batch_and_a_failing_one_undoes_only_itself(
    db: Database,
) -> None:
    await _instance(db)
    ctxt = RequestContext(user_id="u", project_id="p")
    clash = Instance(uuid="u1", flavor=FLAVOR)  # primary key taken
    spec = RequestSpec(instance_uuid="u2", flavor=FLAVOR)
    results = await asyncio.gather(
        db.instance_create(ctxt, clash, action="create", spec=spec),
        db.instance_create(
            ctxt,
            Instance(uuid="u2", flavor=FLAVOR),
            action="create",
            spec=RequestSpec(instance_uuid="u2", flavor=FLAVOR),
        ),
        db.instance_update(None, "u1", {"display_name": "renamed"}),
        return_exceptions=True,
    )
    assert isinstance(results[0], sqlite3.IntegrityError)
    assert [a.action for a in await db.actions_get(ctxt, "u2")] == ["create"]
    assert (await db.request_spec_get(ctxt, "u2")).instance_uuid == "u2"
    assert (await db.instance_get(None, "u1")).display_name == "renamed"
    rows = await db.db.fetchall("SELECT instance_uuid FROM instance_actions ORDER BY id")
    assert [r[0] for r in rows] == ["u2"]  # the failed create left no action behind


async def test_action_events_follow_the_requests_action(db: Database) -> None:
    ctxt = RequestContext(user_id="u", project_id="p")
    await db.instance_create(ctxt, Instance(uuid="u1", flavor=FLAVOR), action="create")
    other = RequestContext(user_id="u", project_id="p")  # another request: no action
    await db.action_event_start(other, "u1", "ignored")
    await db.action_event_start(ctxt, "u1", "build", "h1")
    await db.action_event_finish(ctxt, "u1", "build", "Success")
    action = await db.action_get_by_request_id(ctxt, "u1", ctxt.request_id)
    assert [(e.event, e.result, e.host) for e in action.events] == [("build", "Success", "h1")]
    assert action.message is None
    await db.action_event_start(ctxt, "u1", "spawn")
    await db.action_event_finish(ctxt, "u1", "spawn", "Error", "tb")
    (action,) = await db.actions_get(ctxt, "u1")
    assert action.message == "Error" and action.events[-1].traceback == "tb"


async def test_conflict_reports_the_current_task_state_in_one_call(db: Database) -> None:
    await _instance(db, task=task_states.DELETING)
    with pytest.raises(exception.UnexpectedDeletingTaskStateError) as err:
        await db.instance_update(None, "u1", {"task_state": None}, [task_states.SPAWNING])
    assert err.value.kwargs["actual"] == task_states.DELETING
    destroyed = await db.instance_destroy(None, "u1")
    assert destroyed.deleted and destroyed.vm_state == vm_states.DELETED
