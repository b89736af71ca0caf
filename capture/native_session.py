"""One native connection to a camera: `NativeSource` access units into a `NativeSegmenter`.

The counterpart of `capture.session.Session` for the native ingest path, with the same duties
towards its worker (status, gaps, pause on a full disk, the keyframe hook, timestamp repair) and
the same contract: `run()` returns or raises `Reconnect`, `close()` is always called after it.
"""

from __future__ import annotations

import logging
import threading
import time

import av
import av.stream

from capture.native_loop import closer, reader_loop
from capture.native_mux import NativeSegmenter
from capture.native_source import NativeSource
from capture.rtsp.errors import RtspError, Unsupported
from capture.rtsp.h264 import H264Depacketizer, avcc
from capture.rtsp.h265 import to_annexb
from capture.rtsp.rtp import AccessUnit
from capture.session import Reconnect, SessionHost, anchor_wall, segment_closed
from capture.state import CameraState
from capture.timestamps import TimestampPolicy, Verdict
from storage.index import Segment

log = logging.getLogger(__name__)
#: Seconds between a session thread's own looks at its worker's stop event (the reader loop
#: normally wakes it within one pass of `stop`).
STOP_POLL = 5.0
#: RTP encoding names as FFmpeg calls the codecs (the PyAV path logs these names).
FFMPEG_AUDIO_NAMES = {"PCMA": "pcm_alaw", "PCMU": "pcm_mulaw", "G726-32": "adpcm_g726", "L16": "pcm_s16be"}


class NativeSession:
    def __init__(self, worker: SessionHost) -> None:
        self.w = worker
        self.source: NativeSource | None = None
        self.segmenter: NativeSegmenter | None = None
        self.recorded = False
        self.last_wall_us: int | None = None
        self._anchor: tuple[int, int] | None = None
        self._rate = 90000
        self._paused = False
        self._params_version = 0
        self._clock_steps = worker.clock_steps
        #: Read on the one shared reader thread (False: block on the worker's own thread).
        self.shared_loop = True

    def wall_of(self, ticks: int) -> int:
        if self._anchor is None:
            self._anchor = (self._anchor_wall(), ticks)
        wall, base = self._anchor
        n = (ticks - base) * 1_000_000
        return wall + (n // self._rate if n >= 0 else -(-n // self._rate))

    def _anchor_wall(self) -> int:
        return anchor_wall(self.w)

    def _segment_closed(self, seg: Segment) -> None:
        # On the closer thread when the reader loop runs the session (one writer per field still).
        segment_closed(self.w, seg)

    def _keyframe(self, pkt: av.Packet, stream: av.stream.Stream) -> None:
        if self.w.on_keyframe is not None:
            self.w.on_keyframe(self.w.cfg.id, pkt, stream)

    def run(self) -> None:
        cfg = self.w.cfg
        src = self.source = NativeSource(cfg.url, cfg.stall_timeout, audio=cfg.record_audio,
                                         handshake_timeout=cfg.handshake_timeout,
                                         box_now_us=self.w.clock.now_us)
        try:
            streams = src.connect()
        except Unsupported:
            raise  # the worker falls back to the PyAV path
        except RtspError as exc:
            raise Reconnect(exc.reason, str(exc)) from exc
        if src.skipped_audio and not self.w.audio_warned:
            self.w.audio_warned = True
            name = FFMPEG_AUDIO_NAMES.get(src.skipped_audio, src.skipped_audio.lower())
            log.info("camera %s: audio codec %s cannot be stored in MP4; recording video only", cfg.id, name)
        video = streams[0]
        audio = streams[1] if len(streams) > 1 else None
        self._rate = video.clock_rate
        frame_ticks = video.clock_rate // 25
        vpol = TimestampPolicy(frame_ticks, max_backstep=video.clock_rate, max_jump=10 * video.clock_rate)
        apol = (TimestampPolicy(audio.frame_samples, max_backstep=audio.clock_rate, max_jump=10 * audio.clock_rate)
                if audio is not None else None)
        seg = self.segmenter = NativeSegmenter(cfg.id, self.w.store, self.w.segment_seconds, video, audio,
                                               self.wall_of, self._segment_closed, frame_ticks,
                                               writer=cfg.native_writer,
                                               **({} if self.w.fragment_seconds is None
                                                  else {"fragment_seconds": self.w.fragment_seconds}))
        seg.keyframe_hook = self._keyframe
        self._vpol, self._apol = vpol, apol
        self._dep = src.video
        self._hevc = video.codec == "hevc"
        self._pending: tuple[bytearray | bytes, int, int, bool] | None = None
        self._last_video = time.monotonic()
        self.w.status.connected = True
        if self.shared_loop:
            self._run_on_loop(seg)
        else:
            self._run_here()
        if self._pending is not None:
            self._emit(self._pending)
            self._pending = None

    # -- the two ways to read: on the shared reader loop (default), or blocking on this thread ----
    def _run_on_loop(self, seg: NativeSegmenter) -> None:
        seg.defer = closer
        self._done = threading.Event()
        self._error: BaseException | None = None
        loop = reader_loop()
        loop.add(self)
        try:
            # The reader loop ends the wait: at an error, or at the first pass after `stop` (its
            # `drain` checks). The timeout is only a safety net: 32 threads waking every 0.5 s to
            # poll cost ~6 % of the recorder's CPU, each wake-up taking the GIL from the readers.
            while not self._done.wait(STOP_POLL) and not self.w.stop_event.is_set():
                pass
        finally:
            loop.remove(self)
        if self._error is not None:
            raise self._error

    def drain(self, now: float) -> None:
        """On the reader loop's thread: what the camera sent since the last pass."""
        src = self.source
        assert src is not None
        if self.w.stop_event.is_set():
            self._done.set()  # the worker is stopping: its thread closes the session
            return
        try:
            units = src.read_available(now)
        except RtspError as exc:
            raise Reconnect(exc.reason, str(exc)) from exc
        if units:
            self._process(units, now)
        elif now - src.last_data > self.w.cfg.stall_timeout:
            raise Reconnect("timeout", f"nothing from the camera for {self.w.cfg.stall_timeout:g} s")
        if now - self._last_video > self.w.cfg.stall_timeout:
            raise Reconnect("stalled", f"no video packet for {self.w.cfg.stall_timeout:g} s")

    def fail(self, exc: BaseException) -> None:
        self._error = exc
        self._done.set()

    def _run_here(self) -> None:
        src = self.source
        assert src is not None
        stop = self.w.stop_event
        while not stop.is_set():
            try:
                units = src.read()
            except RtspError as exc:
                raise Reconnect(exc.reason, str(exc)) from exc
            now = time.monotonic()
            self._process(units, now)
            if now - self._last_video > self.w.cfg.stall_timeout:
                raise Reconnect("stalled", f"no video packet for {self.w.cfg.stall_timeout:g} s")

    def _process(self, units: list[AccessUnit], now: float) -> None:
        src, seg, st = self.source, self.segmenter, self.w.status
        assert src is not None and seg is not None
        vpol, apol, origin = self._vpol, self._apol, src.origin
        pending = self._pending
        for au in units:
            ts = au.ts - origin(au)
            if au.stream:
                if apol is not None and not self._paused:
                    s = apol.stamp(ts, ts)
                    if s.verdict is Verdict.OK:
                        seg.write_audio(au.data, s.pts)
                continue
            st.packets += 1
            st.bytes += len(au.data)
            self._last_video = now
            if self._check_paused():
                pending = None
                vpol.reset()
                continue
            s = vpol.stamp(ts, ts)
            if s.verdict is Verdict.MERGE and pending is not None:
                pending = (bytes(pending[0]) + bytes(au.data), pending[1], pending[2], pending[3] or au.keyframe)
                continue
            if pending is not None:
                self._emit(pending)
            if s.verdict is Verdict.DISCONTINUITY:
                st.discontinuities += 1
                log.warning("camera %s: timestamp discontinuity, starting a new segment", self.w.cfg.id)
                seg.close()  # in full: the fresh anchor must see where this segment ended
                self._anchor = None
                s = vpol.stamp(ts, ts)
            st.timestamp_repairs = vpol.repaired
            if au.keyframe and self._clock_steps != self.w.clock_steps:
                # The wall clock stepped: a new segment from a fresh anchor (as the PyAV session).
                self._clock_steps = self.w.clock_steps
                if pending is not None:
                    self._emit(pending)
                    pending = None
                seg.close()  # in full: the fresh anchor must see where this segment ended
                self._anchor = None
            if self._hevc and seg.writer == "pyav":
                to_annexb(au.data)  # type: ignore[arg-type]
            pending = (au.data, s.pts, s.dts, au.keyframe)
        self._pending = pending
        st.last_packet_monotonic = now
        st.rtp_lost = src.video.lost
        st.clock_drift_us = src.drift_us

    def _emit(self, unit: tuple[bytearray | bytes, int, int, bool]) -> None:
        seg = self.segmenter
        assert seg is not None
        dep = self._dep
        version = dep.params_version
        data, pts, dts, key = unit
        extradata = None
        if key and (version != self._params_version or not seg.extradata) and dep.params:
            # In-band parameter sets differ from the segment's (or the SDP carried none).
            self._params_version = version
            extradata = (avcc(dep.params) if isinstance(dep, H264Depacketizer)
                         else b"".join(b"\0\0\0\1" + p for p in dep.params))
        was_open = seg.is_open
        seg.write_video(data, pts, dts, key, extradata)
        if seg.is_open and not was_open:
            assert seg.active is not None
            self.w.gap_close(seg.active.file.start_us)
            self.recorded = True
            self.w.status.state = CameraState.RECORDING
        self.last_wall_us = self.wall_of(dts)
        self.w.status.last_packet_wall_us = self.last_wall_us

    def _check_paused(self) -> bool:
        seg = self.segmenter
        if seg is not None and seg.disk_full:
            seg.disk_full = False
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
            assert seg is not None
            seg.close()  # in full before the gap opens: the chain must not gain a segment after it
            log.warning("camera %s: recording paused (%s)", self.w.cfg.id, reason)
            self.w.gap_open(self.w.clock.now_us(), "paused", reason)
            self.w.status.state = CameraState.PAUSED
        return True

    def close(self) -> None:
        if self.segmenter is not None:
            try:
                self.segmenter.close()
            except Exception:
                log.exception("camera %s: closing the segment failed", self.w.cfg.id)
            self.segmenter = None
        if self.source is not None:
            self.source.close()
            self.source = None
