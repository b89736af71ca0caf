"""Test-camera simulator: synthetic clips and the loopback RTSP server."""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from capture.sim.simulator import KINDS, GarbageServer, Simulator, free_port, make_clip, simulator_available

W, H, FPS, GOP = 640, 360, 25, 25
OPTS = {"rtsp_transport": "tcp", "timeout": "5000000", "analyzeduration": "0", "probesize": "32"}
SIM_MISSING = simulator_available()
needs_sim = pytest.mark.skipif(SIM_MISSING is not None, reason=f"RTSP simulator unavailable: {SIM_MISSING}")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {k: make_clip(d, k, W, H, FPS, GOP, seconds=2.0) for k in KINDS}


def gray_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def key_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0) if f.key_frame]


def lap_var(img: np.ndarray) -> float:
    return float(cv2.Laplacian(img, cv2.CV_64F).var())


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- clips -------------------------------------------------------------------------------------


def test_normal_clip_textured_and_changing(clips: dict[str, Path]) -> None:
    frames = gray_frames(clips["normal"])
    assert len(frames) == 2 * FPS
    assert frames[0].shape == (H, W)
    assert lap_var(frames[0]) > 150
    keys = key_frames(clips["normal"])
    assert len(keys) == 2
    assert all(mad(a, b) > 1.0 for a, b in zip(keys, keys[1:], strict=False))
    assert len(cv2.ORB.create(1000).detect(frames[0], None)) > 300


def test_clip_kinds_have_expected_property(clips: dict[str, Path]) -> None:
    normal = gray_frames(clips["normal"])
    black = gray_frames(clips["black"])
    assert max(float(f.mean()) for f in black) < 20
    assert mad(black[0], black[-1]) > 0.1  # sensor noise, not a frozen picture
    assert min(float(f.mean()) for f in gray_frames(clips["overexposed"])) > 230
    blurred = gray_frames(clips["blurred"])
    assert lap_var(blurred[0]) * 20 < lap_var(normal[0])
    covered = gray_frames(clips["covered"])
    assert all(40 < f.mean() < 160 and f.std() < 8 for f in covered)
    frozen_keys = key_frames(clips["frozen"])
    assert len(frozen_keys) == 2 and np.array_equal(frozen_keys[0], frozen_keys[1])
    assert max(mad(f, frozen_keys[0]) for f in gray_frames(clips["frozen"])) < 1.0


def test_moved_clip_is_a_reaimed_view_of_the_normal_scene(clips: dict[str, Path]) -> None:
    a, b = gray_frames(clips["normal"])[0], gray_frames(clips["moved"])[0]
    assert mad(a, b) > 10
    orb = cv2.ORB.create(1000)
    ka, da = orb.detectAndCompute(a, None)
    kb, db = orb.detectAndCompute(b, None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    src = np.array([ka[m.queryIdx].pt for m in matches], dtype=np.float32)
    dst = np.array([kb[m.trainIdx].pt for m in matches], dtype=np.float32)
    m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC)
    assert m is not None and int(inliers.sum()) > 50
    assert abs(abs(math.degrees(math.atan2(m[1, 0], m[0, 0]))) - 10) < 1.5


def test_resolution_change_clip(clips: dict[str, Path]) -> None:
    with av.open(str(clips["resolution_change"])) as c:
        sizes = [(f.width, f.height) for f in c.decode(video=0)]
    assert sizes[0] == (W, H) and sizes[-1] == (480, 270)
    assert sizes.count((W, H)) == FPS


def test_clip_cache(tmp_path: Path) -> None:
    p = make_clip(tmp_path, "black", 64, 64, seconds=0.4)
    mtime = p.stat().st_mtime_ns
    assert make_clip(tmp_path, "black", 64, 64, seconds=0.4) == p
    assert p.stat().st_mtime_ns == mtime
    assert make_clip(tmp_path, "black", 64, 64, seconds=0.4, seed=1) != p
    # An explicit file name is honoured; changed parameters rebuild it.
    q = make_clip(tmp_path / "x.h264", "black", 64, 64, seconds=0.4)
    assert q == tmp_path / "x.h264"
    make_clip(q, "covered", 64, 64, seconds=0.4)
    assert q.stat().st_mtime_ns >= mtime and float(gray_frames(q)[0].mean()) > 40
    with pytest.raises(ValueError):
        make_clip(tmp_path, "nonsense")


# --- RTSP --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim(clips: dict[str, Path]) -> Iterator[Simulator]:
    if SIM_MISSING is not None:
        pytest.skip(f"RTSP simulator unavailable: {SIM_MISSING}")
    with Simulator({"cam1": clips["normal"], "cam2": clips["resolution_change"]}) as s:
        yield s


def read_packets(
    url: str, seconds: float, decode: bool = False
) -> tuple[list[av.Packet], list[tuple[int, int]]]:
    packets: list[av.Packet] = []
    sizes: list[tuple[int, int]] = []
    with av.open(url, options=OPTS) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (W, H)
        end = time.monotonic() + seconds
        for p in c.demux(stream):
            if p.size == 0:
                continue
            packets.append(p)
            if decode:
                sizes += [(f.width, f.height) for f in p.decode()]
            if time.monotonic() > end:
                break
    return packets, sizes


def seconds_until_stream_ends(it: Iterator[av.Packet]) -> float:
    """PyAV's demux() ends the iteration on EOF, or raises on a socket timeout."""
    t0 = time.monotonic()
    with pytest.raises((StopIteration, EOFError, av.error.FFmpegError)):
        for _ in range(1000):
            next(it)
    return time.monotonic() - t0


def nal_types(data: bytes) -> list[int]:
    return [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data) if m.end() < len(data)]


@needs_sim
def test_rtsp_stream_timing(sim: Simulator) -> None:
    packets, _ = read_packets(sim.url("cam1"), 3.0)
    assert 60 <= len(packets) <= 90
    # First packet after connect: keyframe without timestamps (client must stamp it, not drop it).
    assert packets[0].is_keyframe and packets[0].dts is None
    keys = [i for i, p in enumerate(packets) if p.is_keyframe]
    assert keys[:3] == [0, GOP, 2 * GOP]
    dts = [p.dts for p in packets[1:] if p.dts is not None]
    assert len(dts) == len(packets) - 1
    assert all(b > a for a, b in zip(dts, dts[1:], strict=False))
    assert all(p.pts == p.dts for p in packets[1:])
    assert float((dts[1] - dts[0]) * packets[2].time_base) == pytest.approx(1 / FPS)
    # Annex-B with start codes; SPS/PPS in-band before every IDR.
    for i in keys:
        assert bytes(packets[i])[:4] == b"\x00\x00\x00\x01"
        assert nal_types(bytes(packets[i]))[:2] == [7, 8]


@needs_sim
def test_rtsp_resolution_change_seen_by_decoder(sim: Simulator) -> None:
    packets, sizes = read_packets(sim.url("cam2"), 1.6, decode=True)
    # The SDP (and so codec_context before decoding) says 640x360; the in-band SPS at the
    # switch reconfigures the decoder without any error or reconnect.
    assert sizes[0] == (W, H) and sizes[-1] == (480, 270)
    # Timing runs straight through the switch; the new SPS/PPS arrive in-band, Annex-B.
    assert packets[GOP].is_keyframe and nal_types(bytes(packets[GOP]))[:2] == [7, 8]
    dts = [p.dts for p in packets[1:] if p.dts is not None]
    assert all(b > a for a, b in zip(dts, dts[1:], strict=False))


@needs_sim
def test_misbehaving_clients_do_not_disturb_others(sim: Simulator) -> None:
    junk = [socket.create_connection(("127.0.0.1", sim.port)) for _ in range(3)]
    junk[0].sendall(b"\x00\xffGARBAGE\r\n\r\n" * 50)
    junk[1].sendall(b"DESCRIBE rtsp://127.0.0.1/cam1 RTSP/1.0\r\nCSeq")  # never finished
    try:
        packets, _ = read_packets(sim.url("cam1"), 1.0)
        assert len(packets) >= 20
        assert sim.running
    finally:
        for s in junk:
            s.close()


@needs_sim
def test_kill_restart_same_port(clips: dict[str, Path]) -> None:
    with Simulator({"cam1": clips["normal"]}) as s:
        port, url = s.port, s.url("cam1")
        with av.open(url, options=OPTS) as c:
            it = c.demux(video=0)
            next(it)
            s.kill()
            assert seconds_until_stream_ends(it) < 3
        s.restart()
        assert s.port == port and s.url("cam1") == url
        assert len(read_packets(url, 0.5)[0]) >= 10
        # Graceful stop then immediate start on the same port also works.
        pid = s.pid
        s.stop()
        s.start()
        assert s.pid != pid and s.port == port
        assert len(read_packets(url, 0.3)[0]) >= 5


@needs_sim
def test_pause_is_detected_by_socket_timeout(clips: dict[str, Path]) -> None:
    with Simulator({"cam1": clips["normal"]}) as s:
        with av.open(s.url("cam1"), options={**OPTS, "timeout": "1000000"}) as c:
            it = c.demux(video=0)
            next(it)
            s.pause()
            assert 0.5 < seconds_until_stream_ends(it) < 4
        s.resume()
        assert len(read_packets(s.url("cam1"), 0.3)[0]) >= 5


@needs_sim
def test_start_failures_are_reported(tmp_path: Path, clips: dict[str, Path]) -> None:
    with pytest.raises(RuntimeError, match="not found"):
        Simulator({"cam1": tmp_path / "missing.h264"}).start()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        sim = Simulator({"cam1": clips["normal"]}, port=busy.getsockname()[1])
        with pytest.raises(RuntimeError, match="cannot listen"):
            sim.start()
        assert not sim.running


@pytest.mark.parametrize("mode", GarbageServer.MODES)
def test_garbage_server_fails_open_quickly(mode: str) -> None:
    with GarbageServer(mode) as g:
        t0 = time.monotonic()
        with pytest.raises(av.error.FFmpegError):
            av.open(g.url, options={**OPTS, "timeout": "1000000"})
        assert time.monotonic() - t0 < 3
        assert g.connections >= 1


def test_simulator_available_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import capture.sim.simulator as simulator

    monkeypatch.setattr(simulator, "SYSTEM_PYTHON", "/nonexistent/python3")
    fix = simulator.simulator_available()
    assert fix is not None and "apt-get install -y" in fix
    assert "gir1.2-gst-rtsp-server-1.0" in fix


@needs_sim
def test_run_simulator_cli_serves_until_sigint(tmp_path: Path) -> None:
    port = free_port()
    code = f"import sys; from capture.sim.simulator import run_simulator_cli; " \
           f"sys.exit(run_simulator_cli(2, {port}, width=320, height=180))"
    env = {**os.environ, "EDGE_CLIP_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=Path(__file__).resolve().parents[1], text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("serving"):
                break
        assert f"rtsp://127.0.0.1:{port}/cam2" in lines, lines
        with av.open(f"rtsp://127.0.0.1:{port}/cam2", options=OPTS) as c:
            assert c.streams.video[0].codec_context.width == 320
            assert next(c.demux(video=0)).is_keyframe
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
