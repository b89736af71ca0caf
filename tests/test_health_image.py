"""Image health end to end: real RTSP cameras whose picture goes bad, a real daemon process, alarms
read from the status API and from the alarm log in the index."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import DaemonProcess, base_sections, camera, new_daemon, run_edge, wait_for

from capture import image_checks as health
from capture.sim.clips import _frames
from capture.sim.simulator import Simulator

INTERVAL = 2.0
#: What each camera is switched to, and the one alarm it must raise.
FAULTS = {"dark": "black", "overexposed": "overexposed", "covered": "covered", "blurred": "blurred",
          "frozen": "frozen", "moved": "moved"}
SEED = {"control": 20, **{code: 21 + i for i, code in enumerate(FAULTS)}}


def alarm_events(root: Path) -> list[sqlite3.Row]:
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        # Camera alarms only: box-wide ones (capacity on a small test volume) belong to retention.
        return list(con.execute("SELECT * FROM alarm_events WHERE camera IS NOT NULL ORDER BY id"))
    finally:
        con.close()


def token(cfg: Path, name: str = "monitor", role: str = "monitor") -> str:
    out = run_edge("user", "add", "-c", str(cfg), name, "--role", role, "--credential-id", f"W-{name}")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def active(d: DaemonProcess, tok: str) -> dict[str, set[str]]:
    doc = httpx.get(d.url + "/api/v1/status", headers={"Authorization": f"Bearer {tok}"}, timeout=5).json()
    return {c["id"]: {a["code"] for a in c["alarms"]} for c in doc["cameras"]}


def test_each_bad_picture_raises_exactly_its_alarm_and_clears(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        daemons: list[DaemonProcess]) -> None:
    normal = {cam: clip("normal", seed=seed) for cam, seed in SEED.items()}
    sim = simulator(dict(normal))
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root, health={"interval_seconds": INTERVAL}),
                   [camera(cam, sim.url(cam)) for cam in SEED])
    daemons.append(d)
    d.start()
    tok = token(d.config)

    # Commissioning: the first healthy sample of each camera becomes its reference.
    refs = {cam: root / "health" / cam / "reference.json" for cam in SEED}
    wait_for(lambda: all(p.exists() for p in refs.values()), 20, 0.2, "every camera's reference view")
    assert (root / "health" / "control" / "reference.png").stat().st_mode & 0o007 == 0, "not world-readable"
    wait_for(lambda: all((root / "health" / c / "latest.jpg").exists() for c in SEED), 10, 0.2, "snapshots")
    assert all(json.loads(p.read_text())["automatic"] for p in refs.values())
    # A few more samples of the normal picture: nothing is raised.
    wait_for(lambda: _samples(d, tok) >= 3, 20, 0.3, "three samples per camera")
    assert [dict(r) for r in alarm_events(root)] == []
    assert all(v == set() for v in active(d, tok).values())

    # The pictures go bad (a lens covered, a camera re-aimed, ...): the workers reconnect by themselves.
    for code, kind in FAULTS.items():
        sim.mounts[code] = clip(kind, seed=SEED[code])
    sim.restart()
    expected = {cam: ({cam} if cam in FAULTS else set()) for cam in SEED}
    last: list[dict[str, set[str]]] = [{}]

    def matches() -> bool:
        last[0] = active(d, tok)
        return last[0] == expected

    try:
        wait_for(matches, 10 * INTERVAL + 10, 0.3, "each camera's one alarm")
    except AssertionError:
        raise AssertionError(f"alarms: {last[0]}; events: {[dict(r) for r in alarm_events(root)]}") from None
    raised = {(r["camera"], r["code"]) for r in alarm_events(root) if r["event"] == "raise"}
    assert raised == {(code, code) for code in FAULTS}, "exactly the matching alarm, nothing else, ever"
    _assert_timely(root, INTERVAL)

    # Back to the normal picture: every alarm clears (hysteresis: after two good samples).
    for code in FAULTS:
        sim.mounts[code] = normal[code]
    sim.restart()
    wait_for(lambda: all(v == set() for v in active(d, tok).values()), 10 * INTERVAL + 10, 0.3, "all clear")
    events = alarm_events(root)
    for code in FAULTS:
        kinds = [r["event"] for r in events if r["camera"] == code]
        assert kinds == ["raise", "clear"], (code, kinds)
    assert not [r for r in events if r["camera"] == "control"]
    rc, _ = d.terminate()
    assert rc == 0, d.log()


def _samples(d: DaemonProcess, tok: str) -> int:
    doc = httpx.get(d.url + "/api/v1/status", headers={"Authorization": f"Bearer {tok}"}, timeout=5).json()
    return min((c["health"] or {}).get("samples", 0) for c in doc["cameras"])


#: The clips' GOP (capture/sim/clips.py): a sample is at most this much older than its tick.
GOP_SECONDS = 1.0
#: What a health tick may run late on a loaded two-core CI box (seven 1080p decodes per tick while
#: other tests record): one interval and two seconds. Tighter bounds failed there at 7.8 s.
TICK_SLACK = INTERVAL + 2.0


def _assert_timely(root: Path, interval: float) -> None:
    """Each alarm rose at the sample that could first raise it, not many intervals later: the
    camera's recording resumed on the bad clip at the end of its gap; the first sample of it is
    taken at most one interval (+ a GOP) later, and `raise_after` (2) bad samples raise the alarm;
    `frozen` needs one sample more (two identical pictures make the first frozen verdict)."""
    con = sqlite3.connect(f"file:{root / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        for r in alarm_events(root):
            if r["event"] != "raise":
                continue
            resumed = con.execute("SELECT max(end_us) FROM gaps WHERE camera=? AND end_us <= ?",
                                  (r["camera"], r["time_us"])).fetchone()[0]
            assert resumed is not None, r["camera"]
            took = (r["time_us"] - resumed) / 1e6
            samples = 2 + (r["code"] == "frozen")
            bound = samples * interval + GOP_SECONDS + TICK_SLACK
            assert took <= bound, f"{r['camera']}: alarm after {took:.1f} s (bound {bound:.1f} s)"
    finally:
        con.close()


@pytest.mark.parametrize("kind,code", [("black", "dark"), ("overexposed", "overexposed"),
                                       ("covered", "covered"), ("blurred", "blurred")])
def test_picture_checks_on_generated_frames(kind: str, code: str) -> None:
    """The pure checks, on the simulator's own pictures at 1080p: one fault each."""
    t = health.Thresholds()
    ref = health.Reference(health.to_grey(next(_frames("normal", 1920, 1080, 25, 1, 5))))
    grey = health.to_grey(next(_frames(kind, 1920, 1080, 25, 1, 5)))
    v = health.evaluate(grey, t, ref, None)
    assert v.faults == {code}


def test_moved_is_robust_to_lighting_and_catches_re_aiming() -> None:
    t = health.Thresholds()
    normal = health.to_grey(next(_frames("normal", 640, 360, 25, 1, 9)))
    ref = health.Reference(normal)
    for gain in (0.45, 0.6, 1.3):  # dusk, overcast, bright sun: same view
        lit = np.clip(normal.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        v = health.evaluate(lit, t, ref, None)
        assert v.faults == set(), (gain, v.details())
    moved = health.to_grey(next(_frames("moved", 640, 360, 25, 1, 9)))
    v = health.evaluate(moved, t, ref, None)
    assert v.faults == {"moved"} and v.alignment is not None
    assert 0.2 < v.alignment.shift < 0.3 and 8 < abs(v.alignment.rotation_deg) < 12
    other_scene = health.to_grey(next(_frames("normal", 640, 360, 25, 1, 10)))
    assert health.evaluate(other_scene, t, ref, None).faults == {"moved"}


def test_frozen_needs_an_identical_picture() -> None:
    t = health.Thresholds()
    frames = _frames("normal", 320, 180, 25, 60, 3)
    pics = [health.to_grey(f) for f in frames]
    assert "frozen" not in health.evaluate(pics[50], t, None, pics[0]).faults
    assert "frozen" in health.evaluate(pics[0].copy(), t, None, pics[0]).faults


def test_a_new_camera_is_commissioned_within_seconds_not_an_interval_after_start(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        daemons: list[DaemonProcess]) -> None:
    """With the default minute between image checks, a box being commissioned shows each camera's
    reference view and first verdict as soon as the camera records (the first tick with its
    picture), and the checks then keep their interval."""
    sim = simulator({"cam": clip("normal", seed=30)})
    root = tmp_path / "store"
    d = new_daemon(tmp_path, base_sections(root, health={"interval_seconds": 60.0}), [camera("cam", sim.url("cam"))])
    daemons.append(d)
    d.start()
    ref = root / "health" / "cam" / "reference.json"
    wait_for(ref.exists, 20, 0.2, "the reference view, well before the first 60 s interval is over")
    tok = token(d.config)
    assert _samples(d, tok) == 1
    # Not judged again at every worker check: the next picture waits for the interval.
    wait_for(lambda: (root / "health" / "cam" / "latest.jpg").exists(), 5, 0.2, "the snapshot")
    time.sleep(3 * 2.0)  # three worker checks (WORKER_CHECK_SECONDS): a non-event, so a fixed wait
    assert _samples(d, tok) == 1
