"""Finding 3: a camera that never finishes its handshake (while always sending something) gets an
overall connect+handshake deadline: a `timeout` gap, the `offline` alarm, reconnects with backoff,
and the other cameras record on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faulty_rtsp import FaultyCamera
from helpers import base_sections, camera, wait_for, write_config

from capture.sim.simulator import Simulator
from capture.state import CameraState
from edge.cli.wiring import build_daemon
from edge.config import load_config
from storage.clock import OffsetClock


@pytest.fixture
def faulty() -> Iterator[Callable[[str], FaultyCamera]]:
    made: list[FaultyCamera] = []

    def make(mode: str) -> FaultyCamera:
        cam = FaultyCamera(mode)
        made.append(cam)
        return cam

    yield make
    for cam in made:
        cam.stop()


def test_cameras_that_never_finish_the_handshake_time_out_alarm_and_reconnect(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        faulty: Callable[[str], FaultyCamera]) -> None:
    sim = simulator({"cam1": clip(seed=4)})
    endless, huge = faulty("endless_header"), faulty("huge_sdp")
    sections = base_sections(tmp_path / "store", segment_seconds=1.0, clock={"sync_check": False})
    sections["api"] = {"enabled": False}
    bad = {"stall_timeout": 1.0, "handshake_timeout": 2.0, "reconnect_initial": 0.2, "reconnect_max": 1.0}
    cams = [camera("good", sim.url("cam1")), camera("endless", endless.url, **bad),
            camera("huge-sdp", huge.url, **bad)]
    cfg = load_config(write_config(tmp_path / "edge.toml", sections, cams))
    d = build_daemon(cfg, OffsetClock())
    t0 = time.monotonic()
    d.start()
    try:
        for cam in ("endless", "huge-sdp"):
            gap = wait_for(lambda c=cam: next((g for g in d.box.store.index.gaps(c)  # type: ignore[misc]
                                               if g.reason in ("timeout", "bad_data")), None),
                           30, 0.1, f"a timeout gap on {cam}")
            assert "handshake" in gap.detail or gap.reason == "bad_data", gap
        for cam in ("endless", "huge-sdp"):
            wait_for(lambda c=cam: d.box.alarms.is_active("offline", c), 40, 0.2,  # type: ignore[misc]
                     f"the offline alarm on {cam}")
            assert d.fleet.workers[cam].status.state is CameraState.OFFLINE
        elapsed = time.monotonic() - t0
        assert elapsed < 40, f"took {elapsed:.1f} s"
        # Reconnects with backoff, i.e. several connections, not one hung for good.
        assert endless.connections >= 3 and huge.connections >= 3
        assert d.fleet.workers["good"].status.state is CameraState.RECORDING
        assert len(list(d.box.store.index.chain_of("good"))) >= 2
    finally:
        d.shutdown()
