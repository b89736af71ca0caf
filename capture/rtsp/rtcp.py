"""RTCP sender reports (RFC 3550 6.4.1): RTP time to the camera's wall clock, and its drift.

A sender report pairs an NTP wall-clock time with the RTP timestamp of the same instant. With it
an access unit's time is the camera's own clock, not the time the packet happened to arrive; the
difference between the camera's clock and the box's when the report arrives is the drift.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from capture.rtsp.rtp import Unwrapper

SR = 200
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_SR_BODY = struct.Struct(">IIII")  # SSRC, NTP seconds, NTP fraction, RTP timestamp


@dataclass(frozen=True)
class SenderReport:
    ssrc: int
    wall_us: int  # the camera's clock, µs since the Unix epoch
    rtp_ts: int


def sender_reports(data: bytes | memoryview) -> list[SenderReport]:
    """The sender reports in one compound RTCP packet (other packet types skipped)."""
    out: list[SenderReport] = []
    pos, n = 0, len(data)
    while pos + 4 <= n:
        b0, pt = data[pos], data[pos + 1]
        length = ((data[pos + 2] << 8) | data[pos + 3]) * 4 + 4
        if b0 >> 6 != 2 or pos + length > n:
            break
        if pt == SR and length >= 28:
            ssrc, sec, frac, rtp_ts = _SR_BODY.unpack_from(data, pos + 4)
            if sec:
                wall = (sec - NTP_UNIX_OFFSET) * 1_000_000 + (frac * 1_000_000 >> 32)
                out.append(SenderReport(ssrc, wall, rtp_ts))
        pos += length
    return out


class CameraClock:
    """The latest sender report of one stream: maps extended RTP timestamps to camera time."""

    def __init__(self, clock_rate: int, unwrap: Unwrapper) -> None:
        self.clock_rate = clock_rate
        self.unwrap = unwrap
        self.reports = 0
        self._ref: tuple[int, int] | None = None  # (camera wall µs, extended RTP ts)
        #: Camera clock minus box clock at the last report, µs (network delay included, ~0 on a LAN).
        self.drift_us: int | None = None

    def on_report(self, sr: SenderReport, box_now_us: int) -> None:
        self.reports += 1
        self._ref = (sr.wall_us, self.unwrap.extend(sr.rtp_ts))
        self.drift_us = sr.wall_us - box_now_us

    def wall_us(self, ext_ts: int) -> int | None:
        """The camera's wall-clock time of an extended RTP timestamp, once a report has come."""
        if self._ref is None:
            return None
        wall, ref = self._ref
        return wall + (ext_ts - ref) * 1_000_000 // self.clock_rate
