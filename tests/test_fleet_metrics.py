"""The metrics the fleet's alert rules need (edge/monitor/fleet_metrics.py), read from a real index."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from edge.config import parse_config
from edge.monitor.alarms import AlarmCenter
from edge.monitor.fleet_metrics import register_fleet_metrics
from edge.monitor.live import OffloadFigures
from storage.clock import OffsetClock
from storage.index import Index
from storage.register import AccessRegister, Actor


class Offload:
    def figures(self) -> OffloadFigures:
        return OffloadFigures(True, {"segment": 4}, 4096, 90.0, 10, 10_000, 2, 1_700_000_000_000_000)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_fleet_metrics_follow_the_register_the_alarms_and_readiness(tmp_path: Path) -> None:
    clock = OffsetClock()
    index = Index(tmp_path / "index.sqlite3")
    register = AccessRegister(index, clock)
    alarms = AlarmCenter(index, clock)
    cfg = parse_config({"storage": {"root": str(tmp_path), "segment_seconds": 5.0},
                        "retention": {"min_days": 31, "forecast_margin_days": 3}, "cameras": []})
    problems: list[str] = []
    registry = CollectorRegistry(auto_describe=False)
    register_fleet_metrics(registry, cfg=cfg, alarms=alarms, index=index, ready_problems=lambda: problems,
                           offload=Offload())
    try:
        s = samples(registry)
        assert s[("edge_ready", ())] == 1.0
        assert s[("edge_auth_failures_total", ())] == 0.0
        assert s[("edge_storage_segment_seconds", ())] == 5.0
        assert s[("edge_retention_min_days", ())] == 31.0 and s[("edge_retention_forecast_margin_days", ())] == 3.0
        ok = {dict(k[1])["article"]: v for k, v in s.items() if k[0] == "edge_compliance_article_ok"}
        assert ok and set(ok.values()) == {1.0}

        anon = Actor("anonymous", "none", "", "127.0.0.1")
        for _ in range(3):
            register.append(anon, "auth_failure", result="refused")
        register.append(anon, "access_denied", result="refused")
        alarms.raise_("offline", "critical", "camera gate offline", "gate")
        problems.append("store not writable")
        s = samples(registry)
        assert s[("edge_auth_failures_total", ())] == 3.0 and s[("edge_access_denied_total", ())] == 1.0
        assert s[("edge_ready", ())] == 0.0
        ok = {dict(k[1])["article"]: v for k, v in s.items() if k[0] == "edge_compliance_article_ok"}
        assert ok["Art. 19(7)"] == 0.0 and ok["Art. 19(6)"] == 1.0
        register.append(anon, "auth_failure", result="refused")
        assert samples(registry)[("edge_auth_failures_total", ())] == 4.0, "counted incrementally, never twice"
        assert s[("edge_offload_pending_objects", (("kind", "segment"),))] == 4.0
        assert s[("edge_offload_lag_seconds", ())] == 90.0
        assert s[("edge_offload_uploaded_objects_total", ())] == 10.0
        assert s[("edge_offload_last_success_timestamp_seconds", ())] == 1_700_000_000.0
    finally:
        index.close()
