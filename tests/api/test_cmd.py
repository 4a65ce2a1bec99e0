"""The console command's configuration: TOML file, then environment, then flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from aionova.cmd.main import _parser, load_config


def test_toml_env_and_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "aionova.toml"
    path.write_text(
        '[DEFAULT]\nreport_interval = 2.5\ntransport_url = "memory://x"\n'
        '[api]\nport = 9000\n[database]\nconnection = "/tmp/a.sqlite"\n'
    )
    monkeypatch.setenv("AIONOVA_API__PORT", "9100")
    monkeypatch.setenv("AIONOVA_DEFAULT__SERVICE_DOWN_TIME", "30")
    args = _parser().parse_args(["api", "--config", str(path), "--database", "/tmp/b.sqlite"])
    cfg = load_config(args)
    assert cfg.DEFAULT.report_interval == 2.5 and cfg.DEFAULT.service_down_time == 30
    assert cfg.api.port == 9100 and cfg.database.connection == "/tmp/b.sqlite"
    args = _parser().parse_args(
        ["compute", "--host", "c1", "--config", str(path), "--transport-url", "rabbit://h/"]
    )
    assert load_config(args).DEFAULT.transport_url == "rabbit://h/"


def test_compute_needs_a_host() -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["compute"])


def test_noauth2_on_a_public_address_refuses_to_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    argv = [sys.executable, "-m", "aionova", "api", "--listen", "0.0.0.0", "--port", "0"]
    argv += ["--database", str(tmp_path / "n.sqlite")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "noauth_allow_public" in done.stderr and "0.0.0.0" in done.stderr


def test_auth_settings_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "aionova.toml"
    path.write_text(
        '[api]\nauth_strategy = "keystone"\n'
        '[keystone_authtoken]\nauth_url = "http://controller:5000"\nusername = "nova"\n'
        'password = "pw"\nproject_name = "service"\ntoken_cache_time = 60\n'
        '[oslo_policy]\npolicy_file = "/etc/aionova/policy.yaml"\n'
    )
    cfg = load_config(_parser().parse_args(["api", "--config", str(path)]))
    assert cfg.api.auth_strategy == "keystone" and cfg.api.noauth_allow_public is False
    ks = cfg.keystone_authtoken
    assert (ks.auth_url, ks.auth_type, ks.token_cache_time) == (
        "http://controller:5000",
        "password",
        60,
    )
    assert (ks.user_domain_name, ks.project_domain_name) == ("Default", "Default")
    assert cfg.oslo_policy.policy_file == "/etc/aionova/policy.yaml"
    with pytest.raises(SystemExit):
        path.write_text('[api]\nauth_strategy = "anything"\n')
        from aionova.cmd.main import main

        main(["api", "--config", str(path)])


def test_the_event_loop_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvloop by default (where installed); asyncio on request, by flag or $AIONOVA_LOOP."""
    monkeypatch.delenv("AIONOVA_LOOP", raising=False)
    assert _parser().parse_args(["conductor"]).loop is None  # eventloop.default_loop() decides
    assert _parser().parse_args(["conductor", "--loop", "asyncio"]).loop == "asyncio"
    monkeypatch.setenv("AIONOVA_LOOP", "asyncio")
    assert _parser().parse_args(["scheduler"]).loop == "asyncio"
    with pytest.raises(SystemExit):
        _parser().parse_args(["conductor", "--loop", "trio"])


def test_uvloop_requested_without_the_extra_exits_with_advice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aionova import eventloop
    from aionova.cmd.main import main

    monkeypatch.setattr(eventloop, "find_spec", lambda name: None)
    with pytest.raises(SystemExit) as exited:
        main(["conductor", "--loop", "uvloop"])
    assert "aionova-openstack[speed]" in str(exited.value.code)
