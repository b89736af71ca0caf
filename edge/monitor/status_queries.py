"""The status document's reads of the index and of the daemon's in-memory totals.

Kept apart from the document builder (edge/status.py) because these are the parts whose cost
grows with history: each one says which index or running total keeps it bounded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from edge.monitor.alarms import Alarm
from edge.monitor.status_schema import GapsOut
from storage.index import Gap, Index

if TYPE_CHECKING:
    from storage.totals import CameraTotals

log = logging.getLogger(__name__)


def live_totals(d: Any) -> dict[str, CameraTotals] | None:
    """The daemon's in-memory per-camera totals of stored segments (kept by the retention service),
    or None when it has none (the caller then aggregates the index). Never waits for their load
    (seconds on a 30-day store, run by the retention service): until then, what is known so far
    (`totals_warming_up` says so)."""
    totals = getattr(getattr(d, "retention", None), "totals", None)
    peek = getattr(totals, "peek", None)
    try:
        if callable(peek):
            out = peek()[0]
        else:
            snapshot = getattr(totals, "snapshot", None)
            if not callable(snapshot):
                return None
            out = snapshot()
    except Exception:
        log.exception("status: store totals unavailable; aggregating the index")
        return None
    return out if isinstance(out, dict) else None


def totals_warming_up(d: Any) -> bool:
    """True while the daemon's store totals are still loading (its status figures are partial)."""
    totals = getattr(getattr(d, "retention", None), "totals", None)
    return getattr(totals, "loaded", True) is False


def camera_totals(index: Index, totals: dict[str, CameraTotals] | None,
                  camera: str) -> tuple[int, int, int | None, int | None]:
    """(segments, bytes, oldest start, newest end) of a camera's stored segments: from the running
    totals when there are any, else from the index (a one-off aggregate, `edge status` offline)."""
    if totals is None:
        return stored_totals(index, camera)
    t = totals.get(camera)
    if t is None:
        return 0, 0, None, None
    return t.segments, t.bytes, t.oldest_start_us, t.newest_end_us


def recorded_alarms(index: Index) -> list[Alarm]:
    """Alarms whose last recorded event is a raise (what was active when last seen)."""
    rows = index.reader().execute(
        "SELECT a.code, a.severity, a.camera, a.message, a.time_us FROM alarm_events a JOIN"
        " (SELECT max(id) AS id FROM alarm_events GROUP BY code, camera) last ON a.id = last.id"
        " WHERE a.event = 'raise' ORDER BY a.time_us")
    return [Alarm(str(r[0]), r[1], r[2], str(r[3]), int(r[4])) for r in rows]


def stored_totals(index: Index, camera: str) -> tuple[int, int, int | None, int | None]:
    """(segments, bytes, oldest start, newest end) of a camera's stored segments."""
    r = index.reader().execute(
        "SELECT count(*), coalesce(sum(bytes), 0), min(start_us), max(end_us) FROM segments"
        " WHERE camera=? AND state='stored'", (camera,)).fetchone()
    return int(r[0]), int(r[1]), r[2], r[3]


def gaps_overlapping(index: Index, camera: str, since_us: int, until_us: int) -> list[Gap]:
    """A camera's gaps overlapping [since_us, until_us) (as `Index.gaps`), in start order, found
    through the indexes on open gaps and on (camera, end_us) (storage/recovery.py creates them), so a
    camera's long history of outages is never scanned on a status request."""
    rows = index.reader().execute(
        # Open gaps (a camera has at most one or two) are filtered on start here: with the bound in
        # SQL the planner would prefer the (camera, start_us) index and walk every older gap.
        "SELECT id, camera, start_us, end_us, reason, detail FROM gaps WHERE camera=? AND end_us IS NULL"
        " UNION ALL"
        " SELECT id, camera, start_us, end_us, reason, detail FROM gaps WHERE camera=? AND end_us >= ?"
        " AND start_us < ?",
        (camera, camera, since_us, until_us),
    ).fetchall()
    return [Gap(*r) for r in sorted(rows, key=lambda r: (r[2], r[0])) if r[2] < until_us]


def gaps_since(index: Index, camera: str, since_us: int, now_us: int) -> GapsOut:
    total = 0
    gaps = gaps_overlapping(index, camera, since_us, now_us)
    for g in gaps:
        end = g.end_us if g.end_us is not None else now_us
        total += max(0, min(end, now_us) - max(g.start_us, since_us))
    return GapsOut(count=len(gaps), seconds=round(total / 1e6, 3))
