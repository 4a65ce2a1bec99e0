"""``aionova keystone-register``: list this API in a Keystone's service catalog.

    aionova keystone-register --url http://controller:8774 \\
        --os-auth-url http://controller:5000/v3 --os-username admin --os-password … \\
        --os-project-name admin [--region RegionOne]

Creates (or corrects) the ``compute`` service ``nova`` with ``public``, ``internal``
and ``admin`` endpoints at ``<url>/v2.1``, and the ``image`` service ``glance``
pointing at the API's Glance-style image document ``<url>/image``. Run it again
any time: what is there already is kept, a changed URL is updated. The ``--os-*``
options default to the usual ``OS_*`` environment variables.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import aiohttp

from aionova.api.keystone.client import identity_root

INTERFACES = ("public", "internal", "admin")


class RegistrationError(RuntimeError):
    """Keystone refused a step of the registration."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--url", required=True, help="the API's root, e.g. http://host:8774")
    parser.add_argument("--region", default=env("OS_REGION_NAME", "RegionOne"))
    parser.add_argument("--os-auth-url", default=env("OS_AUTH_URL"))
    parser.add_argument("--os-username", default=env("OS_USERNAME", "admin"))
    parser.add_argument("--os-password", default=env("OS_PASSWORD"))
    parser.add_argument("--os-project-name", default=env("OS_PROJECT_NAME", "admin"))
    parser.add_argument("--os-user-domain-name", default=env("OS_USER_DOMAIN_NAME", "Default"))
    parser.add_argument(
        "--os-project-domain-name", default=env("OS_PROJECT_DOMAIN_NAME", "Default")
    )
    parser.add_argument("--compute-name", default="nova")
    parser.add_argument("--image-name", default="glance")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per Keystone call")


def wanted_services(url: str, compute_name: str, image_name: str) -> list[tuple[str, str, str]]:
    """(type, name, endpoint URL) of each service to register."""
    root = url.rstrip("/")
    return [("compute", compute_name, f"{root}/v2.1"), ("image", image_name, f"{root}/image")]


class _Keystone:
    def __init__(self, session: aiohttp.ClientSession, auth_url: str) -> None:
        self._session = session
        self._v3 = f"{identity_root(auth_url)}/v3"
        self._token = ""

    async def call(self, method: str, path: str, body: Any = None, ok: int = 200) -> Any:
        headers = {"X-Auth-Token": self._token} if self._token else {}
        async with self._session.request(
            method, self._v3 + path, json=body, headers=headers
        ) as resp:
            answer = await resp.json(content_type=None) if resp.content_length != 0 else None
            if resp.status != ok:
                raise RegistrationError(f"{method} {path}: HTTP {resp.status} {answer}")
            if path == "/auth/tokens":
                self._token = resp.headers["X-Subject-Token"]
            return answer

    async def login(self, args: argparse.Namespace) -> None:
        user = {
            "name": args.os_username,
            "domain": {"name": args.os_user_domain_name},
            "password": args.os_password,
        }
        scope = {"name": args.os_project_name, "domain": {"name": args.os_project_domain_name}}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": scope},
            }
        }
        await self.call("POST", "/auth/tokens", body, ok=201)

    async def service(self, kind: str, name: str) -> str:
        services = (await self.call("GET", f"/services?type={kind}"))["services"]
        for svc in services:
            if svc.get("name") == name:
                return str(svc["id"])
        body = {"service": {"type": kind, "name": name, "enabled": True}}
        return str((await self.call("POST", "/services", body, ok=201))["service"]["id"])

    async def endpoint(self, service_id: str, interface: str, region: str, url: str) -> str:
        """Create the endpoint, or fix its URL; returns what was done."""
        query = f"/endpoints?service_id={service_id}&interface={interface}&region_id={region}"
        for ep in (await self.call("GET", query))["endpoints"]:
            if ep["url"] == url:
                return "kept"
            await self.call("PATCH", f"/endpoints/{ep['id']}", {"endpoint": {"url": url}})
            return "updated"
        body = {
            "endpoint": {
                "service_id": service_id,
                "interface": interface,
                "region_id": region,
                "url": url,
                "enabled": True,
            }
        }
        await self.call("POST", "/endpoints", body, ok=201)
        return "created"


async def register(args: argparse.Namespace) -> list[str]:
    """Register the services and endpoints; one line per endpoint saying what was done."""
    if not args.os_auth_url or not args.os_password:
        raise RegistrationError("--os-auth-url and --os-password (or OS_*) are required")
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    report = []
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            keystone = _Keystone(session, args.os_auth_url)
            await keystone.login(args)
            for kind, name, url in wanted_services(args.url, args.compute_name, args.image_name):
                service_id = await keystone.service(kind, name)
                for interface in INTERFACES:
                    done = await keystone.endpoint(service_id, interface, args.region, url)
                    report.append(f"{kind} ({name}) {interface} {url}: {done}")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise RegistrationError(f"Keystone at {args.os_auth_url}: {exc!r}") from exc
    return report
