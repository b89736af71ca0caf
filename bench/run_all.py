"""Run every benchmark (`make bench`), each as its own process, then print a summary.

Each benchmark writes `bench/results/<name>.json`; this prints the headline figures and which
goals were met. Exit status is non-zero only when a benchmark failed to run (a missed goal is a
finding, not a failure).

Usage: bench/run_all.py [--quick] [--only ingest,index,export] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, RESULTS, ROOT, log  # noqa: E402

BENCHMARKS = ("ingest", "index", "export")


def run(name: str, quick: bool, out: Path) -> dict[str, Any] | None:
    cmd = [PYTHON, str(ROOT / "bench" / f"{name}.py"), "--out", str(out)] + (["--quick"] if quick else [])
    log(f"running {' '.join(cmd[1:])}")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    log(f"{name}: exit {proc.returncode} after {time.monotonic() - t0:.0f} s")
    if proc.returncode != 0:
        return None
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        log(f"{name}: stdout is not one JSON object")
        return None
    return result


def lines_ingest(r: dict[str, Any]) -> list[str]:
    out = []
    for run in r["runs"]:
        e, f = run["edge"], run.get("ffmpeg")
        line = (f"  K={run['streams']:>3}: edge {e['cpu_percent_of_core_per_stream']:.2f}% core/stream, "
                f"RSS {e['peak_rss_mb']:.0f} MB, lost {e['packets_lost']}")
        if f is not None:
            rr = run["ratios_edge_over_ffmpeg"]
            line += (f" | ffmpeg {f['cpu_percent_of_core_per_stream']:.2f}%, RSS {f['peak_rss_mb']:.0f} MB, "
                     f"lost {f['packets_lost']} | edge/ffmpeg CPU {rr['cpu']}, RSS {rr['peak_rss']}, PSS {rr['pss']}"
                     f" | goals {run['goals_met']}")
        out.append(line)
    if "find_max" in r:
        out.append(f"  largest K without loss (edge): {r['find_max']['largest_without_loss']}")
    return out


def lines_index(r: dict[str, Any]) -> list[str]:
    out = []
    for label, s in (("store", r["store"]), ("baseline", r["baseline"])):
        out.append(f"  {label} {s['synth']['rows']} rows: startup {s['startup']['total_s']:.2f} s,"
                   f" sweep(1 day) {s['sweep']['seconds']:.2f} s ({s['sweep']['deleted']} segments),"
                   f" 1 h lookup p99 {s['range_lookup']['p99_ms']:.2f} ms,"
                   f" status p50/p99 {s['status']['p50_ms']:.1f}/{s['status']['p99_ms']:.1f} ms")
    out.append(f"  ratios store/baseline {r['ratios_store_over_baseline']}")
    out.append(f"  goals {r['goals_met']}")
    return out


def lines_export(r: dict[str, Any]) -> list[str]:
    e, f = r["edge"], r["ffmpeg"]
    ff = f"ffmpeg concat {f['x_realtime_median']}x" if f else "no ffmpeg run"
    return [f"  {r['setup']['footage_s']:.0f} s of footage: edge {e['x_realtime_median']}x real time, {ff}"
            f" (edge/ffmpeg {r['ratios_edge_over_ffmpeg']['throughput_median']}) | goals {r['goals_met']}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="each benchmark in its quick mode")
    ap.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = {n: run(n, args.quick, args.out) for n in names}
    print("\n== edge benchmarks" + (" (quick)" if args.quick else "") + " ==")
    fmt = {"ingest": lines_ingest, "index": lines_index, "export": lines_export}
    for n, r in results.items():
        print(f"{n}:")
        print("\n".join(fmt[n](r)) if r is not None else "  FAILED (see the log above)")
    print(f"results in {args.out}")
    return 0 if all(r is not None for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
