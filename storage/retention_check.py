"""`edge verify`'s proof of retention: every deleted row must be named in the access register.

A row in state 'deleting'/'deleted' is "deleted by retention" only if a hash-chained
`retention_delete` or `floor_breach` entry names it: by camera, seq, sha256 and chain value (old
entries), or in a run of its camera's seqs whose last chain value the entry recorded
(storage/delete_record.py). So a
file removed by hand whose row someone then edited to 'deleted' is still caught, and the register
itself cannot be edited without `verify_register` noticing.

Memory: per deleted row an 8-byte digest, its seq and a flag, per old-form item one digest, per run
two integers (arrays, not Python sets), since a store that has run for years holds tens of millions
of deleted rows.
"""

from __future__ import annotations

import hashlib
import json
from array import array

import numpy as np

from storage.delete_record import runs_in
from storage.index import Index

DELETE_ACTIONS = ("retention_delete", "floor_breach")


def _key(camera: str, seq: int, sha256: str, chain: str) -> int:
    digest = hashlib.blake2b(f"{camera}\0{seq}\0{sha256}\0{chain}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def unrecorded_deletes(index: Index) -> list[str]:
    """One `UNRECORDED DELETE camera #seq` line per deleted row the register does not account for.

    A row is accounted for by an old-form item naming its camera, seq, sha256 and chain, or by a
    run of its camera (storage/delete_record.py) that holds its seq: inside the run, or as the run's
    last seq with the chain value the run recorded (the chain check of `edge verify` ties every
    earlier row of the run to that value)."""
    reader = index.reader()
    recorded = array("Q")
    middles: dict[str, list[tuple[int, int]]] = {}  # per camera: (first, last - 1) of each run
    ends: dict[str, dict[int, set[str]]] = {}  # per camera: last seq -> chain values recorded
    for (detail,) in reader.execute(
        f"SELECT detail FROM register WHERE action IN ({', '.join('?' * len(DELETE_ACTIONS))})", DELETE_ACTIONS
    ):
        for run in runs_in(json.loads(detail)):
            if run.sha256 is not None:
                recorded.append(_key(run.camera, run.first, run.sha256, run.chain))
                continue
            if run.first < run.last:
                middles.setdefault(run.camera, []).append((run.first, run.last - 1))
            ends.setdefault(run.camera, {}).setdefault(run.last, set()).add(run.chain)
    sql = ("SELECT camera, seq, sha256, chain, state FROM segments WHERE state IN ('deleting', 'deleted')"
           " ORDER BY camera, seq")
    deleted = array("Q")
    seqs = array("q")
    end_ok = bytearray()
    cameras: list[tuple[str, int]] = []  # (camera, index of its first row)
    cam_ends: dict[int, set[str]] = {}
    for cam, seq, sha, chain, _ in reader.execute(sql):
        if not cameras or cameras[-1][0] != cam:
            cameras.append((cam, len(seqs)))
            cam_ends = ends.get(cam, {})
        deleted.append(_key(cam, seq, sha, chain))
        seqs.append(seq)
        end_ok.append(chain in cam_ends.get(seq, ()))
    if not deleted:
        return []
    found = np.isin(np.frombuffer(deleted, dtype=np.uint64), np.frombuffer(recorded, dtype=np.uint64))
    found |= np.frombuffer(bytes(end_ok), dtype=np.uint8).astype(bool)
    seq_arr = np.frombuffer(seqs, dtype=np.int64)
    for i, (cam, lo) in enumerate(cameras):
        if cam in middles:
            hi = cameras[i + 1][1] if i + 1 < len(cameras) else len(seqs)
            found[lo:hi] |= _covered(seq_arr[lo:hi], middles[cam])
    if found.all():
        return []
    missing = set(np.flatnonzero(~found).tolist())
    problems = []
    # Second pass in the same order, only to name the rows (rare: this is the failure path).
    for i, (cam, seq, _sha, _chain, state) in enumerate(reader.execute(sql)):
        if i in missing:
            problems.append(f"UNRECORDED DELETE {cam} #{seq}: state '{state}' but no retention record"
                            " in the access register")
    return problems


def _covered(seqs: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Which of the (sorted) seqs lie in one of the inclusive spans."""
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    starts = np.array([m[0] for m in merged], dtype=np.int64)
    stops = np.array([m[1] for m in merged], dtype=np.int64)
    at = np.searchsorted(starts, seqs, side="right") - 1
    return (at >= 0) & (seqs <= stops[np.maximum(at, 0)])


def deletes_under_floor(index: Index, floor_days: float) -> list[str]:
    """`retention_delete` entries that removed footage younger than the legal floor: retention
    never does that (only a recorded `floor_breach` may), so such an entry was written by hand."""
    reader = index.reader()
    if reader.execute("SELECT 1 FROM sqlite_master WHERE name='register'").fetchone() is None:
        return []
    floor_us = int(floor_days * 86_400_000_000)
    problems = []
    for entry_id, time_us, detail in reader.execute(
            "SELECT id, time_us, detail FROM register WHERE action='retention_delete' ORDER BY id").fetchall():
        for run in runs_in(json.loads(detail)):
            young = reader.execute("SELECT seq FROM segments WHERE camera=? AND seq BETWEEN ? AND ? AND end_us > ?"
                                   " ORDER BY seq", (run.camera, run.first, run.last, time_us - floor_us))
            for (seq,) in young:
                problems.append(f"UNLAWFUL DELETE {run.camera} #{seq}: register entry #{entry_id} says retention"
                                f" deleted it younger than {floor_days:g} days")
    return problems
