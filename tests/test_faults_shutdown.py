"""Finding 8: SIGTERM ends the process within 5 s even with camera workers hung in a handshake
or a read; what they had written is salvaged at the next start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from faulty_rtsp import FaultyCamera
from helpers import DaemonProcess, base_sections, camera, new_daemon, wait_for

from capture.sim.simulator import Simulator


def test_sigterm_within_5_s_with_hung_workers(tmp_path: Path, clip: Callable[..., Path],
                                              simulator: Callable[..., Simulator],
                                              daemons: list[DaemonProcess]) -> None:
    sim = simulator({"cam1": clip(seed=6)})
    hung = [FaultyCamera("endless_header"), FaultyCamera("huge_sdp")]
    try:
        sections = base_sections(tmp_path / "store", segment_seconds=2.0, clock={"sync_check": False})
        # Long deadlines: the workers are inside av.open when SIGTERM comes.
        slow = {"stall_timeout": 30.0, "handshake_timeout": 60.0}
        cams = [camera("good", sim.url("cam1")), camera("hung-1", hung[0].url, **slow),
                camera("hung-2", hung[1].url, **slow)]
        d = new_daemon(tmp_path, sections, cams)
        daemons.append(d)
        d.start()
        wait_for(lambda: all(h.connections >= 1 for h in hung), 20, 0.1, "both hung cameras connected")
        wait_for(lambda: list((tmp_path / "store" / "segments" / "good").rglob("*.mp4")), 30, 0.2,
                 "a segment of the good camera")
        rc, seconds = d.terminate(timeout=20)
        print(f"SIGTERM took {seconds:.2f} s")
        assert seconds < 5.0, f"SIGTERM took {seconds:.2f} s"
        assert rc == 0
        assert "did not stop in time" in d.log()
    finally:
        for h in hung:
            h.stop()
