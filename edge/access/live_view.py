"""Live view (Art. 19(6), 20(2)): the current picture for aiming, focusing and commissioning.

The picture is the camera's newest keyframe, its packet bytes copied from the capture thread
(capture/sampler.py) and wrapped, as it is, in a one-frame MP4 (no decoding, no re-encoding); the
page refreshes it every second or two. Nothing recorded is read: the maintainer, who may never see
recorded footage, sees only what the camera sees now. A live session (one person, one camera,
until they stop refreshing for `SESSION_IDLE_S`) is registered once, as `live_view`.
"""

from __future__ import annotations

import io
import threading
import time
from fractions import Fraction
from typing import cast

import av
from av.video.stream import VideoStream

from capture.sampler import KeyframeSampler, Sample
from storage.register import AccessRegister, Actor

#: Watch a camera this long after each request (a refresh comes every few seconds).
WATCH_S = 15.0
#: A keyframe older than this is not the current picture (the camera stalled).
MAX_AGE_S = 10.0
#: No refresh for this long ends a live session; the next one is registered anew.
SESSION_IDLE_S = 60.0
TIME_BASE = Fraction(1, 90_000)


def annex_b(sample: Sample) -> tuple[bytes, bytes | None]:
    """The keyframe as Annex-B, with the extradata to give the muxer.

    The PyAV ingest path hands Annex-B packets; the native path hands length-prefixed ones with
    avcC/hvcC extradata (its first byte is 1), their parameter sets inline before each keyframe.
    The one-frame muxer below takes Annex-B, so length-prefixed NAL units get start codes (the bytes
    of each unit unchanged)."""
    if not sample.extradata or sample.extradata[0] != 1:
        return sample.data, sample.extradata
    data, out, i = sample.data, bytearray(), 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        if n == 0 or i + 4 + n > len(data):
            break  # a torn unit: keep what came before it
        out += b"\x00\x00\x00\x01" + data[i + 4:i + 4 + n]
        i += 4 + n
    return bytes(out), None


def keyframe_mp4(sample: Sample) -> bytes:
    """One keyframe as a playable one-frame MP4 (the muxer takes SPS/PPS from the Annex-B packet)."""
    data, extradata = annex_b(sample)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = cast(VideoStream, out.add_stream(sample.codec, rate=25))
        stream.width, stream.height = sample.width, sample.height
        if extradata:
            stream.codec_context.extradata = extradata
        stream.time_base = TIME_BASE
        pkt = av.Packet(data)
        pkt.pts = pkt.dts = 0
        pkt.duration = 3600
        pkt.time_base = TIME_BASE
        pkt.stream = stream
        out.mux(pkt)
    return buf.getvalue()


class LiveView:
    def __init__(self, sampler: KeyframeSampler | None, register: AccessRegister) -> None:
        self.sampler = sampler
        self.register = register
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], float] = {}

    def picture(self, session_key: str, camera: str, actor: Actor) -> Sample | None:
        """The current keyframe of `camera`, or None while there is none yet (the page retries)."""
        if self.sampler is None:
            return None
        now = time.monotonic()
        with self._lock:
            last = self._sessions.get((session_key, camera))
            self._sessions[(session_key, camera)] = now
            new_session = last is None or now - last > SESSION_IDLE_S
        if new_session:
            self.register.append(actor, "live_view", cameras=[camera], subject=camera,
                                 detail={"via": "web", "what": "live keyframes, no recorded footage"})
        sample = self.sampler.watch(camera, WATCH_S)
        if sample is None or now - sample.taken_monotonic > MAX_AGE_S:
            return None
        return sample
