"""A real Keystone for the tests (``scripts/keystone.sh``) and a small admin client for it.

The session fixture starts Keystone when it is not already running, and stops it at
the end only if it started it. Users, projects and role assignments are created
idempotently through Keystone's own v3 API, as an operator would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("AIONOVA_KEYSTONE_PORT", "35357"))
ADMIN_PASSWORD = os.environ.get("AIONOVA_KEYSTONE_ADMIN_PASSWORD", "keystone-admin")
SCRIPT = ROOT / "scripts" / "keystone.sh"
PASSWORD = "Secret-pw-1"  # every test user's password
SERVICE_PASSWORD = "Nova-service-pw-1"


def _script(command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIONOVA_KEYSTONE_PORT": str(PORT)}
    return subprocess.run(
        ["bash", str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=900
    )


class Keystone:
    """The running Keystone: its URLs and admin calls on its v3 API."""

    def __init__(self, port: int = PORT) -> None:
        self.root = f"http://127.0.0.1:{port}"
        self.url = f"{self.root}/v3"
        self._admin: str | None = None

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, **headers: str
    ) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **headers}
        if token is not None:
            hdrs["X-Auth-Token"] = token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None, dict(exc.headers)

    def token(
        self, user: str, password: str, project: str | None, *, domain: str = "default"
    ) -> str:
        """A password-scoped token (project-scoped, or domain-scoped when project is None)."""
        scope: dict[str, Any]
        if project is None:
            scope = {"domain": {"id": domain}}
        else:
            scope = {"project": {"name": project, "domain": {"id": "default"}}}
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": scope,
            }
        }
        status, answer, headers = self.request("POST", "/auth/tokens?nocatalog", body)
        assert status == 201, (status, answer)
        return headers["X-Subject-Token"]

    def short_lived_token(
        self, user: str, password: str, project: str, seconds: float
    ) -> tuple[str, float]:
        """A token that Keystone itself expires ``seconds`` from now, and that moment
        (``time.time()``): Keystone caps a token's expiry at its application
        credential's ``expires_at``."""
        own = self.token(user, password, project)
        user_id = self._find("users", user)
        assert user_id is not None, user
        ends = time.time() + seconds
        expires_at = dt.datetime.fromtimestamp(ends, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"application_credential": {"name": uuid.uuid4().hex, "expires_at": expires_at}}
        status, answer, _ = self.request(
            "POST", f"/users/{user_id}/application_credentials", body, token=own
        )
        assert status == 201, (status, answer)
        credential = answer["application_credential"]
        auth = {
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {
                        "id": credential["id"],
                        "secret": credential["secret"],
                    },
                }
            }
        }
        status, answer, headers = self.request("POST", "/auth/tokens?nocatalog", auth)
        assert status == 201, (status, answer)
        return headers["X-Subject-Token"], ends

    def admin(self) -> str:
        if self._admin is None:
            self._admin = self.token("admin", ADMIN_PASSWORD, "admin")
        return self._admin

    def revoke(self, token: str) -> None:
        status, answer, _ = self.request(
            "DELETE", "/auth/tokens", token=self.admin(), **{"X-Subject-Token": token}
        )
        assert status == 204, (status, answer)

    def _find(self, kind: str, name: str) -> str | None:
        status, answer, _ = self.request("GET", f"/{kind}?name={name}", token=self.admin())
        assert status == 200, (status, answer)
        items = answer[kind]
        return items[0]["id"] if items else None

    def ensure(self, kind: str, name: str, extra: dict[str, Any] | None = None) -> str:
        """The id of project/user/role ``name``, created when missing."""
        found = self._find(kind, name)
        if found is not None:
            return found
        body = {kind[:-1]: {"name": name, "domain_id": "default", **(extra or {})}}
        if kind == "roles":
            body["role"].pop("domain_id")
        status, answer, _ = self.request("POST", f"/{kind}", body, token=self.admin())
        assert status == 201, (status, answer)
        return str(answer[kind[:-1]]["id"])

    def user(self, name: str, project: str, roles: list[str], password: str = PASSWORD) -> str:
        """A user with ``roles`` on ``project`` (both created when missing); its id."""
        project_id = self.ensure("projects", project)
        user_id = self.ensure("users", name, {"password": password})
        for role in roles:
            role_id = self.ensure("roles", role)
            status, answer, _ = self.request(
                "PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}", token=self.admin()
            )
            assert status == 204, (status, answer)
        return user_id

    def project_id(self, name: str) -> str:
        return self.ensure("projects", name)


@pytest.fixture(scope="session")
def keystone() -> Iterator[Keystone]:
    """Keystone from ``scripts/keystone.sh`` (installed and started on first use)."""
    was_running = _script("status").returncode == 0
    if not was_running:
        started = _script("start")
        if started.returncode != 0:
            pytest.fail(f"Keystone did not start:\n{started.stderr[-3000:]}", pytrace=False)
    ks = Keystone()
    ks.user("nova", "service", ["service"], SERVICE_PASSWORD)
    ks.user("nova-admin", "service", ["admin"], SERVICE_PASSWORD)
    try:
        yield ks
    finally:
        if not was_running:
            _script("stop")


def authtoken_settings(ks: Keystone, **overrides: Any) -> dict[str, Any]:
    """[keystone_authtoken] for the service user ``nova`` (role ``service``)."""
    values: dict[str, Any] = {
        "www_authenticate_uri": ks.root,
        "auth_url": ks.root,
        "auth_type": "password",
        "username": "nova",
        "password": SERVICE_PASSWORD,
        "project_name": "service",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "token_cache_time": 300,
        "http_connect_timeout": 10.0,
    }
    values.update(overrides)
    return values
