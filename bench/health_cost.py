"""CPU cost of image health per camera: decode one sampled keyframe, downscale, judge, snapshot.

Prints JSON: CPU ms per sample (thread CPU time, median of N) at 320x180 and 1080p sources, and
the share of one core per camera at the default interval (60 s) and at a 10 s interval.
Run: .venv/bin/python bench/health_cost.py [--samples 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture import image_checks as health  # noqa: E402
from capture.sampler import Sample, decode  # noqa: E402
from capture.sim.clips import make_clip  # noqa: E402
from edge.monitor.references import PICTURE_WIDTH  # noqa: E402


def keyframes(path: Path) -> list[Sample]:
    out = []
    with av.open(str(path), format="h264") as c:
        v = c.streams.video[0]
        ctx = v.codec_context
        for p in c.demux(v):
            if p.size and p.is_keyframe:
                out.append(Sample("bench", bytes(p), ctx.name, bytes(ctx.extradata) if ctx.extradata else None,
                                  ctx.width, ctx.height, p.pts, time.monotonic(), 0))
    return out


def measure(width: int, height: int, n: int, clip_dir: Path) -> dict[str, float]:
    clip = make_clip(clip_dir, "normal", width=width, height=height, fps=25, gop=25, seconds=8.0, seed=7)
    samples = keyframes(clip)
    t = health.Thresholds()
    w, h = health.analysis_size(width, height, PICTURE_WIDTH)
    ref = health.Reference(health.to_grey(decode(samples[0], w, h, "bgr24")))
    prev = None
    parts: dict[str, list[float]] = {"decode": [], "judge": [], "snapshot": [], "total": []}
    for i in range(n):
        s = samples[1 + i % (len(samples) - 1)]
        t0 = time.thread_time()
        pic = decode(s, w, h, "bgr24")
        t1 = time.thread_time()
        grey = health.to_grey(pic)
        health.evaluate(grey, t, ref, prev)
        prev = grey
        t2 = time.thread_time()
        cv2.imencode(".jpg", pic, [cv2.IMWRITE_JPEG_QUALITY, 80])
        t3 = time.thread_time()
        for k, v in (("decode", t1 - t0), ("judge", t2 - t1), ("snapshot", t3 - t2), ("total", t3 - t0)):
            parts[k].append(v * 1000)
    med = {f"{k}_ms": round(statistics.median(v), 2) for k, v in parts.items()}
    total = statistics.median(parts["total"])
    med["core_percent_at_60s"] = round(total / 60_000 * 100, 4)
    med["core_percent_at_10s"] = round(total / 10_000 * 100, 4)
    return med


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=40)
    ns = ap.parse_args()
    cv2.setNumThreads(1)  # per-sample cost on one core, as the health thread runs it
    with tempfile.TemporaryDirectory() as tmp:
        result = {f"{w}x{h}": measure(w, h, ns.samples, Path(tmp)) for w, h in ((320, 180), (1920, 1080))}
    print(json.dumps({"health_cost_per_sample": result, "samples": ns.samples}, indent=2))


if __name__ == "__main__":
    main()
