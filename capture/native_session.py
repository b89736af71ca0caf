"""One native connection to a camera: `NativeSource` access units into a `NativeSegmenter`.

The counterpart of `capture.session.Session` for the native ingest path, with the same duties
towards its worker (status, gaps, pause on a full disk, the keyframe hook, timestamp repair) and
the same contract: `run()` returns or raises `Reconnect`, `close()` is always called after it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import av
import av.stream

from capture.native_mux import NativeSegmenter
from capture.native_source import NativeSource
from capture.rtsp.errors import RtspError, Unsupported
from capture.rtsp.h264 import H264Depacketizer, avcc
from capture.rtsp.h265 import H265Depacketizer, to_annexb
from capture.session import Reconnect
from capture.state import CameraState
from capture.timestamps import TimestampPolicy, Verdict
from storage.index import Segment

if TYPE_CHECKING:
    from capture.worker import CaptureWorker

log = logging.getLogger(__name__)
#: RTP encoding names as FFmpeg calls the codecs (the PyAV path logs these names).
FFMPEG_AUDIO_NAMES = {"PCMA": "pcm_alaw", "PCMU": "pcm_mulaw", "G726-32": "adpcm_g726", "L16": "pcm_s16be"}


class NativeSession:
    def __init__(self, worker: CaptureWorker) -> None:
        self.w = worker
        self.source: NativeSource | None = None
        self.segmenter: NativeSegmenter | None = None
        self.recorded = False
        self.last_wall_us: int | None = None
        self._anchor: tuple[int, int] | None = None
        self._rate = 90000
        self._paused = False
        self._params_version = 0

    def wall_of(self, ticks: int) -> int:
        if self._anchor is None:
            self._anchor = (self.w.clock.now_us(), ticks)
        wall, base = self._anchor
        n = (ticks - base) * 1_000_000
        return wall + (n // self._rate if n >= 0 else -(-n // self._rate))

    def _segment_closed(self, seg: Segment) -> None:
        st = self.w.status
        st.segments += 1
        st.last_segment_end_us = seg.end_us
        duration = max(seg.end_us - seg.start_us, 1) / 1_000_000
        st.bitrate = seg.bytes * 8 / duration
        st.fps = seg.packets / duration
        st.codec, st.width, st.height = seg.codec, seg.width, seg.height
        if self.w.on_segment is not None:
            self.w.on_segment(seg)

    def _keyframe(self, pkt: av.Packet, stream: av.stream.Stream) -> None:
        if self.w.on_keyframe is not None:
            self.w.on_keyframe(self.w.cfg.id, pkt, stream)

    def run(self) -> None:
        cfg = self.w.cfg
        src = self.source = NativeSource(cfg.url, cfg.stall_timeout, audio=cfg.record_audio,
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
                                               self.wall_of, self._segment_closed, frame_ticks)
        seg.keyframe_hook = self._keyframe
        dep = src.video
        hevc = video.codec == "hevc"
        st = self.w.status
        st.connected = True
        stop = self.w.stop_event
        origin = src.origin
        pending: tuple[bytearray | bytes, int, int, bool] | None = None
        while not stop.is_set():
            try:
                units = src.read()
            except RtspError as exc:
                raise Reconnect(exc.reason, str(exc)) from exc
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
                st.last_packet_monotonic = time.monotonic()
                if self._check_paused():
                    pending = None
                    vpol.reset()
                    continue
                s = vpol.stamp(ts, ts)
                if s.verdict is Verdict.MERGE and pending is not None:
                    pending = (bytes(pending[0]) + bytes(au.data), pending[1], pending[2], pending[3] or au.keyframe)
                    continue
                if pending is not None:
                    self._emit(pending, dep.params_version, dep)
                if s.verdict is Verdict.DISCONTINUITY:
                    st.discontinuities += 1
                    log.warning("camera %s: timestamp discontinuity, starting a new segment", cfg.id)
                    seg.close()
                    self._anchor = None
                    s = vpol.stamp(ts, ts)
                st.timestamp_repairs = vpol.repaired
                if hevc:
                    to_annexb(au.data)  # type: ignore[arg-type]
                pending = (au.data, s.pts, s.dts, au.keyframe)
            stats = src.stats()
            st.rtp_lost = stats["lost"]
            st.clock_drift_us = src.drift_us
        if pending is not None:
            self._emit(pending, dep.params_version, dep)

    def _emit(self, unit: tuple[bytearray | bytes, int, int, bool], version: int,
              dep: H264Depacketizer | H265Depacketizer) -> None:
        seg = self.segmenter
        assert seg is not None
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
            seg.close()
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
