"""The monitoring bundle (configs/prometheus/) checked by the real engine: promtool and amtool.

`promtool test rules` runs configs/prometheus/tests/edge-alerts.test.yml: every alert fires on
synthetic series after its `for:` and not before. The checks here also hold the bundle to the
mixin conventions (prefix, severity, summary, description, a runbook section per alert).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "configs" / "prometheus"
SEVERITIES = {"critical", "warning", "info"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; `make test` installs Debian's prometheus packages as root "
                    "(scripts/sysdeps.sh)")
    return path


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load((BUNDLE / "edge-alerts.yml").read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_checks_the_rules() -> None:
    out = subprocess.run([_tool("promtool"), "check", "rules", "edge-alerts.yml", "edge-rules.yml"],
                         cwd=BUNDLE, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in out.stdout


def test_promtool_unit_tests_of_every_alert() -> None:
    out = subprocess.run([_tool("promtool"), "test", "rules", "edge-alerts.test.yml"], cwd=BUNDLE / "tests",
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    doc = yaml.safe_load((BUNDLE / "tests" / "edge-alerts.test.yml").read_text(encoding="utf-8"))
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - fired == set(), "alerts without a test that makes them fire"
    assert names - quiet == set(), "alerts without a test that keeps them quiet"


def test_alerts_follow_the_mixin_conventions() -> None:
    readme = (BUNDLE / "README.md").read_text(encoding="utf-8")
    runbooks = set(re.findall(r"^### (Edge\w+)$", readme, re.M))
    seen: set[str] = set()
    for rule in _alerts():
        name = rule["alert"]
        assert re.fullmatch(r"Edge[A-Z][A-Za-z0-9]+", name), name
        assert name not in seen, f"{name} defined twice"
        seen.add(name)
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["annotations"]["summary"].strip() and rule["annotations"]["description"].strip(), name
        assert name in runbooks, f"README.md has no runbook section '### {name}'"
    assert runbooks - seen == set(), "runbook sections for alerts that do not exist"


def test_scrape_config_and_alertmanager_example_load(tmp_path: Path) -> None:
    # The shipped config names /etc/prometheus/edge-token; promtool checks the file exists.
    token = tmp_path / "edge-token"
    token.write_text("token\n", encoding="utf-8")
    shutil.copytree(BUNDLE, tmp_path / "bundle")
    cfg = tmp_path / "bundle" / "prometheus.yml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("/etc/prometheus/edge-token", str(token)),
                   encoding="utf-8")
    out = subprocess.run([_tool("promtool"), "check", "config", str(cfg)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    parsed = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    job = parsed["scrape_configs"][0]
    assert job["file_sd_configs"] and job["authorization"]["credentials_file"] == str(token)
    for target_file in (BUNDLE / "targets").glob("*.yml"):
        for group in yaml.safe_load(target_file.read_text(encoding="utf-8")):
            assert group["labels"]["box"], f"{target_file.name}: every target needs a box label"
    out = subprocess.run([_tool("amtool"), "check-config", str(BUNDLE / "alertmanager.yml")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboards_query_only_known_series() -> None:
    recorded = {r["record"] for g in yaml.safe_load((BUNDLE / "edge-rules.yml").read_text())["groups"]
                for r in g["rules"]}
    for path in sorted((BUNDLE / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text(encoding="utf-8"))
        assert dash["title"] and dash["uid"] and dash["panels"], path.name
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        assert exprs, path.name
        for expr in exprs:
            for name in re.findall(r"\b((?:box|fleet):[a-z_]+:[a-z0-9_]+)\b", expr):
                assert name in recorded, f"{path.name}: {name} is not a recording rule"
