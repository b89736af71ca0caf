"""Index at scale: 30 days x 64 cameras of 60 s segments (2.76 M rows) against a small baseline.

The rows are written straight into SQLite through the schema of `storage/index.py` (a real
`SegmentStore` creates the file, then one bulk connection inserts in big transactions with the
secondary indexes dropped and rebuilt afterwards). Chain values are the real ones
(`storage.chain.segment_link` over the rows in order); the SHA-256 column is synthetic (a
counter) and no media exists: the day directories do, and two days' segments are present as
(hard links to one) empty file: the oldest day (so the retention sweep unlinks real files) and
the newest day (the one that startup recovery lists and checks against the index).

Measured on the big store and on a BASELINE store built the same way with `--baseline-days`
(default 2) days, so the ratios show how each operation grows with history (flat is the goal):
- startup: `SegmentStore(...)` + `storage.recovery.recover(...)` (index open + recovery check), and
  the whole in-process `Daemon.start()` up to a listening API (adds the services' first loads);
- range lookup: `Index.segments_in_range` of one hour, random camera and hour (p50/p99);
- status: `GET /api/v1/status` over real HTTP (uvicorn) on an in-process `Daemon` with a monitor
  token (p50/p99);
- sweep: one `RetentionEngine.sweep()` (storage/retention.py) with the clock moved
  (`OffsetClock`) so that exactly the oldest day is past `max_days` (= the 30-day floor).
Also reported: plain SQLite `SELECT count(*) FROM segments` on each store, as a machine-speed reference.

Usage: bench/index.py [--days 30] [--cameras 64] [--baseline-days 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import emit, log, machine, ratio, summary_ms  # noqa: E402
from edge import legal  # noqa: E402
from storage.chain import GENESIS, segment_link  # noqa: E402
from storage.clock import DAY_US, OffsetClock  # noqa: E402
from storage.layout import SEGMENT_SUFFIX, Layout, day_name, segment_stem  # noqa: E402

SEGMENT_US = 60_000_000
SEGMENT_BYTES = 22_500_000  # 60 s at 3 Mbit/s
GOALS = {"startup_s": 3.0, "sweep_one_day_s": 2.0, "range_lookup_ms": 10.0, "status_p99_ms": 50.0}


def camera_ids(n: int) -> list[str]:
    return [f"cam-{i + 1:02d}" for i in range(n)]


def synthesize(root: Path, days: float, cameras: list[str], end_us: int) -> dict[str, Any]:
    """Write `days` of 60 s segments per camera ending at `end_us`; returns counts and timings."""
    from storage.store import SegmentStore
    from storage.totals import StoreTotals

    t0 = time.perf_counter()
    store = SegmentStore(root, OffsetClock())
    StoreTotals(store.index)  # its partial indexes are part of the real schema too
    store.close()
    layout = Layout(root)
    per_cam = int(days * DAY_US // SEGMENT_US)
    start0 = end_us - per_cam * SEGMENT_US
    first_day_end = start0 + DAY_US
    # Recovery lists the day directories from each camera's last segment on: those files exist too.
    last_start = start0 + (per_cam - 1) * SEGMENT_US
    last_day = last_start - last_start % DAY_US
    con = sqlite3.connect(layout.index_path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")
    # Build the secondary indexes once at the end (a sort) instead of row by row.
    idx = con.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='segments'"
                      " AND sql IS NOT NULL").fetchall()
    for name, _ in idx:
        con.execute(f'DROP INDEX "{name}"')
    chains = dict.fromkeys(cameras, GENESIS)
    rng = random.Random(7)
    sql = ("INSERT INTO segments (camera, seq, start_us, end_us, path, bytes, packets, codec, width, height,"
           " sha256, chain, origin, state, created_us) VALUES (?, ?, ?, ?, ?, ?, 1500, 'h264', 1920, 1080, ?, ?,"
           " 'recorded', 'stored', ?)")
    files: list[str] = []
    batch: list[tuple[object, ...]] = []
    # The layout's own names, built once per start time (pathlib per row would dominate the run).
    probe = layout.relative(layout.segment_path(cameras[0], start0))
    assert probe == f"segments/{cameras[0]}/{day_name(start0)}/{segment_stem(start0)}{SEGMENT_SUFFIX}", probe
    con.execute("BEGIN")
    for seq in range(per_cam):
        start = start0 + seq * SEGMENT_US
        end = start + SEGMENT_US
        tail = f"/{day_name(start)}/{segment_stem(start)}{SEGMENT_SUFFIX}"
        keep_file = end <= first_day_end or start >= last_day
        for ci, cam in enumerate(cameras):
            size = SEGMENT_BYTES + rng.randrange(-500_000, 500_000)
            sha = f"{ci:08x}{seq:056x}"
            chain = segment_link(chains[cam], sha, cam, start, end, size)
            chains[cam] = chain
            rel = f"segments/{cam}{tail}"
            batch.append((cam, seq, start, end, rel, size, sha, chain, end))
            if keep_file:
                files.append(rel)
        if len(batch) >= 50_000:
            con.executemany(sql, batch)
            batch.clear()
    con.executemany(sql, batch)
    con.execute("COMMIT")
    t_rows = time.perf_counter() - t0
    for _, ddl in idx:
        con.execute(ddl)
    con.execute("ANALYZE")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    t_idx = time.perf_counter() - t0 - t_rows
    # Day directories for every day; empty files for the day the sweep deletes.
    for cam in cameras:
        day = start0 - start0 % DAY_US
        while day < end_us:
            layout.segment_path(cam, day).parent.mkdir(parents=True, exist_ok=True)
            day += DAY_US
    # Hard links to one empty file: creating an inode costs ~3 ms on this kind of volume, a link
    # ~80 us, and recovery (listing) and the sweep (unlink) see ordinary directory entries either way.
    blank = root / "blank.tmp-bench"
    for i, rel in enumerate(files):
        if i % 50_000 == 0:  # ext4 allows 65 000 links to one inode
            blank.unlink(missing_ok=True)
            os.close(os.open(blank, os.O_WRONLY | os.O_CREAT, 0o640))
        os.link(blank, os.path.join(root, rel))
    blank.unlink(missing_ok=True)
    return {"rows": per_cam * len(cameras), "segments_per_camera": per_cam, "files": len(files),
            "seconds": round(time.perf_counter() - t0, 1), "insert_s": round(t_rows, 1),
            "build_indexes_s": round(t_idx, 1), "db_mb": round(layout.index_path.stat().st_size / 2**20, 1)}


def measure_count(root: Path) -> float:
    con = sqlite3.connect(f"file:{Layout(root).index_path}?mode=ro", uri=True)
    try:
        t0 = time.perf_counter()
        con.execute("SELECT count(*) FROM segments").fetchone()
        return time.perf_counter() - t0
    finally:
        con.close()


def measure_startup(root: Path, cameras: list[str]) -> dict[str, Any]:
    from storage.recovery import recover
    from storage.store import SegmentStore

    t0 = time.perf_counter()
    store = SegmentStore(root, OffsetClock())
    t_open = time.perf_counter() - t0
    report = recover(store, cameras)
    total = time.perf_counter() - t0
    store.close()
    return {"open_s": round(t_open, 4), "recover_s": round(total - t_open, 4), "total_s": round(total, 4),
            "recovery_actions": report.recovered + report.adopted + report.quarantined + report.swept}


def measure_lookups(root: Path, cameras: list[str], end_us: int, days: float, n: int) -> dict[str, Any]:
    from storage.index import Index

    index = Index(Layout(root).index_path)
    rng = random.Random(11)
    samples: list[float] = []
    found = 0
    span_h = int(days * 24) - 1
    try:
        for _ in range(n):
            cam = rng.choice(cameras)
            start = end_us - (rng.randrange(span_h) + 1) * 3_600_000_000
            t0 = time.perf_counter()
            rows = index.segments_in_range(cam, start, start + 3_600_000_000)
            samples.append(time.perf_counter() - t0)
            found += len(rows)
    finally:
        index.close()
    out: dict[str, Any] = summary_ms(samples)
    out["segments_per_lookup"] = round(found / n, 1)
    return out


def daemon_config(root: Path, cameras: list[str]) -> Any:
    from edge.config import parse_config

    # Disabled cameras: no capture workers (nothing to connect to), yet every one is in the status.
    return parse_config({
        "storage": {"root": str(root), "segment_seconds": 60},
        "api": {"host": "127.0.0.1", "port": 0},
        "cameras": [{"id": c, "url": "rtsp://127.0.0.1:9/none", "site_category": "street", "enabled": False}
                    for c in cameras],
    })


def measure_status(root: Path, cameras: list[str], n: int, budget_s: float) -> dict[str, Any]:
    from edge.access.users import Role
    from edge.cli.wiring import api_port, build_daemon
    cfg = daemon_config(root, cameras)
    t0 = time.perf_counter()
    d = build_daemon(cfg, OffsetClock())
    d.start()
    deadline = time.monotonic() + 30
    while api_port(d) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.01)
    start_s = time.perf_counter() - t0
    try:
        _, token = d.box.users.add("bench-monitor", Role.MONITOR, "BENCH-1")
        samples: list[float] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port(d)}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=900) as client:
            t1 = time.perf_counter()
            r = client.get("/api/v1/status")  # warm-up: first-request imports, caches
            r.raise_for_status()
            first = time.perf_counter() - t1
            cams = len(r.json().get("cameras", []))
            # At least 10 samples, unless each takes seconds (then 3 tell the story).
            least = 10 if first * 10 < budget_s else 3
            end = time.monotonic() + budget_s
            while len(samples) < n and (len(samples) < least or time.monotonic() < end):
                t1 = time.perf_counter()
                client.get("/api/v1/status").raise_for_status()
                samples.append(time.perf_counter() - t1)
    finally:
        d.request_stop()
        d.shutdown()
    out: dict[str, Any] = summary_ms(samples)
    out["cameras_in_document"] = cams
    out["first_request_ms"] = round(first * 1000, 1)
    out["daemon_start_s"] = round(start_s, 3)
    return out


def measure_sweep(root: Path, days: float, end_us: int) -> dict[str, Any]:
    from edge.config_sections import RetentionConfig
    from storage.holds import HoldStore
    from storage.register import AccessRegister
    from storage.retention import RetentionEngine
    from storage.store import SegmentStore

    # Move the clock so the oldest day (only) is past max_days = the legal floor. Anchored on the
    # store's synthesized end, not on the time now: the phases before may take minutes on a busy box.
    target_us = end_us + int((legal.MIN_RETENTION_DAYS - days + 1) * DAY_US)
    clock = OffsetClock(target_us - time.time_ns() // 1000)
    cfg = RetentionConfig(max_days=legal.MIN_RETENTION_DAYS)
    store = SegmentStore(root, clock)
    try:
        engine = RetentionEngine(store, HoldStore(store.index, clock, cfg.hold_days),
                                 AccessRegister(store.index, clock), cfg, clock=clock)
        t0 = time.perf_counter()
        res = engine.sweep()
        took = time.perf_counter() - t0
    finally:
        store.close()
    return {"seconds": round(took, 3), "deleted": res.deleted, "stopped": res.stopped,
            "freed_gb": round(res.freed_bytes / 1e9, 1)}


def run_store(label: str, days: float, cameras: list[str], lookups: int, status_n: int,
              status_budget: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"edge-bench-index-{label}-") as tmp:
        root = Path(tmp) / "store"
        end_us = time.time_ns() // 1000 // SEGMENT_US * SEGMENT_US
        log(f"{label}: synthesizing {days:g} days x {len(cameras)} cameras ...")
        out: dict[str, Any] = {"days": days, "cameras": len(cameras), "synth": synthesize(root, days, cameras, end_us)}
        log(f"{label}: {out['synth']}")
        out["count_star_ms"] = round(measure_count(root) * 1000, 3)
        out["startup"] = measure_startup(root, cameras)
        log(f"{label}: startup {out['startup']}")
        out["range_lookup"] = measure_lookups(root, cameras, end_us, days, lookups)
        log(f"{label}: range lookup {out['range_lookup']}")
        out["status"] = measure_status(root, cameras, status_n, status_budget)
        log(f"{label}: status {out['status']}")
        out["sweep"] = measure_sweep(root, days, end_us)
        log(f"{label}: sweep {out['sweep']}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--cameras", type=int, default=64)
    ap.add_argument("--baseline-days", type=float, default=2.0)
    ap.add_argument("--lookups", type=int, default=500)
    ap.add_argument("--status-requests", type=int, default=200)
    ap.add_argument("--status-budget", type=float, default=60.0,
                    help="stop sampling status after this many seconds (at least 10 requests)")
    ap.add_argument("--quick", action="store_true", help="2 days x 8 cameras against 1 day (seconds)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.days, args.cameras, args.baseline_days = 2.0, 8, 1.0
        args.lookups, args.status_requests, args.status_budget = 100, 30, 10.0
    if args.baseline_days >= args.days:
        ap.error("--baseline-days must be below --days")
    cams = camera_ids(args.cameras)
    big = run_store("store", args.days, cams, args.lookups, args.status_requests, args.status_budget)
    base = run_store("baseline", args.baseline_days, cams, args.lookups, args.status_requests, args.status_budget)

    def r(path: tuple[str, str]) -> float | None:
        return ratio(big[path[0]][path[1]], base[path[0]][path[1]])

    result = {
        "benchmark": "index", "machine": machine(),
        "setup": {"segment_seconds": SEGMENT_US // 1_000_000, "chain": "real storage.chain.segment_link",
                  "sha256": "synthetic counter",
 "files": "empty files for the oldest (swept) and newest (recovery-checked) day, others absent",
                  "baseline": f"the same measurements on a {args.baseline_days:g}-day store of the same cameras",
                  "status_daemon": "in-process Daemon, cameras configured but disabled (no capture)"},
        "goals": GOALS,
        "store": big, "baseline": base,
        "ratios_store_over_baseline": {
            "startup": r(("startup", "total_s")), "range_lookup_p50": r(("range_lookup", "p50_ms")),
            "status_p50": r(("status", "p50_ms")), "status_p99": r(("status", "p99_ms")),
            "sweep": r(("sweep", "seconds")), "count_star": ratio(big["count_star_ms"], base["count_star_ms"]),
        },
        "goals_met": {
            "startup_lt_3s": big["startup"]["total_s"] < GOALS["startup_s"],
            "sweep_lt_2s": big["sweep"]["seconds"] < GOALS["sweep_one_day_s"],
            "range_lookup_p99_lt_10ms": big["range_lookup"]["p99_ms"] < GOALS["range_lookup_ms"],
            "status_p99_lt_50ms": big["status"]["p99_ms"] < GOALS["status_p99_ms"],
        },
    }
    emit("index", result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
