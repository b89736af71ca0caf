"""Retention sweep cost against the size of the index: prints one JSON object.

Synthesizes 64 cameras of one-minute segment rows directly into SQLite (no media files: the sweep
unlinks with missing_ok), with the oldest day past the 30-day floor and the rest under it, then
times one sweep that deletes that whole day (64 x 1440 = 92,160 segments, two-phase, register
entries included) and one that has nothing to delete. Run at 100 k and 1 M rows: the times should
not grow with the total. Not a test; run `python bench/retention_sweep.py [--rows N ...] [--quick]`.
Prints one JSON object and writes it to bench/results/retention_sweep.json (see bench/README.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, machine  # noqa: E402
from edge.config_sections import RetentionConfig
from storage.clock import DAY_US, OffsetClock  # noqa: E402
from storage.holds import HoldStore  # noqa: E402
from storage.register import AccessRegister, Query  # noqa: E402
from storage.retention import RetentionEngine  # noqa: E402
from storage.store import SegmentStore  # noqa: E402
from storage.totals import StoreTotals  # noqa: E402

CAMERAS = 64
SEG_US = 60_000_000
PER_DAY = 1440


def synthesize(store: SegmentStore, rows: int, now_us: int) -> None:
    per_cam = rows // CAMERAS
    # The oldest day ends 31 days ago (past the floor); everything after it is younger than 30 days.
    first_start = now_us - 31 * DAY_US - PER_DAY * SEG_US
    young_start = now_us - 29 * DAY_US
    batch = []
    with store.index.write() as c:
        for cam in range(CAMERAS):
            camera = f"cam-{cam:02d}"
            for seq in range(per_cam):
                start = first_start + seq * SEG_US if seq < PER_DAY else young_start + (seq - PER_DAY) * SEG_US
                batch.append((camera, seq, start, start + SEG_US, f"segments/{camera}/x/{seq}.mp4", 1000, 1500,
                              "h264", 1920, 1080, f"{seq:064x}", f"{cam:032x}{seq:032x}", now_us))
                if len(batch) >= 50_000:
                    c.executemany(INSERT, batch)
                    batch.clear()
        if batch:
            c.executemany(INSERT, batch)


INSERT = ("INSERT INTO segments (camera, seq, start_us, end_us, path, bytes, packets, codec, width, height, sha256,"
          " chain, origin, state, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'recorded', 'stored', ?)")


def run(rows: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        clock = OffsetClock()
        store = SegmentStore(Path(tmp) / "store", clock)
        try:
            t = time.perf_counter()
            synthesize(store, rows, clock.now_us())
            insert_s = time.perf_counter() - t
            register = AccessRegister(store.index, clock)
            holds = HoldStore(store.index, clock, 730)
            # A few holds, as on a real box: checked in memory per candidate.
            for i in range(5):
                holds.create(f"cam-{i:02d}", 0, 1_000_000 * (i + 1), "bench", f"B-{i}", "bench")
            t = time.perf_counter()
            totals = StoreTotals(store.index)
            totals.load()
            load_s = time.perf_counter() - t
            engine = RetentionEngine(store, holds, register, RetentionConfig(), totals)
            t = time.perf_counter()
            res = engine.sweep(need_bytes=10**15)
            sweep_s = time.perf_counter() - t
            t = time.perf_counter()
            noop = engine.sweep(need_bytes=10**15)
            noop_s = time.perf_counter() - t
            t = time.perf_counter()
            for _ in range(100):
                totals.snapshot()
            snapshot_us = (time.perf_counter() - t) / 100 * 1e6
            plan = store.index.reader().execute(
                "EXPLAIN QUERY PLAN SELECT id FROM segments WHERE state='stored' AND (end_us, id) > (?, ?)"
                " ORDER BY end_us, id LIMIT 1000", (0, 0)).fetchall()
            return {
                "rows": rows, "insert_s": round(insert_s, 2), "totals_load_s": round(load_s, 3),
                "sweep_deleted": res.deleted, "sweep_stopped": res.stopped, "sweep_s": round(sweep_s, 3),
                "sweep_us_per_segment": round(sweep_s / max(res.deleted, 1) * 1e6, 1),
                "register_entries": len(register.query(Query(actions=["retention_delete"], limit=10_000))),
                "noop_sweep_ms": round(noop_s * 1e3, 2), "noop_stopped": noop.stopped,
                "status_snapshot_us": round(snapshot_us, 1), "query_plan": " | ".join(str(r[3]) for r in plan),
            }
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--quick", action="store_true", help="100 k against 200 k rows")
    ap.add_argument("--out", type=Path, default=None, help="directory for retention_sweep.json")
    ns = ap.parse_args(argv)
    rows = [100_000, 200_000] if ns.quick else ns.rows
    results = []
    for n in rows:
        log(f"retention_sweep: {n} rows")
        results.append(run(n))
    out: dict[str, object] = {"benchmark": "retention_sweep", "machine": machine(), "cameras": CAMERAS,
                              "segment_seconds": SEG_US / 1e6, "results": results}
    if len(results) >= 2:
        a, b = results[0], results[-1]
        out["sweep_time_ratio_largest_vs_smallest"] = round(float(b["sweep_s"]) / float(a["sweep_s"]), 2)  # type: ignore[arg-type]
    emit("retention_sweep", out, ns.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
