"""`edge verify`'s proof of retention: every deleted row must be named in the access register.

A row in state 'deleting'/'deleted' is "deleted by retention" only if a hash-chained
`retention_delete` or `floor_breach` entry names it by camera, seq, sha256 and chain value. So a
file removed by hand whose row someone then edited to 'deleted' is still caught, and the register
itself cannot be edited without `verify_register` noticing.

Memory: one 8-byte digest per recorded and per deleted row (numpy arrays, not Python sets), since
a store that has run for years holds tens of millions of deleted rows.
"""

from __future__ import annotations

import hashlib
import json
from array import array

import numpy as np

from storage.index import Index

DELETE_ACTIONS = ("retention_delete", "floor_breach")


def _key(camera: str, seq: int, sha256: str, chain: str) -> int:
    digest = hashlib.blake2b(f"{camera}\0{seq}\0{sha256}\0{chain}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def unrecorded_deletes(index: Index) -> list[str]:
    """One `UNRECORDED DELETE camera #seq` line per deleted row the register does not account for."""
    reader = index.reader()
    recorded = array("Q")
    for (detail,) in reader.execute(
        f"SELECT detail FROM register WHERE action IN ({', '.join('?' * len(DELETE_ACTIONS))})", DELETE_ACTIONS
    ):
        for item in json.loads(detail).get("segments", []):
            if isinstance(item, list) and len(item) == 4:
                recorded.append(_key(str(item[0]), int(item[1]), str(item[2]), str(item[3])))
    sql = ("SELECT camera, seq, sha256, chain, state FROM segments WHERE state IN ('deleting', 'deleted')"
           " ORDER BY camera, seq")
    deleted = array("Q", (_key(cam, seq, sha, chain) for cam, seq, sha, chain, _ in reader.execute(sql)))
    if not deleted:
        return []
    found = np.isin(np.frombuffer(deleted, dtype=np.uint64), np.frombuffer(recorded, dtype=np.uint64))
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


def deletes_under_floor(index: Index, floor_days: float) -> list[str]:
    """`retention_delete` entries that removed footage younger than the legal floor: retention
    never does that (only a recorded `floor_breach` may), so such an entry was written by hand."""
    if index.reader().execute("SELECT 1 FROM sqlite_master WHERE name='register'").fetchone() is None:
        return []
    floor_us = int(floor_days * 86_400_000_000)
    problems = []
    for entry_id, time_us, detail in index.reader().execute(
            "SELECT id, time_us, detail FROM register WHERE action='retention_delete' ORDER BY id"):
        young = [item for item in json.loads(detail).get("segments", [])
                 if isinstance(item, list) and len(item) == 4 and _end_of(index, item) > time_us - floor_us]
        for cam, seq, _sha, _chain in young:
            problems.append(f"UNLAWFUL DELETE {cam} #{seq}: register entry #{entry_id} says retention deleted it"
                            f" younger than {floor_days:g} days")
    return problems


def _end_of(index: Index, item: list[object]) -> int:
    row = index.reader().execute("SELECT end_us FROM segments WHERE camera=? AND seq=?",
                                 (str(item[0]), int(str(item[1])))).fetchone()
    return -(2**62) if row is None else int(row[0])
