"""Finding 2: on a small volume (16 MB, reserve 1 MiB) recording resumes once space is freed by hand.

The resume guard is what all cameras write in a few seconds at their measured rates. Measured on
the last segment alone, the short segment cut at the pause read far above the real rate, and the
guard outgrew anything a small volume can ever free. Rates now come from a window of segments.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import base_sections, camera, wait_for, write_config

from capture.sim.simulator import Simulator
from edge.cli.wiring import build_daemon
from edge.config import load_config
from storage.clock import OffsetClock
from storage.store import SegmentStore
from storage.verify import verify_store

MB = 1 << 20
#: ~2 Mbit/s per camera: a guard of about a MiB; 16 MB hold a few seconds of both cameras.
MODERATE = {"kind": "black", "width": 640, "height": 360, "bitrate": 2_000_000, "seconds": 4.0}


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a 16 MB tmpfs needs root")
    mnt = tmp_path / "vol"
    mnt.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True,
                         text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_recording_resumes_after_space_is_freed_by_hand_on_a_16_mb_volume(
        small_volume: Path, tmp_path: Path, clip: Callable[..., Path],
        simulator: Callable[..., Simulator]) -> None:
    root = small_volume / "store"
    src = clip(seed=5, **MODERATE)
    sim = simulator({"c1": src, "c2": src})
    sections = base_sections(root, segment_seconds=2.0, storage={"reserve_bytes": MB},
                             retention={"sweep_interval": 1.0})
    sections["api"] = {"enabled": False}
    sections["health"] = {"enabled": False}
    sections["clock"] = {"sync_check": False}
    cams = [camera(f"gate-{i}", sim.url(f"c{i}"), expected_bitrate=2_000_000, record_audio=False) for i in (1, 2)]
    cfg = load_config(write_config(tmp_path / "edge.toml", sections, cams))
    # What an engineer frees by hand later: 6.7 MB of something else on the volume.
    filler = small_volume / "filler"
    filler.write_bytes(b"\1" * int(6.7 * MB))
    d = build_daemon(cfg, OffsetClock())
    d.start()
    try:
        wait_for(lambda: all(w.paused_reason == "disk_full" for w in d.fleet.workers.values()), 60, 0.1,
                 "both cameras paused on a full volume")
        counts = {c: len(list(d.box.store.index.chain_of(c))) for c in d.fleet.workers}
        guard = d.retention.guard()
        rates = {c: w.status.bitrate for c, w in d.fleet.workers.items()}
        # The measured rates stay near the real ~2 Mbit/s, not the rate of the short cut segment.
        assert all(r < 6_000_000 for r in rates.values()), rates
        filler.unlink()
        wait_for(lambda: all(w.paused_reason is None for w in d.fleet.workers.values()), 20, 0.2,
                 f"recording to resume after 6.7 MB were freed (guard {guard} bytes, rates {rates})")
        wait_for(lambda: all(len(list(d.box.store.index.chain_of(c))) > counts[c] for c in d.fleet.workers), 30, 0.2,
                 "new segments after the resume")
    finally:
        d.shutdown()
    store = SegmentStore(root, OffsetClock())
    try:
        report = verify_store(store)
        assert report.ok, report.problems
    finally:
        store.close()
