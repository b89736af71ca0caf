"""`edge verify`'s check of the store against signed checkpoints (an archive's, and the box's own).

The chain walk (storage/verify.py) keeps each camera's stored link at every position a
checkpoint names. A checkpoint whose signature verifies then proves: the camera's chain reached at
least that seq (else TRUNCATED) with exactly that link (else REWRITTEN: some row at or before it
was changed and the chain recomputed), and the register reached that entry with that chain value.
A TSA token proves the checkpoint existed at its genTime: one re-made after a rewrite carries a
later time than the checkpoint claims.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.chain import GENESIS
from storage.chain_store import v2_starts
from storage.checkpoints import Checkpoint, iso_us
from storage.tsa import TsaError, TsaVerifier
from storage.verify import VerifyReport

#: A token more than this before the checkpoint's own time is impossible for an honest box.
CLOCK_SKEW_US = 300_000_000


def wanted_positions(cps: Sequence[Checkpoint]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for cp in cps:
        try:
            cams = cp.content.get("cameras", {})
        except ValueError:
            continue
        for cam, head in cams.items():
            out.setdefault(cam, set()).add(int(head["seq"]))
    return out


@dataclass
class CheckpointFindings:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0
    timestamped: int = 0
    #: (kind, subject) → first line and how many more checkpoints said the same.
    _seen: dict[tuple[str, str], list[object]] = field(default_factory=dict)

    def once(self, kind: str, subject: str, line: str) -> None:
        """One line per finding and subject (the earliest checkpoint), with a count of the others."""
        entry = self._seen.get((kind, subject))
        if entry is None:
            self._seen[(kind, subject)] = [line, 0]
        else:
            entry[1] = int(str(entry[1])) + 1

    def finish(self) -> None:
        for line, more in self._seen.values():
            self.problems.append(f"{line} (and {more} later checkpoint(s))" if more else str(line))
        self._seen.clear()


def _register_top(conn: sqlite3.Connection) -> int | None:
    """The newest register entry id (0: empty), None without a register table."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='register'").fetchone() is None:
        return None
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM register").fetchone()[0])


def check_checkpoints(report: VerifyReport, conn: sqlite3.Connection, cps: Sequence[Checkpoint],
                      public: Ed25519PublicKey,
                      box_id: str | None, source: str, tsa: TsaVerifier | None = None,
                      box_copy: dict[int, Checkpoint] | None = None, camera: str | None = None) -> CheckpointFindings:
    """Compare the walked store with checkpoints `cps` (in id order) from `source` ("archive" or
    "box"). `box_copy`: the box's own checkpoints by id, which must hold each archived one.
    `camera`: the walk covered this camera alone (`edge verify --camera`): only its heads are
    compared, and the box-wide register is left to a full verify; the checkpoints themselves
    (signatures, sequence, tokens) are checked either way."""
    f = CheckpointFindings()
    starts = v2_starts(conn)
    reg_top = _register_top(conn)
    prev: Checkpoint | None = None
    for cp in cps:
        f.checked += 1
        label = f"checkpoint #{cp.id} ({iso_us(cp.time_us)}, {source})"
        if not cp.signature_ok(public):
            f.once("sig", source, f"CHECKPOINT #{cp.id} ({source}): signature does not verify with the device key")
            prev = None
            continue
        try:
            content = cp.content
        except ValueError:
            f.problems.append(f"CHECKPOINT #{cp.id} ({source}): body is not JSON")
            continue
        if box_id is not None and content.get("box_id") != box_id:
            f.problems.append(f"CHECKPOINT #{cp.id} ({source}): made by box {content.get('box_id')!r}, not {box_id!r}")
        if prev is not None and prev.id == cp.id - 1 and content.get("prev") != prev.digest.hex():
            f.problems.append(f"CHECKPOINT #{cp.id} ({source}): does not follow checkpoint #{prev.id}")
        elif prev is None and cp.id == 1 and content.get("prev") != GENESIS:
            f.problems.append(f"CHECKPOINT #1 ({source}): has a predecessor")
        if prev is not None and cp.id != prev.id + 1 and source == "box":
            f.problems.append(f"CHECKPOINT #{prev.id + 1}..#{cp.id - 1} (box): missing")
        prev = cp
        if box_copy is not None:
            mine = box_copy.get(cp.id)
            if mine is None:
                f.once("cp-missing", "box", f"CHECKPOINT #{cp.id}: archived, but not on the box")
            elif mine.body != cp.body:
                f.once("cp-differs", "box", f"CHECKPOINT #{cp.id}: the box's copy differs from the archived one")
        if cp.tsa_token is not None and tsa is not None:
            try:
                gen_us = tsa.verify(cp.tsa_token, cp.body.encode("utf-8"))
            except TsaError as exc:
                f.once("tsa", source, f"TIMESTAMP {label}: token does not verify ({exc})")
            else:
                f.timestamped += 1
                if gen_us < cp.time_us - CLOCK_SKEW_US:
                    f.once("tsa-early", source,
                           f"TIMESTAMP {label}: TSA time {iso_us(gen_us)} is before the checkpoint")
                elif gen_us - cp.time_us > 3_600_000_000:
                    f.notes.append(f"TIMESTAMP {label}: stamped {(gen_us - cp.time_us) / 3.6e9:.1f} h after it"
                                   " was made (TSA outage?); it proves the state only from then")
        for cam, head in sorted(content.get("cameras", {}).items()):
            if camera is not None and cam != camera:
                continue
            seq, link = int(head["seq"]), str(head["link"])
            walk = report.walks.get(cam)
            now_head = -1 if walk is None else walk.head
            if now_head < seq:
                f.once("trunc", cam, f"TRUNCATED {cam}: {label} names head #{seq}, the chain now ends at #{now_head}")
            elif walk is not None and walk.links.get(seq) != link:
                f.once("rewrite", cam, f"REWRITTEN {cam} #{seq}: link differs from {label}; a row at or before"
                       " it was changed and the chain recomputed")
            if int(head.get("v2_from", 0)) != starts.get(cam, 0) and starts:
                f.once("v2", cam, f"CHAIN-VERSION {cam}: v2 starts at #{starts.get(cam, 0)}, {label} says"
                       f" #{head.get('v2_from')}")
        r = content.get("register") if camera is None else None
        if r is not None:
            rid, rlink = int(r["id"]), str(r["link"])
            if reg_top is None or reg_top < rid:
                f.once("trunc", "register", f"TRUNCATED register: {label} names entry #{rid}, the register ends"
                       f" at #{reg_top or 0}")
            else:
                row = conn.execute("SELECT chain FROM register WHERE id=?", (rid,)).fetchone()
                if row is None or str(row[0]) != rlink:
                    f.once("rewrite", "register", f"REWRITTEN register #{rid}: chain differs from {label}; an entry"
                           " at or before it was changed and the register recomputed")
    f.finish()
    return f
