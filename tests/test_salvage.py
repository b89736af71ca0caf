"""Salvage of crashed `.mp4.partial` files, on real fMP4 written exactly as the recorder writes it."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from fmp4 import encode_fmp4 as shared_encode_fmp4

from capture.segmenter import MOVFLAGS  # noqa: E402 - the recorder's own flags
from storage.clock import datetime_to_us
from storage.layout import Layout
from storage.salvage import SalvageError, plan_salvage, probe, salvage
from storage.writer import SegmentFile

T0 = datetime_to_us(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
REPO = Path(__file__).resolve().parents[1]


def encode_fmp4(sink: object, frames: int = 75) -> None:
    shared_encode_fmp4(sink, frames, shade=3)


def boxes(data: bytes) -> list[tuple[int, bytes, int]]:
    """Top-level (offset, type, size) of a complete file written by the muxer (32-bit sizes only)."""
    out, off = [], 0
    while off < len(data):
        size, kind = struct.unpack(">I4s", data[off:off + 8])
        out.append((off, kind, size))
        off += size
    return out


@pytest.fixture(scope="session")
def fmp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("fmp4")
    seg = SegmentFile(root / "a.mp4.partial", root / "a.mp4", root, T0, sync_interval=0)
    encode_fmp4(seg)
    data = seg.publish().path.read_bytes()
    assert [k for _, k, _ in boxes(data)] == [b"ftyp", b"moov"] + [b"moof", b"mdat"] * 3 + [b"mfra"]
    return data


def fragment_end(data: bytes, n: int) -> int:
    """Offset just after the n-th complete moof+mdat pair (n=0: after moov)."""
    b = boxes(data)
    off, _, size = b[1 + 2 * n]
    return off + size


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def write_partial(tmp_path: Path, data: bytes) -> Path:
    partial = Layout(tmp_path).partial_path("gate-1", T0)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(data)
    return partial


def _cut(data: bytes, where: str) -> int:
    b = boxes(data)
    starts = {name: b[i][0] for i, name in enumerate(
        ["ftyp", "moov", "moof1", "mdat1", "moof2", "mdat2", "moof3", "mdat3", "mfra"])}
    return {
        "inside ftyp": 10,
        "inside moov": starts["moov"] + 40,
        "inside moof1": starts["moof1"] + 30,
        "inside mdat1": starts["mdat1"] + 100,
        "at fragment 1 end": starts["moof2"],
        "inside moof2 header": starts["moof2"] + 5,
        "inside mdat3": starts["mdat3"] + 9,
        "at mfra": starts["mfra"],
        "inside mfra": starts["mfra"] + 20,
        "complete": len(data),
    }[where]


@pytest.mark.parametrize(("where", "fragments"), [
    ("inside ftyp", 0), ("inside moov", 0), ("inside moof1", 0), ("inside mdat1", 0),
    ("at fragment 1 end", 1), ("inside moof2 header", 1), ("inside mdat3", 2),
    ("at mfra", 3), ("inside mfra", 3), ("complete", 3),
])
def test_salvage_keeps_exactly_the_complete_fragments(tmp_path: Path, fmp4: bytes, where: str,
                                                      fragments: int) -> None:
    cut = _cut(fmp4, where)
    partial = write_partial(tmp_path, fmp4[:cut])
    res = salvage(partial)
    assert not partial.exists()
    assert res.fragments == fragments and res.start_us == T0
    if fragments == 0:
        assert res.path is None and not res.has_footage
        assert os.listdir(partial.parent) == []  # nothing left behind, not even a .tmp
        return
    assert res.path == Layout(tmp_path).segment_path("gate-1", T0)
    # A clean close (mfra present and complete) is kept byte for byte; otherwise mfra is dropped.
    expected = fmp4 if where == "complete" else fmp4[:fragment_end(fmp4, fragments)]
    data = res.path.read_bytes()
    assert data == expected
    assert res.size == len(data) and res.dropped_bytes == cut - len(data)
    assert res.sha256 == hashlib.sha256(data).hexdigest()
    assert res.media is not None
    assert (res.media.packets, res.media.codec, res.media.width, res.media.height) == (25 * fragments, "h264",
                                                                                        160, 120)
    assert res.media.duration_us == fragments * 1_000_000
    assert res.end_us == T0 + fragments * 1_000_000
    assert decoded_frames(res.path) == 25 * fragments
    assert sorted(os.listdir(res.path.parent)) == [res.path.name]


def test_zero_filled_tail_after_power_cut_is_dropped(tmp_path: Path, fmp4: bytes) -> None:
    # After a power cut the file size can be ahead of its data: the tail reads as zeros.
    end2 = fragment_end(fmp4, 2)
    partial = write_partial(tmp_path, fmp4[:end2] + b"\x00" * 5000)
    res = salvage(partial)
    assert res.fragments == 2 and res.dropped_bytes == 5000
    assert res.path is not None and res.path.read_bytes() == fmp4[:end2]


def test_empty_partial_is_removed(tmp_path: Path) -> None:
    partial = write_partial(tmp_path, b"")
    res = salvage(partial)
    assert (res.fragments, res.path, res.has_footage) == (0, None, False)
    assert not partial.exists()


@pytest.mark.parametrize("content", [b"\x00\x00\x00\x10junkjunkjunkjunk" * 4, b"not an mp4 at all, really"])
def test_foreign_content_raises_and_is_left_untouched(tmp_path: Path, content: bytes) -> None:
    partial = write_partial(tmp_path, content)
    with pytest.raises(SalvageError):
        salvage(partial)
    assert partial.read_bytes() == content
    assert os.listdir(partial.parent) == [partial.name]


def test_fragments_without_moov_are_not_explained(tmp_path: Path, fmp4: bytes) -> None:
    b = boxes(fmp4)
    partial = write_partial(tmp_path, fmp4[:b[0][2]] + fmp4[b[2][0]:fragment_end(fmp4, 2)])
    with pytest.raises(SalvageError, match="no moov"):
        salvage(partial)
    assert partial.exists()


def test_name_must_be_a_segment_name(tmp_path: Path) -> None:
    bad = tmp_path / "holiday.mp4.partial"
    bad.write_bytes(b"")
    with pytest.raises(SalvageError, match="not a segment name"):
        salvage(bad)
    assert bad.exists()


def _box(kind: bytes, payload: bytes, large: bool = False, to_eof: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 0 if to_eof else 8 + len(payload), kind) + payload


def test_plan_handles_largesize_size_zero_and_stray_boxes(tmp_path: Path) -> None:
    head = _box(b"ftyp", b"isom") + _box(b"moov", b"m" * 20)
    frag1 = _box(b"moof", b"a" * 10) + _box(b"mdat", b"A" * 50, large=True)
    stray = _box(b"moof", b"b" * 10) + _box(b"free", b"f" * 7)  # a moof without its mdat
    frag2 = _box(b"moof", b"c" * 10) + _box(b"mdat", b"C" * 30, to_eof=True)
    path = tmp_path / "x.mp4.partial"
    path.write_bytes(head + frag1 + stray + frag2)
    plan = plan_salvage(path)
    assert plan.fragments == 2
    assert plan.dropped_bytes == len(stray)
    assert plan.ranges == ((0, len(head + frag1)), (len(head + frag1 + stray), len(frag2)))

    torn_large = struct.pack(">I4sI", 1, b"mdat", 0)  # a largesize header cut in the middle
    path.write_bytes(head + frag1 + _box(b"moof", b"d" * 10) + torn_large)
    plan = plan_salvage(path)
    assert plan.fragments == 1 and plan.ranges == ((0, len(head + frag1)),)
    assert plan.dropped_bytes == 18 + len(torn_large)


def test_probe_rejects_a_file_without_video(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(_box(b"ftyp", b"isom"))
    with pytest.raises(SalvageError):
        probe(path)


def test_salvage_after_kill_9_mid_segment(tmp_path: Path) -> None:
    """A real crash: the recorder process is SIGKILLed while muxing its fourth GOP."""
    layout = Layout(tmp_path)
    partial = layout.partial_path("gate-1", T0)
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import av, numpy as np
        from storage.writer import SegmentFile
        seg = SegmentFile(Path({str(partial)!r}), Path({str(layout.segment_path("gate-1", T0))!r}),
                          Path({str(tmp_path)!r}), {T0}, sync_interval=0)
        out = av.open(seg, mode="w", format="mp4", options={{"movflags": {MOVFLAGS!r}}})
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        s.codec_context.gop_size = 25
        s.codec_context.options = {{"bf": "0", "preset": "ultrafast", "sc_threshold": "0"}}
        rng = np.random.default_rng(7)  # noise: big frames, so fragments overflow the I/O buffer
        for i in range(90):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 256, (120, 160, 3), np.uint8), format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    assert partial.exists()
    res = salvage(partial)
    # Fragments 1-3 were flushed when the next keyframe arrived; the fourth was still in memory.
    assert res.fragments == 3
    assert res.path is not None and res.media is not None
    assert res.media.packets == 75 and res.media.duration_us == 3_000_000
    assert decoded_frames(res.path) == 75
