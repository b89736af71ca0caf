"""The camera page's 24-hour timeline: recorded spans, gaps with their reasons, alarms.

Computed from the index (segments, gaps) and the alarm events, as percentages of the window, and
drawn by the template as SVG rectangles (SVG geometry attributes are not styles, so the page's
Content-Security-Policy needs no 'unsafe-inline').
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from edge.monitor.alarms import AlarmCenter
from storage.clock import HOUR_US
from storage.index import Index

#: Segments closer than this are one recorded span (a keyframe cut leaves no real hole).
JOIN_US = 1_500_000
#: Narrower bars are widened to this share of the window so a short gap stays visible.
MIN_WIDTH_PCT = 0.2
#: The windows the camera page offers (hours): a day, and an hour to see a young box's footage.
WINDOWS = (24, 6, 1)


@dataclass(frozen=True)
class Bar:
    start_us: int
    end_us: int
    x: float  # percent of the window
    width: float
    label: str
    #: A gap's reason or an alarm's code (translated by the page); `detail`: the technical detail
    #: as the camera or the recorder gave it (shown as it is); `ongoing`: not closed yet.
    code: str = ""
    detail: str = ""
    ongoing: bool = False


@dataclass(frozen=True)
class Timeline:
    since_us: int
    until_us: int
    spans: list[Bar]
    gaps: list[Bar]
    alarms: list[Bar]
    ticks: list[tuple[float, str]]
    recorded_pct: float
    hours: int


def _bar(since: int, until: int, start: int, end: int, label: str) -> Bar | None:
    start, end = max(start, since), min(end, until)
    if end <= start:
        return None
    total = until - since
    x = 100.0 * (start - since) / total
    width = max(MIN_WIDTH_PCT, 100.0 * (end - start) / total)
    return Bar(start, end, round(min(x, 100.0 - MIN_WIDTH_PCT), 3), round(width, 3), label)


def _spans(index: Index, camera: str, since: int, until: int, live_from: int | None) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for seg in index.segments_in_range(camera, since, until):
        if spans and seg.start_us - spans[-1][1] <= JOIN_US:
            spans[-1] = (spans[-1][0], max(spans[-1][1], seg.end_us))
        else:
            spans.append((seg.start_us, seg.end_us))
    if live_from is not None:  # the open segment: recording now, not in the index until it closes
        if spans and live_from - spans[-1][1] <= JOIN_US:
            spans[-1] = (spans[-1][0], until)
        else:
            spans.append((live_from, until))
    return spans


def _alarm_spans(alarms: AlarmCenter, camera: str, since: int, until: int) -> list[tuple[int, int, str]]:
    events = list(reversed(alarms.events(since_us=since, camera=camera, limit=5000)))
    open_: dict[str, tuple[int, str]] = {a.code: (a.since_us, a.message) for a in alarms.active(camera)
                                         if a.since_us < since}
    out: list[tuple[int, int, str]] = []
    for e in events:
        code = str(e["code"])
        if e["event"] == "raise":
            open_.setdefault(code, (int(e["time_us"]), str(e["message"])))
        elif code in open_:
            start, message = open_.pop(code)
            out.append((start, int(e["time_us"]), f"{code}: {message}"))
    out += [(start, until, f"{code}: {message} (active)") for code, (start, message) in open_.items()]
    return sorted(out)


def build(index: Index, alarms: AlarmCenter, camera: str, now_us: int, live_from: int | None,
          hours: int = 24, zone: tzinfo = UTC) -> Timeline:
    since = now_us - hours * HOUR_US
    spans = [b for s, e in _spans(index, camera, since, now_us, live_from)
             if (b := _bar(since, now_us, s, e, "recorded")) is not None]
    gaps = []
    for g in index.gaps(camera, since, now_us):
        end = g.end_us if g.end_us is not None else now_us
        label = g.reason + (f": {g.detail}" if g.detail else "") + (" (ongoing)" if g.end_us is None else "")
        if (b := _bar(since, now_us, g.start_us, end, label)) is not None:
            gaps.append(replace(b, code=g.reason, detail=g.detail or "", ongoing=g.end_us is None))
    alarm_bars = [replace(b, code=label.split(":", 1)[0], detail=label.split(":", 1)[-1].strip())
                  for s, e, label in _alarm_spans(alarms, camera, since, now_us)
                  if (b := _bar(since, now_us, s, e, label)) is not None]
    ticks = []
    step = 3 * HOUR_US if hours >= 12 else HOUR_US if hours > 1 else HOUR_US // 6
    first_tick = (since // step + 1) * step
    for t in range(first_tick, now_us, step):
        ticks.append((round(100.0 * (t - since) / (now_us - since), 3),
                      f"{datetime.fromtimestamp(t / 1e6, tz=UTC).astimezone(zone):%H:%M}"))
    recorded = sum(b.end_us - b.start_us for b in spans)
    return Timeline(since, now_us, spans, gaps, alarm_bars, ticks, round(100.0 * recorded / (now_us - since), 2),
                    hours)


def gap_rows(timeline: Timeline) -> list[dict[str, Any]]:
    return [{"start_us": g.start_us, "end_us": g.end_us, "seconds": round((g.end_us - g.start_us) / 1e6, 1),
             "reason": g.label, "code": g.code, "detail": g.detail, "ongoing": g.ongoing}
            for g in reversed(timeline.gaps)]
