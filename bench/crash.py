"""Crash suite: `edge run` killed with SIGKILL at random instants, restarted each time.

After every run the store must verify, hold no temporary file, have quarantined nothing the recorder
wrote itself, and every stored segment must decode; the loss per kill (the kill instant minus the
end of the footage kept from before it, per camera) must stay within the fragment being written.
Measured per restart: spawn to first packet recorded (a new segment file holds its first bytes) and
to first complete fragment on disk (what a second crash would keep).

Baseline side by side: `--fragment-seconds 0` (fragments only at keyframes, as before
`[storage] fragment_seconds`). Clips have a 2 s GOP, like many real cameras.
`python bench/crash.py [--kills 50] [--cameras 3]` prints one JSON object (bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402

from bench.common import PYTHON, ROOT, emit, log, machine  # noqa: E402
from capture.sim.simulator import Simulator, default_clip_dir, make_clip  # noqa: E402
from storage.clock import SystemClock  # noqa: E402
from storage.layout import PARTIAL_SUFFIX, TMP_SUFFIX, parse_stem  # noqa: E402
from storage.salvage import plan_salvage  # noqa: E402
from storage.store import SegmentStore  # noqa: E402
from storage.verify import verify_store  # noqa: E402

CLIP = {"width": 320, "height": 180, "fps": 25, "gop": 50, "seconds": 8.0}


def _config(path: Path, root: Path, urls: dict[str, str], fragment_seconds: float) -> Path:
    storage = [f'root = "{root}"', "segment_seconds = 4.0", "sync_interval = 0.5"]
    # 0 = the baseline: fMP4 fragments only at keyframes. The config's floor is 0.1 s, so the
    # baseline asks for fragments longer than the GOP, which leaves only the keyframe cuts.
    storage.append(f"fragment_seconds = {fragment_seconds if fragment_seconds else 60.0}")
    lines = ["[storage]", *storage, "", "[api]", "enabled = false", "", "[health]", "enabled = false", "",
             "[clock]", "sync_check = false", ""]
    for cam, url in urls.items():
        lines += ["[[cameras]]", f'id = "{cam}"', f'url = "{url}"', 'site_category = "street"',
                  "reconnect_initial = 0.2", "reconnect_max = 1.0", "stall_timeout = 3.0", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _newest_partial(root: Path, cam: str, after_us: int) -> Path | None:
    cam_dir = root / "segments" / cam
    if not cam_dir.is_dir():
        return None
    best: tuple[int, Path] | None = None
    for p in cam_dir.glob("*/*" + PARTIAL_SUFFIX):
        start = parse_stem(p.name[: -len(PARTIAL_SUFFIX)])
        if start is not None and start > after_us and (best is None or start > best[0]):
            best = (start, p)
    return best[1] if best else None


def _fragments(p: Path) -> int:
    try:
        return plan_salvage(p).fragments
    except Exception:  # noqa: BLE001 - renamed or growing under us: not yet
        return 0


def _spawn(cfg: Path, logf: Path) -> subprocess.Popen[bytes]:
    with open(logf, "ab") as out:
        return subprocess.Popen([PYTHON, "-m", "edge", "run", "-c", str(cfg)], stdout=out, stderr=out, cwd=ROOT,
                                start_new_session=True)


def _last_end_before(store: SegmentStore, cam: str, kill_us: int) -> int | None:
    row = store.index.reader().execute(
        "SELECT max(end_us) FROM segments WHERE camera=? AND start_us < ? AND state='stored'", (cam, kill_us)
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def crash_run(work: Path, kills: int, cameras: int, fragment_seconds: float, seed: int = 1,
              min_after: float = 0.3, max_after: float = 3.0) -> dict[str, Any]:
    """`kills` SIGKILLs at random instants between `min_after` and `max_after` seconds after the
    restarted recorder's first complete fragment; then one clean start and stop, and the checks."""
    rnd = random.Random(seed)
    clip_dir = default_clip_dir()
    clip_dir.mkdir(parents=True, exist_ok=True)
    clip = make_clip(clip_dir, "normal", seed=seed, **CLIP)  # type: ignore[arg-type]
    cams = [f"cam-{i}" for i in range(1, cameras + 1)]
    sim = Simulator({c: clip for c in cams})
    sim.start()
    root = work / "store"
    cfg = _config(work / "edge.toml", root, {c: sim.url(c) for c in cams}, fragment_seconds)
    logf = work / "edge.log"
    first_packet: list[float] = []
    first_fragment: list[float] = []
    kill_times: list[int] = []
    try:
        for _ in range(kills):
            before_us = SystemClock().now_us()
            t0 = time.monotonic()
            proc = _spawn(cfg, logf)
            try:
                seen_packet: dict[str, float] = {}
                seen_frag: dict[str, float] = {}
                deadline = t0 + 60
                while len(seen_frag) < len(cams):
                    if proc.poll() is not None:
                        raise RuntimeError(f"edge exited with {proc.returncode}:\n{logf.read_text()[-3000:]}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no fragment within 60 s:\n{logf.read_text()[-3000:]}")
                    for cam in cams:
                        p = _newest_partial(root, cam, before_us)
                        if p is None:
                            continue
                        try:
                            size = p.stat().st_size
                        except FileNotFoundError:
                            continue
                        if size > 0:
                            seen_packet.setdefault(cam, time.monotonic() - t0)
                        if cam not in seen_frag and _fragments(p) >= 1:
                            seen_frag[cam] = time.monotonic() - t0
                    time.sleep(0.02)
                first_packet.append(max(seen_packet.values()))
                first_fragment.append(max(seen_frag.values()))
                time.sleep(rnd.uniform(min_after, max_after))
            finally:
                kill_times.append(SystemClock().now_us())
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        # One clean start (salvages the last kill's partials) and stop, once it is recording again
        # (a SIGTERM before the signal handlers are set would only be another kill).
        before_us = SystemClock().now_us()
        proc = _spawn(cfg, logf)
        deadline = time.monotonic() + 60
        while not all(_newest_partial(root, cam, before_us) for cam in cams) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
    finally:
        sim.stop()
    return _check(root, cams, kill_times, fragment_seconds, first_packet, first_fragment, rc)


def _check(root: Path, cams: list[str], kill_times: list[int], fragment_seconds: float, first_packet: list[float],
           first_fragment: list[float], rc: int) -> dict[str, Any]:
    store = SegmentStore(root, SystemClock())
    try:
        report = verify_store(store)
        losses: list[float] = []
        for kill_us in kill_times:
            for cam in cams:
                end = _last_end_before(store, cam, kill_us)
                if end is not None:
                    losses.append(max(0, kill_us - end) / 1e6)
        undecodable: list[str] = []
        segments = 0
        for cam in cams:
            for seg in store.index.chain_of(cam):
                if seg.state != "stored":
                    continue
                segments += 1
                try:
                    with av.open(str(store.path_of(seg))) as c:
                        frames = sum(1 for _ in c.decode(video=0))
                    if frames == 0:
                        undecodable.append(f"{seg.path}: no frame")
                except av.FFmpegError as exc:
                    undecodable.append(f"{seg.path}: {exc}")
        quarantined = [str(p.relative_to(root)) for p in (root / "quarantine").rglob("*") if p.is_file()]
        tmp = [str(p.relative_to(root)) for p in root.rglob("*" + TMP_SUFFIX)]
        partials = [str(p.relative_to(root)) for p in root.rglob("*" + PARTIAL_SUFFIX)]
        recovered = int(store.index.reader().execute(
            "SELECT count(*) FROM segments WHERE origin='recovered'").fetchone()[0])
    finally:
        store.close()
    return {
        "fragment_seconds": fragment_seconds or None, "kills": len(kill_times), "cameras": len(cams),
        "verify_ok": report.ok, "verify_problems": report.problems[:10], "clean_stop_rc": rc,
        "segments": segments, "recovered_segments": recovered, "undecodable": undecodable[:10],
        "quarantined": quarantined[:10], "tmp_files": tmp[:10], "partials_left": partials[:10],
        "loss_per_kill_s": {"max": round(max(losses), 3) if losses else None,
                            "mean": round(statistics.mean(losses), 3) if losses else None,
                            "samples": len(losses)},
        "restart_to_first_packet_s": _summary(first_packet),
        "restart_to_first_fragment_s": _summary(first_fragment),
    }


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"max": None, "median": None}
    return {"max": round(max(values), 3), "median": round(statistics.median(values), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--fragment-seconds", type=float, default=1.0)
    ap.add_argument("--no-baseline", action="store_true", help="skip the keyframe-only baseline run")
    ap.add_argument("--out", type=Path, default=None)
    ns = ap.parse_args()
    result: dict[str, Any] = {"benchmark": "crash", "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="edge-crash-") as tmp:
        log(f"crash suite: {ns.kills} kills, {ns.cameras} cameras, fragment_seconds={ns.fragment_seconds}")
        (Path(tmp) / "frag").mkdir()
        result["fragments"] = crash_run(Path(tmp) / "frag", ns.kills, ns.cameras, ns.fragment_seconds)
        if not ns.no_baseline:
            log("baseline: fragments at keyframes only")
            (Path(tmp) / "base").mkdir()
            result["baseline_keyframe_fragments"] = crash_run(Path(tmp) / "base", ns.kills, ns.cameras, 0.0)
    emit("crash", result, ns.out)


if __name__ == "__main__":
    main()
