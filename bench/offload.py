"""Evidence offload throughput and planning cost, against moto's S3 server on loopback.

Prints JSON: the offload service copying N held segments (SHA-256, Object Lock, checksum header,
HEAD verification, register entry, queue update) vs. a plain boto3 `put_object` loop of the same
files to the same server (the baseline), as MB/s and the ratio; and the steady-state cost of
planning a hold that covers many already-queued segments (a read on the offload thread).
Run: .venv/bin/python bench/offload.py [--segments 40] [--mb 2] [--held 40000] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, machine, ratio  # noqa: E402
from capture.sim.simulator import free_port  # noqa: E402
from edge.config import parse_config  # noqa: E402
from edge.monitor.alarms import AlarmCenter  # noqa: E402
from edge.offload.queue import OffloadQueue  # noqa: E402
from edge.offload.service import OffloadService  # noqa: E402
from edge.offload.sources import TableCheckpoints  # noqa: E402
from storage.clock import OffsetClock  # noqa: E402
from storage.holds import HoldStore  # noqa: E402
from storage.index import NewSegment  # noqa: E402
from storage.register import AccessRegister  # noqa: E402
from storage.store import SegmentStore  # noqa: E402

MIN = 60_000_000


def moto_server() -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/moto-api/", timeout=1.0)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start")


def client(url: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=url, aws_access_key_id="k", aws_secret_access_key="s",
                        region_name="us-east-1")


def segments(store: SegmentStore, n: int, size: int) -> list[Any]:
    start = store.clock.now_us() - (n + 1) * MIN
    out = []
    for i in range(n):
        path = store.layout.segment_path("gate", start + i * MIN)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(size)
        path.write_bytes(data)
        out.append(store.index.add_segment(NewSegment("gate", start + i * MIN, start + (i + 1) * MIN,
                                                      store.layout.relative(path), size, 1, "h264", 1, 1,
                                                      hashlib.sha256(data).hexdigest()), store.clock.now_us()))
    return out


def offload_run(root: Path, url: str, n: int, size: int) -> dict[str, Any]:
    secret = root.parent / "secret"
    secret.write_text("s")
    cfg = parse_config({"box": {"id": "bench"}, "storage": {"root": str(root)}, "api": {"enabled": False},
                        "offload": {"enabled": True, "endpoint_url": url, "bucket": "bench-offload",
                                    "access_key_id": "k", "secret_access_key_file": str(secret)},
                        "cameras": []})
    clock = OffsetClock()
    store = SegmentStore(root, clock)
    try:
        segs = segments(store, n, size)
        holds = HoldStore(store.index, clock, cfg.retention.hold_days)
        holds.create("gate", segs[0].start_us, segs[-1].end_us, "bench", "B-1", "bench")
        svc = OffloadService(cfg, store.index, root, clock, AccessRegister(store.index, clock),
                             AlarmCenter(store.index, clock), holds.list, list, TableCheckpoints(store.index),
                             store.pinned)
        t0, c0 = time.monotonic(), time.thread_time()
        svc.tick()
        wall, cpu = time.monotonic() - t0, time.thread_time() - c0
        done = svc.queue.summary(clock.now_us())["uploaded_objects"]
        assert done == n, f"{done} of {n} uploaded"
        return {"seconds": round(wall, 3), "mb_per_s": round(n * size / 1e6 / wall, 2),
                "cpu_seconds": round(cpu, 3), "objects": done}
    finally:
        store.close()


def baseline_run(root: Path, url: str) -> dict[str, Any]:
    s3 = client(url)
    s3.create_bucket(Bucket="bench-plain")
    files = sorted((root / "segments").rglob("*.mp4"))
    t0 = time.monotonic()
    for f in files:
        with open(f, "rb") as body:
            s3.put_object(Bucket="bench-plain", Key=f.name, Body=body)
    wall = time.monotonic() - t0
    total = sum(f.stat().st_size for f in files)
    return {"seconds": round(wall, 3), "mb_per_s": round(total / 1e6 / wall, 2), "objects": len(files)}


def planning_cost(root: Path, held: int) -> dict[str, Any]:
    clock = OffsetClock()
    store = SegmentStore(root, clock)
    try:
        now = clock.now_us()
        t0 = now - (held + 1) * MIN
        with store.index.write() as c:
            c.executemany(
                "INSERT INTO segments (camera, seq, start_us, end_us, path, bytes, packets, codec, width, height,"
                " sha256, chain, created_us) VALUES ('gate', ?, ?, ?, ?, 1, 1, 'h264', 1, 1, '00', '00', ?)",
                [(i, t0 + i * MIN, t0 + (i + 1) * MIN, f"segments/gate/d/{i}.mp4", now) for i in range(held)])
        q = OffloadQueue(store.index)
        t = time.perf_counter()
        q.add_segments_of_hold(None, t0, now, now + 10**12, "bench/", now)
        first = time.perf_counter() - t
        steady = []
        for _ in range(3):
            t = time.perf_counter()
            q.add_segments_of_hold(None, t0, now, now + 10**12, "bench/", now)
            steady.append(time.perf_counter() - t)
        return {"held_segments": held, "first_plan_seconds": round(first, 3),
                "steady_plan_seconds": round(min(steady), 3), "steady_plan_takes_write_lock": False}
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=40)
    ap.add_argument("--mb", type=float, default=2.0)
    ap.add_argument("--held", type=int, default=40_000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ns = ap.parse_args()
    n, size, held = (5, 256 * 1024, 2000) if ns.quick else (ns.segments, int(ns.mb * 1e6), ns.held)
    proc, url = moto_server()
    try:
        client(url).create_bucket(Bucket="bench-offload", ObjectLockEnabledForBucket=True)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "store"
            log(f"offload of {n} x {size} bytes")
            edge = offload_run(root, url, n, size)
            log("baseline: plain put_object of the same files")
            base = baseline_run(root, url)
            log(f"planning a hold over {held} queued segments")
            plan = planning_cost(Path(tmp) / "plan", held)
    finally:
        proc.terminate()
        proc.wait(10)
    emit("offload", {"benchmark": "offload", "machine": machine(), "objects": n, "object_bytes": size,
                     "edge": edge, "baseline_plain_put": base,
                     "throughput_vs_baseline": ratio(edge["mb_per_s"], base["mb_per_s"]), "planning": plan},
         ns.out)


if __name__ == "__main__":
    main()
