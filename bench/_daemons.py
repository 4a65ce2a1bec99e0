"""A replicated control plane of real ``aionova`` daemons, as child processes.

Used by ``boot_storm --conductors N --schedulers M --via-api`` and by the
multi-process tests: one TOML file for every process (``[DEFAULT] transport_url``,
``[database] connection``, ``[oslo_messaging_rabbit]`` …), each daemon started as
``python -m aionova ROLE --host NAME --config FILE`` exactly as an operator would,
its output in ``<workdir>/<host>.log``. ``cpu_seconds()`` reads a daemon's CPU time
from ``/proc`` (user + system), for the bench's per-service figures.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADMIN_HEADERS = {"X-Auth-Token": "notused", "OpenStack-API-Version": "compute 2.60"}
ROLES = ("api", "conductor", "scheduler", "compute")
BINARY = {"conductor": "nova-conductor", "scheduler": "nova-scheduler", "compute": "nova-compute"}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string is a JSON string


def toml_text(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """A TOML document of ``{section: {key: value}}`` (flat values only)."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


@dataclass
class Daemon:
    """One ``aionova ROLE --host HOST`` process."""

    role: str
    host: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int | None = None  # the API's
    log_offset: int = 0  # where this process's lines start in ``log``

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        assert self.port is not None, "not an API"
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class ControlPlane:
    """Daemons sharing one config file, one database and one broker."""

    workdir: Path
    transport_url: str
    database: str
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.workdir / "aionova.toml"

    def write_config(self) -> Path:
        sections = {k: dict(v) for k, v in self.sections.items()}
        sections.setdefault("DEFAULT", {})["transport_url"] = self.transport_url
        sections.setdefault("database", {})["connection"] = self.database
        self.config_path.write_text(toml_text(sections))
        return self.config_path

    def start(
        self,
        role: str,
        host: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        profile: Path | None = None,
    ) -> Daemon:
        """Start ``aionova ROLE --host HOST --config FILE ARGS`` (an API on a free port);
        with ``profile``, under cProfile, its statistics written there when it stops."""
        if not self.config_path.exists():
            self.write_config()
        port = free_port() if role == "api" else None
        wrap = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        argv = [sys.executable, *wrap, "-m", "aionova", role, "--host", host]
        argv += ["--config", str(self.config_path), *args]
        if port is not None:
            argv += ["--port", str(port)]
        log = self.workdir / f"{host}.log"
        offset = log.stat().st_size if log.exists() else 0  # a restart appends to the log
        proc = subprocess.Popen(
            argv,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env, **(env or {})},
        )
        daemon = Daemon(role, host, proc, log, port, offset)
        self.daemons.append(daemon)
        return daemon

    def of(self, role: str) -> list[Daemon]:
        return [d for d in self.daemons if d.role == role]

    def stop(self) -> dict[str, int]:
        """Computes, then APIs, then schedulers and conductors; host → exit code."""
        order = {"compute": 0, "api": 1, "scheduler": 2, "conductor": 3}
        codes = {}
        for daemon in sorted(self.daemons, key=lambda d: order.get(d.role, 9)):
            codes[daemon.host] = daemon.stop()
        return codes

    def kill_all(self) -> None:
        for daemon in self.daemons:
            daemon.kill()

    def cpu_by_role(self) -> dict[str, float]:
        totals = dict.fromkeys(ROLES, 0.0)
        for daemon in self.daemons:
            totals[daemon.role] = totals.get(daemon.role, 0.0) + daemon.cpu_seconds()
        return totals

    # -- readiness -----------------------------------------------------------------
    def wait_ready(self, timeout: float = 120.0) -> None:
        """Every API answers and every other daemon reports up in os-services."""
        deadline = time.monotonic() + timeout
        for api in self.of("api"):
            wait_http(api, deadline)
        services = [d for d in self.daemons if d.role != "api"]
        wanted = {(BINARY[d.role], d.host) for d in services}
        while True:
            self.check_alive()
            up = self.services_up()
            # A restarted daemon's service may still look up from its last life: its
            # own log says when this process has started.
            if wanted <= up and all(_started(d) for d in services):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not up after {timeout:.0f}s: {sorted(wanted - up)}")
            time.sleep(0.25)

    def check_alive(self) -> None:
        dead = [d for d in self.daemons if not d.alive()]
        if dead:
            d = dead[0]
            tail = d.log.read_text()[-3000:] if d.log.exists() else ""
            raise RuntimeError(f"{d.role} {d.host} exited ({d.proc.returncode}):\n{tail}")

    def services_up(self) -> set[tuple[str, str]]:
        status, body = rest(self.of("api")[0].url, "GET", "/os-services")
        if status != 200:
            return set()
        return {(s["binary"], s["host"]) for s in body["services"] if s["state"] == "up"}


def wait_http(api: Daemon, deadline: float) -> None:
    while True:
        if not api.alive():
            raise RuntimeError(f"API {api.host} exited:\n{api.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{api.url}/v2.1", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def rest(base: str, method: str, path: str, body: object = None, timeout: float = 30.0) -> Any:
    """One admin REST call (noauth2): (status, JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**ADMIN_HEADERS, "Content-Type": "application/json"}
    request = urllib.request.Request(
        f"{base}/v2.1{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")


async def prepare_database(
    database: str, flavors: Sequence[Any] = (), images: Sequence[Any] = ()
) -> None:
    """Create the schema and the starter catalogue (and ``flavors``, ``images``), as a
    deployment's first step does, before any daemon starts."""
    from aionova.cmd.seed import seed
    from aionova.db import Database

    db = await Database(database).open()
    try:
        await seed(db)
        known = {f.flavorid for f in await db.flavor_get_all(None)}
        for flavor in flavors:
            if flavor.flavorid not in known:
                await db.flavor_create(None, flavor)
        have = {i.id for i in await db.image_get_all(None)}
        for image in images:
            if image.id not in have:
                await db.image_create(None, image)
    finally:
        await db.close()


def _started(daemon: Daemon) -> bool:
    """Whether the daemon's log says its service started (aionova/cmd/services.py)."""
    if not daemon.log.exists():
        return False
    with daemon.log.open("rb") as f:
        f.seek(daemon.log_offset)
        return b" started (transport " in f.read()
