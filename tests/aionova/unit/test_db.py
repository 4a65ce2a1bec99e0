"""Storage: migrations, compare-and-swap saves, heartbeats (spec §1.2, §7)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from aionova import exception
from aionova.context import RequestContext
from aionova.db import Database, DBDuplicateEntry, DBError
from aionova.db.schema import LATEST, MIGRATIONS
from aionova.objects import ComputeNode, Flavor, Instance, RequestSpec, Service
from aionova.states import task_states, vm_states

FLAVOR = Flavor(flavorid="1", name="tiny", memory_mb=512, vcpus=1, root_gb=1)


@pytest.fixture
async def db(db_url):
    async with Database(db_url) as database:
        yield database


async def _instance(db: Database, task: str | None = task_states.SCHEDULING) -> Instance:
    return await db.instance_create(
        None, Instance(uuid="u1", flavor=FLAVOR, memory_mb=512, task_state=task)
    )


async def test_schema_is_migrated_once(db_url) -> None:
    for _ in range(2):
        async with Database(db_url) as db:
            rows = await db.engine.fetch("SELECT version FROM schema_version")
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
    assert isinstance(results[0], DBDuplicateEntry)
    assert [a.action for a in await db.actions_get(ctxt, "u2")] == ["create"]
    assert (await db.request_spec_get(ctxt, "u2")).instance_uuid == "u2"
    assert (await db.instance_get(None, "u1")).display_name == "renamed"
    rows = await db.engine.fetch("SELECT instance_uuid FROM instance_actions ORDER BY id")
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


def _node(**kw: object) -> ComputeNode:
    fields: dict[str, object] = dict(
        uuid="n1", host="h1", hypervisor_hostname="h1", vcpus=4, memory_mb=4096, local_gb=40
    )
    return ComputeNode(**{**fields, **kw})  # type: ignore[arg-type]


async def test_compute_node_supported_instances_round_trip(db: Database) -> None:
    """Migration 4: what the hypervisor runs is stored with the node (JSON), read back by
    every compute node query, and updated like any other field."""
    specs = [("x86_64", "kvm", "hvm"), ("aarch64", "kvm", "hvm")]
    created = await db.compute_node_create(None, _node(supported_instances=specs))
    assert created.supported_instances == specs and created.obj_what_changed() == {}
    (by_host,) = await db.compute_node_get_all_by_host(None, "h1")
    (listed,) = await db.compute_node_get_all(None)
    fetched = await db.compute_node_get(None, created.id)
    assert by_host.supported_instances == listed.supported_instances == specs
    assert fetched.supported_instances == specs
    (raw,) = await db.engine.fetch("SELECT supported_instances FROM compute_nodes")
    assert raw[0] == '[["x86_64","kvm","hvm"],["aarch64","kvm","hvm"]]'

    fetched.supported_instances = [("aarch64", "kvm", "hvm")]
    assert fetched.obj_what_changed() == {"supported_instances": [("aarch64", "kvm", "hvm")]}
    await fetched.save()
    assert fetched.supported_instances == [("aarch64", "kvm", "hvm")]
    (again,) = await db.compute_node_get_all(None)
    assert again.supported_instances == [("aarch64", "kvm", "hvm")]
    other = await db.compute_node_create(None, _node(uuid="n2"))  # reports nothing
    assert other.supported_instances == []


async def test_migration_4_gives_existing_nodes_no_supported_instances(tmp_path) -> None:
    """A database at version 3 keeps its compute nodes; they report nothing until the
    compute's next audit writes its list."""
    path = tmp_path / "v3.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, script in MIGRATIONS[:3]:
        conn.executescript(
            f"BEGIN; {script}; INSERT INTO schema_version VALUES ({version}); COMMIT;"
        )
    conn.execute(
        "INSERT INTO compute_nodes (uuid, host, hypervisor_hostname, vcpus, memory_mb, local_gb,"
        " cpu_allocation_ratio, ram_allocation_ratio, disk_allocation_ratio)"
        " VALUES ('n1', 'h1', 'h1', 4, 4096, 40, 16.0, 1.5, 1.0)"
    )
    conn.close()
    async with Database(path) as db:
        (node,) = await db.compute_node_get_all(None)
        assert node.uuid == "n1" and node.supported_instances == []


async def test_destroy_removes_the_build_selection_in_the_same_job(db: Database) -> None:
    """The build selection (aionova's placement allocation) goes with the instance row;
    another instance's stays; none is recorded for an instance already deleted."""
    await _instance(db)
    await db.instance_create(None, Instance(uuid="u2", flavor=FLAVOR, memory_mb=512))
    await db.build_selections_record(None, [("u1", "h1", "n1"), ("u2", "h2", "n2")])

    async def selections() -> dict[str, tuple[str, str]]:
        rows = await db.engine.fetch("SELECT instance_uuid, host, node FROM build_selections")
        return {r[0]: (r[1], r[2]) for r in rows}

    assert await selections() == {"u1": ("h1", "n1"), "u2": ("h2", "n2")}
    destroyed = await db.instance_destroy(None, "u1")
    assert destroyed.deleted
    assert await selections() == {"u2": ("h2", "n2")}
    # A build scheduled while its instance was deleted leaves no row behind.
    await db.build_selections_record(None, [("u1", "h3", "n3")])
    assert await selections() == {"u2": ("h2", "n2")}
    with pytest.raises(exception.InstanceNotFound):
        await db.instance_destroy(None, "u1")
    assert await selections() == {"u2": ("h2", "n2")}


async def test_failed_destroy_keeps_the_build_selection(db: Database, monkeypatch) -> None:
    """One job: if the delete of the selection fails, the instance row is not deleted."""
    from aionova.db import requests

    await _instance(db)
    await db.build_selections_record(None, [("u1", "h1", "n1")])
    monkeypatch.setattr(requests, "SELECTION_DELETE", "DELETE FROM no_such_table WHERE x=?")
    with pytest.raises(DBError):
        await db.instance_destroy(None, "u1")
    assert not (await db.instance_get(None, "u1")).deleted
    rows = await db.engine.fetch("SELECT instance_uuid FROM build_selections")
    assert [r[0] for r in rows] == ["u1"]


def test_a_job_runs_to_its_end_without_an_event_loop() -> None:
    """The SQLite engine runs a job's coroutine on its thread: it must only await its tx."""
    import asyncio as aio

    from aionova.db.engine import run_to_end

    class SyncTx:
        async def fetch(self, sql: str, params: object = ()) -> list[str]:
            return [sql]

    async def job(tx: SyncTx) -> list[str]:
        return await tx.fetch("SELECT 1")

    assert run_to_end(job(SyncTx())) == ["SELECT 1"]

    async def bad(tx: SyncTx) -> None:
        await aio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited something other"):
        run_to_end(bad(SyncTx()))


async def test_database_urls(tmp_path) -> None:
    from aionova.db import engine_for

    async with Database(f"sqlite:///{tmp_path / 'url.sqlite'}") as db:
        assert await db.flavor_get_all(None) == []
    assert (tmp_path / "url.sqlite").exists()
    with pytest.raises(exception.InvalidConfiguration, match="unsupported"):
        engine_for("mysql://db/nova")


async def test_a_closed_database_fails_clearly(tmp_path) -> None:
    db = await Database(tmp_path / "closed.sqlite").open()
    await db.close()
    with pytest.raises(RuntimeError, match="not open"):
        await db.instance_get(None, "u1")


def test_placeholders_for_postgresql() -> None:
    from aionova.db.engine import numbered_placeholders

    sql = "UPDATE t SET \"binary\"=?, note='why?' WHERE id=? AND x IN (?,?)"
    assert numbered_placeholders(sql) == (
        "UPDATE t SET \"binary\"=$1, note='why?' WHERE id=$2 AND x IN ($3,$4)"
    )


def test_the_ddl_translation_is_mechanical() -> None:
    """Only the migrations' DDL differs between engines; each rule, and nothing else."""
    from aionova.db.dialect import postgres_ddl, statements

    sqlite = (
        "CREATE TABLE s (id INTEGER PRIMARY KEY AUTOINCREMENT, binary TEXT, r REAL,"
        ' "binary" TEXT, binary_x TEXT, UNIQUE (host, binary))'
    )
    assert postgres_ddl(sqlite) == (
        "CREATE TABLE s (id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        ' "binary" TEXT, r DOUBLE PRECISION, "binary" TEXT, binary_x TEXT, UNIQUE (host, "binary"))'
    )
    for _, script in MIGRATIONS:  # nothing SQLite-only left after the rules
        translated = postgres_ddl(script)
        assert "AUTOINCREMENT" not in translated and " REAL" not in translated
        assert all(s for s in statements(translated))
    assert statements("A; B ;\n") == ["A", "B"]


def test_database_urls_and_their_errors() -> None:
    from aionova.db import engine_for
    from aionova.db.connection import redact
    from aionova.db.postgres import PostgresEngine

    assert isinstance(engine_for("postgresql://u:p@h:5432/db"), PostgresEngine)
    assert isinstance(engine_for("postgres://u:p@h/db"), PostgresEngine)
    for bad in ("postgresql:///db", "sqlite://relative", "oracle://x/y"):
        with pytest.raises(exception.InvalidConfiguration):
            engine_for(bad)
    assert redact("postgresql://u:secret@h:1/db") == "postgresql://u:***@h:1/db"
    assert redact("postgresql://h/db") == "postgresql://h/db"


async def test_services_retry_what_the_api_does_not(db_url: str) -> None:
    """The retrying view re-runs a call after a lost connection; the plain one raises."""
    from aionova.db.errors import DBConnectionError
    from aionova.db.retrying import RetryPolicy

    async with Database(db_url) as db:
        failures = [DBConnectionError("gone"), DBConnectionError("gone again")]
        engine = db.engine
        real_fetch = engine.fetch

        def flaky(sql: str, params: object = ()) -> object:
            if failures:
                raise failures.pop(0)
            return real_fetch(sql, params)  # type: ignore[arg-type]

        engine.fetch = flaky  # type: ignore[method-assign]
        with pytest.raises(DBConnectionError):
            await db.flavor_get_all(None)
        service = db.retrying(RetryPolicy(max_retries=3, retry_interval=0.01))
        assert await service.flavor_get_all(None) == []
        assert failures == []
        failures.extend([DBConnectionError("x")] * 3)
        with pytest.raises(DBConnectionError):
            await db.retrying(RetryPolicy(max_retries=2, retry_interval=0.01)).flavor_get_all(None)
