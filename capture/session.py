"""One connection to a camera: open the RTSP stream, repair timestamps, feed the segmenter."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Protocol

import av
import av.container
import av.stream

from capture.segmenter import OutPacket, Segmenter
from capture.source import CameraSource
from capture.state import CameraState, CameraStatus
from capture.timestamps import TimestampPolicy, Verdict
from storage.clock import Clock
from storage.index import Segment
from storage.store import SegmentStore

log = logging.getLogger(__name__)

#: Audio codecs the MP4 muxer can carry; others (G.711 mostly) are dropped with one log line.
MP4_AUDIO = frozenset({"aac", "mp3", "opus", "alac", "flac", "ac3", "eac3"})
#: Timestamp-less packets held at the start of a connection until one with a timestamp comes.
MAX_HELD = 8
#: Bitrate and fps come from the bytes over the seconds of this many last segments: the short
#: segment cut at a pause, a reconnect or a parameter change alone can read far above the real rate.
RATE_WINDOW = 6


class Reconnect(Exception):
    """Leave this connection and reconnect, recording a gap with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def open_options(stall_timeout: float) -> dict[str, str]:
    # FFmpeg's own socket timeout (µs), not av.open(timeout=): PyAV implements the latter with a
    # Python interrupt callback that costs CPU on every blocking call (design notes).
    return {
        "rtsp_transport": "tcp",
        "timeout": str(int(stall_timeout * 1_000_000)),
        "analyzeduration": "0",
        "probesize": "32",
        "fflags": "nobuffer",
    }


class SessionHost(Protocol):
    """What one connection uses of the worker that runs it (the worker satisfies it; the session
    never imports the worker, so the two are not a circle)."""

    cfg: CameraSource
    store: SegmentStore
    clock: Clock
    segment_seconds: float
    status: CameraStatus
    stop_event: threading.Event
    on_segment: Callable[[Segment], None] | None
    on_keyframe: Callable[[str, av.Packet, av.stream.Stream], None] | None
    paused_reason: str | None
    audio_warned: bool
    #: fMP4 fragment length ([storage] fragment_seconds); None: the segmenter's default.
    fragment_seconds: float | None
    #: Bumped when the wall clock stepped: the session re-anchors segment times.
    clock_steps: int
    #: (bytes, video packets, µs) of the last segments, across reconnects.
    rate_window: deque[tuple[int, int, int]]

    def pause(self, reason: str) -> None: ...

    def gap_open(self, start_us: int, reason: str, detail: str) -> None: ...

    def gap_close(self, end_us: int) -> None: ...


def anchor_wall(host: SessionHost) -> int:
    """The wall time of a new anchor: now, but never before the end of the camera's last segment
    (after the clock stepped back, segment times must not overlap or go backwards). Shared by
    both ingest paths' sessions."""
    now = host.clock.now_us()
    last = host.status.last_segment_end_us
    if last is None:
        seg = host.store.index.last_segment(host.cfg.id)
        last = seg.end_us if seg is not None else None
    return now if last is None else max(now, last)


def segment_closed(host: SessionHost, seg: Segment) -> None:
    """A closed segment's figures into the camera's status (rates over the last few segments,
    not the last one alone), then the host's callback. Shared by both ingest paths' sessions."""
    st = host.status
    st.segments += 1
    st.last_segment_end_us = seg.end_us
    window = host.rate_window
    window.append((seg.bytes, seg.packets, max(seg.end_us - seg.start_us, 1)))
    seconds = sum(w[2] for w in window) / 1_000_000
    st.bitrate = sum(w[0] for w in window) * 8 / seconds
    st.fps = sum(w[1] for w in window) / seconds
    st.codec, st.width, st.height = seg.codec, seg.width, seg.height
    if host.on_segment is not None:
        host.on_segment(seg)


class Session:
    def __init__(self, worker: SessionHost) -> None:
        self.w = worker
        self.container: av.container.InputContainer | None = None
        self.segmenter: Segmenter | None = None
        self.recorded = False
        self.last_wall_us: int | None = None
        self._anchor: tuple[int, int] | None = None  # (wall µs, dts) of the first packet
        self._vtb = Fraction(1, 90000)
        self._paused = False
        self._clock_steps = worker.clock_steps

    # -- time -----------------------------------------------------------------------------------
    def wall_of(self, dts: int) -> int:
        if self._anchor is None:
            self._anchor = (self._anchor_wall(), dts)
        wall, base = self._anchor
        # Integer maths, truncating toward zero like int(Fraction): two Fraction products on every
        # packet were ~15 % of a capture thread's CPU (bench/README.md, ingest profile).
        n = (dts - base) * self._vtb.numerator * 1_000_000
        d = self._vtb.denominator
        return wall + (n // d if n >= 0 else -(-n // d))

    def _anchor_wall(self) -> int:
        return anchor_wall(self.w)

    # -- segment callbacks ----------------------------------------------------------------------
    def _segment_closed(self, seg: Segment) -> None:
        segment_closed(self.w, seg)

    # -- the connection -------------------------------------------------------------------------
    def run(self) -> None:
        cfg = self.w.cfg
        t0 = time.monotonic()
        deadline = cfg.handshake_timeout
        try:
            # The open timeout is PyAV's interrupt callback, an overall deadline on connect, RTSP
            # handshake and probe (the socket timeout only fires when *no* data comes; a camera
            # sending an endless header line would hold the worker for good). No read timeout: with
            # none set, the callback returns at once without the GIL, so reading costs nothing.
            self.container = av.open(cfg.url, mode="r", options=open_options(cfg.stall_timeout),
                                     timeout=(deadline, None))
        except av.error.FFmpegError as exc:
            # FFmpeg reports a server that never answers the handshake as "invalid data" once its
            # socket timeout expires; the elapsed time tells the two apart.
            elapsed = time.monotonic() - t0
            if elapsed >= 0.9 * min(cfg.stall_timeout, deadline):
                raise Reconnect("timeout", f"no complete handshake within {elapsed:.1f} s") from exc
            raise
        if not self.container.streams.video:
            raise Reconnect("bad_data", "the stream has no video")
        video = self.container.streams.video[0]
        audio = self._pick_audio()
        tb = video.time_base
        assert tb is not None
        self._vtb = tb
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        frame_ticks = max(1, round(1 / (rate * tb)))
        vpol = TimestampPolicy(frame_ticks, max_backstep=int(1 / tb), max_jump=int(10 / tb))
        apol: TimestampPolicy | None = None
        if audio is not None and audio.time_base is not None:
            atb = audio.time_base
            rate_hz = getattr(audio.codec_context, "sample_rate", 0) or 8000
            afr = max(1, int(1024 / (rate_hz * atb)))
            apol = TimestampPolicy(afr, max_backstep=int(1 / atb), max_jump=int(10 / atb))
        self.segmenter = Segmenter(cfg.id, self.w.store, self.w.segment_seconds, video, audio,
                                   self.wall_of, self._segment_closed, frame_ticks,
                                   **({} if self.w.fragment_seconds is None
                                      else {"fragment_seconds": self.w.fragment_seconds}))
        st = self.w.status
        st.connected = True
        held: list[av.Packet] = []
        pending: OutPacket | None = None
        stall = cfg.stall_timeout
        last_video = time.monotonic()
        streams = [video] + ([audio] if audio is not None else [])
        for pkt in self.container.demux(streams):
            if self.w.stop_event.is_set():
                break
            now = time.monotonic()
            if pkt.size == 0:
                continue
            if pkt.stream is not video:
                if now - last_video > stall:
                    raise Reconnect("stalled", f"no video packet for {stall:g} s")
                if apol is not None and not self._paused:
                    s = apol.stamp(pkt.pts, pkt.dts, pkt.duration)
                    if s.verdict is Verdict.OK:
                        self.segmenter.write(OutPacket(pkt, s.pts, s.dts, False))
                continue
            last_video = now
            st.packets += 1
            st.bytes += pkt.size
            st.last_packet_monotonic = now
            if self._check_paused():
                pending = None
                vpol.reset()
                continue
            if pkt.dts is None and pkt.pts is None and vpol.last_dts is None and len(held) < MAX_HELD:
                held.append(pkt)
                continue
            if held:
                ref = pkt.dts if pkt.dts is not None else pkt.pts
                if ref is not None:
                    for i, h in enumerate(held):
                        h.dts = h.pts = ref - (len(held) - i) * frame_ticks
                for h in held:
                    pending = self._video(vpol, h, pending)
                held = []
            pending = self._video(vpol, pkt, pending)
        if pending is not None:
            self._emit(pending)

    def _video(self, pol: TimestampPolicy, pkt: av.Packet, pending: OutPacket | None) -> OutPacket:
        s = pol.stamp(pkt.pts, pkt.dts, pkt.duration)
        if s.verdict is Verdict.MERGE and pending is not None:
            merged = av.Packet(bytes(pending.packet) + bytes(pkt))
            merged.time_base = pkt.time_base
            merged.is_keyframe = pending.packet.is_keyframe or pkt.is_keyframe
            merged.duration = pending.packet.duration
            return OutPacket(merged, max(pending.pts, s.pts), pending.dts, True)
        if pending is not None:
            self._emit(pending)
        if self._clock_steps != self.w.clock_steps and pkt.is_keyframe:
            # The wall clock stepped: the next segment starts from a fresh anchor (not before the
            # last segment's end), so footage from now on is stamped with the corrected clock.
            self._clock_steps = self.w.clock_steps
            assert self.segmenter is not None
            self.segmenter.close()
            self._anchor = None
        if s.verdict is Verdict.DISCONTINUITY:
            self.w.status.discontinuities += 1
            log.warning("camera %s: timestamp discontinuity, starting a new segment", self.w.cfg.id)
            assert self.segmenter is not None
            self.segmenter.close()
            self._anchor = None
            s = pol.stamp(pkt.pts, pkt.dts, pkt.duration)
        self.w.status.timestamp_repairs = pol.repaired
        return OutPacket(pkt, s.pts, s.dts, True)

    def _emit(self, out: OutPacket) -> None:
        seg = self.segmenter
        assert seg is not None
        was_open = seg.is_open
        if out.packet.is_keyframe and self.w.on_keyframe is not None and self.container is not None:
            self.w.on_keyframe(self.w.cfg.id, out.packet, self.container.streams.video[0])
        seg.write(out)
        if seg.is_open and not was_open:
            # First segment of this connection: the outage (if any) ends where the footage resumes.
            assert seg.active is not None
            self.w.gap_close(seg.active.file.start_us)
            self.recorded = True
            self.w.status.state = CameraState.RECORDING
        self.last_wall_us = self.wall_of(out.dts)
        self.w.status.last_packet_wall_us = self.last_wall_us

    def _check_paused(self) -> bool:
        if self.segmenter is not None and self.segmenter.disk_full:
            # A write hit ENOSPC (the segment was closed at its last complete fragment): pause until
            # the retention service sees space again and resumes the worker.
            self.segmenter.disk_full = False
            if self.w.paused_reason is None:
                self.w.pause("disk_full")
        reason = self.w.paused_reason
        if reason is None:
            if self._paused:
                self._paused = False
                self._anchor = None
                log.info("camera %s: recording resumed", self.w.cfg.id)
            return False
        if not self._paused:
            self._paused = True
            assert self.segmenter is not None
            self.segmenter.close()
            log.warning("camera %s: recording paused (%s)", self.w.cfg.id, reason)
            self.w.gap_open(self.w.clock.now_us(), "paused", reason)
            self.w.status.state = CameraState.PAUSED
        return True

    def _pick_audio(self) -> av.stream.Stream | None:
        assert self.container is not None
        if not self.container.streams.audio or not self.w.cfg.record_audio:
            return None
        a = self.container.streams.audio[0]
        name = a.codec_context.name
        if name in MP4_AUDIO:
            return a
        if not self.w.audio_warned:
            self.w.audio_warned = True
            log.info("camera %s: audio codec %s cannot be stored in MP4; recording video only",
                     self.w.cfg.id, name)
        return None

    def close(self) -> None:
        """Close the active segment cleanly, then the connection. Safe to call more than once."""
        if self.segmenter is not None:
            try:
                self.segmenter.close()
            except Exception:
                log.exception("camera %s: closing the segment failed", self.w.cfg.id)
            self.segmenter = None
        if self.container is not None:
            # A broken connection may fail to close; there is nothing left to save from it.
            with contextlib.suppress(Exception):
                self.container.close()
            self.container = None
