"""Times as the status document, alarms and reports write them: UTC, ISO 8601 with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    dt = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def hhmm(us: int) -> str:
    """`10:02` for today's events, `2026-11-27 10:02` for older ones (the reader is on site)."""
    dt = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    if dt.date() == datetime.now(tz=UTC).date():
        return f"{dt:%H:%M}"
    return f"{dt:%Y-%m-%d %H:%M}"
