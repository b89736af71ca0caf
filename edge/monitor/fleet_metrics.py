"""Metrics central monitoring's alert rules need beyond the daemon's own (configs/prometheus/).

Registered next to `edge.monitor.metrics.RuntimeCollector` by one call in `make_registry`; everything read
here is passed in explicitly (config, alarms, index, readiness probe, offload), so this module does
not depend on how the daemon is assembled:

- `edge_ready`: 1 while `/readyz` would answer ready (EdgeBoxNotReady);
- `edge_auth_failures_total`, `edge_access_denied_total`: from the access register, so the counters
  survive restarts and cannot disagree with the register (EdgeAuthFailuresSpiking);
- `edge_compliance_article_ok{article,rule}`: 0 while an active alarm puts that article at risk;
- `edge_storage_segment_seconds`, `edge_retention_min_days`, `edge_retention_forecast_margin_days`:
  the box's own settings, so one rule fits boxes configured differently;
- `edge_offload_*`: what waits for the object store, how long the oldest has waited, what went up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from edge.config import EdgeConfig
from edge.monitor.alarms import AlarmCenter
from edge.monitor.live import OffloadFigures, OffloadFiguresSource
from edge.monitor.status import RULES
from storage.index import Index

#: Register actions counted as authentication problems, and the metric each one feeds.
AUTH_ACTIONS = {"auth_failure": "edge_auth_failures", "access_denied": "edge_access_denied"}


class _RegisterCounts:
    """Running counts of register actions; each scrape reads only the rows added since the last."""

    def __init__(self, index: Index, actions: tuple[str, ...]) -> None:
        self.index = index
        self.actions = actions
        self._lock = threading.Lock()
        self._after = 0
        self._counts = dict.fromkeys(actions, 0)

    def read(self) -> dict[str, int]:
        with self._lock:
            marks = ", ".join("?" * len(self.actions))
            conn = self.index.reader()
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='register'").fetchone()
            if exists is None:
                return dict(self._counts)
            top = conn.execute("SELECT coalesce(max(id), 0) FROM register").fetchone()[0]
            rows = conn.execute(f"SELECT action, count(*) FROM register WHERE id > ? AND id <= ?"
                                f" AND action IN ({marks}) GROUP BY action", (self._after, top, *self.actions))
            for action, n in rows:
                self._counts[str(action)] += int(n)
            self._after = int(top)
            return dict(self._counts)


def articles() -> list[tuple[str, str]]:
    """Every (article, rule) an alarm can put at risk, in a stable order."""
    return sorted(set(RULES.values()))


class FleetCollector(Collector):
    def __init__(self, cfg: EdgeConfig, alarms: AlarmCenter, index: Index, ready_problems: Callable[[], list[str]],
                 offload: OffloadFiguresSource | None) -> None:
        self.cfg = cfg
        self.alarms = alarms
        self.ready_problems = ready_problems
        self.offload = offload
        self.counts = _RegisterCounts(index, tuple(AUTH_ACTIONS))

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("edge_ready", "1 while the box is ready to record (/readyz)",
                                value=0.0 if self.ready_problems() else 1.0)
        counts = self.counts.read()
        for action, name in AUTH_ACTIONS.items():
            yield CounterMetricFamily(name, f"Register entries '{action}' (all time)", value=float(counts[action]))
        yield self._compliance()
        yield GaugeMetricFamily("edge_storage_segment_seconds", "Configured segment length",
                                value=self.cfg.storage.segment_seconds)
        yield GaugeMetricFamily("edge_retention_min_days", "Configured retention floor (days)",
                                value=self.cfg.retention.min_days)
        yield GaugeMetricFamily("edge_retention_forecast_margin_days", "Margin over the floor before the capacity "
                                "alarm (days)", value=self.cfg.retention.forecast_margin_days)
        if self.offload is not None:
            yield from offload_metrics(self.offload.figures())

    def _compliance(self) -> Metric:
        at_risk = {RULES[a.code] for a in self.alarms.active() if a.severity != "info" and a.code in RULES}
        fam = GaugeMetricFamily("edge_compliance_article_ok", "0 while an active alarm puts the article at risk",
                                labels=["article", "rule"])
        for article, rule in articles():
            fam.add_metric([article, rule], 0.0 if (article, rule) in at_risk else 1.0)
        return fam


def offload_metrics(f: OffloadFigures) -> Iterator[Metric]:
    yield GaugeMetricFamily("edge_offload_enabled", "1 when evidence offload is configured",
                            value=1.0 if f.enabled else 0.0)
    pending = GaugeMetricFamily("edge_offload_pending_objects", "Objects waiting for the object store",
                                labels=["kind"])
    for kind in ("segment", "export", "checkpoint"):
        pending.add_metric([kind], float(f.pending.get(kind, 0)))
    yield pending
    yield GaugeMetricFamily("edge_offload_pending_bytes", "Bytes waiting for the object store",
                            value=float(f.pending_bytes))
    yield GaugeMetricFamily("edge_offload_lag_seconds", "How long the oldest waiting object has waited",
                            value=f.lag_seconds)
    yield CounterMetricFamily("edge_offload_uploaded_objects", "Objects stored and verified (all time)",
                              value=float(f.uploaded_objects))
    yield CounterMetricFamily("edge_offload_uploaded_bytes", "Bytes stored and verified (all time)",
                              value=float(f.uploaded_bytes))
    yield CounterMetricFamily("edge_offload_failures", "Failed upload attempts since start", value=float(f.failures))
    if f.last_success_us is not None:
        yield GaugeMetricFamily("edge_offload_last_success_timestamp_seconds", "When the last upload was verified",
                                value=f.last_success_us / 1e6)


def register_fleet_metrics(registry: CollectorRegistry, *, cfg: EdgeConfig, alarms: AlarmCenter, index: Index,
                           ready_problems: Callable[[], list[str]],
                           offload: OffloadFiguresSource | None = None) -> None:
    registry.register(FleetCollector(cfg, alarms, index, ready_problems, offload))
