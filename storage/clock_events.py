"""Steps of the box's wall clock (NTP stepping it, an operator setting it), kept in the index.

Evidence times depend on the clock: each step is recorded with its size, so an inspection can see
when and by how much the clock moved, and so retention can allow for it. A forward step (the clock
was slow) makes footage recorded before it look older than it is by the step's size: the floor
cutoff moves back by the forward steps of its window (`forward_slack_us`), so nothing is deleted
younger than the floor. A backward step makes older footage look younger: kept longer, safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.clock import DAY_US
from storage.index import Index

# The table is migration 2 in storage/schema.py.


@dataclass(frozen=True)
class ClockEvent:
    id: int
    time_us: int
    kind: str
    step_us: int
    detail: str


def record(index: Index, time_us: int, kind: str, step_us: int = 0, detail: str = "") -> None:
    with index.write() as c:
        c.execute("INSERT INTO clock_events (time_us, kind, step_us, detail) VALUES (?, ?, ?, ?)",
                  (time_us, kind, step_us, detail))


def recent(index: Index, limit: int = 10) -> list[ClockEvent]:
    """The newest events, newest first (by id: after a backward step, times are not in order)."""
    try:
        rows = index.reader().execute(
            "SELECT id, time_us, kind, step_us, detail FROM clock_events ORDER BY id DESC LIMIT ?",
            (limit,)).fetchall()
    except Exception:  # noqa: BLE001 - an older store without the table has no events
        return []
    return [ClockEvent(*r) for r in rows]


def forward_slack_us(index: Index, now_us: int, window_us: int) -> int:
    """Sum of the forward steps recorded in the last `window_us` (widened by the steps themselves):
    how much older than it is footage from before them may look."""
    try:
        rows = index.reader().execute(
            "SELECT step_us FROM clock_events WHERE kind='step' AND step_us > 0 AND time_us >= ?",
            (now_us - window_us - DAY_US,)).fetchall()
    except Exception:  # noqa: BLE001 - no table: no recorded step
        return 0
    return sum(int(r[0]) for r in rows)
