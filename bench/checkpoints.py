"""Cost of signed checkpoints (issue 13): CPU per checkpoint and bytes per day, for 64 cameras.

The baseline is the segment close the box does anyway (one `add_segment` commit): a checkpoint
is compared with it. Bytes: the checkpoint row (body + signature) plus a TSA token of the size
`openssl ts -reply` makes (measured when openssl is present), at one checkpoint per 300 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench.common import emit, log, machine  # noqa: E402
from storage import checkpoints  # noqa: E402
from storage.index import Index, NewSegment  # noqa: E402
from storage.signing import load_or_create  # noqa: E402

CAMERAS = 64
SEGMENTS = 200  # per camera before measuring
RUNS = 100
INTERVAL_S = 300


def token_bytes(tmp: Path) -> int | None:
    try:
        from tsa_fixture import TsaServer, make_tsa_pki

        from storage.tsa import build_request
    except ImportError:
        return None
    d = tmp / "tsa"
    d.mkdir()
    make_tsa_pki(d)
    server = TsaServer("", d, d / "ca.pem", d / "tsa.pem")
    return len(server.reply(build_request(b"x" * 5000).der))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer runs")
    ap.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = ap.parse_args()
    runs = 20 if args.quick else RUNS
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        index = Index(tmp / "index.sqlite3")
        key = load_or_create(tmp / "keys")
        log(f"filling {CAMERAS} cameras x {SEGMENTS} segments")
        now = 1_800_000_000_000_000
        for i in range(SEGMENTS):
            for c in range(CAMERAS):
                index.add_segment(NewSegment(f"cam-{c:02d}", now + i * 60_000_000, now + (i + 1) * 60_000_000,
                                             f"segments/cam-{c:02d}/{i}.mp4", 30_000_000, 1500, "h264", 1920, 1080,
                                             "ab" * 32), now)
        cpu0 = time.process_time()
        for r in range(runs):
            index.add_segment(NewSegment("cam-00", now + (SEGMENTS + r) * 60_000_000, now + (SEGMENTS + r + 1)
                                         * 60_000_000, f"x/{r}.mp4", 30_000_000, 1500, "h264", 1920, 1080, "cd" * 32),
                              now)
        seg_cpu_ms = (time.process_time() - cpu0) / runs * 1000
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for r in range(runs):
            cp = checkpoints.make_checkpoint(index, key, "box-7", now + r)
        cp_cpu_ms = (time.process_time() - cpu0) / runs * 1000
        cp_wall_ms = (time.perf_counter() - wall0) / runs * 1000
        cpu0 = time.process_time()
        for _ in range(runs):
            assert cp.signature_ok(key.public)
        verify_ms = (time.process_time() - cpu0) / runs * 1000
        body = len(cp.body.encode())
        sig = len(cp.signature)
        tok = token_bytes(tmp)
        index.close()
    per_day = 86_400 // INTERVAL_S
    row = body + sig + (tok or 0)
    emit("checkpoints", {
        "machine": machine(),
        "setup": {"cameras": CAMERAS, "segments_per_camera": SEGMENTS, "runs": runs, "interval_s": INTERVAL_S},
        "baseline": {"segment_close_cpu_ms": round(seg_cpu_ms, 3)},
        "checkpoint": {"cpu_ms": round(cp_cpu_ms, 3), "wall_ms": round(cp_wall_ms, 3),
                       "vs_segment_close": round(cp_cpu_ms / seg_cpu_ms, 2) if seg_cpu_ms else None,
                       "signature_verify_cpu_ms": round(verify_ms, 3),
                       "body_bytes": body, "signature_b64_bytes": sig, "tsa_token_bytes": tok},
        "per_day": {"checkpoints": per_day, "bytes": per_day * row,
                    "cpu_seconds": round(per_day * cp_cpu_ms / 1000, 3)},
    }, args.out)


if __name__ == "__main__":
    main()
