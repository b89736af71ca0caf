"""Cuts one camera's packets into keyframe-aligned fMP4 segments (stream copy, never re-encoding).

Every segment starts on a video keyframe and plays from time 0; it rolls at the first keyframe at
or after `segment_seconds`, and also when the codec parameters change or the timestamps jump.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import av.container
import av.stream
from av.video.codeccontext import VideoCodecContext

from capture.paramsets import as_annexb, parameter_sets
from storage.index import Segment
from storage.store import SegmentStore, StreamInfo
from storage.writer import SegmentFile

log = logging.getLogger(__name__)

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
#: Default fMP4 fragment length: the muxer also cuts a fragment inside a GOP once it is this long
#: (frag_duration, as MediaMTX's recordPartDuration), so a crash loses at most about this much.
FRAGMENT_SECONDS = 1.0


def mux_options(fragment_seconds: float | None) -> dict[str, str]:
    opts = {"movflags": MOVFLAGS}
    if fragment_seconds:
        opts["frag_duration"] = str(int(fragment_seconds * 1_000_000))
    return opts


@dataclass
class OutPacket:
    """A packet ready for muxing: timestamps repaired, in its input stream's time base."""

    packet: av.Packet
    pts: int
    dts: int
    is_video: bool


class _Active:
    def __init__(self, file: SegmentFile, container: av.container.OutputContainer, base_dts: int,
                 base_dts_audio: int | None, params: tuple[bytes, ...], info: StreamInfo) -> None:
        self.file = file
        self.container = container
        self.base_dts = base_dts
        self.base_dts_audio = base_dts_audio
        self.params = params
        self.info = info
        self.video_out: av.stream.Stream = container.streams.video[0]
        self.audio_out: av.stream.Stream | None = container.streams.audio[0] if container.streams.audio else None
        self.packets = 0
        self.last_end_dts = base_dts
        self.mux_errors = 0


class Segmenter:
    def __init__(
        self,
        camera: str,
        store: SegmentStore,
        segment_seconds: float,
        video_in: av.stream.Stream,
        audio_in: av.stream.Stream | None,
        wall_of: Callable[[int], int],
        on_closed: Callable[[Segment], None],
        frame_ticks: int,
        fragment_seconds: float | None = FRAGMENT_SECONDS,
    ) -> None:
        self.frame_ticks = frame_ticks
        self.mux_options = mux_options(fragment_seconds)
        self.camera = camera
        self.store = store
        self.video_in = video_in
        self.audio_in = audio_in
        tb = video_in.time_base
        assert tb is not None
        self.vtb: Fraction = tb
        self.segment_ticks = int(segment_seconds / self.vtb)
        self.wall_of = wall_of
        self.on_closed = on_closed
        ctx = video_in.codec_context
        self.codec = ctx.name
        self.params: tuple[bytes, ...] = parameter_sets(self.codec, bytes(ctx.extradata or b""))
        self.info = StreamInfo(self.codec, getattr(ctx, "width", 0) or 0, getattr(ctx, "height", 0) or 0)
        self.active: _Active | None = None
        self.dropped_before_key = 0
        #: Set when a write hit ENOSPC: the session pauses the worker (see `_close_on_full`).
        self.disk_full = False

    @property
    def is_open(self) -> bool:
        return self.active is not None

    def write(self, out: OutPacket) -> None:
        pkt = out.packet
        if out.is_video and pkt.is_keyframe:
            inband = parameter_sets(self.codec, bytes(pkt))
            changed = bool(inband) and inband != self.params
            if changed:
                self._params_changed(inband, pkt)
            act = self.active
            if act is not None and (changed or out.dts - act.base_dts >= self.segment_ticks):
                if changed:
                    log.info("camera %s: codec parameters changed, starting a new segment", self.camera)
                self.close()
            if self.active is None:
                if not self.info.width or not self.info.height:
                    # With several streams and a tiny probe size, FFmpeg may leave the size unset;
                    # the MP4 muxer needs it.
                    self.info = StreamInfo(self.codec, *self._probe_size(pkt, (0, 0)))
                self._open(out.dts)
        act = self.active
        if act is None:
            self.dropped_before_key += 1
            return
        if out.is_video:
            pkt.pts, pkt.dts = out.pts - act.base_dts, out.dts - act.base_dts
            pkt.stream = act.video_out
            dur = pkt.duration or self.frame_ticks
            act.last_end_dts = max(act.last_end_dts, out.dts + dur, out.pts + dur)
        else:
            if act.audio_out is None or act.base_dts_audio is None or out.dts < act.base_dts_audio:
                return
            pkt.pts, pkt.dts = out.pts - act.base_dts_audio, out.dts - act.base_dts_audio
            pkt.stream = act.audio_out
        try:
            act.container.mux(pkt)
            act.packets += out.is_video
        except Exception as exc:
            if _is_enospc(exc):
                self._close_on_full(act)
                return
            if not isinstance(exc, ValueError | av.error.FFmpegError):
                raise
            # One bad packet must not end the segment; a muxer that keeps refusing does.
            act.mux_errors += 1
            if act.mux_errors in (1, 100):
                log.warning("camera %s: muxer refused a packet (%s)", self.camera, exc)
            if act.mux_errors >= 100:
                self.close()

    def _params_changed(self, inband: tuple[bytes, ...], pkt: av.Packet) -> None:
        self.params = inband
        # The new size is known only from the new SPS: decode this one keyframe to learn it. It
        # happens only when the camera really changed its parameters.
        self.info = StreamInfo(self.codec, *self._probe_size(pkt, (self.info.width, self.info.height)))

    def _probe_size(self, pkt: av.Packet, fallback: tuple[int, int]) -> tuple[int, int]:
        try:
            dec = av.CodecContext.create(self.codec, "r")
            if self.params:
                dec.extradata = as_annexb(self.params)
            for frame in dec.decode(av.Packet(bytes(pkt))):  # type: ignore[attr-defined]
                return frame.width, frame.height
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("camera %s: could not probe the picture size (%s)", self.camera, exc)
        return fallback

    def _open(self, base_dts: int) -> None:
        start_us = self.wall_of(base_dts)
        file = self.store.open_segment(self.camera, start_us)
        container = av.open(file, mode="w", format="mp4", options=self.mux_options)
        vout = container.add_stream_from_template(self.video_in)
        if self.params:
            vout.codec_context.extradata = as_annexb(self.params)
        if self.info.width and self.info.height:
            vctx = cast(VideoCodecContext, vout.codec_context)
            vctx.width, vctx.height = self.info.width, self.info.height
        base_audio: int | None = None
        if self.audio_in is not None:
            container.add_stream_from_template(self.audio_in)
            atb = self.audio_in.time_base
            assert atb is not None
            base_audio = int(base_dts * self.vtb / atb)
        self.active = _Active(file, container, base_dts, base_audio, self.params, self.info)

    def _close_on_full(self, act: _Active) -> Segment | None:
        """The disk filled under a write: keep the segment's complete fragments (cut in place, which
        needs no space), index them, and flag `disk_full` so the session pauses instead of crashing."""
        self.active = None
        self.disk_full = True
        log.error("camera %s: disk full while writing %s; closing it at its last complete fragment",
                  self.camera, act.file.partial.name)
        with contextlib.suppress(Exception):  # its trailer cannot be written either
            act.container.close()
        try:
            media = act.file.keep_complete_fragments()
            if media is None:
                act.file.discard()
                return None
            seg = self.store.commit(self.camera, act.file, act.file.start_us + max(media.duration_us, 1),
                                    media.packets, act.info)
        except Exception as exc:  # noqa: BLE001 - the index may be full too; the worker must live on
            # Left as a .partial: startup recovery salvages it. Recording pauses all the same.
            log.error("camera %s: could not close %s on a full disk (%s); left for recovery",
                      self.camera, act.file.partial.name, exc)
            act.file.abandon()
            return None
        self.on_closed(seg)
        return seg

    def close(self) -> Segment | None:
        """Finish the active segment: trailer, fsync, rename, index row. Returns the new segment."""
        act, self.active = self.active, None
        if act is None:
            return None
        try:
            act.container.close()
        except Exception as exc:
            if _is_enospc(exc):
                return self._close_on_full(act)
            if not isinstance(exc, av.error.FFmpegError):
                raise
            # The fragments already written are intact; only the closing index (mfra) is missing.
            log.warning("camera %s: muxer close failed (%s); keeping the complete fragments", self.camera, exc)
        if act.packets == 0:
            act.file.discard()
            return None
        end_us = self.wall_of(act.last_end_dts)
        seg = self.store.commit(self.camera, act.file, end_us, act.packets, act.info)
        self.on_closed(seg)
        return seg


def _is_enospc(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) == errno.ENOSPC
