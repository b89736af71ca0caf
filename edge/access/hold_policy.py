"""What one officer may hold (Art. 19(8)) without a second person: bounded holds only.

A hold keeps footage for at least two years whatever the disk needs, so a hold over all of time
(`0001-01-01` to `9999-12-31`, every camera) would let one person stop retention for good and
fill the disk. A hold therefore covers recorded footage, or a window that ends at most
`[retention] max_hold_future_hours` after now (footage still to come, e.g. an incident under
way); its start is moved up to the oldest recorded footage (nothing older exists to hold). A
hold of every camera reaching past now is open-ended: one person alone is refused, it needs the
two-person rule (`edge.access.hold_requests`).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config_sections import RetentionConfig
from edge.i18n.message import N_, Message
from storage.clock import Clock
from storage.holds import HoldError
from storage.index import Index

HOUR_US = 3_600_000_000
#: The officer's and the box's clocks may differ a little; "now" from the request is not "future".
CLOCK_TOLERANCE_US = 5_000_000


class HoldTooLong(HoldError):
    """A hold reaching further past now than `[retention] max_hold_future_hours` (422)."""

    code = "hold_too_long"


class HoldRefused(HoldError):
    """A hold one person may not create alone (`status` 403), as opposed to a malformed one (422)."""

    status = 403
    code = "hold_needs_two_persons"


def hold_message(exc: HoldError) -> Message:
    """A hold refusal (from the store or the bounds here) as a message the pages translate."""
    return Message(exc.code, exc.text, exc.params)


@dataclass(frozen=True)
class BoundedRange:
    start_us: int
    end_us: int
    clamped: bool


def bound_hold(cfg: RetentionConfig, index: Index, clock: Clock, camera: str | None, start_us: int,
               end_us: int, two_persons: bool = False) -> BoundedRange:
    """The range a hold may have, or HoldError (422) / HoldRefused (403). `two_persons`: decided
    under the two-person rule (`edge.access.hold_requests`), so an all-camera hold may reach past now."""
    if end_us <= start_us:
        raise HoldError(N_("the hold's end must be after its start"))
    now = clock.now_us()
    limit = now + int(cfg.max_hold_future_hours * HOUR_US) + CLOCK_TOLERANCE_US
    if end_us > limit:
        raise HoldTooLong(N_("end is more than %(hours)s h after now ([retention] max_hold_future_hours): a hold "
                             "covers recorded footage or a bounded window of footage still to come"),
                          hours=f"{cfg.max_hold_future_hours:g}")
    if camera is None and end_us > now + CLOCK_TOLERANCE_US and not two_persons:
        raise HoldRefused(N_("a hold of every camera that reaches past now is open-ended and needs the two-person "
                             "rule (Art. 18): ask for it with POST /api/v1/hold-requests (a second person "
                             "approves), or hold each camera concerned"))
    oldest = _oldest_footage(index, [camera] if camera is not None else index.cameras())
    if oldest is not None and start_us < oldest < end_us:
        return BoundedRange(oldest, end_us, True)
    return BoundedRange(start_us, end_us, False)


def _oldest_footage(index: Index, cameras: list[str]) -> int | None:
    starts = []
    for cam in cameras:
        row = index.reader().execute("SELECT min(start_us) FROM segments"
                                     " WHERE camera=? AND state='stored'", (cam,)).fetchone()
        if row is not None and row[0] is not None:
            starts.append(int(row[0]))
    return min(starts) if starts else None
