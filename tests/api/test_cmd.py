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
