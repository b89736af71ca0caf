"""The own fMP4 writer (capture.fmp4): what it writes demuxes back through PyAV (and ffprobe) to the
same samples and timestamps, for H.264, H.265 and AAC, and it is what the salvage expects: whole
fragments only, so a file cut anywhere keeps exactly the fragments written before the cut."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.fmp4 import FragmentWriter, init_segment
from capture.paramsets import nal_units
from storage.salvage import plan_salvage

AAC_CONFIG = bytes.fromhex("1190")  # AAC-LC, 48 kHz, stereo


@cache
def parameter_sets(codec: str) -> bytes:
    """Real parameter sets from a tiny encode: avcC for H.264, Annex-B VPS/SPS/PPS for H.265 (the
    forms the native path hands the writer)."""
    buf = io.BytesIO()
    fmt = "h264" if codec == "h264" else "hevc"
    with av.open(buf, mode="w", format=fmt) as out:
        s = out.add_stream("libx264" if codec == "h264" else "libx265", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        if codec == "hevc":
            s.codec_context.options = {"x265-params": "log-level=none"}
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for p in s.encode(frame):
            out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    units = nal_units(buf.getvalue())
    if codec == "h264":
        from capture.rtsp.h264 import avcc

        return avcc(tuple(u for u in units if u[0] & 0x1F in (7, 8)))
    return b"".join(b"\0\0\0\1" + u for u in units if (u[0] >> 1) & 0x3F in (32, 33, 34))


#: NAL unit headers of an IDR and a non-IDR slice (FFmpeg's parser reads them for the key flag).
HEADERS = {("h264", True): b"\x65", ("h264", False): b"\x41", ("hevc", True): b"\x26\x01",
           ("hevc", False): b"\x02\x01"}


def sample(n: int, seed: int, codec: str = "h264", key: bool = False) -> bytes:
    """An access unit: one length-prefixed NAL unit of n payload bytes (not a real picture: the
    demuxer copies samples, it does not decode them)."""
    body = HEADERS[codec, key] + bytes((seed + i) & 0xFF | 1 for i in range(n))
    return len(body).to_bytes(4, "big") + body


frames = st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 7200), st.booleans()), min_size=1, max_size=60)


def write(path: Path, codec: str, video: Sequence[tuple[bytes, int, bool]], audio: Sequence[tuple[bytes, int]],
          fragment_ticks: int, aac_config: bytes = AAC_CONFIG) -> FragmentWriter:
    init, _holder = init_segment(codec, 90000, parameter_sets(codec), 64, 48,
                                 (48000, 2, aac_config) if audio else None)
    with open(path, "wb") as f:
        f.write(init)
        w = FragmentWriter(f.writelines, fragment_ticks, 3600)
        ai = 0
        for data, dts, key in video:
            while ai < len(audio) and audio[ai][1] * 90000 <= dts * 48000:
                assert w.add_audio(*audio[ai])
                ai += 1
            assert w.add_video(data, dts, dts, key)
        for data, pts in audio[ai:]:
            assert w.add_audio(data, pts)
        w.finish()
    return w


def demux(path: Path) -> tuple[list[tuple[bytes, int, int, bool]], list[tuple[bytes, int]]]:
    video: list[tuple[bytes, int, int, bool]] = []
    audio: list[tuple[bytes, int]] = []
    with av.open(str(path)) as c:
        for pkt in c.demux():
            if not pkt.size:
                continue
            assert pkt.pts is not None and pkt.dts is not None and pkt.time_base is not None
            if pkt.stream.type == "video":
                assert pkt.time_base == Fraction(1, 90000)
                video.append((bytes(pkt), pkt.pts, pkt.dts, pkt.is_keyframe))
            else:
                assert pkt.time_base == Fraction(1, 48000)
                audio.append((bytes(pkt), pkt.pts))
    return video, audio


def build(spec: list[tuple[int, int, bool]], codec: str = "h264") -> list[tuple[bytes, int, bool]]:
    """Samples from (size, step, keyframe) with the first a keyframe at DTS 0, DTS increasing."""
    out, dts = [], 0
    for i, (size, step, key) in enumerate(spec):
        out.append((sample(size, i, codec, key or i == 0), dts, key or i == 0))
        dts += step
    return out


@pytest.mark.parametrize("codec", ["h264", "hevc"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=frames, with_audio=st.booleans(), fragment_ticks=st.sampled_from([3600, 45000, 90000, 1 << 40]),
       audio_gap=st.integers(1024, 3000))
def test_demuxes_back_to_the_same_samples(codec: str, spec: list[tuple[int, int, bool]], with_audio: bool,
                                          fragment_ticks: int, audio_gap: int, tmp_path: Path) -> None:
    video = build(spec, codec)
    end = video[-1][1] * 48000 // 90000
    audio = [(bytes([0x21, i & 0xFF]) * (5 + i % 7), i * audio_gap) for i in range(end // audio_gap + 1)] \
        if with_audio else []
    path = tmp_path / f"{codec}.mp4"
    path.unlink(missing_ok=True)
    w = write(path, codec, video, audio, fragment_ticks)
    got_video, got_audio = demux(path)
    assert got_video == [(d, t, t, k) for d, t, k in video]
    assert got_audio == audio
    plan = plan_salvage(path)
    assert plan.fragments == w.fragments and plan.dropped_bytes == 0
    # A fragment starts at every keyframe, and no fragment holds more than fragment_ticks of video.
    assert w.fragments >= sum(k for _, _, k in video)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=frames, cut=st.floats(0.0, 1.0))
def test_a_cut_file_keeps_exactly_the_fragments_before_the_cut(spec: list[tuple[int, int, bool]], cut: float,
                                                               tmp_path: Path) -> None:
    video = build(spec)
    path = tmp_path / "full.mp4"
    path.unlink(missing_ok=True)
    bounds: list[int] = []

    init, _holder = init_segment("h264", 90000, parameter_sets("h264"), 64, 48, None)
    with open(path, "wb") as f:
        f.write(init)

        def sink(buffers: Sequence[bytes | bytearray | memoryview]) -> None:
            f.writelines(buffers)
            bounds.append(f.tell())

        w = FragmentWriter(sink, 45000, 3600)
        for data, dts, key in video:
            w.add_video(data, dts, dts, key)
        w.finish()
    data = path.read_bytes()
    at = int(cut * len(data))
    torn = tmp_path / "torn.mp4"
    torn.write_bytes(data[:at])
    whole = sum(1 for b in bounds if b <= at)
    if at < len(init):
        return
    plan = plan_salvage(torn)
    assert plan.fragments == whole
    if whole:
        assert plan.ranges == ((0, bounds[whole - 1]),)


def test_refuses_a_dts_that_does_not_increase(tmp_path: Path) -> None:
    w = FragmentWriter(lambda b: None, 90000, 3600)
    assert w.add_video(sample(10, 0, key=True), 0, 0, True)
    assert not w.add_video(sample(10, 1), 0, 0, False)
    assert w.add_audio(b"\x21\x00", 100) and not w.add_audio(b"\x21\x00", 100)


def encoded(codec: str, n: int) -> list[tuple[bytes, bool]]:
    """n real pictures (GOP 25, no B-frames) as length-prefixed access units."""
    ctx = av.CodecContext.create("libx264" if codec == "h264" else "libx265", "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 64, 48, "yuv420p", Fraction(1, 25)
    ctx.gop_size = 25
    ctx.options = ({"bf": "0", "preset": "ultrafast", "sc_threshold": "0"} if codec == "h264" else
                   {"x265-params": "log-level=none:bframes=0:keyint=25:min-keyint=25:scenecut=0"})
    out: list[tuple[bytes, bool]] = []
    pics = [av.VideoFrame.from_ndarray(np.full((48, 64, 3), 7 * i % 256, np.uint8), format="rgb24") for i in range(n)]
    for i, pic in enumerate([*pics, None]):
        if pic is not None:
            pic = pic.reformat(format="yuv420p")
            pic.pts = i
        for pkt in ctx.encode(pic):
            units = nal_units(bytes(pkt))
            out.append((b"".join(len(u).to_bytes(4, "big") + u for u in units), pkt.is_keyframe))
    return out


def aac(n: int) -> tuple[bytes, list[bytes]]:
    """n real AAC-LC frames (48 kHz stereo, a quiet tone) and their AudioSpecificConfig."""
    ctx = av.CodecContext.create("aac", "w")
    assert isinstance(ctx, av.AudioCodecContext)
    ctx.sample_rate, ctx.layout, ctx.format = 48000, "stereo", "fltp"
    ctx.open()
    frames: list[bytes] = []
    t = np.arange(1024 * (n + 2)) / 48000
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for i in range(n + 2):
        pcm = av.AudioFrame.from_ndarray(np.stack([tone[i * 1024:(i + 1) * 1024]] * 2), format="fltp", layout="stereo")
        pcm.sample_rate, pcm.pts = 48000, i * 1024
        frames += [bytes(p) for p in ctx.encode(pcm)]
    return bytes(ctx.extradata or b""), frames[:n]


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_ffprobe_decodes_every_picture(codec: str, tmp_path: Path) -> None:
    units = encoded(codec, 60)
    video = [(data, 3600 * i, key) for i, (data, key) in enumerate(units)]
    config, sound = aac(110)
    audio = [(frame, i * 1024) for i, frame in enumerate(sound)]
    path = tmp_path / "probe.mp4"
    write(path, codec, video, audio, 90000, config)
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                          "stream=codec_name,nb_read_frames,width,height:packet=stream_index,pts,flags",
                          "-of", "json", str(path)],
                         capture_output=True, check=True, text=True)
    assert out.stderr == ""
    probed = json.loads(out.stdout)
    assert probed["streams"][0] == {"codec_name": codec, "width": 64, "height": 48, "nb_read_frames": "60"}
    assert probed["streams"][1]["codec_name"] == "aac" and probed["streams"][1]["nb_read_frames"] == "110"
    vpk = [p for p in probed["packets"] if p["stream_index"] == 0]
    assert [int(p["pts"]) for p in vpk] == [t for _, t, _ in video]
    assert [p["flags"].startswith("K") for p in vpk] == [k for _, _, k in video]
    got_video, got_audio = demux(path)
    assert [d for d, _, _, _ in got_video] == [d for d, _, _ in video] and len(got_audio) == len(audio)
