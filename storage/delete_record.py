"""What a retention register entry (`retention_delete` / `floor_breach`) says it deleted.

Two forms of the entry's `detail`, and every reader accepts both (entries are never rewritten):

- old (entries written before the runs form): `{"reason": R, "segments": [[camera, seq,
  sha256, chain], ...]}`, one item per deleted segment;
- runs (what the sweep writes now): `{"reason": R, "count": N, "runs": [[camera, first_seq,
  last_seq, last_chain], ...]}`. Per camera, each range of consecutive seqs the batch deleted
  is one run (maximal, as a sweep's seqs ascend; a segment the batch skipped, held or pinned,
  splits it), with the chain
  value of its highest-seq segment; `count` is the number of segments the entry deleted (the sum
  of the runs' lengths). The chain of the last segment commits to every earlier link of the
  camera (storage/chain.py), so with `edge verify`'s chain check a run accounts for each of its
  rows exactly as naming every [camera, seq, sha256, chain] did, at ~1/30 of the JSON (a one-day
  sweep of 64 cameras: ~2 000 segments per entry, ~64 runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from storage.index import Index


class _Deleted(Protocol):
    @property
    def camera(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def chain(self) -> str: ...


@dataclass(frozen=True)
class Run:
    """Segments `first`..`last` (inclusive) of `camera`; `chain` is the last one's chain value.
    From an old-form item: first == last, with its `sha256` too."""
    camera: str
    first: int
    last: int
    chain: str
    sha256: str | None = None


def runs_of(segs: Iterable[_Deleted]) -> list[list[Any]]:
    """The `runs` of a batch, sorted by camera and first seq. A sweep's batch comes oldest first,
    so each camera's seqs ascend: one pass, no sort of the segments (a seq out of order only
    starts another run)."""
    out: list[list[Any]] = []
    current: dict[str, list[Any]] = {}
    for s in segs:
        run = current.get(s.camera)
        if run is not None and run[2] + 1 == s.seq:
            run[2] = s.seq
            run[3] = s.chain
        else:
            run = current[s.camera] = [s.camera, s.seq, s.seq, s.chain]
            out.append(run)
    out.sort(key=lambda r: (r[0], r[1]))
    return out


def detail_for(reason: str, segs: Sequence[_Deleted], runs: list[list[Any]] | None = None) -> dict[str, Any]:
    """The detail of the register entry that records deleting `segs` (`runs`: their `runs_of`, when
    the caller has it already)."""
    return {"reason": reason, "count": len(segs), "runs": runs_of(segs) if runs is None else runs}


def runs_in(detail: dict[str, Any]) -> Iterator[Run]:
    """The segments an entry's detail names, in either form (malformed items are ignored: they
    account for nothing)."""
    for item in detail.get("segments", []) or []:
        if isinstance(item, list) and len(item) == 4:
            cam, seq, sha, chain = item
            yield Run(str(cam), int(seq), int(seq), str(chain), str(sha))
    for item in detail.get("runs", []) or []:
        if isinstance(item, list) and len(item) == 4 and int(item[1]) <= int(item[2]):
            yield Run(str(item[0]), int(item[1]), int(item[2]), str(item[3]))


def count_sql(column: str = "detail") -> str:
    """SQL for the number of segments an entry's detail names (either form)."""
    return (f"coalesce(json_extract({column}, '$.count'), json_array_length({column}, '$.segments'), 0)")


def deletion_counters(index: Index) -> tuple[int, int]:
    """Totals since the store began, for status: every deleted row, every segment of a recorded breach."""
    r = index.reader()
    deleted = int(r.execute("SELECT count(*) FROM segments WHERE state IN ('deleting', 'deleted')").fetchone()[0])
    breaches = int(r.execute(
        f"SELECT coalesce(sum({count_sql()}), 0) FROM register"
        " WHERE action='floor_breach'").fetchone()[0])
    return deleted, breaches
