"""Fragmented MP4 written from Python: a fragment's samples gathered, then one `moof`+`mdat` per write.

The native ingest path's samples are already in MP4 form (length-prefixed NAL units, raw AAC
frames) and their parameter sets are out of band, so a general-purpose muxer has nothing left to
do but bookkeeping. This writer keeps that bookkeeping in a few lists per fragment and hands the
fragment to the sink as one list of buffers (`os.writev`: the access units are not copied again).

The layout is the one `movflags=frag_keyframe+empty_moov+default_base_moof` gives (and
storage/salvage.py expects): the init segment (`ftyp` + `moov` without samples, made once per
stream configuration by FFmpeg's own muxer, see `init_segment`), then per fragment a `moof` with one
`traf` per track (`tfhd` default-base-is-moof, `tfdt`, `trun`) and its `mdat`, video samples first.
A fragment starts at every video keyframe and when it holds `fragment_ticks` of video; it is
written when the sample after it arrives (so every sample's duration is known exactly) or at
`finish`. A fragment is written whole or, after a crash or a full disk, is the torn tail the
salvage cuts off: never a complete `moof` without its samples.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import cast

import av
import av.container
import av.stream
from av.audio.codeccontext import AudioCodecContext
from av.video.codeccontext import VideoCodecContext

Buffer = bytes | bytearray | memoryview
Sink = Callable[[Sequence[Buffer]], object]

#: tfhd flags: default-base-is-moof (0x020000) + default-sample-flags present (0x20).
_TFHD = struct.Struct(">I4sIII")
_TFDT = struct.Struct(">I4sIQ")  # version 1: 64-bit base media decode time
_MFHD = struct.Struct(">I4sII")
_HEAD = struct.Struct(">I4s")
NON_SYNC = 0x01010000  # sample_depends_on=1 (not I), sample_is_non_sync_sample=1
SYNC = 0x02000000  # sample_depends_on=2 (I), a sync sample
VIDEO_TRACK, AUDIO_TRACK = 1, 2
#: trun flags
_OFFSET, _FIRST_FLAGS, _DURATION, _SIZE, _CTO = 0x1, 0x4, 0x100, 0x200, 0x800
#: Where a traf's trun data_offset sits: traf head 8, tfhd 20, tfdt 20, trun head 8, its
#: version/flags 4 and sample_count 4.
TRAF_DATA_OFFSET_AT = 8 + 20 + 20 + 8 + 4 + 4
_DATA_OFFSET = struct.Struct(">i")
#: Buffers per writev call (Linux IOV_MAX is 1024).
IOV_MAX = 1024


class _Track:
    __slots__ = ("datas", "dts", "first_key", "last", "ptss", "sizes", "track_id")

    def __init__(self, track_id: int) -> None:
        self.track_id = track_id
        self.datas: list[Buffer] = []
        self.sizes: list[int] = []
        self.dts: list[int] = []
        self.ptss: list[int] = []
        self.first_key = False
        self.last = -1  # the DTS of the last sample taken (DTS must increase, as FFmpeg's muxer demands)

    def clear(self) -> None:
        self.datas = []
        self.sizes = []
        self.dts = []
        self.ptss = []
        self.first_key = False


def _traf(t: _Track, last_duration: int, data_offset: int, default_flags: int) -> bytes:
    """One `traf`: samples t.dts[i] with durations to the next sample (the last: `last_duration`)."""
    dts, sizes, n = t.dts, t.sizes, len(t.sizes)
    durations = [b - a for a, b in zip(dts, dts[1:], strict=False)]
    durations.append(last_duration)
    ctos = [p - d for p, d in zip(t.ptss, dts, strict=True)]
    with_cto = any(ctos)
    flags = _OFFSET | _DURATION | _SIZE | (_FIRST_FLAGS if t.first_key else 0) | (_CTO if with_cto else 0)
    if with_cto:
        table = struct.pack(f">{3 * n}i", *[x for e in zip(durations, sizes, ctos, strict=True) for x in e])
    else:
        table = struct.pack(f">{2 * n}I", *[x for e in zip(durations, sizes, strict=True) for x in e])
    head = struct.pack(">IIi", (1 << 24 if with_cto else 0) | flags, n, data_offset)
    if t.first_key:
        head += SYNC.to_bytes(4, "big")
    trun = _HEAD.pack(8 + len(head) + len(table), b"trun") + head + table
    tfhd = _TFHD.pack(20, b"tfhd", 0x020020, t.track_id, default_flags)
    tfdt = _TFDT.pack(20, b"tfdt", 1 << 24, dts[0])
    return _HEAD.pack(8 + 20 + 20 + len(trun), b"traf") + tfhd + tfdt + trun


class FragmentWriter:
    """Gathers samples into fragments and writes each through `sink` as one list of buffers.

    Timestamps are in the tracks' own time scales, already relative to the segment's start (the
    first video sample's DTS is 0)."""

    def __init__(self, sink: Sink, fragment_ticks: int, video_frame_ticks: int, audio_frame: int = 1024) -> None:
        self.sink = sink
        self.fragment_ticks = fragment_ticks
        self.video_frame_ticks = video_frame_ticks
        self.audio_frame = audio_frame
        self.video = _Track(VIDEO_TRACK)
        self.audio = _Track(AUDIO_TRACK)
        self.sequence = 0
        self.fragments = 0
        self.samples = 0

    def add_video(self, data: Buffer, pts: int, dts: int, keyframe: bool) -> bool:
        """False (the sample is not taken) when its DTS does not increase."""
        v = self.video
        if dts <= v.last:
            return False
        v.last = dts
        if v.dts and (keyframe or dts - v.dts[0] >= self.fragment_ticks):
            self._flush(dts - v.dts[-1])
        if not v.dts:
            v.first_key = keyframe
        v.datas.append(data)
        v.sizes.append(len(data))
        v.dts.append(dts)
        v.ptss.append(pts)
        self.samples += 1
        return True

    def add_audio(self, data: Buffer, pts: int) -> bool:
        a = self.audio
        if pts <= a.last:
            return False
        a.last = pts
        a.datas.append(data)
        a.sizes.append(len(data))
        a.dts.append(pts)
        a.ptss.append(pts)
        return True

    def finish(self) -> None:
        """Write what is gathered (the last video sample lasts one frame)."""
        if self.video.dts or self.audio.dts:
            self._flush(self.video_frame_ticks)

    def _flush(self, last_video_duration: int) -> None:
        v, a = self.video, self.audio
        self.sequence += 1
        parts: list[tuple[_Track, int, int]] = []  # (track, last duration, default flags)
        if v.dts:
            parts.append((v, max(last_video_duration, 1), NON_SYNC))
        if a.dts:
            parts.append((a, self.audio_frame, SYNC))
        # The trafs' sizes do not depend on their data offsets: build them with 0, then write
        # each one's offset (where the mdat's samples of its track begin) in place.
        trafs = [bytearray(_traf(t, d, 0, f)) for t, d, f in parts]
        moof_size = 16 + 8 + sum(len(x) for x in trafs)
        offset = moof_size + 8
        for traf, (t, _, _) in zip(trafs, parts, strict=True):
            _DATA_OFFSET.pack_into(traf, TRAF_DATA_OFFSET_AT, offset)
            offset += sum(t.sizes)
        mdat_size = offset - moof_size
        head = b"".join([_HEAD.pack(moof_size, b"moof"), _MFHD.pack(16, b"mfhd", 0, self.sequence), *trafs,
                         _HEAD.pack(mdat_size, b"mdat")])
        buffers: list[Buffer] = [head, *v.datas, *a.datas]
        v.clear()
        a.clear()
        self.fragments += 1
        self.sink(buffers)


def init_segment(codec: str, timescale: int, extradata: bytes, width: int, height: int,
                 audio: tuple[int, int, bytes] | None) -> tuple[bytes, av.container.OutputContainer]:
    """`ftyp` + `moov` as FFmpeg's MP4 muxer writes them for these streams (avcC/hvcC/esds from the
    extradata), and the container whose streams describe them (the keyframe hook's decoder
    parameters). `audio`: (sample rate, channels, AudioSpecificConfig). Made once per segment."""
    buf = io.BytesIO()
    c = av.open(buf, mode="w", format="mp4", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"})
    v = c.add_stream_from_template(_template(codec))
    v.time_base = Fraction(1, timescale)
    vctx = cast(VideoCodecContext, v.codec_context)
    vctx.extradata = extradata
    vctx.width, vctx.height = width, height
    if audio is not None:
        rate, channels, config = audio
        a = c.add_stream_from_template(_template("aac"))
        a.time_base = Fraction(1, rate)
        actx = cast(AudioCodecContext, a.codec_context)
        actx.extradata = config
        actx.sample_rate = rate
        actx.layout = "stereo" if channels == 2 else "mono"
    c.start_encoding()
    data = buf.getvalue()
    if not data.startswith(b"ftyp", 4) or b"moov" not in data[:64]:
        raise ValueError("FFmpeg's muxer wrote no init segment for these parameters")
    return data, c


_TEMPLATES: dict[str, av.stream.Stream] = {}
_TEMPLATE_HOLDERS: list[av.container.OutputContainer] = []


def _template(codec: str) -> av.stream.Stream:
    """A stream to copy codec settings from (PyAV makes muxable streams with settable extradata only
    from a template); made once per codec, never opened, never written."""
    t = _TEMPLATES.get(codec)
    if t is None:
        holder = av.open(io.BytesIO(), mode="w", format="mp4")
        t = _TEMPLATES[codec] = holder.add_stream(codec)
        _TEMPLATE_HOLDERS.append(holder)
    return t
