"""Policy: Nova's rule names and current defaults, enforced by oslo.policy.

oslo.policy is used as a pure rule engine: its Enforcer gets a private ConfigOpts,
the defaults below, and the operator's overrides from ``[oslo_policy] policy_file``
(YAML or JSON, Nova's rule syntax) read once at startup. It never reads a file
afterwards, and a rule that would call out over HTTP (``http:``/``https:`` checks)
is refused at startup: enforcing a rule is pure computation on the event loop.

The personas are Nova's: ``admin`` (role admin, any project), project ``member``
(acts on its project's resources) and project ``reader`` (may look, not act);
Keystone's bootstrap makes admin imply member and member imply reader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from oslo_config import cfg
from oslo_policy import _checks
from oslo_policy import policy as oslo_policy

from aionova.api.common import ctxt_of
from aionova.api.faults import forbidden
from aionova.config import OsloPolicyOpts
from aionova.context import RequestContext

LOG = logging.getLogger(__name__)

ADMIN = "rule:context_is_admin"
PROJECT_MANAGER_OR_ADMIN = "rule:project_manager_or_admin"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
ANY = "@"

# The aliases (nova/policies/base.py), then every rule for an API served here.
BASE_RULES: dict[str, str] = {
    "context_is_admin": "role:admin",
    "project_manager_api": "role:manager and project_id:%(project_id)s",
    "project_member_api": "role:member and project_id:%(project_id)s",
    "project_reader_api": "role:reader and project_id:%(project_id)s",
    "service_api": "role:service",
    "project_manager_or_admin": "rule:project_manager_api or rule:context_is_admin",
    "project_member_or_admin": "rule:project_member_api or rule:context_is_admin",
    "project_reader_or_admin": "rule:project_reader_api or rule:context_is_admin",
    "service_or_admin": "rule:service_api or rule:context_is_admin",
}

_SERVERS = "os_compute_api:servers:"
API_RULES: dict[str, str] = {
    _SERVERS + "index": PROJECT_READER_OR_ADMIN,
    _SERVERS + "detail": PROJECT_READER_OR_ADMIN,
    _SERVERS + "index:get_all_tenants": ADMIN,
    _SERVERS + "detail:get_all_tenants": ADMIN,
    _SERVERS + "allow_all_filters": ADMIN,
    _SERVERS + "show": PROJECT_READER_OR_ADMIN,
    _SERVERS + "show:host_status": ADMIN,
    _SERVERS + "show:host_status:unknown-only": ADMIN,
    _SERVERS + "create": PROJECT_MEMBER_OR_ADMIN,
    _SERVERS + "create:forced_host": ADMIN,
    _SERVERS + "create:attach_network": PROJECT_MEMBER_OR_ADMIN,
    _SERVERS + "update": PROJECT_MEMBER_OR_ADMIN,
    _SERVERS + "delete": PROJECT_MEMBER_OR_ADMIN,
    _SERVERS + "reboot": PROJECT_MEMBER_OR_ADMIN,
    _SERVERS + "rebuild": PROJECT_MEMBER_OR_ADMIN,
    _SERVERS + "start": PROJECT_MEMBER_OR_ADMIN,
    _SERVERS + "stop": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-extended-server-attributes": ADMIN,
    "os_compute_api:os-evacuate": ADMIN,
    "os_compute_api:os-services:list": ADMIN,
    "os_compute_api:os-services:update": ADMIN,
    "os_compute_api:os-hypervisors:list": ADMIN,
    "os_compute_api:os-hypervisors:list-detail": ADMIN,
    "os_compute_api:os-hypervisors:show": ADMIN,
    "os_compute_api:os-hypervisors:search": ADMIN,
    "os_compute_api:os-hypervisors:servers": ADMIN,
    "os_compute_api:os-migrations:index": PROJECT_MANAGER_OR_ADMIN,
    "os_compute_api:os-migrations:index:all_projects": ADMIN,
    "os_compute_api:os-migrations:index:host": ADMIN,
    "os_compute_api:os-instance-actions:list": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-instance-actions:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-instance-actions:events": ADMIN,
    "os_compute_api:os-instance-actions:events:details": ADMIN,
    "os_compute_api:os-availability-zone:list": ANY,
    "os_compute_api:os-availability-zone:detail": ADMIN,
    "os_compute_api:os-flavor-extra-specs:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-flavor-manage:create": ADMIN,
    "os_compute_api:os-flavor-manage:delete": ADMIN,
}

# The rule classes a policy may use: pure functions of credentials and target.
_PURE_CHECKS = (
    _checks.TrueCheck,
    _checks.FalseCheck,
    _checks.AndCheck,
    _checks.OrCheck,
    _checks.NotCheck,
    _checks.RuleCheck,
    _checks.RoleCheck,
    _checks.GenericCheck,
)


class PolicyFileError(ValueError):
    """The configured policy file is missing, unreadable or not allowed."""


def _defaults() -> list[oslo_policy.RuleDefault]:
    base = [oslo_policy.RuleDefault(name, check) for name, check in BASE_RULES.items()]
    api = [
        oslo_policy.RuleDefault(name, check, scope_types=["project"])
        for name, check in API_RULES.items()
    ]
    return base + api


def _walk(check: Any) -> Iterable[Any]:
    yield check
    for child in getattr(check, "rules", ()):
        yield from _walk(child)
    if isinstance(check, _checks.NotCheck):
        yield from _walk(check.rule)


def read_policy_file(path: str) -> dict[str, str]:
    """The overrides in a YAML or JSON policy file (JSON is YAML); startup only."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PolicyFileError(f"cannot read [oslo_policy] policy_file {path}: {exc}") from exc
    try:
        rules = oslo_policy.parse_file_contents(text)
    except ValueError as exc:
        raise PolicyFileError(f"[oslo_policy] policy_file {path} is not YAML/JSON: {exc}") from exc
    if not isinstance(rules, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in rules.items()
    ):
        raise PolicyFileError(f"[oslo_policy] policy_file {path}: expected 'rule name: check'")
    return rules


class Policy:
    """An oslo.policy Enforcer with Nova's defaults and the operator's overrides."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        conf = cfg.ConfigOpts()
        conf([], project="aionova", default_config_files=[], default_config_dirs=[])
        self._enforcer = oslo_policy.Enforcer(conf, use_conf=False)
        self._enforcer.register_defaults(_defaults())
        rules = {name: check for name, check in {**BASE_RULES, **API_RULES}.items()}
        rules.update(overrides or {})
        parsed = oslo_policy.Rules.from_dict(rules)
        for name, check in parsed.items():
            for node in _walk(check):
                if not isinstance(node, _PURE_CHECKS):
                    raise PolicyFileError(f"policy rule {name!r}: {node} is not allowed here")
        self._enforcer.set_rules(parsed, overwrite=True, use_conf=False)
        self._enforcer.check_rules()

    @classmethod
    def from_opts(cls, opts: OsloPolicyOpts) -> Policy:
        if not opts.policy_file:
            return cls()
        overrides = read_policy_file(opts.policy_file)
        LOG.info("policy: %d rule(s) overridden by %s", len(overrides), opts.policy_file)
        return cls(overrides)

    def allowed(
        self, ctxt: RequestContext, action: str, target: Mapping[str, Any] | None = None
    ) -> bool:
        """Whether ``action`` is allowed; the default target is the caller's project."""
        if target is None:
            target = {"project_id": ctxt.project_id, "user_id": ctxt.user_id}
        creds = ctxt.to_policy_values()
        try:
            return bool(self._enforcer.enforce(action, dict(target), creds))
        except oslo_policy.InvalidScope:
            return False

    def check_is_admin(self, ctxt: RequestContext) -> bool:
        """Nova's ``is_admin``: the ``context_is_admin`` rule on the caller's own project."""
        return self.allowed(ctxt, "context_is_admin")


POLICY = web.AppKey("policy", Policy)


def allowed(request: web.Request, action: str, target: Mapping[str, Any] | None = None) -> bool:
    return request.app[POLICY].allowed(ctxt_of(request), action, target)


def authorize(request: web.Request, action: str, target: Mapping[str, Any] | None = None) -> None:
    """403 (Nova's message) unless the caller may perform ``action`` on ``target``."""
    if not allowed(request, action, target):
        raise forbidden(action)


def instance_target(instance: Any) -> dict[str, Any]:
    """The target of an action on a server: its project and user."""
    return {"project_id": instance.project_id, "user_id": instance.user_id}
