"""The `clock_drift` alarm: a camera whose own clock (RTCP sender reports) is far from the box's.

Evidence times come from the box's clock; a camera clock that drifts says its burnt-in time stamp
(and any time it reports) cannot be trusted without correction. Raised past `THRESHOLD_US`, cleared
below half of it (hysteresis, so a clock near the limit does not flap).
"""

from __future__ import annotations

from capture.state import CameraStatus
from edge.monitor.alarms import AlarmCenter

THRESHOLD_US = 2_000_000


def check(alarms: AlarmCenter, camera: str, status: CameraStatus, threshold_us: int = THRESHOLD_US) -> None:
    drift = status.clock_drift_us
    if drift is None:
        return
    if abs(drift) > threshold_us:
        alarms.raise_("clock_drift", "warning",
                      f"camera {camera} clock is {drift / 1e6:+.1f} s off the recorder's clock", camera,
                      {"drift_us": drift, "threshold_us": threshold_us})
    elif abs(drift) < threshold_us // 2:
        alarms.clear("clock_drift", camera)
