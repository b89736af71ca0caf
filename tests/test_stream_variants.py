"""Streams that change under the recorder: resolution changes, audio it can and cannot keep,
a second client joining mid-GOP."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from helpers import camera, wait_for

from capture.sim.simulator import Simulator
from capture.worker import CaptureWorker
from edge.config import CameraConfig
from storage.clock import SystemClock
from storage.index import Segment
from storage.store import SegmentStore
from storage.verify import verify_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SegmentStore]:
    s = SegmentStore(tmp_path / "store", SystemClock())
    yield s
    s.close()


def record(store: SegmentStore, url: str, until: Callable[[list[Segment]], bool], segment_seconds: float = 2.0,
           timeout: float = 30.0) -> list[Segment]:
    cam = CameraConfig.model_validate(camera("cam", url))
    w = CaptureWorker(cam, store, segment_seconds, SystemClock())
    w.start()
    try:
        wait_for(lambda: until(list(store.index.chain_of("cam"))), timeout, 0.1, "segments")
    finally:
        w.stop()
        assert w.join(5)
    return list(store.index.chain_of("cam"))


def test_resolution_change_starts_a_new_segment(store: SegmentStore, clip: Callable[..., Path],
                                                simulator: Callable[..., Simulator]) -> None:
    # 2 s at 320x180 then 2 s at 480x270, looped: every switch must cut a segment.
    sim = simulator({"cam": clip("resolution_change", seconds=4.0)})
    segs = record(store, sim.url("cam"), lambda s: len({(x.width, x.height) for x in s}) == 2 and len(s) >= 4,
                  segment_seconds=30.0)
    for seg in segs:
        with av.open(str(store.path_of(seg))) as c:
            sizes = {(f.width, f.height) for f in c.decode(video=0)}
        assert sizes == {(seg.width, seg.height)}, "one resolution per segment, and the index says which"
    assert {(s.width, s.height) for s in segs} == {(320, 180), (480, 270)}
    assert verify_store(store).ok


def test_aac_audio_is_kept(store: SegmentStore, clip: Callable[..., Path],
                           simulator: Callable[..., Simulator]) -> None:
    sim = simulator({"cam": clip(seed=7)}, audio={"cam": "aac"})
    segs = record(store, sim.url("cam"), lambda s: len(s) >= 2)
    with av.open(str(store.path_of(segs[0]))) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert c.streams.audio[0].codec_context.name == "aac"
        audio_frames = sum(1 for _ in c.decode(audio=0))
    assert audio_frames > 10, "the audio decodes"
    with av.open(str(store.path_of(segs[0]))) as c:
        first = next(p for p in c.demux(video=0) if p.size)
        assert first.is_keyframe and first.pts == 0


def test_g711_audio_is_dropped_with_one_log_line(store: SegmentStore, clip: Callable[..., Path],
                                                  simulator: Callable[..., Simulator],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="capture")
    sim = simulator({"cam": clip(seed=8)}, audio={"cam": "pcma"})
    segs = record(store, sim.url("cam"), lambda s: len(s) >= 2)
    with av.open(str(store.path_of(segs[0]))) as c:
        assert [s.type for s in c.streams] == ["video"]
    lines = [r.getMessage() for r in caplog.records if "pcm_alaw" in r.getMessage()]
    assert len(lines) == 1 and "video only" in lines[0]


def test_joining_a_shared_stream_mid_gop_waits_for_a_keyframe(store: SegmentStore, clip: Callable[..., Path],
                                                             simulator: Callable[..., Simulator]) -> None:
    """A second client on a shared mount starts mid-GOP with timestamp-less non-keyframes: the
    recorder must still start every segment on a keyframe."""
    sim = simulator({"cam": clip(seed=9)})
    viewer = av.open(sim.url("cam"), options={"rtsp_transport": "tcp", "timeout": "5000000"})
    try:
        packets = viewer.demux(video=0)
        for _ in range(12):  # keep the shared pipeline running, half-way into a GOP
            next(packets)
        segs = record(store, sim.url("cam"), lambda s: len(s) >= 2)
    finally:
        viewer.close()
    for seg in segs:
        with av.open(str(store.path_of(seg))) as c:
            first = next(p for p in c.demux(video=0) if p.size)
            assert first.is_keyframe and first.pts == 0
    assert verify_store(store).ok


def test_hung_camera_is_a_timeout_gap_and_recording_resumes(store: SegmentStore, clip: Callable[..., Path],
                                                             simulator: Callable[..., Simulator]) -> None:
    """A camera that stops sending mid-stream (SIGSTOP: the socket stays open) is noticed by the
    socket timeout, recorded as a gap, and recording resumes when it wakes up."""
    sim = simulator({"cam": clip(seed=10)})
    cam = CameraConfig.model_validate(camera("cam", sim.url("cam"), stall_timeout=2.0))
    w = CaptureWorker(cam, store, 2.0, SystemClock())
    w.start()
    try:
        wait_for(lambda: len(list(store.index.chain_of("cam"))) >= 2, 30, 0.1, "recording")
        sim.pause()
        gap = wait_for(lambda: store.index.gaps("cam"), 15, 0.1, "a gap for the hung camera")[0]
        assert gap.reason in {"timeout", "stalled"}, gap
        assert w.status.state.value in {"reconnecting", "offline", "connecting"}
        before = len(list(store.index.chain_of("cam")))
        sim.resume()
        wait_for(lambda: len(list(store.index.chain_of("cam"))) > before, 30, 0.1, "recording to resume")
        closed = wait_for(lambda: [g for g in store.index.gaps("cam") if g.end_us is not None], 10, 0.1,
                          "the gap to close")[0]
        first_after = list(store.index.chain_of("cam"))[before]
        assert closed.end_us == first_after.start_us
    finally:
        w.stop()
        assert w.join(5)
    assert verify_store(store).ok


def test_worker_survives_an_index_failure(store: SegmentStore, clip: Callable[..., Path],
                                          simulator: Callable[..., Simulator]) -> None:
    """An index write that fails (SQLite full, I/O error) while a camera is down must not end the
    camera's worker: it keeps trying and records once the camera is back."""
    sim = simulator({"cam": clip(seed=11)})
    sim.kill()
    cam = CameraConfig.model_validate(camera("cam", sim.url("cam"), reconnect_max=0.5))
    real_open_gap = store.index.open_gap
    calls = {"n": 0}

    def failing_open_gap(*args: object, **kwargs: object) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real_open_gap(*args, **kwargs)  # type: ignore[arg-type]

    store.index.open_gap = failing_open_gap  # type: ignore[method-assign]
    w = CaptureWorker(cam, store, 2.0, SystemClock())
    w.start()
    try:
        wait_for(lambda: calls["n"] >= 2, 15, 0.05, "the worker to try again after the failed index write")
        assert w.alive
        sim.restart()
        wait_for(lambda: len(list(store.index.chain_of("cam"))) >= 1, 30, 0.1, "recording after the failure")
    finally:
        w.stop()
        assert w.join(5)
