"""Capacity forecast: how many days of footage the volume (or the quota) holds at current rates.

Rates are measured per camera over a trailing window from the index (bytes of the segments that
ended in the window over the time they span), falling back to the camera's configured
`expected_bitrate` when the store has none yet. What footage may occupy is what the ring buffer
lets it: the high watermark of the volume (less what is not footage and the reserve), or of the
quota when one is set.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from edge.config import EdgeConfig
from storage.clock import DAY_US, HOUR_US
from storage.diskspace import Volume
from storage.holds import Hold
from storage.index import Index


@dataclass(frozen=True)
class Forecast:
    rates: dict[str, float]  # bytes/s per enabled camera
    measured: dict[str, bool]  # False: from expected_bitrate
    bytes_per_day: float
    capacity_bytes: int  # what footage may occupy
    forecast_days: float  # capacity_bytes / bytes_per_day (inf when nothing records)
    wanted_days: float  # min_days + forecast_margin_days
    needed_bytes: int  # for wanted_days at current rates
    floor_needed_bytes: int  # for min_days at current rates
    floor_available_bytes: int  # capacity less held footage: what the floor can use
    held_bytes: int

    @property
    def ok(self) -> bool:
        return self.forecast_days >= self.wanted_days

    @property
    def floor_ok(self) -> bool:
        return self.floor_available_bytes >= self.floor_needed_bytes

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["forecast_days"] = None if math.isinf(self.forecast_days) else round(self.forecast_days, 2)
        d["ok"], d["floor_ok"] = self.ok, self.floor_ok
        return d


def measured_rates(index: Index, now_us: int, window_hours: float) -> dict[str, float]:
    """Bytes per second per camera over the trailing window (cameras with no segment in it absent)."""
    since = now_us - int(window_hours * HOUR_US)
    rows = index.reader().execute(
        "SELECT camera, sum(bytes), min(start_us), max(end_us) FROM segments"
        " WHERE state='stored' AND end_us > ? GROUP BY camera", (since,),
    ).fetchall()
    rates = {}
    for cam, total, first, last in rows:
        span_s = (last - max(first, since)) / 1e6
        if span_s > 0:
            rates[cam] = total / span_s
    return rates


def held_bytes(index: Index, holds: list[Hold]) -> int:
    """Bytes of stored footage under holds (overlapping holds count twice: errs towards alarming)."""
    total = 0
    reader = index.reader()
    for h in holds:
        cam_sql, args = ("", ()) if h.camera is None else (" AND camera=?", (h.camera,))
        total += reader.execute(
            f"SELECT coalesce(sum(bytes), 0) FROM segments WHERE state='stored' AND start_us < ? AND end_us > ?"
            f"{cam_sql}", (h.end_us, h.start_us, *args),
        ).fetchone()[0]
    return int(total)


def footage_capacity(cfg: EdgeConfig, vol: Volume, store_bytes: int) -> int:
    r = cfg.retention
    other = max(0, vol.used - store_bytes)  # index, logs, anything else on the volume
    cap = min(r.high_watermark * vol.total, vol.total - cfg.storage.reserve_bytes) - other
    if r.max_bytes is not None:
        cap = min(cap, r.high_watermark * r.max_bytes)
    return max(0, int(cap))


def forecast(cfg: EdgeConfig, vol: Volume, store_bytes: int, measured: dict[str, float],
             held: int = 0) -> Forecast:
    rates: dict[str, float] = {}
    is_measured: dict[str, bool] = {}
    for cam in cfg.cameras:
        if not cam.enabled:
            continue
        is_measured[cam.id] = cam.id in measured
        rates[cam.id] = measured.get(cam.id, cam.expected_bitrate / 8)
    per_day = sum(rates.values()) * 86_400
    cap = footage_capacity(cfg, vol, store_bytes)
    days = cap / per_day if per_day > 0 else math.inf
    r = cfg.retention
    wanted = r.min_days + r.forecast_margin_days
    return Forecast(
        rates=rates, measured=is_measured, bytes_per_day=per_day, capacity_bytes=cap, forecast_days=days,
        wanted_days=wanted, needed_bytes=int(per_day * wanted), floor_needed_bytes=int(per_day * r.min_days),
        floor_available_bytes=max(0, cap - held), held_bytes=held,
    )


def days_between(first_us: int | None, last_us: int | None) -> float:
    if first_us is None or last_us is None:
        return 0.0
    return max(0, last_us - first_us) / DAY_US


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def check_forecast_lines(cfg: EdgeConfig) -> list[str]:
    """What `edge check` prints: the forecast for this config, from measured rates when the store
    exists and has them, from each camera's expected_bitrate otherwise. Creates nothing."""
    from storage.diskspace import volume_of
    from storage.layout import Layout

    layout = Layout(cfg.storage.root)
    vol = volume_of(layout.root)
    measured: dict[str, float] = {}
    store_bytes = 0
    if layout.index_path.exists():
        import time

        index = Index(layout.index_path)
        try:
            now = time.time_ns() // 1000
            measured = measured_rates(index, now, cfg.retention.rate_window_hours)
            store_bytes = int(index.reader().execute(
                "SELECT coalesce(sum(bytes), 0) FROM segments WHERE state='stored'").fetchone()[0])
        finally:
            index.close()
    fc = forecast(cfg, vol, store_bytes, measured)
    r = cfg.retention
    n_measured = sum(fc.measured.values())
    source = (f"measured over {r.rate_window_hours:g} h for {n_measured} of {len(fc.rates)} camera(s),"
              " expected_bitrate for the rest") if n_measured else "from expected_bitrate (nothing measured yet)"
    quota = f", quota {_mb(r.max_bytes)}" if r.max_bytes is not None else ""
    days = "unlimited (no camera enabled)" if math.isinf(fc.forecast_days) else f"{fc.forecast_days:.1f} days"
    verdict = ("OK" if fc.ok else
               f"WARNING: under min_days + forecast_margin_days = {fc.wanted_days:g} days; needs"
               f" {_mb(fc.needed_bytes)}, has {_mb(fc.capacity_bytes)}")
    if not fc.floor_ok:
        verdict = f"RISK: cannot hold min_days = {r.min_days:g} days (Art. 19(8)); " + verdict
    return [
        f"capacity: volume {_mb(vol.total)} ({_mb(vol.free)} free){quota}, reserve {_mb(cfg.storage.reserve_bytes)};"
        f" footage may use {_mb(fc.capacity_bytes)}",
        f"  rates: {_mb(fc.bytes_per_day)}/day, {source}",
        f"  forecast: {days} of footage: {verdict}",
    ]
