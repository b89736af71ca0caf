"""Live view with `[health] enabled = false`: the capture worker still hands watched cameras'
keyframes to the sampler, so the maintainer can aim and focus a camera on a box without image
health. Real simulator camera, real daemon, real HTTP; nothing is decoded by the box."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from helpers import CLIP, wait_for
from web_fixtures import WebClient

from capture.sim.simulator import Simulator, make_clip
from edge.access.users import Role
from edge.app.daemon import Daemon
from edge.cli.wiring import api_port, build_daemon
from edge.config import parse_config
from storage.clock import OffsetClock


@pytest.fixture
def daemon(tmp_path: Path, require_simulator: None, clip_dir: Path) -> Iterator[tuple[Daemon, str, str]]:
    sim = Simulator({"cam1": make_clip(clip_dir, "normal", seed=43, **CLIP)})  # type: ignore[arg-type]
    sim.start()
    cfg = parse_config({
        "box": {"id": "live-box", "language": "en", "timezone": "UTC"},
        "storage": {"root": str(tmp_path / "store"), "segment_seconds": 2.0, "sync_interval": 0.5},
        "api": {"host": "127.0.0.1", "port": 0}, "health": {"enabled": False},
        "cameras": [{"id": "gate-1", "url": sim.url("cam1"), "site_category": "street"}]})
    d = build_daemon(cfg, OffsetClock())
    _, token = d.box.users.add("maint", Role.MAINTAINER, "MNT-1")
    d.start()
    try:
        wait_for(lambda: api_port(d), 20, what="the API port")
        yield d, f"http://127.0.0.1:{api_port(d)}", token
    finally:
        d.request_stop()
        d.shutdown()
        sim.stop()


def test_live_view_shows_a_picture_with_health_disabled(daemon: tuple[Daemon, str, str]) -> None:
    d, url, token = daemon
    assert not d.cfg.health.enabled
    maint = WebClient(url)
    try:
        maint.login(token)
        wait_for(lambda: d.fleet.workers["gate-1"].status.state.value == "recording", 30, 0.2, "recording")
        page = maint.get("/cameras/gate-1").text
        assert 'id="live"' in page, "the live view is offered without image health"
        got: list[httpx.Response] = []

        def picture() -> bool:
            r = maint.get("/cameras/gate-1/live.mp4")
            got.append(r)
            return r.status_code == 200

        wait_for(picture, 20, 0.3, "a live picture")
        body = got[-1].content
        with av.open(io.BytesIO(body)) as c:
            frames = list(c.decode(video=0))
        assert len(frames) == 1 and frames[0].width > 0
        # Health is off: the sampler copied no health samples, only the watched camera's keyframes.
        assert d.sampler.offered == 0 and d.sampler.taken == 0
    finally:
        maint.close()
