"""[oslo_messaging_rabbit] in the TOML, the same names in the transport URL, --host everywhere."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from aionova.drivers.amqp import parse_url

from aionova.cmd.main import _parser, load_config
from aionova.config import Config, OsloMessagingRabbitOpts, load, transport_url

CLUSTER = "rabbit://u:p@10.0.0.1:5672,u:p@10.0.0.2:5672,u:p@10.0.0.3:5672/"
RABBIT_TOML = """
[DEFAULT]
transport_url = "{url}"
[oslo_messaging_rabbit]
rabbit_quorum_queue = true
rabbit_transient_quorum_queue = true
rabbit_quorum_delivery_limit = 10
rabbit_transient_queues_ttl = 600
kombu_failover_strategy = "shuffle"
heartbeat_timeout_threshold = 20
rabbit_qos_prefetch_count = 32
at_least_once = true
"""


def _cfg(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "aionova.toml"
    path.write_text(toml)
    return load(path, env or {})


def test_the_group_reaches_the_driver_through_the_url(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, RABBIT_TOML.format(url=CLUSTER))
    opts = cfg.oslo_messaging_rabbit
    assert opts.rabbit_quorum_queue and opts.at_least_once
    assert opts.kombu_failover_strategy == "shuffle"
    s = parse_url(transport_url(cfg))
    assert [h.host for h in s.hosts] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert s.quorum_queues and s.transient_quorum_queues and s.at_least_once
    assert (s.quorum_delivery_limit, s.transient_queues_ttl) == (10, 600)
    assert (s.failover_strategy, s.heartbeat, s.prefetch) == ("shuffle", 20, 32)


def test_url_parameters_win_by_either_name(tmp_path: Path) -> None:
    url = CLUSTER + "?rabbit_qos_prefetch_count=4&heartbeat=7&kombu_failover_strategy=round-robin"
    cfg = _cfg(tmp_path, RABBIT_TOML.format(url=url))
    s = parse_url(transport_url(cfg))
    assert (s.prefetch, s.heartbeat, s.failover_strategy) == (4, 7, "round-robin")
    assert s.quorum_queues and s.quorum_delivery_limit == 10  # the rest from the group


def test_defaults_leave_the_url_alone(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, f'[DEFAULT]\ntransport_url = "{CLUSTER}"\n')
    assert transport_url(cfg) == CLUSTER
    assert cfg.oslo_messaging_rabbit == OsloMessagingRabbitOpts()
    assert (
        cfg.oslo_messaging_rabbit.rabbit_transient_queues_ttl,
        cfg.oslo_messaging_rabbit.kombu_failover_strategy,
    ) == (1800, "round-robin")


def test_memory_urls_take_no_rabbit_options(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n")
    assert transport_url(cfg) == "memory://aionova"


def test_environment_sets_the_group(tmp_path: Path) -> None:
    env = {
        "AIONOVA_OSLO_MESSAGING_RABBIT__RABBIT_QUORUM_QUEUE": "true",
        "AIONOVA_OSLO_MESSAGING_RABBIT__RABBIT_QUORUM_DELIVERY_LIMIT": "3",
        "AIONOVA_DEFAULT__TRANSPORT_URL": CLUSTER,
    }
    s = parse_url(transport_url(_cfg(tmp_path, "", env)))
    assert s.quorum_queues and s.quorum_delivery_limit == 3


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("rabbit_quorum_queues = true", "unknown field"),  # a typo is not ignored
        ('kombu_failover_strategy = "random"', "kombu_failover_strategy"),
        ("rabbit_quorum_delivery_limit = -1", ">= 0"),
        ('rabbit_quorum_queue = "maybe"', "bool"),
    ],
)
def test_bad_rabbit_options_are_clear_errors(tmp_path: Path, line: str, why: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=why):
        _cfg(tmp_path, f"[oslo_messaging_rabbit]\n{line}\n")


def test_bad_option_exits_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aionova.cmd.main import main

    path = tmp_path / "bad.toml"
    path.write_text('[oslo_messaging_rabbit]\nkombu_failover_strategy = "nearest"\n')
    with pytest.raises(SystemExit) as exc:
        main(["conductor", "--config", str(path)])
    assert "bad configuration" in str(exc.value) and "kombu_failover_strategy" in str(exc.value)


@pytest.mark.parametrize("command", ["api", "conductor", "scheduler", "compute", "all-in-one"])
def test_every_daemon_takes_host(command: str) -> None:
    args = _parser().parse_args([command, "--host", f"{command}-2"])
    assert load_config(args).DEFAULT.host == f"{command}-2"


def test_two_conductors_on_one_machine_differ_by_host_only() -> None:
    one = load_config(_parser().parse_args(["conductor", "--host", "ctl-a"]))
    two = load_config(_parser().parse_args(["conductor", "--host", "ctl-b"]))
    assert one.DEFAULT.host != two.DEFAULT.host
    assert msgspec.structs.replace(one.DEFAULT, host="x") == msgspec.structs.replace(
        two.DEFAULT, host="x"
    )


def test_db_sync_and_seed_are_idempotent_and_refuse_unknown_schemes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aionova.cmd.main import main

    url = f"sqlite:///{tmp_path / 'n.sqlite'}"
    for command in ("db-sync", "seed", "db-sync", "seed"):
        main([command, "--database", url])
    out = capsys.readouterr().out
    assert (
        out.count("is at schema version") == 2
        and out.count("aionova seed: 5 flavors, 3 images") == 2
    )
    with pytest.raises(SystemExit) as exc:
        main(["db-sync", "--database", "mysql://nova:pw@db/nova"])
    assert "bad configuration" in str(exc.value) and "mysql" in str(exc.value)
