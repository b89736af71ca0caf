"""The unit file is valid for systemd (verified with `systemd-analyze verify` where it exists)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "edge.service"


def test_unit_has_the_required_settings() -> None:
    text = UNIT.read_text()
    settings = {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip()
                for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#")}
    assert settings["Type"] == "notify" and settings["Restart"] == "on-failure"
    assert int(settings["WatchdogSec"]) > 0
    assert settings["User"] == "edge" and settings["StateDirectory"] == "edge"
    assert settings["ConfigurationDirectory"] == "edge"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert settings[key] == "yes", key
    assert settings["ProtectSystem"] == "strict" and settings["CapabilityBoundingSet"] == ""
    assert "/var/lib/edge" in settings["ReadWritePaths"]
    assert settings["ExecStart"].endswith("edge run -c /etc/edge/edge.toml")


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (the unit's settings are checked above)")
    # verify insists that ExecStart exists: point it at this checkout's entry point.
    exe = ROOT / ".venv" / "bin" / "edge"
    if not exe.exists():
        pytest.skip(f"{exe} missing: run `make` first")
    unit = tmp_path / "edge.service"
    unit.write_text(UNIT.read_text().replace("/opt/edge/venv/bin/edge", str(exe)))
    res = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (res.stdout + res.stderr).splitlines() if "edge.service" in line]
    assert res.returncode == 0 and complaints == [], res.stdout + res.stderr
