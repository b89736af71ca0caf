"""Clips keep the recorded AAC audio, on the video's timeline, and carry their wall-clock start
(creation_time and a timecode track)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import av
from helpers import camera, wait_for

from capture.sim.simulator import Simulator
from capture.worker import CaptureWorker
from edge.config import CameraConfig
from storage.clip_mux import write_clip
from storage.clock import SystemClock
from storage.store import SegmentStore


def test_clip_carries_aac_audio_and_creation_time(tmp_path: Path, clip: Callable[..., Path],
                                                  simulator: Callable[..., Simulator]) -> None:
    store = SegmentStore(tmp_path / "store", SystemClock())
    sim = simulator({"cam": clip(seed=7)}, audio={"cam": "aac"})
    w = CaptureWorker(CameraConfig.model_validate(camera("cam", sim.url("cam"))), store, 2.0, SystemClock())
    w.start()
    try:
        wait_for(lambda: len(list(store.index.chain_of("cam"))) >= 3, 40, 0.1, "three segments")
    finally:
        w.stop()
        assert w.join(5)
    segs = list(store.index.chain_of("cam"))[:3]
    start, end = segs[0].start_us + 500_000, segs[2].end_us - 500_000

    result = write_clip(store.index, store.layout.root, "cam", segs, start, end, tmp_path / "clip.mp4")

    assert result.audio_codec == "aac" and result.audio_packets > 20
    assert result.actual_start_us is not None and result.actual_end_us is not None
    assert result.to_json()["audio_codec"] == "aac"
    with av.open(str(tmp_path / "clip.mp4")) as c:
        assert [s.type for s in c.streams] == ["video", "audio", "data"]  # data: the timecode track
        assert c.streams.video[0].metadata["timecode"].startswith(
            datetime.fromtimestamp(result.actual_start_us / 1e6, UTC).strftime("%H:%M:%S:"))
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"
        apkts = [p for p in c.demux(a) if p.size]
        created = c.metadata["creation_time"]
    wall = datetime.fromtimestamp(result.actual_start_us / 1e6, UTC).isoformat()[:19]
    assert created[:19] == wall
    assert a.time_base is not None
    dts = [p.dts for p in apkts]
    assert dts == sorted(dts) and len(set(dts)) == len(dts), "audio monotonic across segment joins"
    audio_span = (apkts[-1].pts - apkts[0].pts) * a.time_base
    video_span = (result.actual_end_us - result.actual_start_us) / 1e6
    # The audio spans the clip (a loaded machine's simulator may drop a few audio packets).
    assert 0.8 * video_span < float(audio_span) < video_span + 0.3, (float(audio_span), video_span)
    with av.open(str(tmp_path / "clip.mp4")) as c:
        assert sum(1 for _ in c.decode(audio=0)) > 20, "the audio decodes"
    store.close()
