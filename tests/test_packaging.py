"""The shipped systemd unit and Dockerfile stay valid and agree with the code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "newsmon.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_unit_verifies_cleanly(tmp_path: Path) -> None:
    # Point ExecStart at this checkout's real command so verify can check it exists.
    newsmon = shutil.which("newsmon") or str(ROOT / ".venv" / "bin" / "newsmon")
    unit = tmp_path / "newsmon.service"
    unit.write_text(UNIT.read_text().replace("/opt/newsmon/.venv/bin/newsmon", newsmon))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # verify only warns (exit 0) about unknown keys or values: treat warnings as errors.
    own = [line for line in result.stderr.splitlines() if str(unit) in line]
    assert own == []


def test_unit_reloads_with_sighup_and_keeps_shutdown_grace() -> None:
    text = UNIT.read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    stop = int(re.search(r"^TimeoutStopSec=(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    assert stop > 20  # delivery.shutdown_grace default
    assert "RestartPreventExitStatus=2" in text  # exit 2 = invalid config


def test_dockerfile_runs_the_daemon_with_the_health_endpoint() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["newsmon", "--config", "/data/config.yaml"\]', text, re.M)
    assert '"run", "--http", "0.0.0.0:8080"' in text
    assert "/healthz" in text
    assert re.search(r"^USER newsmon$", text, re.M)
    for path in re.findall(r"^COPY (?:--\S+ )?(\S+) ", text, re.M):
        assert (ROOT / path).exists(), path


TEMPLATE = ROOT / "packaging" / "newsmon@.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_worker_template_unit_verifies_cleanly(tmp_path: Path) -> None:
    newsmon = shutil.which("newsmon") or str(ROOT / ".venv" / "bin" / "newsmon")
    unit = tmp_path / "newsmon@.service"
    unit.write_text(TEMPLATE.read_text().replace("/opt/newsmon/.venv/bin/newsmon", newsmon))
    instance = tmp_path / "newsmon@1.service"
    instance.symlink_to(unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(instance)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    own = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
    assert own == []


def test_worker_template_matches_the_single_unit() -> None:
    text = TEMPLATE.read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert "RestartPreventExitStatus=2" in text
    assert "run --http 127.0.0.1:808%i" in text  # each instance its own /healthz
