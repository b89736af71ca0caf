"""Clip production for exports: one continuous MP4 per camera, stream-copied from the segments.

No re-encoding: the clip starts at the keyframe at or before the requested start (so it decodes
from its first frame and covers the start within one GOP) and ends with the last packet before
the requested end. Each segment starts at pts 0 on a keyframe, so its packets are shifted by the
segment's wall-clock start minus the clip's origin; a hole between segments stays a hole in the
clip's timeline (the player holds the last frame) and is listed in the manifest with its reason.

Recorded audio (AAC) goes along on the same timeline, from the clip's first video packet to the
requested end. The clip's header carries its wall-clock start (`creation_time`) and a timecode
track with the UTC time of day of its first frame.

Every source file is re-hashed against the index before it is read: a bundle never vouches for
footage that changed since it was recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import av.stream

from storage.chain_store import link_at, v2_starts
from storage.index import Index, Segment
from storage.salvage import sha256_file

log = logging.getLogger(__name__)

#: Holes between consecutive segments shorter than this are muxing jitter, not gaps.
GAP_TOLERANCE_US = 500_000


class ExportError(Exception):
    """The clip cannot be produced (altered source, unreadable file); the message says why."""


class ExportAborted(Exception):
    """Production was interrupted (daemon stopping); it resumes at the next start."""


@dataclass
class ClipResult:
    camera: str
    file: str | None = None
    sha256: str | None = None
    bytes: int = 0
    packets: int = 0
    actual_start_us: int | None = None
    actual_end_us: int | None = None
    starts_on_keyframe: bool = False
    codec: str = ""
    width: int = 0
    height: int = 0
    audio_codec: str | None = None
    audio_packets: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "camera": self.camera, "file": self.file, "sha256": self.sha256, "bytes": self.bytes,
            "packets": self.packets, "actual_start_us": self.actual_start_us, "actual_end_us": self.actual_end_us,
            "starts_on_keyframe": self.starts_on_keyframe, "codec": self.codec, "width": self.width,
            "height": self.height, "audio_codec": self.audio_codec, "audio_packets": self.audio_packets,
            "source_segments": self.segments, "gaps": self.gaps,
        }


def find_gaps(index: Index, camera: str, segments: list[Segment], start_us: int, end_us: int) -> list[dict[str, Any]]:
    """Holes in [start, end) not covered by stored segments, each with the recorded reason(s)."""
    holes: list[tuple[int, int]] = []
    cursor = start_us
    for seg in segments:
        if seg.start_us - cursor > GAP_TOLERANCE_US:
            holes.append((cursor, min(seg.start_us, end_us)))
        cursor = max(cursor, seg.end_us)
    if end_us - cursor > GAP_TOLERANCE_US:
        holes.append((cursor, end_us))
    out = []
    for a, b in holes:
        reasons = sorted({g.reason for g in index.gaps(camera, a, b)
                          if (g.end_us is None or g.end_us > a) and g.start_us < b})
        gone = [s for s in index.segments_in_range(camera, a, b, stored_only=False) if s.state != "stored"]
        reasons += sorted({f"segment_{s.state}" for s in gone})
        out.append({"start_us": a, "end_us": b, "reasons": reasons or ["not_recorded"]})
    return out


def source_rows(index: Index, segments: list[Segment]) -> list[dict[str, Any]]:
    """The manifest's view of each source segment: every field its chain link covers, and the
    previous link (a segment's or a gap's), so each link can be recomputed from the bundle alone."""
    conn = index.reader()
    starts = v2_starts(conn)
    rows = []
    for seg in segments:
        prev = link_at(conn, seg.camera, seg.seq - 1) or ""
        rows.append({"id": seg.id, "seq": seg.seq, "start_us": seg.start_us, "end_us": seg.end_us,
                     "bytes": seg.bytes, "sha256": seg.sha256, "chain": seg.chain, "prev_chain": prev,
                     "origin": seg.origin, "path": seg.path, "packets": seg.packets, "codec": seg.codec,
                     "width": seg.width, "height": seg.height, "created_us": seg.created_us,
                     "chain_version": 1 if seg.seq < starts.get(seg.camera, 0) else 2})
    return rows


class _ClipWriter:
    """Muxes packets of successive segments into one MP4 with a continuous, monotonic timeline."""

    def __init__(self, out: Path, first_segment_start_us: int, faststart: bool = False) -> None:
        # +faststart rewrites the whole file once more to move the index to the front: only for
        # playback in the page (a browser plays from the first bytes), not for a copy on a disk.
        options = {"movflags": "+faststart"} if faststart else {}
        self.container: av.container.OutputContainer = av.open(str(out), "w", format="mp4", options=options)
        self.stream: av.stream.Stream | None = None
        self.audio: av.stream.Stream | None = None
        self.last_audio_dts: int | None = None
        self.audio_packets = 0
        self.base_us = first_segment_start_us
        self.origin: Fraction | None = None  # clip time 0, in seconds since base_us
        self.last_dts: Fraction | None = None
        self.packets = 0
        self.first_wall_us: int | None = None
        self.end_wall_us: int | None = None
        self.first_key = False

    def write(self, seg: Segment, pkt: av.Packet, tb: Fraction, template: av.stream.Stream,
              audio_template: av.stream.Stream | None = None) -> None:
        if self.stream is None:
            # Every stream before the first packet: the muxer writes the header then.
            self.stream = self.container.add_stream_from_template(template)
            if audio_template is not None:
                self.audio = self.container.add_stream_from_template(audio_template)
        assert pkt.dts is not None and pkt.pts is not None
        seg_off = Fraction(seg.start_us - self.base_us, 1_000_000)
        dts_s = seg_off + pkt.dts * tb
        pts_s = seg_off + pkt.pts * tb
        if self.origin is None:
            self.origin = dts_s
            self.first_key = bool(pkt.is_keyframe)
            self.first_wall_us = seg.start_us + int(pkt.pts * tb * 1_000_000)
            # The clip's wall-clock start in the mp4 header (mvhd creation_time; the muxer writes
            # the header at the first packet, so this is still in time).
            start = datetime.fromtimestamp(self.first_wall_us / 1_000_000, UTC)
            self.container.metadata["creation_time"] = start.isoformat(timespec="microseconds").replace("+00:00", "Z")
            # And as a SMPTE timecode track (UTC time of day of the first frame), which players and
            # editing tools show frame by frame.
            rate = template.average_rate or template.guessed_rate
            frame = int(start.microsecond / 1_000_000 * float(rate)) if rate else 0
            self.stream.metadata["timecode"] = f"{start:%H:%M:%S}:{frame:02d}"
        dts = round((dts_s - self.origin) / tb)
        pts = round((pts_s - self.origin) / tb)
        if self.last_dts is not None and dts * tb <= self.last_dts:
            # Rounding or a clock step made two segments overlap by a tick: keep the order.
            dts = int(self.last_dts / tb) + 1
            pts = max(pts, dts)
        self.last_dts = dts * tb
        dur = pkt.duration or 0
        self.end_wall_us = max(self.end_wall_us or 0, seg.start_us + int((pkt.pts + dur) * tb * 1_000_000))
        pkt.dts, pkt.pts = dts, pts
        pkt.stream = self.stream
        self.container.mux(pkt)
        self.packets += 1

    def write_audio(self, seg: Segment, pkt: av.Packet, tb: Fraction) -> None:
        """Recorded audio on the clip's timeline (from its first video packet on; a packet that
        would overlap the previous one where two segments meet is dropped, not shifted)."""
        if self.audio is None or self.origin is None or pkt.dts is None or pkt.pts is None:
            return
        seg_off = Fraction(seg.start_us - self.base_us, 1_000_000)
        dts_s = seg_off + pkt.dts * tb
        if dts_s < self.origin:
            return
        dts = round((dts_s - self.origin) / tb)
        if self.last_audio_dts is not None and dts <= self.last_audio_dts:
            return
        pkt.pts = dts + (pkt.pts - pkt.dts)
        pkt.dts = dts
        self.last_audio_dts = dts
        pkt.stream = self.audio
        self.container.mux(pkt)
        self.audio_packets += 1

    def close(self) -> None:
        self.container.close()


def write_clip(index: Index, root: Path, camera: str, segments: list[Segment], start_us: int, end_us: int,
               out: Path, on_segment: Callable[[], None] = lambda: None,
               should_stop: Callable[[], bool] = lambda: False, faststart: bool = False) -> ClipResult:
    """Write `out` (a camera's clip over [start, end)) from `segments` (stored, in time order)."""
    result = ClipResult(camera, segments=source_rows(index, segments),
                        gaps=find_gaps(index, camera, segments, start_us, end_us))
    if not segments:
        return result
    writer = _ClipWriter(out, segments[0].start_us, faststart)
    pending: list[tuple[Segment, av.Packet, Fraction]] = []
    # Audio read while waiting for the start: kept from the pending keyframe on, written after it.
    pending_audio: list[tuple[Segment, av.Packet, Fraction]] = []
    started = done = False
    try:
        for i, seg in enumerate(segments):
            if should_stop():
                raise ExportAborted(f"export of {camera} interrupted")
            path = root / seg.path
            try:
                digest, size = sha256_file(path)
            except OSError as exc:
                raise ExportError(f"segment {seg.path} cannot be read: {exc.strerror}") from None
            if (digest, size) != (seg.sha256, seg.bytes):
                raise ExportError(f"segment {seg.path} does not match its recorded SHA-256 (altered); "
                                  "run `edge verify`")
            with av.open(str(path)) as inp:
                vin = inp.streams.video[0]
                ain = inp.streams.audio[0] if inp.streams.audio else None
                tb = vin.time_base
                assert tb is not None
                if not result.codec:
                    result.codec = vin.codec_context.name
                    result.width, result.height = vin.codec_context.width, vin.codec_context.height
                    result.audio_codec = ain.codec_context.name if ain is not None else None
                for pkt in (inp.demux(vin, ain) if ain is not None else inp.demux(vin)):
                    if pkt.size == 0 or pkt.dts is None or pkt.pts is None:
                        continue
                    if ain is not None and pkt.stream.index == ain.index:
                        atb = ain.time_base
                        if atb is None or seg.start_us + int(pkt.pts * atb * 1_000_000) >= end_us:
                            if done:
                                break  # both streams are past the end
                            continue
                        if started:
                            writer.write_audio(seg, pkt, atb)
                        elif pending:
                            pending_audio.append((seg, pkt, atb))
                        continue
                    if done:
                        continue  # past the end: only the audio of the last fragment is still wanted
                    wall = seg.start_us + int(pkt.pts * tb * 1_000_000)
                    if seg.start_us + int(pkt.dts * tb * 1_000_000) >= end_us:
                        done = True
                        if ain is None:
                            break
                        continue
                    if not started:
                        if wall <= start_us:
                            if pkt.is_keyframe:
                                pending, pending_audio = [(seg, pkt, tb)], []
                            elif pending:
                                pending.append((seg, pkt, tb))
                            continue
                        started = True
                        for pseg, p, ptb in pending:
                            writer.write(pseg, p, ptb, vin, ain)
                        for pseg, p, ptb in pending_audio:
                            writer.write_audio(pseg, p, ptb)
                        pending, pending_audio = [], []
                        if writer.packets == 0 and not pkt.is_keyframe:
                            started = False  # no keyframe yet: wait for one
                            continue
                    writer.write(seg, pkt, tb, vin, ain)
                # The keyframe at or before start found in this segment is the clip's first packet
                # unless the next segment also starts at or before start.
                nxt = segments[i + 1] if i + 1 < len(segments) else None
                if not started and pending and (nxt is None or nxt.start_us > start_us):
                    for pseg, p, ptb in pending:
                        writer.write(pseg, p, ptb, vin, ain)
                    for pseg, p, ptb in pending_audio:
                        writer.write_audio(pseg, p, ptb)
                    pending, pending_audio, started = [], [], True
            on_segment()
            if done:
                break
    finally:
        writer.close()
    result.packets = writer.packets
    result.audio_packets = writer.audio_packets
    if writer.audio is None:
        result.audio_codec = None
    if writer.packets == 0:
        out.unlink(missing_ok=True)
        return result
    result.file = out.name
    result.sha256, result.bytes = sha256_file(out)
    result.actual_start_us, result.actual_end_us = writer.first_wall_us, writer.end_wall_us
    result.starts_on_keyframe = writer.first_key
    return result
