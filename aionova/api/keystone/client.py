"""The calls to Keystone v3: the service user's token, and validating a user's token.

Each call is bounded as a whole (connect and read) by ``http_connect_timeout``.
Anything but a clear answer (refused, reset, silent, a 5xx, a body that is not a
token) is ``KeystoneUnavailable``, which the API turns into a 503; nothing about an
outage is remembered, so requests work again as soon as Keystone answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import aiohttp

from aionova.config import KeystoneAuthtokenOpts

LOG = logging.getLogger(__name__)

# Refresh the service token this long before Keystone would expire it.
_SERVICE_TOKEN_MARGIN = 60.0
_AUTH_TYPES = ("password", "v3password")


class KeystoneUnavailable(Exception):
    """Keystone could not give an answer (down, silent, failing or misconfigured)."""


class ConfigError(ValueError):
    """[keystone_authtoken] cannot work as configured."""


def identity_root(url: str) -> str:
    """``http://h:5000``, ``http://h:5000/``, ``http://h:5000/v3`` → ``http://h:5000``."""
    url = url.strip().rstrip("/")
    if url.endswith("/v3"):
        url = url[: -len("/v3")].rstrip("/")
    return url


def check_opts(opts: KeystoneAuthtokenOpts) -> None:
    """Refuse settings that could never validate a token."""
    required = ("auth_url", "username", "password", "project_name")
    missing = [name for name in required if not getattr(opts, name)]
    if missing:
        raise ConfigError(
            f"[keystone_authtoken] needs {', '.join(missing)} for auth_strategy keystone"
        )
    if opts.auth_type not in _AUTH_TYPES:
        raise ConfigError(
            f"[keystone_authtoken] auth_type {opts.auth_type!r} is not supported (password)"
        )
    if not opts.http_connect_timeout > 0:
        raise ConfigError("[keystone_authtoken] http_connect_timeout must be > 0")


def seconds_left(token: dict[str, Any], now: dt.datetime | None = None) -> float | None:
    """Seconds until the token body's ``expires_at`` (None when it has none or is unreadable)."""
    raw = token.get("expires_at")
    if not isinstance(raw, str):
        return None
    try:
        expires = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    return (expires - (now or dt.datetime.now(dt.UTC))).total_seconds()


class KeystoneClient:
    """Owns an aiohttp session to Keystone and the service user's token."""

    def __init__(self, opts: KeystoneAuthtokenOpts) -> None:
        check_opts(opts)
        self._opts = opts
        self._tokens_url = f"{identity_root(opts.auth_url or '')}/v3/auth/tokens"
        self._session: aiohttp.ClientSession | None = None
        self._service_token: str | None = None
        self._service_deadline = 0.0
        self._pending: asyncio.Task[str] | None = None

    @property
    def service_token(self) -> str | None:
        """The service user's current token (None before the first validation)."""
        return self._service_token

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._opts.http_connect_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            await asyncio.gather(self._pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def validate(self, user_token: str) -> dict[str, Any] | None:
        """The token body when Keystone says the token is valid; None when it says not.

        ``http_connect_timeout`` bounds the whole validation, the service user's
        (re-)authentication included: a request never waits on Keystone for longer.
        """
        timeout = self._opts.http_connect_timeout
        try:
            async with asyncio.timeout(timeout):
                return await self._validate(user_token)
        except TimeoutError:
            raise KeystoneUnavailable(f"no answer from Keystone within {timeout}s") from None

    async def _validate(self, user_token: str) -> dict[str, Any] | None:
        stale: str | None = None
        for _attempt in range(2):
            service_token = await self._get_service_token(stale)
            status, body = await self._call(
                "GET",
                headers={"X-Auth-Token": service_token, "X-Subject-Token": user_token},
                params={} if self._opts.include_service_catalog else {"nocatalog": "1"},
            )
            if status == 200:
                return _token_of(body)
            if status == 404:
                return None
            if status == 401:  # our service token was rejected: expired or revoked
                stale = service_token
                continue
            if status == 403:
                LOG.error(
                    "Keystone refuses to let %s validate tokens: give it the admin or service role",
                    self._opts.username,
                )
            raise KeystoneUnavailable(f"token validation answered {status}")
        raise KeystoneUnavailable("Keystone rejects the service user's fresh token")

    async def _get_service_token(self, stale: str | None) -> str:
        """The cached service token, or a new one (one authentication for all waiters)."""
        loop = asyncio.get_running_loop()
        fresh = self._service_token is not None and loop.time() < self._service_deadline
        if fresh and self._service_token != stale and self._service_token is not None:
            return self._service_token
        if self._pending is None:
            self._pending = asyncio.create_task(self._authenticate())
            self._pending.add_done_callback(self._auth_done)
        return await asyncio.shield(self._pending)

    def _auth_done(self, task: asyncio.Task[str]) -> None:
        self._pending = None
        if not task.cancelled() and task.exception() is not None:
            LOG.debug("service authentication failed: %s", task.exception())

    async def _authenticate(self) -> str:
        opts = self._opts
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": opts.username,
                            "domain": {"name": opts.user_domain_name},
                            "password": opts.password,
                        }
                    },
                },
                "scope": {
                    "project": {
                        "name": opts.project_name,
                        "domain": {"name": opts.project_domain_name},
                    }
                },
            }
        }
        status, answer, token = await self._post_auth(body)
        if status != 201 or not token:
            LOG.error("Keystone refused the service user %s (HTTP %s)", opts.username, status)
            raise KeystoneUnavailable(f"service authentication answered {status}")
        left = seconds_left(_token_of(answer))
        lifetime = 3600.0 if left is None else left
        self._service_token = token
        self._service_deadline = asyncio.get_running_loop().time() + max(
            lifetime - _SERVICE_TOKEN_MARGIN, lifetime / 2
        )
        return token

    async def _post_auth(self, body: dict[str, Any]) -> tuple[int, Any, str | None]:
        session = self._require_session()
        try:
            async with session.post(self._tokens_url, json=body, params={"nocatalog": "1"}) as resp:
                answer = await resp.json(content_type=None) if resp.status == 201 else None
                return resp.status, answer, resp.headers.get("X-Subject-Token")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise KeystoneUnavailable(f"{self._tokens_url}: {type(exc).__name__}: {exc}") from exc

    async def _call(
        self, method: str, *, headers: dict[str, str], params: dict[str, str]
    ) -> tuple[int, Any]:
        session = self._require_session()
        try:
            async with session.request(
                method, self._tokens_url, headers=headers, params=params
            ) as resp:
                answer = await resp.json(content_type=None) if resp.status == 200 else None
                return resp.status, answer
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise KeystoneUnavailable(f"{self._tokens_url}: {type(exc).__name__}: {exc}") from exc

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise KeystoneUnavailable("the Keystone client is not started")
        return self._session


def _token_of(body: Any) -> dict[str, Any]:
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, dict):
        raise KeystoneUnavailable("Keystone's answer holds no token")
    return token
