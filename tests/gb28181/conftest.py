"""Fixtures of the GB/T 28181 SIPp tests: a real store of fMP4 segments, SIPp as the platform,
the service under test (helpers in tests/gb28181_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path

import pytest
from fmp4 import encode_fmp4
from gb28181_fixtures import T0, Cameras, S
from gb28181_helpers import PASSWORD, SIPP, Platform

from edge.gb28181.config import Gb28181Config
from edge.gb28181.interfaces import Sources
from edge.gb28181.service import Gb28181Service
from edge.monitor.alarms import AlarmCenter
from storage.clock import SystemClock
from storage.register import AccessRegister
from storage.store import SegmentStore, StreamInfo


@pytest.fixture
def sipp_installed() -> None:
    # Fail, not skip: a CI without SIPp must not pass these silently.
    if SIPP is None:
        pytest.fail("sipp (Debian sip-tester) is not installed; `make test` installs it as root (scripts/sysdeps.sh)")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SegmentStore]:
    s = SegmentStore(tmp_path / "store", SystemClock(), sync_interval=0)
    # cam1: two abutting 2 s segments, a 6 s gap, one more; cam3: nothing recorded.
    for i, start in enumerate((T0, T0 + 2 * S, T0 + 10 * S)):
        f = s.open_segment("cam1", start)
        encode_fmp4(f, 50, shade=3 + i)
        s.commit("cam1", f, start + 2 * S, 50, StreamInfo("h264", 160, 120))
    yield s
    s.close()


@pytest.fixture
def platform(sipp_installed: None, tmp_path: Path) -> Iterator[Platform]:
    p = Platform(tmp_path).start()
    yield p
    p.stop()


@pytest.fixture
def make_service(store: SegmentStore, platform: Platform) -> Iterator[Callable[..., Gb28181Service]]:
    started: list[Gb28181Service] = []

    def make(**overrides: object) -> Gb28181Service:
        cams = overrides.pop("cameras", Cameras())
        clock = SystemClock()
        values: dict[str, object] = dict(enabled=True, password=PASSWORD, server_address="127.0.0.1",
                                         server_port=platform.port, local_address="127.0.0.1", local_port=0,
                                         keepalive_seconds=0.5, allow_playback=True, max_items_per_message=2)
        values.update(overrides)
        cfg = Gb28181Config.model_validate(values)
        sources = Sources(cams, store.index, store.layout.root, AlarmCenter(store.index, clock),  # type: ignore[arg-type]
                          AccessRegister(store.index, clock))
        svc = Gb28181Service(cfg, sources, clock.now_us, tz=UTC)
        svc.start()
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.stop()
        svc.join(10)
