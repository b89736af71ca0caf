"""Prometheus metrics, read from the daemon's state at scrape time.

A custom collector on a registry of its own per app (never the global one: two daemons in one
test process must not collide, and nothing is kept twice). Names follow Prometheus conventions:
`_total` counters, `_bytes`/`_seconds` units, one `state` gauge per camera per possible state.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from capture.image_checks import IMAGE_CODES
from edge.monitor.alarms import CODES
from edge.monitor.fleet_metrics import register_fleet_metrics
from edge.monitor.status import call_dict, camera_totals, export_counts, live_state, live_totals, pick, version

if TYPE_CHECKING:
    from edge.monitor.live import LiveBox

log = logging.getLogger(__name__)

STATES = ("recording", "reconnecting", "offline", "paused", "disabled")


class RuntimeCollector(Collector):
    def __init__(self, daemon: LiveBox) -> None:
        self.d = daemon

    def collect(self) -> Iterator[Metric]:
        d = self.d
        now = d.clock.now_us()
        info = InfoMetricFamily("edge", "The recorder and its box")
        info.add_metric([], {"box": d.cfg.box.id, "version": version()})
        yield info
        yield GaugeMetricFamily("edge_uptime_seconds", "Seconds since the daemon started",
                                value=time.monotonic() - d.started_monotonic)
        yield from self._cameras(now)
        yield from self._alarms()
        yield from self._storage()
        yield from self._services()

    def _cameras(self, now: int) -> Iterator[Metric]:
        d = self.d
        labels = ["camera"]
        state = GaugeMetricFamily("edge_camera_state", "1 for the camera's current state", labels=["camera", "state"])
        packets = CounterMetricFamily("edge_camera_packets", "Video packets received", labels=labels)
        received = CounterMetricFamily("edge_camera_received_bytes", "Video bytes received", labels=labels)
        recorded = CounterMetricFamily("edge_camera_segments", "Segments closed since start", labels=labels)
        reconnects = CounterMetricFamily("edge_camera_reconnects", "Reconnects since start", labels=labels)
        stored = GaugeMetricFamily("edge_camera_stored_segments", "Stored segments (index)", labels=labels)
        stored_b = GaugeMetricFamily("edge_camera_stored_bytes", "Bytes of stored segments (index)", labels=labels)
        age = GaugeMetricFamily("edge_camera_last_segment_age_seconds", "Seconds since the newest segment ended",
                                labels=labels)
        fps = GaugeMetricFamily("edge_camera_fps", "Frames per second of the last segment", labels=labels)
        bitrate = GaugeMetricFamily("edge_camera_bitrate_bps", "Bit/s of the last segment", labels=labels)
        totals = live_totals(d)
        for cam in d.cfg.cameras:
            w = d.workers.get(cam.id)
            current = "disabled" if not cam.enabled else (live_state(w.status.state) if w else "reconnecting")
            for s in STATES:
                state.add_metric([cam.id, s], 1.0 if s == current else 0.0)
            n, nbytes, _, newest = camera_totals(d.store.index, totals, cam.id)
            stored.add_metric([cam.id], n)
            stored_b.add_metric([cam.id], nbytes)
            if w is None:
                continue
            st = w.status.snapshot()
            packets.add_metric([cam.id], float(st["packets"]))  # type: ignore[arg-type]
            received.add_metric([cam.id], float(st["bytes"]))  # type: ignore[arg-type]
            recorded.add_metric([cam.id], float(st["segments"]))  # type: ignore[arg-type]
            reconnects.add_metric([cam.id], float(st["reconnects"]))  # type: ignore[arg-type]
            fps.add_metric([cam.id], float(st["fps"]))  # type: ignore[arg-type]
            bitrate.add_metric([cam.id], float(st["bitrate"]))  # type: ignore[arg-type]
            last_end = st["last_segment_end_us"] or newest
            if isinstance(last_end, int):
                age.add_metric([cam.id], max(0.0, (now - last_end) / 1e6))
        yield from (state, packets, received, recorded, reconnects, stored, stored_b, age, fps, bitrate)

    def _alarms(self) -> Iterator[Metric]:
        active = self.d.alarms.active()
        per = GaugeMetricFamily("edge_alarm_active", "1 while the alarm is raised (camera '' for box-wide)",
                                labels=["code", "camera", "severity"])
        for a in active:
            per.add_metric([a.code, a.camera or "", a.severity], 1.0)
        yield per
        by_code = GaugeMetricFamily("edge_alarms_active", "Active alarms by code", labels=["code"])
        for code in sorted(CODES):
            by_code.add_metric([code], float(sum(1 for a in active if a.code == code)))
        yield by_code
        image = GaugeMetricFamily("edge_camera_image_alarm", "1 while an image-health alarm is raised",
                                  labels=["camera", "code"])
        keys = {(a.camera, a.code) for a in active}
        for cam in self.d.cfg.cameras:
            for code in IMAGE_CODES:
                image.add_metric([cam.id, code], 1.0 if (cam.id, code) in keys else 0.0)
        yield image

    def _storage(self) -> Iterator[Metric]:
        d = self.d
        try:
            usage = shutil.disk_usage(d.store.layout.root)
            yield GaugeMetricFamily("edge_storage_volume_bytes", "Size of the store's volume", value=usage.total)
            yield GaugeMetricFamily("edge_storage_free_bytes", "Free bytes on the store's volume", value=usage.free)
        except OSError as exc:
            log.warning("metrics: cannot read the store's volume: %s", exc)
        totals = live_totals(d)
        if totals is not None:
            store_bytes = sum(t.bytes for t in totals.values())
        else:
            r = d.store.index.reader().execute("SELECT coalesce(sum(bytes), 0) FROM segments WHERE state='stored'")
            store_bytes = int(r.fetchone()[0])
        yield GaugeMetricFamily("edge_storage_store_bytes", "Bytes of stored segments", value=float(store_bytes))
        ret = _status(getattr(d, "retention", None))
        forecast = pick(ret, "forecast_days")
        if isinstance(forecast, int | float):
            yield GaugeMetricFamily("edge_storage_forecast_days", "Days of footage the store can hold",
                                    value=float(forecast))
        for key, name, doc in (("deletions_total", "edge_retention_deletions", "Segments deleted by retention"),
                               ("floor_breaches_total", "edge_retention_floor_breaches",
                                "Segments deleted under the legal floor")):
            value = pick(ret, key)
            if isinstance(value, int | float):
                yield CounterMetricFamily(name, doc, value=float(value))
        floor = pick(ret, "floor_respected")
        if isinstance(floor, bool):
            yield GaugeMetricFamily("edge_retention_floor_respected", "1 while the legal floor is respected",
                                    value=1.0 if floor else 0.0)
        holds = pick(ret, "holds_active", "active_holds")
        if isinstance(holds, int):
            yield GaugeMetricFamily("edge_holds_active", "Holds in force", value=float(holds))

    def _services(self) -> Iterator[Metric]:
        counts = export_counts(getattr(self.d, "exports", None))
        if counts:
            by_state = counts.get("by_state")
            fam = GaugeMetricFamily("edge_exports", "Export requests by state", labels=["state"])
            if isinstance(by_state, dict):
                for s, n in sorted(by_state.items()):
                    if isinstance(n, int | float):
                        fam.add_metric([str(s)], float(n))
            else:
                for s, n in sorted(counts.items()):
                    if isinstance(n, int | float):
                        fam.add_metric([str(s)], float(n))
            yield fam
        health = getattr(self.d, "health", None)
        if health is not None:
            samples = CounterMetricFamily("edge_health_samples", "Pictures judged by image health", labels=["camera"])
            cpu = GaugeMetricFamily("edge_health_cpu_ms_per_sample", "CPU ms per judged picture", labels=["camera"])
            for cam_id, st in health.cameras.items():
                samples.add_metric([cam_id], float(st.samples))
                if st.samples:
                    cpu.add_metric([cam_id], st.cpu_ms_total / st.samples)
            yield samples
            yield cpu
        yield from _integrity(getattr(self.d, "integrity", None))


def _integrity(svc: Any) -> Iterator[Metric]:
    """The last signed checkpoint: its time and the chain heads it names (issue 13)."""
    info = call_dict(svc, "metrics")
    if info is None:
        return
    heads = GaugeMetricFamily("edge_chain_head_seq", "Chain head position in the last checkpoint", labels=["camera"])
    for cam_id, seq in sorted(info["heads"].items()):
        heads.add_metric([cam_id], float(seq))
    yield heads
    if info["time_us"] is not None:
        yield GaugeMetricFamily("edge_checkpoint_last_timestamp_seconds", "Time of the last signed checkpoint",
                                value=info["time_us"] / 1e6)
    yield CounterMetricFamily("edge_checkpoint_tsa_failures", "Failed TSA timestamp requests",
                              value=float(info["tsa_failures"]))


def _status(obj: Any) -> dict[str, Any] | None:
    return call_dict(obj, "status")


def make_registry(daemon: LiveBox) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(daemon))
    register_fleet_metrics(registry, cfg=daemon.cfg, alarms=daemon.alarms, index=daemon.store.index,
                           ready_problems=daemon.probes.problems, offload=daemon.offload)
    return registry
