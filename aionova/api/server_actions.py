"""POST /servers/{id}/action (reboot, rebuild, evacuate, os-stop, os-start) and instance actions."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from aionova import exception
from aionova.api import views
from aionova.api.common import (
    COMPUTE_API,
    DB,
    base_url,
    ctxt_of,
    load_instance,
    reply,
    version_of,
)
from aionova.api.faults import HTTPFault, bad_request, not_found
from aionova.api.policy import allowed, authorize, instance_target
from aionova.api.schemas import Evacuate, Reboot, Rebuild, check_name, convert, decode_json
from aionova.api.server_view import full_view
from aionova.objects import Instance

Action = Callable[[web.Request, Instance, Any], Awaitable[web.Response]]


async def _call(request: web.Request, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call a compute API method; 501 while the control plane does not offer it."""
    func = getattr(request.app[COMPUTE_API], method, None)
    if func is None:
        raise HTTPFault(501, f"'{method}' is not available in this control plane yet.")
    return await func(ctxt_of(request), *args, **kwargs)


async def reboot(request: web.Request, instance: Instance, raw: Any) -> web.Response:
    body = convert(raw, Reboot, "reboot")
    kind = body.type.upper()
    if kind not in ("SOFT", "HARD"):
        raise bad_request(f"Invalid input for field/attribute type. Value: {body.type[:10]}")
    await _call(request, "reboot", instance, kind)
    return reply(None, status=202)


async def rebuild(request: web.Request, instance: Instance, raw: Any) -> web.Response:
    version = version_of(request)
    body = convert(raw, Rebuild, "rebuild")
    gates = {"description": "2.19", "key_name": "2.54", "user_data": "2.57"}
    for field, since in gates.items():
        if field in raw and not version.at_least(since):
            raise bad_request(f"Additional properties are not allowed ('{field}' was unexpected)")
    if "personality" in raw and version.at_least("2.57"):
        raise bad_request("Additional properties are not allowed ('personality' was unexpected)")
    image_ref = body.imageRef.rstrip("/").rsplit("/", 1)[-1]
    try:
        await request.app[DB].image_get(ctxt_of(request), image_ref)
    except exception.ImageNotFound:
        raise bad_request(f"Cannot find requested image {image_ref}.") from None
    password = body.adminPass or secrets.token_urlsafe(9)
    kwargs: dict[str, Any] = {"preserve_ephemeral": body.preserve_ephemeral}
    if body.name is not None:
        kwargs["name"] = check_name(body.name)
    if body.metadata is not None:
        kwargs["metadata"] = body.metadata
    await _call(request, "rebuild", instance, image_ref, admin_password=password, **kwargs)
    fresh = await request.app[DB].instance_get(ctxt_of(request), instance.uuid)
    view = await full_view(request, fresh)
    view["adminPass"] = password
    location = f"{base_url(request)}/v2.1/servers/{instance.uuid}"
    return reply({"server": view}, status=202, headers={"Location": location})


def _evacuate_args(version: Any, raw: Any) -> Evacuate:
    body = convert(raw, Evacuate, "evacuate")
    if version.at_least("2.14"):
        if "onSharedStorage" in raw:
            raise bad_request("Additional properties are not allowed ('onSharedStorage')")
    elif body.onSharedStorage is None:
        raise bad_request(
            "Invalid input for field/attribute evacuate: 'onSharedStorage' is required"
        )
    if "force" in raw and not version.between("2.29", "2.67"):
        raise bad_request("Additional properties are not allowed ('force' was unexpected)")
    if body.force and not body.host:
        raise bad_request("Can't force to a non-provided destination")
    if body.onSharedStorage and body.adminPass:
        raise bad_request("admin password can't be changed on existing disk")
    return body


async def evacuate(request: web.Request, instance: Instance, raw: Any) -> web.Response:
    ctxt, version = ctxt_of(request), version_of(request)
    body = _evacuate_args(version, raw)
    if body.host is not None:
        svc = await request.app[DB].service_get_by_host_and_binary(ctxt, body.host, "nova-compute")
        if svc is None:
            raise not_found(f"Compute host {body.host} not found.")
        if body.host == instance.host:
            raise bad_request("The target host can't be the same one.")
    password = None
    if not version.at_least("2.14") and not body.onSharedStorage:
        password = body.adminPass or secrets.token_urlsafe(9)
    elif body.adminPass:
        password = body.adminPass
    await _call(
        request,
        "evacuate",
        instance,
        host=body.host,
        on_shared_storage=body.onSharedStorage if not version.at_least("2.14") else None,
        admin_password=password,
        force=body.force if version.between("2.29", "2.67") else None,
    )
    if not version.at_least("2.14") and password is not None:
        return reply({"adminPass": password})
    return reply(None, status=200)


async def stop(request: web.Request, instance: Instance, raw: Any) -> web.Response:
    await _call(request, "stop", instance)
    return reply(None, status=202)


async def start(request: web.Request, instance: Instance, raw: Any) -> web.Response:
    await _call(request, "start", instance)
    return reply(None, status=202)


# The policy rule of each action (target: the server's project and user).
RULES = {
    "reboot": "os_compute_api:servers:reboot",
    "rebuild": "os_compute_api:servers:rebuild",
    "evacuate": "os_compute_api:os-evacuate",
    "os-stop": "os_compute_api:servers:stop",
    "os-start": "os_compute_api:servers:start",
}

ACTIONS: dict[str, Action] = {
    "reboot": reboot,
    "rebuild": rebuild,
    "evacuate": evacuate,
    "os-stop": stop,
    "os-start": start,
}


async def dispatch(request: web.Request) -> web.Response:
    raw = decode_json(await request.read())
    if not isinstance(raw, dict) or len(raw) != 1:
        raise bad_request("Malformed request body: exactly one action is expected.")
    name, args = next(iter(raw.items()))
    action = ACTIONS.get(name)
    if action is None:
        raise bad_request(f"There is no such action: {str(name)[:40]}")
    instance = await load_instance(request)
    authorize(request, RULES[name], instance_target(instance))
    return await action(request, instance, args)


def _action_view(request: web.Request, action: Any) -> dict[str, Any]:
    view = {
        "action": action.action,
        "instance_uuid": action.instance_uuid,
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": views.iso(action.start_time),
        "message": action.message,
    }
    if version_of(request).at_least("2.58"):
        finished = [e.finish_time for e in action.events if e.finish_time]
        view["updated_at"] = views.iso(max(finished) if finished else action.start_time)
    return view


async def _actions(request: web.Request) -> list[Any]:
    deleted_ok = version_of(request).at_least("2.21")
    instance = await load_instance(request, read_deleted=deleted_ok)
    kind = "show" if "request_id" in request.match_info else "list"
    authorize(request, f"os_compute_api:os-instance-actions:{kind}", instance_target(instance))
    actions = await request.app[DB].actions_get(ctxt_of(request), instance.uuid)
    return sorted(actions, key=lambda a: a.id or 0, reverse=True)


async def actions_index(request: web.Request) -> web.Response:
    actions = await _actions(request)
    return reply({"instanceActions": [_action_view(request, a) for a in actions]})


async def actions_show(request: web.Request) -> web.Response:
    wanted = request.match_info["request_id"]
    for action in await _actions(request):
        if action.request_id == wanted:
            view = _action_view(request, action)
            # Nova: all event details under os-instance-actions:events; from 2.51 the
            # others see the events without their traceback.
            target = {"project_id": action.project_id}
            full = allowed(request, "os_compute_api:os-instance-actions:events", target)
            if full or version_of(request).at_least("2.51"):
                view["events"] = [
                    {
                        "event": e.event,
                        "start_time": views.iso(e.start_time),
                        "finish_time": views.iso(e.finish_time),
                        "result": e.result,
                        **({"traceback": e.traceback} if full else {}),
                    }
                    for e in action.events
                ]
            return reply({"instanceAction": view})
    raise not_found(f"Action {wanted[:60]} not found")
