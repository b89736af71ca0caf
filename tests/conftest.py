"""Fixtures: real RTSP cameras on loopback, real daemons, real stores in tmp dirs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests run beside real daemons and simulators on a 2-core box (pytest-xdist): data
# generation there is sometimes slow, which says nothing about the code under test. The examples
# and their assertions stay as each test sets them.
settings.register_profile("edge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("edge")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import ARTIFACTS, CLIP, DaemonProcess  # noqa: E402, F401 - CLIP and ARTIFACTS used below

from api.app import _preload_anyio  # noqa: E402
from capture.sim.simulator import Simulator, make_clip, simulator_available  # noqa: E402

# pytest rewrites the modules of every installed pytest plugin (anyio ships one) with ast.parse when
# they are imported; anyio imports lazily, so a daemon thread's first file response would parse in a
# thread, and CPython 3.11.7 fails when two threads build ASTs at once (gh-106905). Import it all
# now, while this is the only thread.
_preload_anyio()



@pytest.fixture(scope="session")
def clip_dir() -> Path:
    from capture.sim.simulator import default_clip_dir

    d = default_clip_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def require_simulator() -> None:
    missing = simulator_available()
    if missing is not None:
        pytest.fail(f"the RTSP simulator cannot run here; `make test` installs it as root: {missing}")


@pytest.fixture
def clip(clip_dir: Path) -> Callable[..., Path]:
    def make(kind: str = "normal", seed: int = 0, **overrides: object) -> Path:
        params: dict[str, object] = {**CLIP, **overrides}
        return make_clip(clip_dir, kind, seed=seed, **params)  # type: ignore[arg-type]

    return make


@pytest.fixture
def simulator(require_simulator: None) -> Iterator[Callable[..., Simulator]]:
    """Factory: simulator({'cam1': clip_path, ...}) -> a started Simulator, stopped at teardown."""
    started: list[Simulator] = []

    def start(mounts: dict[str, Path], port: int | None = None, audio: dict[str, str] | None = None) -> Simulator:
        sim = Simulator(mounts, port=port, audio=audio)
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """Daemons registered here are killed at teardown even when a test fails half-way."""
    procs: list[DaemonProcess] = []
    yield procs
    for d in procs:
        d.cleanup()
