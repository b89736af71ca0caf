"""The pieces of `edge verify`'s chain walk: recompute a segment's link (v1 or v2), the gap links,
and what the walk remembers for the comparison with signed checkpoints."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from storage.chain import gap_close_record, gap_open_record, link_v2, segment_link, segment_record_v2
from storage.index import Gap, Segment


@dataclass
class ChainWalk:
    """One camera's walked chain."""

    camera: str
    #: Positions whose stored link the caller wants (the heads named by checkpoints).
    wanted: set[int] = field(default_factory=set)
    links: dict[int, str] = field(default_factory=dict)
    head: int = -1
    head_link: str = ""
    #: First position whose link did not match or was missing (everything from there is unproven).
    broken_at: int = 2**62

    def saw(self, seq: int, link: str) -> None:
        if seq in self.wanted:
            self.links[seq] = link
        self.head, self.head_link = seq, link


@dataclass(frozen=True)
class GapLink:
    kind: str  # gap_open | gap_close
    seq: int
    gap: Gap
    open_seq: int | None
    link: str

    def expected(self, prev: str) -> str:
        g = self.gap
        if self.kind == "gap_open":
            return link_v2(prev, gap_open_record(g.camera, self.seq, g.id, g.start_us))
        if g.end_us is None:
            return ""  # a closing link on an open gap: the end was erased
        return link_v2(prev, gap_close_record(g.camera, self.seq, g.id, self.open_seq, g.start_us, g.end_us,
                                              g.reason, g.detail))


def segment_link_any(prev: str, seg: Segment, v2_from: int) -> str:
    """The link a segment row should have: v1 before the camera's v2 start, v2 from it."""
    try:
        if seg.seq < v2_from:
            return segment_link(prev, seg.sha256, seg.camera, seg.start_us, seg.end_us, seg.bytes)
        return link_v2(prev, segment_record_v2(seg.camera, seg.seq, seg.start_us, seg.end_us, seg.path, seg.bytes,
                                               seg.packets, seg.codec, seg.width, seg.height, seg.sha256, seg.origin,
                                               seg.created_us))
    except ValueError:
        return ""  # a hash column that is not hex: edited by hand


def gap_links(conn: sqlite3.Connection, camera: str) -> Iterator[tuple[int, GapLink]]:
    """The camera's gap links in seq order (gaps are few: read at once)."""
    rows = conn.execute(
        "SELECT id, camera, start_us, end_us, reason, detail, open_seq, open_chain, close_seq, close_chain"
        " FROM gaps WHERE camera=? AND (open_seq IS NOT NULL OR close_seq IS NOT NULL)", (camera,)).fetchall()
    out: list[tuple[int, GapLink]] = []
    for r in rows:
        gap = Gap(*r[:6])
        if r[6] is not None:
            out.append((int(r[6]), GapLink("gap_open", int(r[6]), gap, None, str(r[7]))))
        if r[8] is not None:
            out.append((int(r[8]), GapLink("gap_close", int(r[8]), gap, r[6], str(r[9]))))
    out.sort(key=lambda t: t[0])
    yield from out


def unlinked_gaps(conn: sqlite3.Connection, camera: str) -> list[str]:
    """Gap rows that chain v2 should have linked but did not: added or closed behind its back."""
    v2 = conn.execute("SELECT count(*) FROM chain_v2_start WHERE camera=?", (camera,)).fetchone()[0]
    migrated = conn.execute("SELECT min(time_us) FROM chain_v2_start").fetchone()[0]
    problems = []
    for gap_id, start_us, end_us, open_seq, close_seq in conn.execute(
            "SELECT id, start_us, end_us, open_seq, close_seq FROM gaps WHERE camera=? ORDER BY id", (camera,)):
        if open_seq is None:
            # Gaps from before the migration were never linked; a new camera has no such gaps.
            if not v2 or migrated is None or start_us >= migrated:
                problems.append(f"GAP {camera} gap #{gap_id}: not in the chain (added by hand?)")
        elif end_us is not None and close_seq is None:
            problems.append(f"GAP {camera} gap #{gap_id}: closed without its closing link (end edited?)")
    return problems
