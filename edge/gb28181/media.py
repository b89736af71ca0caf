"""Media sessions: the camera's packets, copied (never re-encoded), muxed into MPEG-PS by FFmpeg's
program-stream muxer through PyAV, sent over RTP.

Recorded video comes from the segment files (fMP4, AVCC) through `h264_mp4toannexb`/
`hevc_mp4toannexb` (a bitstream rewrite: start codes instead of lengths, parameter sets before
keyframes, as PS receivers need); live video from a short-lived RTSP client to the camera's own
URL (a second session on the camera, independent of the recorder, so a platform viewer can never
disturb recording). The muxer is FFmpeg's `vob` flavour of the `mpeg` muxer: same code, but
MPEG-2 pack headers, which Annex C of the standard requires.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.packet
import av.stream

from edge.gb28181.interfaces import SegmentLike
from edge.gb28181.rtp import RtpPacketizer, RtpSink

log = logging.getLogger(__name__)

TB90K = Fraction(1, 90_000)
BSF = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


class _Collect(io.RawIOBase):
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(b))
        return len(b)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


#: ISO 13818-1 stream_type of the PSM entry (GB/T 28181 Annex C: H.264 0x1B, H.265 0x24).
STREAM_TYPES = {"h264": 0x1B, "hevc": 0x24}
PACK_START = b"\x00\x00\x01\xba"


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, MSB first, no final xor), as PSI tables carry."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def program_stream_map(stream_type: int) -> bytes:
    """A PSM naming one video stream (id 0xE0). FFmpeg's PS muxer writes none, but platforms
    (ZLMediaKit, vendor NVR clients) take the codec from it, so it goes before every keyframe."""
    entries = bytes([stream_type, 0xE0, 0x00, 0x00])
    body = bytes([0xE0, 0xFF, 0x00, 0x00]) + len(entries).to_bytes(2, "big") + entries
    head = b"\x00\x00\x01\xbc" + (len(body) + 4).to_bytes(2, "big")
    return head + body + crc32_mpeg2(head + body).to_bytes(4, "big")


def insert_after_pack_header(chunk: bytes, packet: bytes) -> bytes | None:
    """`chunk` with `packet` after its leading pack header (and system header), or None when the
    chunk does not start a pack."""
    if not chunk.startswith(PACK_START) or len(chunk) < 14 or chunk[4] >> 6 != 1:
        return None
    pos = 14 + (chunk[13] & 0x07)
    if chunk[pos:pos + 4] == b"\x00\x00\x01\xbb" and len(chunk) >= pos + 6:
        pos += 6 + int.from_bytes(chunk[pos + 4:pos + 6], "big")
    return chunk[:pos] + packet + chunk[pos:]


class PsMuxer:
    """Packets in (90 kHz pts), PS bytes out as the muxer writes them, a PSM in the first pack
    written once a keyframe went in."""

    def __init__(self, template: av.stream.Stream) -> None:
        codec = template.codec_context.name
        self._psm = program_stream_map(STREAM_TYPES[codec]) if codec in STREAM_TYPES else b""
        self._psm_due = False
        self._sink = _Collect()
        self._out = av.open(self._sink, "w", format="vob", options={"preload": "0", "max_delay": "0"},
                            buffer_size=4096)
        self._stream = self._out.add_stream_from_template(template)  # type: ignore[arg-type]
        self._stream.time_base = TB90K

    def mux(self, pkt: av.packet.Packet) -> bytes:
        self._psm_due |= bool(pkt.is_keyframe) and bool(self._psm)
        pkt.stream = self._stream
        self._out.mux(pkt)
        data = self._sink.take()
        if self._psm_due and data:
            with_psm = insert_after_pack_header(data, self._psm)
            if with_psm is not None:
                self._psm_due = False
                return with_psm
        return data

    def close(self) -> bytes:
        with contextlib.suppress(av.FFmpegError, OSError):
            self._out.close()
        return self._sink.take()


class Frame:
    """One video packet ready to mux: bytes, 90 kHz pts/dts relative to the session start."""

    __slots__ = ("data", "key", "pts", "dts")

    def __init__(self, data: bytes, key: bool, pts: int, dts: int) -> None:
        self.data, self.key, self.pts, self.dts = data, key, pts, dts


def _to90k(value: int | None, tb: Fraction | None) -> int:
    if value is None or tb is None:
        return 0
    return int(value * tb * 90_000)


def recorded_frames(segments: list[SegmentLike], root: Path, start_us: int, end_us: int,
                    stop: threading.Event) -> tuple[av.stream.Stream | None, Iterator[Frame]]:
    """The template stream of the first segment and the frames of [start, end), starting at the
    keyframe at or before `start` (a copy cannot begin mid-GOP). The segments are looked up by
    the caller: session threads are short-lived and must not each open an index connection."""
    if not segments:
        return None, iter(())
    first = av.open(str(root / segments[0].path))
    template = first.streams.video[0]

    def gen() -> Iterator[Frame]:
        try:
            for seg in segments:
                if stop.is_set():
                    return
                with av.open(str(root / seg.path)) as inp:
                    yield from _segment_frames(inp, seg.start_us, start_us, end_us)
        finally:
            first.close()

    return template, gen()


def _segment_frames(inp: av.container.InputContainer, seg_start_us: int, start_us: int,
                    end_us: int) -> Iterator[Frame]:
    st = inp.streams.video[0]
    bsf_name = BSF.get(st.codec_context.name)
    bsf = av.BitStreamFilterContext(bsf_name, st) if bsf_name else None
    first_dts: int | None = None
    pending: list[Frame] = []
    offset90 = (seg_start_us - start_us) * 9 // 100
    for pkt in inp.demux(st):
        if pkt.size == 0 or pkt.dts is None:
            continue
        if first_dts is None:
            first_dts = pkt.dts
        rel_dts = _to90k(pkt.dts - first_dts, pkt.time_base)
        rel_pts = _to90k((pkt.pts if pkt.pts is not None else pkt.dts) - first_dts, pkt.time_base)
        t_us = seg_start_us + rel_pts * 100 // 9
        if t_us >= end_us:
            return
        # Read before filtering: the bitstream filter takes the packet over and resets it.
        key = bool(pkt.is_keyframe)
        for out in bsf.filter(pkt) if bsf else [pkt]:
            frame = Frame(bytes(out), key, offset90 + rel_pts, offset90 + rel_dts)
            if t_us < start_us:
                # Before the range: keep only the GOP that contains `start`.
                pending = [frame] if frame.key else pending + [frame] if pending else []
                continue
            if pending:
                yield from pending
                pending = []
            yield frame


def live_frames(url: str, stop: threading.Event,
                open_timeout: float = 10.0) -> tuple[av.stream.Stream, Iterator[Frame], Callable[[], None]]:
    """Frames from the camera's RTSP URL, from its next keyframe; (template, frames, close)."""
    inp = av.open(url, options={"rtsp_transport": "tcp", "timeout": str(int(open_timeout * 1e6))},
                  timeout=open_timeout)
    st = inp.streams.video[0]
    # Cameras that announce SPS/PPS only in the SDP: put them before every keyframe, as a PS
    # receiver has nothing else to decode from (a repeat when the camera sends them in-band too).
    bsf = av.BitStreamFilterContext("dump_extra=freq=keyframe", st) if st.codec_context.extradata else None

    def gen() -> Iterator[Frame]:
        base: int | None = None
        for pkt in inp.demux(st):
            if stop.is_set():
                return
            if pkt.size == 0 or pkt.dts is None:
                continue
            key = bool(pkt.is_keyframe)
            if base is None:
                if not key:
                    continue
                base = pkt.dts
            pts = pkt.pts if pkt.pts is not None else pkt.dts
            pts90, dts90 = _to90k(pts - base, pkt.time_base), _to90k(pkt.dts - base, pkt.time_base)
            for out in bsf.filter(pkt) if bsf else [pkt]:
                yield Frame(bytes(out), key, pts90, dts90)

    return st, gen(), inp.close


class Speed:
    """Playback speed shared with the SIP side (INFO MANSRTSP Scale/PAUSE/PLAY)."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.paused = threading.Event()
        self.changed = threading.Event()

    def set(self, value: float) -> None:
        if not 0.25 <= value <= 32:
            raise ValueError("scale out of range")
        self.value = value
        self.changed.set()


def stream(template: av.stream.Stream, frames: Iterator[Frame], sink: RtpSink, ssrc: int,
           stop: threading.Event, speed: Speed | None, paced: bool = True) -> int:
    """Mux and send until the frames end or `stop`; returns the frames sent. `speed` paces
    recorded video (1 = real time); live video is paced by the camera itself."""
    mux = PsMuxer(template)
    rtp = RtpPacketizer(ssrc)
    sent = 0
    t0 = time.monotonic()
    media0 = 0.0
    last_pts = 0
    try:
        for fr in frames:
            if stop.is_set():
                break
            if speed is not None and paced:
                if speed.changed.is_set():
                    speed.changed.clear()
                    t0, media0 = time.monotonic(), fr.pts / 90_000
                while speed.paused.is_set() and not stop.is_set():
                    stop.wait(0.1)
                    t0, media0 = time.monotonic(), fr.pts / 90_000
                due = t0 + (fr.pts / 90_000 - media0) / max(speed.value, 0.01)
                delay = due - time.monotonic()
                if delay > 0 and stop.wait(min(delay, 2.0)):
                    break
            pkt = av.packet.Packet(fr.data)
            pkt.pts, pkt.dts, pkt.time_base = fr.pts, fr.dts, TB90K
            pkt.is_keyframe = fr.key
            last_pts = fr.pts
            for p in rtp.packets(mux.mux(pkt), fr.pts):
                sink.send(p)
            sent += 1
        for p in rtp.packets(mux.close(), last_pts):
            sink.send(p)
    finally:
        mux.close()
    return sent
