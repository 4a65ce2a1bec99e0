"""Objects, the versioned serializer, context and configuration."""

from __future__ import annotations

import msgspec
import pytest

from aionova import exception
from aionova.config import load
from aionova.context import RequestContext
from aionova.objects import Flavor, Instance, ObjectSerializer, RequestSpec

FLAVOR = Flavor(flavorid="1", name="tiny", memory_mb=512, vcpus=1)


def _wire(value: object) -> object:
    return msgspec.json.decode(msgspec.json.encode(value))


def test_serializer_round_trip_binds_store() -> None:
    store = object()
    ser = ObjectSerializer(store)
    spec = RequestSpec(instance_uuid="u", flavor=FLAVOR, ignore_hosts=["a"])
    back = ser.deserialize_entity(None, _wire(ser.serialize_entity(None, {"s": [spec]})))
    assert back["s"][0] == spec and back["s"][0].store is store


def test_newer_minor_or_other_major_is_refused() -> None:
    prim = Instance(uuid="u").obj_to_primitive()
    prim["nova_object.version"] = "2.99"
    with pytest.raises(exception.ObjectVersionError):
        ObjectSerializer().deserialize_entity(None, prim)
    prim["nova_object.version"] = "2.0"  # older minor is fine
    assert ObjectSerializer().deserialize_entity(None, prim).uuid == "u"


def test_change_tracking() -> None:
    instance = Instance(uuid="u", flavor=FLAVOR)
    assert instance.obj_what_changed() == {}
    instance.host = "h"
    assert instance.obj_what_changed() == {"host": "h"}
    instance.obj_reset_changes()
    assert instance.obj_what_changed() == {}


async def test_unbound_object_cannot_save() -> None:
    with pytest.raises(exception.NovaException):
        instance = Instance(uuid="u")
        instance.host = "x"
        await instance.save()


def test_context_ignores_unknown_keys() -> None:
    ctxt = RequestContext(user_id="u", project_id="p")
    data = {**ctxt.to_dict(), "client_timeout": 30}
    assert RequestContext.from_dict(data) == ctxt


def test_exceptions_rebuild_from_args_and_kwargs() -> None:
    err = exception.UnexpectedTaskStateError(instance_uuid="u", expected=["a"], actual="b")
    again = type(err)(*err.args, **err.kwargs)
    assert str(again) == str(err) and again.kwargs["actual"] == "b"


def test_config_from_toml_and_env(tmp_path) -> None:
    path = tmp_path / "nova.toml"
    path.write_text('[DEFAULT]\nhost = "c1"\n[upgrade_levels]\ncompute = "auto"\n')
    config = load(
        path, env={"AIONOVA_DEFAULT__REPORT_INTERVAL": "3", "AIONOVA_SCHEDULER__MAX_ATTEMPTS": "5"}
    )
    assert config.DEFAULT.host == "c1" and config.DEFAULT.report_interval == 3.0
    assert config.upgrade_levels.compute == "auto" and config.scheduler.max_attempts == 5
    low = config.with_default(service_down_time=2.0)
    assert low.effective_service_down_time() == 7.5
