"""Salvage the active segment of a crashed recorder: keep every complete fragment of a `.mp4.partial`.

The muxer writes fragmented MP4 (`frag_keyframe+empty_moov+default_base_moof`): `ftyp`, an empty
`moov`, then one `moof`+`mdat` pair per GOP, and an `mfra` index only on a clean close. A kill -9 or
a power cut leaves a prefix of that, possibly ending in a torn box or, after a power cut, in a
zero-filled tail. Each kept fragment is self-contained (default_base_moof makes its sample offsets
relative to its own moof), so dropping the torn tail leaves a file every player reads.

The salvaged copy is written beside the partial under a `.tmp` name and published like a recorded
segment (fsync, rename, fsync dir); the partial is removed only after that, so a crash at any point
leaves either the untouched partial (salvaged again at the next start) or the finished segment.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av

from storage.fsutil import fsync_dir, rename_durable
from storage.layout import PARTIAL_SUFFIX, SEGMENT_SUFFIX, TMP_SUFFIX, parse_stem

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class SalvageError(Exception):
    """The file is not a segment this module can explain (not ours, or unreadable as MP4)."""


@dataclass(frozen=True)
class MediaInfo:
    packets: int  # video packets, as the recorder counts them
    duration_us: int
    codec: str
    width: int
    height: int


@dataclass(frozen=True)
class SalvagePlan:
    ranges: tuple[tuple[int, int], ...]  # (offset, length) of the byte runs to keep, in file order
    fragments: int
    kept_bytes: int
    dropped_bytes: int


@dataclass(frozen=True)
class SalvageResult:
    partial: Path
    start_us: int
    fragments: int  # complete fragments kept; 0 means no footage, the partial was removed
    dropped_bytes: int  # torn tail and stray boxes left out
    path: Path | None = None  # the published .mp4, when there was footage
    sha256: str = ""
    size: int = 0
    media: MediaInfo | None = None

    @property
    def has_footage(self) -> bool:
        return self.path is not None

    @property
    def end_us(self) -> int:
        # The index requires end > start; a one-frame file with no packet duration still gets 1 µs.
        return self.start_us + max(self.media.duration_us if self.media else 0, 1)


def _box_at(f: BinaryIO, offset: int, file_size: int) -> tuple[bytes, int] | None:
    """(type, size) of the complete box at `offset`, or None for a torn or impossible header."""
    f.seek(offset)
    hdr = f.read(16)
    if len(hdr) < 8:
        return None
    size, kind = struct.unpack(">I4s", hdr[:8])
    if size == 1:
        if len(hdr) < 16:
            return None
        size = struct.unpack(">Q", hdr[8:16])[0]
        if size < 16:
            return None
    elif size == 0:
        size = file_size - offset
    elif size < 8:
        return None
    if offset + size > file_size:
        return None
    return kind, size


def plan_salvage(path: Path) -> SalvagePlan:
    """Which bytes of `path` to keep: ftyp, moov, every complete moof+mdat pair (and a trailing
    mfra when nothing before it was dropped, since its offsets are absolute)."""
    file_size = path.stat().st_size
    boxes: list[tuple[int, bytes, int]] = []
    with open(path, "rb") as f:
        offset = 0
        while offset < file_size:
            box = _box_at(f, offset, file_size)
            if box is None:
                break  # torn tail: everything from here on is dropped
            boxes.append((offset, box[0], box[1]))
            offset += box[1]
        f.seek(0)
        first_type = f.read(8)[4:]
    # Only what starts like our muxer's output may be judged "no footage" and removed.
    if len(first_type) == 4 and first_type != b"ftyp":
        raise SalvageError(f"does not start with an ftyp box (found {first_type!r})")
    if len(boxes) > 1 and boxes[1][1] != b"moov":
        # Our muxer writes moov right after ftyp; fragments without it cannot be explained (or played).
        raise SalvageError(f"no moov box after ftyp (found {boxes[1][1]!r})")
    tail = file_size - offset
    keep: list[tuple[int, int]] = []
    dropped = 0
    fragments = 0
    have_moov = False
    i = 0
    while i < len(boxes):
        off, kind, size = boxes[i]
        if (kind == b"ftyp" and i == 0) or (kind == b"moov" and not have_moov):
            have_moov = have_moov or kind == b"moov"
            keep.append((off, size))
        elif kind == b"moof" and have_moov and i + 1 < len(boxes) and boxes[i + 1][1] == b"mdat":
            keep.append((off, size + boxes[i + 1][2]))
            fragments += 1
            i += 2
            continue
        elif kind == b"mfra" and i == len(boxes) - 1 and fragments and not dropped and not tail:
            keep.append((off, size))
        else:
            dropped += size
        i += 1
    if not fragments:
        keep = []
    merged: list[tuple[int, int]] = []
    for off, size in keep:
        if merged and merged[-1][0] + merged[-1][1] == off:
            merged[-1] = (merged[-1][0], merged[-1][1] + size)
        else:
            merged.append((off, size))
    kept = sum(size for _, size in merged)
    return SalvagePlan(tuple(merged), fragments, kept, file_size - kept)


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 1 MiB chunks (segments can be hundreds of MB)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def probe(path: Path) -> MediaInfo:
    """Packet count, duration, codec and size of the video stream, by demuxing (no decoding)."""
    try:
        with av.open(str(path), mode="r", format="mp4") as container:
            if not container.streams.video:
                raise SalvageError("no video stream")
            stream = container.streams.video[0]
            packets = 0
            first: int | None = None
            end: int | None = None
            for pkt in container.demux(stream):
                if pkt.size == 0 or pkt.pts is None:
                    continue  # the demuxer's flush packet
                packets += 1
                # Measured from the first DTS, as the recorder measures a segment's end.
                origin = pkt.dts if pkt.dts is not None else pkt.pts
                first = origin if first is None else min(first, origin)
                stop = pkt.pts + (pkt.duration or 0)
                end = stop if end is None else max(end, stop)
            if first is None or end is None or stream.time_base is None:
                raise SalvageError("no video packets")
            duration_us = int((end - first) * Fraction(stream.time_base) * 1_000_000)
            ctx = stream.codec_context
            return MediaInfo(packets, duration_us, ctx.name, ctx.width, ctx.height)
    except av.FFmpegError as exc:
        raise SalvageError(f"unreadable as MP4: {exc}") from exc


def _copy_ranges(src: Path, dst: Path, ranges: tuple[tuple[int, int], ...]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        with open(src, "rb") as f:
            for off, length in ranges:
                f.seek(off)
                while length:
                    chunk = f.read(min(CHUNK, length))
                    if not chunk:
                        raise SalvageError(f"{src.name} shrank while being salvaged")
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                    h.update(chunk)
                    size += len(chunk)
                    length -= len(chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    return h.hexdigest(), size


def salvage(partial: Path) -> SalvageResult:
    """Turn a crashed `.mp4.partial` into a closed `.mp4` of its complete fragments, or remove it
    when it holds none. Raises SalvageError (leaving the partial untouched) when the file cannot be
    explained; the caller sets it aside."""
    if not partial.name.endswith(PARTIAL_SUFFIX):
        raise SalvageError(f"{partial.name}: not a {PARTIAL_SUFFIX} file")
    stem = partial.name[: -len(PARTIAL_SUFFIX)]
    start_us = parse_stem(stem)
    if start_us is None:
        raise SalvageError(f"{partial.name}: not a segment name")
    plan = plan_salvage(partial)
    if not plan.fragments:
        partial.unlink()
        fsync_dir(partial.parent)
        log.warning("salvage %s: no complete fragment, no footage; removed (%d bytes)",
                    partial.name, plan.dropped_bytes)
        return SalvageResult(partial, start_us, 0, plan.dropped_bytes)
    final = partial.with_name(stem + SEGMENT_SUFFIX)
    if len(plan.ranges) == 1 and plan.ranges[0][0] == 0:
        return _salvage_in_place(partial, final, start_us, plan)
    tmp = partial.with_name(stem + SEGMENT_SUFFIX + TMP_SUFFIX)
    try:
        sha, size = _copy_ranges(partial, tmp, plan.ranges)
        # Probed before the rename, so a file that cannot be indexed never gets a segment name.
        media = probe(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # If an earlier salvage of this partial was interrupted after its rename, `final` is an older
    # output of this same deterministic copy and is replaced by an identical file.
    rename_durable(tmp, final)
    partial.unlink()
    fsync_dir(partial.parent)
    log.info("salvage %s: kept %d fragment(s), %d bytes; dropped %d bytes; %d packets, %.3f s",
             partial.name, plan.fragments, size, plan.dropped_bytes, media.packets, media.duration_us / 1e6)
    return SalvageResult(partial, start_us, plan.fragments, plan.dropped_bytes, final, sha, size, media)


def _salvage_in_place(partial: Path, final: Path, start_us: int, plan: SalvagePlan) -> SalvageResult:
    """The common case (a kill or power cut mid-fragment): the complete fragments are a prefix of
    the file. Cut the torn tail off in place (truncation needs no free space, so a full disk does not
    stop a restart), fsync, then rename. A crash at any point leaves the partial, shorter or not,
    which the next start salvages to the same result."""
    keep = plan.ranges[0][1]
    fd = os.open(partial, os.O_WRONLY)
    try:
        if os.fstat(fd).st_size != keep:
            os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
    # Probed before the rename, so a file that cannot be indexed never gets a segment name.
    media = probe(partial)
    sha, size = sha256_file(partial)
    rename_durable(partial, final)
    log.info("salvage %s: cut in place to %d fragment(s), %d bytes; dropped %d bytes; %d packets, %.3f s",
             partial.name, plan.fragments, size, plan.dropped_bytes, media.packets, media.duration_us / 1e6)
    return SalvageResult(partial, start_us, plan.fragments, plan.dropped_bytes, final, sha, size, media)
