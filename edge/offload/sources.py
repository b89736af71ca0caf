"""What is worth keeping off the box, turned into offload queue rows.

- segments under a hold in force: retain-until = the hold's expiry (the longest, when several);
- every file of an export that is ready (approved and produced): retain-until = the expiry of the
  hold the export made, or now + `retain_days`;
- checkpoint records (the integrity issue's signed checkpoints), through `CheckpointRecords`: the
  default reads a `checkpoints` table when the index has one; retain-until = now + `retain_days`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge.offload.queue import NewItem, OffloadQueue
from storage.holds import Hold
from storage.index import Index

DAY_US = 86_400_000_000


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    time_us: int
    body: bytes  # what goes into the bucket, as it is


class CheckpointRecords(Protocol):
    """The hook for the integrity checkpoints: records with an id above `after_id`, oldest first."""

    def after(self, after_id: int, limit: int) -> list[CheckpointRecord]: ...


class TableCheckpoints:
    """Rows of a `checkpoints` table (id and time columns, anything else), as canonical JSON; none
    while the table does not exist. The integrity feature may pass its own `CheckpointRecords`."""

    def __init__(self, index: Index, table: str = "checkpoints") -> None:
        self.index = index
        self.table = table

    def after(self, after_id: int, limit: int) -> list[CheckpointRecord]:
        conn = self.index.reader()
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (self.table,)).fetchone() is None:
            return []
        cur = conn.execute(f'SELECT * FROM "{self.table}" WHERE id > ? ORDER BY id LIMIT ?', (after_id, limit))
        names = [d[0] for d in cur.description]
        out = []
        for row in cur:
            rec = {n: _jsonable(v) for n, v in zip(names, row, strict=True)}
            t = next((rec[k] for k in ("time_us", "created_us", "at_us") if isinstance(rec.get(k), int)), 0)
            body = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            out.append(CheckpointRecord(int(rec["id"]), int(t), body))
        return out


def _jsonable(v: Any) -> Any:
    return {"base64": base64.b64encode(v).decode("ascii")} if isinstance(v, bytes) else v


@dataclass(frozen=True)
class ReadyExport:
    id: int
    directory: Path  # the produced bundle


class Planner:
    def __init__(self, queue: OffloadQueue, root: Path, key_prefix: str, retain_days: float,
                 holds: Callable[[], list[Hold]], ready_exports: Callable[[], list[ReadyExport]],
                 checkpoints: CheckpointRecords | None) -> None:
        self.queue = queue
        self.root = root
        self.key_prefix = key_prefix  # "<prefix><box>/"
        self.retain_us = int(retain_days * DAY_US)
        self.holds = holds
        self.ready_exports = ready_exports
        self.checkpoints = checkpoints

    def plan(self, now_us: int) -> None:
        holds = self.holds()
        for h in holds:
            self.queue.add_segments_of_hold(h.camera, h.start_us, h.end_us, h.expires_us, self.key_prefix, now_us)
        self._exports(holds, now_us)
        self._checkpoints(now_us)

    def _exports(self, holds: list[Hold], now_us: int) -> None:
        items: list[NewItem] = []
        for exp in self.ready_exports():
            made = [h.expires_us for h in holds if h.source == f"export:{exp.id}"]
            until = max(made) if made else now_us + self.retain_us
            if not exp.directory.is_dir():
                continue
            for f in sorted(p for p in exp.directory.iterdir() if p.is_file()):
                rel = f.relative_to(self.root).as_posix()
                if self.queue.by_source(f"export:{exp.id}/{f.name}") is not None and not made:
                    continue  # queued before; a later hold would only lengthen an export's lock
                items.append(NewItem("export", f"export:{exp.id}/{f.name}", self.key_prefix + rel, f.stat().st_size,
                                     until, path=rel))
        if items:
            self.queue.add(items, now_us)

    def _checkpoints(self, now_us: int) -> None:
        if self.checkpoints is None:
            return
        records = self.checkpoints.after(self.queue.max_checkpoint_id(), 500)
        if records:
            self.queue.add([NewItem("checkpoint", f"checkpoint:{r.id}",
                                    f"{self.key_prefix}checkpoints/{r.id:012d}.json", len(r.body),
                                    now_us + self.retain_us, body=r.body,
                                    expected_sha256=hashlib.sha256(r.body).hexdigest()) for r in records], now_us)
