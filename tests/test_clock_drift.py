"""The clock_drift alarm: raised past the threshold, cleared below half of it, recorded in the index."""

from __future__ import annotations

from pathlib import Path

from capture.state import CameraStatus
from edge.monitor import clock_drift
from edge.monitor.alarms import AlarmCenter
from storage.clock import SystemClock
from storage.store import SegmentStore


def test_clock_drift_raises_and_clears_with_hysteresis(tmp_path: Path) -> None:
    store = SegmentStore(tmp_path / "store", SystemClock())
    try:
        alarms = AlarmCenter(store.index, store.clock)
        st = CameraStatus("gate-1")
        clock_drift.check(alarms, "gate-1", st)  # no sender report yet: nothing to judge
        assert not alarms.is_active("clock_drift", "gate-1")
        st.clock_drift_us = -3_500_000
        clock_drift.check(alarms, "gate-1", st)
        [alarm] = alarms.active("gate-1")
        assert alarm.code == "clock_drift" and "-3.5 s" in alarm.message
        st.clock_drift_us = 1_500_000  # under the threshold but above half of it: still raised
        clock_drift.check(alarms, "gate-1", st)
        assert alarms.is_active("clock_drift", "gate-1")
        st.clock_drift_us = 200_000
        clock_drift.check(alarms, "gate-1", st)
        assert not alarms.is_active("clock_drift", "gate-1")
        events = [(e["code"], e["event"]) for e in alarms.events(camera="gate-1")]
        assert events == [("clock_drift", "clear"), ("clock_drift", "raise")]
    finally:
        store.close()
