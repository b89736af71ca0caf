"""bench/offload.py still runs (its quick mode) and measures what it claims; no timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(240)
def test_offload_benchmark_runs(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "offload.py"), "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(proc.stdout)
    assert json.loads((tmp_path / "offload.json").read_text()) == r
    assert r["benchmark"] == "offload"
    assert r["edge"]["objects"] == r["baseline_plain_put"]["objects"] == r["objects"] == 5
    assert r["throughput_vs_baseline"] > 0 and r["planning"]["held_segments"] == 2000
