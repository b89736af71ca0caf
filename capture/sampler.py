"""Keyframe hand-off from the capture threads to the image-health thread.

`KeyframeSampler.offer` is the capture worker's `on_keyframe` hook: it runs on the capture thread
for every keyframe, so it only checks whether a sample is due and, if so, copies the packet bytes
(plus what a decoder needs: codec name and extradata). Decoding happens on the health thread in
`decode`, with a PyAV `CodecContext` made from those stream parameters; packets are Annex-B H.264
with in-band SPS/PPS, so the extradata is a fallback, not a requirement.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import av
import av.stream
import numpy as np
from av.video.codeccontext import VideoCodecContext
from numpy.typing import NDArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    camera: str
    data: bytes
    codec: str
    extradata: bytes | None
    width: int
    height: int
    pts: int | None
    taken_monotonic: float
    taken_wall_us: int


class KeyframeSampler:
    """Keeps at most one pending keyframe per camera. A keyframe is copied when the camera's slot is
    empty (the health thread took the last one) or holds one older than `period` seconds, so the
    sample judged at a tick is at most `period` plus one GOP old, and consecutive samples are a
    health interval apart (not two: a fixed "every N s" would skip keyframes that come early).

    With `rest` set, a camera's slot stays empty for that long after the health thread took its
    sample: a keyframe (~400 KB at 1080p) is then held for the last stretch before the next pass
    rather than for the whole health interval, per camera."""

    def __init__(self, period: float, wall_us: Callable[[], int] | None = None, health: bool = True,
                 rest: float = 0.0) -> None:
        self.period = period
        #: False with [health] off: nobody takes health samples, so only watched cameras are copied.
        self.health = health
        self.rest = rest
        self._taken: dict[str, float] = {}
        self._wall_us = wall_us or (lambda: time.time_ns() // 1000)
        self._lock = threading.Lock()
        self._pending: dict[str, Sample] = {}
        self._last: dict[str, float] = {}
        self.offered = 0
        self.taken = 0
        #: The live view's slot: every keyframe of a watched camera (one copy per GOP, only while
        #: someone watches), kept apart from the health samples so neither takes the other's.
        self._live: dict[str, Sample] = {}
        self._watched_until: dict[str, float] = {}

    def offer(self, camera: str, packet: av.Packet, stream: av.stream.Stream) -> None:
        """On the capture thread: must stay cheap (a dict lookup, and a copy when a sample is due)."""
        now = time.monotonic()
        watched = self._watched_until.get(camera, 0.0) > now
        due = self.health and now - self._taken.get(camera, -1e9) >= self.rest and (
            camera not in self._pending or now - self._last.get(camera, -1e9) >= self.period)
        if not watched and not due:
            return
        sample = self._copy(camera, packet, stream, now)
        with self._lock:
            if watched:
                self._live[camera] = sample
            if due:
                self._pending[camera] = sample
                self._last[camera] = now
                self.offered += 1

    def _copy(self, camera: str, packet: av.Packet, stream: av.stream.Stream, now: float) -> Sample:
        ctx = stream.codec_context
        extradata = ctx.extradata
        width, height = getattr(ctx, "width", 0) or 0, getattr(ctx, "height", 0) or 0
        # canonical_name: the codec's name ("h264") also when the stream's context is an encoder's
        # (the native ingest path's output stream), so the health thread finds a decoder.
        return Sample(camera, bytes(packet), ctx.codec.canonical_name, bytes(extradata) if extradata else None,
                      int(width), int(height), packet.pts, now, self._wall_us())

    def watch(self, camera: str, seconds: float) -> Sample | None:
        """Keep the newest keyframe of `camera` for the live view for `seconds` more, and return
        the newest one so far (None until the next keyframe after the first watch)."""
        with self._lock:
            self._watched_until[camera] = time.monotonic() + seconds
            return self._live.get(camera)

    def take(self, camera: str) -> Sample | None:
        """The newest keyframe not yet taken (each sample is judged once, or `frozen` would see
        the same picture twice)."""
        with self._lock:
            sample = self._pending.pop(camera, None)
            if sample is not None:
                self._taken[camera] = time.monotonic()
        if sample is not None:
            self.taken += 1
        return sample


class DecodeError(Exception):
    pass


def decode(sample: Sample, width: int | None = None, height: int | None = None,
           fmt: str = "gray") -> NDArray[np.uint8]:
    """Decode a sampled keyframe into a numpy picture, scaled by swscale to `width` x `height`
    (the source size when None) in pixel format `fmt` (`gray` or `bgr24`)."""
    ctx = cast(VideoCodecContext, av.CodecContext.create(sample.codec, "r"))
    if sample.extradata:
        ctx.extradata = sample.extradata
    # One picture in, one picture out: frame threading would hold the frame back until a flush.
    ctx.thread_type = "NONE"
    # The picture is judged at a few hundred pixels wide: the deblocking filter's sub-pixel polish
    # is invisible there, and skipping it (with the decoder's non-conforming speedups) saves ~10 %
    # of the decode, the health check's largest cost.
    ctx.options = {"skip_loop_filter": "all", "flags2": "+fast"}
    try:
        frames = list(ctx.decode(av.Packet(sample.data)))
        if not frames:
            frames = list(ctx.decode(None))
    except av.error.FFmpegError as exc:
        raise DecodeError(f"keyframe did not decode: {exc}") from exc
    if not frames:
        raise DecodeError("keyframe produced no picture")
    frame = frames[-1]
    out = frame.reformat(width=width, height=height, format=fmt)
    return np.ascontiguousarray(out.to_ndarray(), dtype=np.uint8)
