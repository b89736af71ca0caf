"""The reader's fast path (`Depacketizer.consume`, a run of frames in one call) against the
reference path (`push`, one call per packet): on the same byte stream, split into arbitrary
receives, with loss, reordering, odd RTP headers and RTCP frames interleaved, both give the same
access units (bytes, timestamps, flags) and the same counters."""

from __future__ import annotations

import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtp_packetizer import Packet, packetize_video
from test_rtp_depacketize import h264_nal, h265_nal

from capture.rtsp.client import RtspClient
from capture.rtsp.h264 import H264Depacketizer
from capture.rtsp.h265 import H265Depacketizer
from capture.rtsp.rtp import AccessUnit

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def wire(p: Packet, csrc: bool) -> bytes:
    """The packet as a camera sends it; with `csrc`, one contributing source in the header (a
    legal header the fast path must leave to the general one)."""
    if not csrc:
        return p.wire()
    head = struct.pack(">BBHII", 0x81, (0x80 if p.marker else 0) | 96, p.seq & 0xFFFF, p.ts & 0xFFFFFFFF, 0x1234)
    return head + b"\0\0\0\x07" + p.payload


class ChunkSocket:
    """recv_into hands out the stream in the given chunk sizes, then says 'nothing more yet'."""

    def __init__(self, stream: bytes, chunks: list[int]) -> None:
        self.stream, self.chunks, self.pos, self.i = stream, chunks, 0, 0

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        pass

    def recv_into(self, mv: memoryview) -> int:
        if self.pos >= len(self.stream):
            raise BlockingIOError
        want = self.chunks[self.i % len(self.chunks)]
        self.i += 1
        n = min(len(mv), want, len(self.stream) - self.pos)
        mv[:n] = self.stream[self.pos:self.pos + n]
        self.pos += n
        return n


def run(stream: bytes, chunks: list[int], hevc: bool, fast: bool,
        first_seq: int) -> tuple[list[AccessUnit], dict[str, int]]:
    out: list[AccessUnit] = []
    dep: H264Depacketizer | H265Depacketizer = H265Depacketizer(0, out) if hevc else H264Depacketizer(0, out)
    dep.first_seq = first_seq
    c = RtspClient("rtsp://127.0.0.1/x", 5.0)
    c.sock = ChunkSocket(stream, chunks)  # type: ignore[assignment]
    rtcp: list[bytes] = []
    handlers = [None] * 256
    handlers[0] = dep.push  # type: ignore[call-overload]
    handlers[1] = lambda mv, s, e: rtcp.append(bytes(mv[s:e]))  # type: ignore[call-overload]
    if fast:
        c.runners[0] = dep.consume
    units: list[AccessUnit] = []
    while c.sock.pos < len(stream):  # type: ignore[attr-defined]
        c.drain(handlers)  # type: ignore[arg-type]
        units += out
        out.clear()
    counters = {k: getattr(dep, k) for k in ("packets", "bytes", "lost", "late", "dropped_units", "malformed",
                                             "next_seq", "params_version")}
    counters["rtcp"] = len(rtcp)
    return units, counters


@st.composite
def big_units(draw: st.DrawFn, hevc: bool) -> list[tuple[int, list[bytes]]]:
    """Access units of NAL units up to a few KB (random bytes from a drawn seed: hypothesis's own
    binaries stay small, and the fast path is for NAL units fragmented into many packets)."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    ts = draw(st.integers(0, 2**32 - 1))
    units = []
    for i in range(draw(st.integers(2, 8))):
        kinds = ([32, 33, 34, 19] if hevc else [7, 8, 5]) if i % 4 == 0 else [1] * draw(st.integers(1, 3))
        make = h265_nal if hevc else h264_nal
        units.append((ts & 0xFFFFFFFF, [make(k, rng.randbytes(draw(st.integers(1, 4000)))) for k in kinds]))
        ts += 3600
    return units


@SETTINGS
@given(st.booleans(), st.data())
def test_consume_gives_what_push_gives(hevc: bool, data: st.DataObject) -> None:
    units = data.draw(big_units(hevc))
    # Small MTUs: most NAL units are then fragmented into many FU-A middles (the fast path).
    packets = packetize_video(units, data.draw(st.integers(16, 1400)),
                              data.draw(st.lists(st.booleans(), min_size=1, max_size=4)), hevc,
                              seq0=data.draw(st.integers(0, 65535)))
    keep = data.draw(st.lists(st.booleans(), min_size=len(packets), max_size=len(packets)))
    lossy = data.draw(st.booleans())
    arrived = [p for p, k in zip(packets, keep, strict=True) if k or not lossy]
    if data.draw(st.booleans()) and len(arrived) > 2:
        i = data.draw(st.integers(1, len(arrived) - 1))
        arrived[i - 1], arrived[i] = arrived[i], arrived[i - 1]
    frames = []
    for p in arrived:
        body = wire(p, data.draw(st.integers(0, 9)) == 0)
        frames.append(b"$\0" + struct.pack(">H", len(body)) + body)
        if data.draw(st.integers(0, 7)) == 0:  # an RTCP report between two packets
            frames.append(b"$\1\0\x08" + b"\x80\xc8\0\x01" + b"\0" * 4)
    stream = b"".join(frames)
    chunks = data.draw(st.lists(st.integers(1, 5000), min_size=1, max_size=6))
    first = packets[0].seq
    slow_units, slow = run(stream, chunks, hevc, False, first)
    fast_units, fast = run(stream, chunks, hevc, True, first)
    assert fast == slow
    assert [(bytes(u.data), u.ts, u.keyframe, u.after_loss, u.stream) for u in fast_units] == \
        [(bytes(u.data), u.ts, u.keyframe, u.after_loss, u.stream) for u in slow_units]
    if not lossy and len(arrived) == len(packets) and arrived == packets:
        assert len(fast_units) == len(units)
