"""Segments from native access units: PyAV's MP4 muxer writing to the segment's temporary path.

The same contract as `capture.segmenter.Segmenter` (keyframe-aligned fMP4 segments rolled at
`segment_seconds` or on a parameter change, the disk-full cut at the last complete fragment, the
store's fsync/rename/fsync-dir publish), with less work per frame: the samples are already
length-prefixed with avcC extradata (no start-code scan in the muxer), the parameter sets come from
the depacketizer (no scan of keyframes), the file is written by FFmpeg's own I/O (no Python write
call per buffer) and hashed once closed, from the page cache.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from fractions import Fraction
from typing import cast

import av
import av.container
import av.stream
from av.audio.codeccontext import AudioCodecContext
from av.video.codeccontext import VideoCodecContext

from capture.fmp4 import FragmentWriter, _template, init_segment
from capture.native_source import StreamParams
from capture.rtsp.h265 import to_annexb
from capture.segmenter import FRAGMENT_SECONDS, mux_options
from storage.index import Segment
from storage.salvage import SalvageError, plan_salvage
from storage.store import SegmentStore, StreamInfo
from storage.writer import SegmentFile

log = logging.getLogger(__name__)

#: Who writes the segment files: "python" (capture.fmp4: one writev per fragment) or "pyav"
#: (FFmpeg's MP4 muxer through PyAV, one call per packet; the fallback).
WRITERS = ("python", "pyav")
#: What an init segment is made from (`capture.fmp4.init_segment`'s arguments).
InitKey = tuple[str, int, bytes, int, int, tuple[int, int, bytes] | None]


def probe_size(codec: str, extradata: bytes, sample: bytes) -> tuple[int, int]:
    """Picture size by decoding one keyframe (once per connection and per parameter change)."""
    try:
        dec = cast(VideoCodecContext, av.CodecContext.create(codec, "r"))
        if extradata:
            dec.extradata = extradata
        dec.thread_type = "NONE"
        for frame in dec.decode(av.Packet(sample)):
            return frame.width, frame.height
        for frame in dec.decode(None):
            return frame.width, frame.height
    except (av.error.FFmpegError, ValueError) as exc:
        log.warning("could not probe the picture size (%s)", exc)
    return 0, 0


class _Open:
    __slots__ = ("audio_base", "audio_out", "base", "container", "file", "frag", "info", "last_end", "mux",
                 "mux_errors", "packets", "video_out")

    def __init__(self, file: SegmentFile, container: av.container.OutputContainer, base: int,
                 audio_base: int | None, info: StreamInfo, frag: FragmentWriter | None = None) -> None:
        self.file = file
        #: The PyAV muxer writing the file, or (own writer) the container holding the init segment's
        #: streams, never written after its header.
        self.container = container
        self.frag = frag
        self.mux = container.mux_one
        self.base = base
        self.audio_base = audio_base
        self.info = info
        self.video_out: av.stream.Stream = container.streams.video[0]
        self.audio_out: av.stream.Stream | None = container.streams.audio[0] if container.streams.audio else None
        self.packets = 0
        self.last_end = base
        self.mux_errors = 0


class NativeSegmenter:
    def __init__(self, camera: str, store: SegmentStore, segment_seconds: float, video: StreamParams,
                 audio: StreamParams | None, wall_of: Callable[[int], int],
                 on_closed: Callable[[Segment], None], frame_ticks: int,
                 fragment_seconds: float | None = FRAGMENT_SECONDS, writer: str = "python") -> None:
        if writer not in WRITERS:
            raise ValueError(f"writer must be one of {WRITERS}")
        self.writer = writer
        self.camera = camera
        self.fragment_seconds = fragment_seconds
        self.store = store
        self.video = video
        self.audio = audio
        self.vtb = Fraction(1, video.clock_rate)
        self.atb = Fraction(1, audio.clock_rate) if audio is not None else None
        self.segment_ticks = int(segment_seconds * video.clock_rate)
        self.frame_ticks = frame_ticks
        self.wall_of = wall_of
        self.on_closed = on_closed
        self.extradata = video.extradata
        self.info = StreamInfo(video.codec, 0, 0)
        self.active: _Open | None = None
        self.dropped_before_key = 0
        self.disk_full = False
        #: Called with each keyframe packet and its output stream before it is muxed (the health
        #: sampler's hook: the stream's codec context carries the extradata a decoder needs).
        self.keyframe_hook: Callable[[av.Packet, av.stream.Stream], None] | None = None
        #: Where the disk-bound end of a segment runs (the shared closer thread), None: right here.
        self.defer: Callable[[Callable[[], Segment | None]], Future[Segment | None]] | None = None
        #: (stream parameters, init segment, its holder container) of the last segment opened.
        self._init: tuple[InitKey, bytes, av.container.OutputContainer] | None = None

    @property
    def is_open(self) -> bool:
        return self.active is not None

    def write_video(self, data: bytes | bytearray, pts: int, dts: int, keyframe: bool,
                    extradata: bytes | None = None) -> bool:
        """Mux one access unit (timestamps repaired, in the clock rate). `extradata` differs from
        the segment's when the camera changed its parameters: a new segment starts with it."""
        act = self.active
        if keyframe:
            changed = extradata is not None and extradata != self.extradata
            if changed:
                assert extradata is not None
                log.info("camera %s: codec parameters changed, starting a new segment", self.camera)
                self.extradata = extradata
                self.info = StreamInfo(self.video.codec, 0, 0)
            if act is not None and (changed or dts - act.base >= self.segment_ticks):
                self.close(wait=False)
                act = None
            if act is None:
                if not self.info.width:
                    self.info = StreamInfo(self.video.codec, *probe_size(self.video.codec, self.extradata,
                                                                         bytes(data)))
                act = self._open(dts)
        if act is None:
            self.dropped_before_key += 1
            return False
        frag = act.frag
        if frag is not None:
            if keyframe and self.keyframe_hook is not None:
                self._hook(act, data, pts - act.base, dts - act.base)
            end = max(dts, pts) + self.frame_ticks
            if end > act.last_end:
                act.last_end = end
            try:
                taken = frag.add_video(data, pts - act.base, dts - act.base, keyframe)
            except OSError as exc:
                if not _is_enospc(exc):
                    raise
                self._close_on_full(act)
                return True
            if taken:
                act.packets += 1
            else:
                self._refused(act, "non-increasing DTS")
            return True
        pkt = av.Packet(data)  # type: ignore[arg-type]  # any buffer: PyAV copies it once
        pkt.time_base = self.vtb
        pkt.pts, pkt.dts = pts - act.base, dts - act.base
        pkt.is_keyframe = keyframe
        pkt.stream = act.video_out
        if keyframe and self.keyframe_hook is not None:
            self.keyframe_hook(pkt, act.video_out)
        end = max(dts, pts) + self.frame_ticks
        if end > act.last_end:
            act.last_end = end
        if self._mux(act, pkt):
            act.packets += 1
            act.file.sync_if_due(time.monotonic())
        return True

    def _hook(self, act: _Open, data: bytes | bytearray, pts: int, dts: int) -> None:
        """The keyframe hook of the own writer: a packet as the PyAV path muxes it (HEVC samples in
        Annex-B, since the stream's extradata is), on the init segment's stream."""
        assert self.keyframe_hook is not None
        if self.video.codec == "hevc":
            data = bytearray(data)
            to_annexb(data)
        pkt = av.Packet(data)  # type: ignore[arg-type]
        pkt.time_base = self.vtb
        pkt.pts, pkt.dts = pts, dts
        pkt.is_keyframe = True
        self.keyframe_hook(pkt, act.video_out)

    def _refused(self, act: _Open, why: object) -> None:
        act.mux_errors += 1
        if act.mux_errors in (1, 100):
            log.warning("camera %s: muxer refused a packet (%s)", self.camera, why)
        if act.mux_errors >= 100:
            self.close()

    def write_audio(self, data: bytes | bytearray, pts: int) -> None:
        act = self.active
        if act is None or act.audio_out is None or act.audio_base is None or pts < act.audio_base:
            return
        if act.frag is not None:
            act.frag.add_audio(data, pts - act.audio_base)
            return
        assert self.atb is not None
        pkt = av.Packet(data)  # type: ignore[arg-type]
        pkt.time_base = self.atb
        pkt.pts = pkt.dts = pts - act.audio_base
        pkt.stream = act.audio_out
        self._mux(act, pkt)

    def _mux(self, act: _Open, pkt: av.Packet) -> bool:
        try:
            act.mux(pkt)
            return True
        except Exception as exc:
            if _is_enospc(exc):
                self._close_on_full(act)
                return False
            if not isinstance(exc, ValueError | av.error.FFmpegError):
                raise
            self._refused(act, exc)
            return False

    def _open(self, base: int) -> _Open:
        if self.writer == "python":
            return self._open_own(base)
        file = self.store.open_segment(self.camera, self.wall_of(base))
        file.written_by_path()
        # flush_packets: every fragment reaches the page cache when it is complete (a killed process
        # loses only the fragment being built), as with the Python-file sink of the PyAV path.
        container = av.open(str(file.partial), mode="w", format="mp4",
                            options={**mux_options(self.fragment_seconds), "flush_packets": "1"})
        vout = container.add_stream_from_template(_template(self.video.codec))
        vout.time_base = self.vtb
        vctx = cast(VideoCodecContext, vout.codec_context)
        vctx.extradata = self.extradata
        vctx.width, vctx.height = self.info.width, self.info.height
        audio_base: int | None = None
        if self.audio is not None and self.atb is not None:
            aout = container.add_stream_from_template(_template("aac"))
            aout.time_base = self.atb
            actx = cast(AudioCodecContext, aout.codec_context)
            actx.extradata = self.audio.extradata
            actx.sample_rate = self.audio.clock_rate
            actx.layout = "stereo" if self.audio.channels == 2 else "mono"
            audio_base = int(base * self.vtb / self.atb)
        self.active = _Open(file, container, base, audio_base, self.info)
        return self.active

    def _open_own(self, base: int) -> _Open:
        audio = self.audio
        key: InitKey = (self.video.codec, self.video.clock_rate, self.extradata, self.info.width, self.info.height,
               None if audio is None else (audio.clock_rate, audio.channels, audio.extradata))
        if self._init is None or self._init[0] != key:
            # Made by FFmpeg's muxer once per set of stream parameters, not once per segment (a
            # container each time cost ~2 % of the recorder's CPU). The holder's streams are only
            # read (the keyframe hook's decoder parameters), never written: shared by segments.
            self._init = (key, *init_segment(*key))
        _, init, holder = self._init
        file = self.store.open_segment(self.camera, self.wall_of(base))
        ticks = int(self.fragment_seconds * self.video.clock_rate) if self.fragment_seconds else 1 << 62
        frag = FragmentWriter(file.writev, ticks, self.frame_ticks, audio.frame_samples if audio else 1024)
        audio_base = int(base * self.vtb / self.atb) if audio is not None and self.atb is not None else None
        act = _Open(file, holder, base, audio_base, self.info, frag)
        try:
            file.writev([init])
        except OSError as exc:
            if not _is_enospc(exc):
                raise
            self._close_on_full(act)
        self.active = act
        return act

    def _close_on_full(self, act: _Open) -> None:
        if self.active is act:
            self.active = None
        self.disk_full = True
        log.error("camera %s: disk full while writing %s; closing it at its last complete fragment",
                  self.camera, act.file.partial.name)
        if act.frag is None:
            with contextlib.suppress(Exception):
                act.container.close()
        try:
            media = act.file.keep_complete_fragments()
            if media is None:
                act.file.discard()
                return
            seg = self.store.commit(self.camera, act.file, act.file.start_us + max(media.duration_us, 1),
                                    media.packets, act.info)
        except Exception as exc:  # noqa: BLE001 - the index may be full too; the worker must live on
            log.error("camera %s: could not close %s on a full disk (%s); left for recovery",
                      self.camera, act.file.partial.name, exc)
            act.file.abandon()
            return
        self.on_closed(seg)

    def close(self, wait: bool = True) -> Segment | None:
        """Finish the open segment: trailer, fsync, hash, rename, index row. With `defer` set, the
        disk-bound part runs there (in order); `wait=False` returns at once (None)."""
        act, self.active = self.active, None
        if act is None:
            return None
        end_us = self.wall_of(act.last_end)  # now: the session may re-anchor its clock before the job runs
        if self.defer is None:
            return self._finish(act, end_us)
        fut = self.defer(lambda: self._finish_logged(act, end_us))
        return fut.result() if wait else None

    def _finish_logged(self, act: _Open, end_us: int) -> Segment | None:
        try:
            return self._finish(act, end_us)
        except Exception:
            # Left as a .partial (or published without its row): startup recovery salvages it.
            log.exception("camera %s: closing %s failed", self.camera, act.file.partial.name)
            return None

    def _finish(self, act: _Open, end_us: int) -> Segment | None:
        if act.frag is not None:
            return self._finish_own(act, end_us)
        try:
            act.container.close()
        except Exception as exc:
            if _is_enospc(exc):
                self._close_on_full(act)
                return None
            if not isinstance(exc, av.error.FFmpegError):
                raise
            log.warning("camera %s: muxer close failed (%s); keeping the complete fragments", self.camera, exc)
        if act.packets == 0:
            act.file.discard()
            return None
        if not _whole(act.file):
            # FFmpeg's own I/O does not always report a failed write (ENOSPC) at close: the box walk
            # does. Keep the complete fragments as after a reported disk-full write.
            self._close_on_full(act)
            return None
        seg = self.store.commit(self.camera, act.file, end_us, act.packets, act.info)
        self.on_closed(seg)
        return seg


    def _finish_own(self, act: _Open, end_us: int) -> Segment | None:
        assert act.frag is not None
        if act.file.closed:
            return None  # closed on a full disk already
        try:
            act.frag.finish()
        except OSError as exc:
            if not _is_enospc(exc):
                raise
            self._close_on_full(act)
            return None
        if act.packets == 0:
            act.file.discard()
            return None
        seg = self.store.commit(self.camera, act.file, end_us, act.packets, act.info)
        self.on_closed(seg)
        return seg


def _whole(file: SegmentFile) -> bool:
    """True when the closed file is exactly its boxes: no torn fragment at the end (a few header
    reads, no data read)."""
    try:
        plan = plan_salvage(file.partial)
    except (SalvageError, OSError):
        return False
    return plan.dropped_bytes == 0 and plan.kept_bytes == file.partial.stat().st_size


def _is_enospc(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) == errno.ENOSPC
