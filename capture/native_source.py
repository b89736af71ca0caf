"""A camera source without FFmpeg's demuxer: RTSP/TCP, RTP depacketized into access units.

The narrow interface a capture session needs: `connect()` (the streams and their codec
parameters), `read()` (the access units one socket read produced, in arrival order), `close()`.
Timestamps are RTP time relative to the stream's origin (the PLAY answer's RTP-Info, else the
first unit), in 1/clock-rate units; RTCP sender reports map them to the camera's own clock.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from capture.rtsp import sdp
from capture.rtsp.aac import AacDepacketizer
from capture.rtsp.client import Handler, RtspClient
from capture.rtsp.errors import RtspError, Unsupported
from capture.rtsp.h264 import H264Depacketizer, avcc
from capture.rtsp.h265 import H265Depacketizer
from capture.rtsp.rtcp import CameraClock, sender_reports
from capture.rtsp.rtp import AccessUnit, Depacketizer

#: Below this many bytes per read, wait a little before the next: one wake-up for many packets.
BATCH_BYTES = 32768


@dataclass(frozen=True)
class StreamParams:
    index: int  # 0 video, 1 audio
    kind: str
    codec: str  # FFmpeg's name: h264, hevc, aac
    clock_rate: int
    #: What the MP4 muxer takes as extradata: avcC (H.264), Annex-B parameter sets (H.265), or the
    #: AudioSpecificConfig (AAC).
    extradata: bytes
    channels: int = 1
    frame_samples: int = 1024


class NativeSource:
    def __init__(self, url: str, timeout: float, audio: bool = True, handshake_timeout: float | None = None,
                 box_now_us: Callable[[], int] | None = None, batch_wait: float = 0.05) -> None:
        self.client = RtspClient(url, timeout, handshake_timeout)
        self.want_audio = audio
        self.box_now_us = box_now_us or (lambda: time.time_ns() // 1000)
        self.batch_wait = batch_wait
        self.streams: list[StreamParams] = []
        self.depacketizers: list[Depacketizer] = []
        self.clocks: list[CameraClock] = []
        self.origins: list[int | None] = []
        #: Audio the camera offers that this path cannot carry (e.g. "PCMA"): the caller logs it.
        self.skipped_audio: str | None = None
        self._out: list[AccessUnit] = []
        #: monotonic time of the last byte from the camera (`read_available`)
        self.last_data = time.monotonic()
        self._handlers: list[Handler | None] = []

    @property
    def video(self) -> H264Depacketizer | H265Depacketizer:
        dep = self.depacketizers[0]
        assert isinstance(dep, H264Depacketizer | H265Depacketizer)
        return dep

    def connect(self) -> list[StreamParams]:
        c = self.client
        c.connect()
        with contextlib.suppress(Unsupported):  # OPTIONS is optional for some cameras; DESCRIBE decides
            c.options()
        session = c.describe()
        video = session.first("video")
        if video is None:
            raise RtspError("the stream has no video")
        if video.codec not in ("h264", "hevc"):
            raise Unsupported(f"video codec {video.encoding or video.payload_type}")
        self._add_video(video)
        audio = session.first("audio") if self.want_audio else None
        if audio is not None and audio.codec != "aac":
            self.skipped_audio = audio.encoding or str(audio.payload_type)
            audio = None
        if audio is not None:
            self._add_audio(audio)
        medias = [video] + ([audio] if audio is not None else [])
        self._handlers = [None] * 256
        for i, media in enumerate(medias):
            rtp_ch, rtcp_ch = c.setup(media, 2 * i)
            self._handlers[rtp_ch] = self.depacketizers[i].push
            c.runners[rtp_ch] = self.depacketizers[i].consume
            self._handlers[rtcp_ch] = self._rtcp_handler(i)
        info = c.play()
        for media, dep in zip(medias, self.depacketizers, strict=True):
            fields = info.get(media.control) or next(
                (v for k, v in info.items() if media.control.endswith(k) or k.endswith(media.control)), {})
            rtptime = fields.get("rtptime", "")
            self.origins.append(int(rtptime) if rtptime.isdigit() else None)
            seq = fields.get("seq", "")
            if seq.isdigit() and int(seq) <= 0xFFFF:
                dep.first_seq = int(seq)
        return self.streams

    def _add_video(self, media: sdp.Media) -> None:
        params = media.parameter_sets()
        if media.codec == "h264":
            if media.fmtp_int("packetization-mode", 0) > 1:
                raise Unsupported("H.264 interleaved packetization (mode 2)")
            dep: Depacketizer = H264Depacketizer(0, self._out, params)
            extradata = avcc(params) if params else b""
        else:
            if media.fmtp_int("sprop-max-don-diff", 0) > 0:
                raise Unsupported("H.265 with decoding order numbers (sprop-max-don-diff)")
            dep = H265Depacketizer(0, self._out, params)
            extradata = b"".join(b"\0\0\0\1" + p for p in params)
        self.streams.append(StreamParams(0, "video", media.codec or "", media.clock_rate, extradata))
        self.depacketizers.append(dep)
        self.clocks.append(CameraClock(media.clock_rate, dep.unwrap))

    def _add_audio(self, media: sdp.Media) -> None:
        dep = AacDepacketizer(1, self._out, media)
        self.streams.append(StreamParams(1, "audio", "aac", media.clock_rate, dep.config, media.channels,
                                         dep.frame))
        self.depacketizers.append(dep)
        self.clocks.append(CameraClock(media.clock_rate, dep.unwrap))

    def _rtcp_handler(self, index: int) -> Handler:
        clock = self.clocks[index]

        def on_rtcp(mv: memoryview, start: int, end: int) -> None:
            for sr in sender_reports(mv[start:end]):
                clock.on_report(sr, self.box_now_us())

        return on_rtcp

    def read(self) -> list[AccessUnit]:
        """Read once from the camera (blocking up to the timeout) and return the units completed."""
        n = self.client.pump(self._handlers)
        out = self._out
        if out:
            units = out[:]
            out.clear()
        else:
            units = out[:0]
        now = time.monotonic()
        self.client.keepalive(now)
        if n < BATCH_BYTES and self.batch_wait:
            time.sleep(self.batch_wait)
        return units

    def read_available(self, now: float) -> list[AccessUnit]:
        """Without blocking (the shared reader loop): what the socket holds, as access units."""
        n = self.client.drain(self._handlers)
        self.client.keepalive(now)
        out = self._out
        if not out:
            if n:
                self.last_data = now
            return out[:0]
        self.last_data = now
        units = out[:]
        out.clear()
        return units

    def origin(self, unit: AccessUnit) -> int:
        """The stream's time origin (set from the first unit when RTP-Info gave none)."""
        o = self.origins[unit.stream]
        if o is None:
            o = self.origins[unit.stream] = unit.ts
        return o

    @property
    def drift_us(self) -> int | None:
        return self.clocks[0].drift_us if self.clocks else None

    def stats(self) -> dict[str, int]:
        deps = self.depacketizers
        return {"lost": sum(d.lost for d in deps), "late": sum(d.late for d in deps),
                "dropped_units": sum(d.dropped_units for d in deps),
                "malformed": sum(d.malformed for d in deps), "packets": sum(d.packets for d in deps)}

    def close(self) -> None:
        self.client.close()
