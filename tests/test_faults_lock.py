"""Findings 1 and 6: one recorder per store; an API that cannot bind fails the start; `edge status`
beside a running recorder (read-only, no lock) and without one (says the recorder is not running)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from helpers import ROOT, DaemonProcess, base_sections, camera, edge_cmd, new_daemon, run_edge, wait_for

from capture.sim.simulator import Simulator
from storage.lock import StoreLock, StoreLocked, holder


def test_lock_is_exclusive_names_the_holder_and_dies_with_its_process(tmp_path: Path) -> None:
    root = tmp_path / "store"
    a = StoreLock(root).acquire()
    assert holder(root) is not None
    try:
        StoreLock(root).acquire(patience=0.1)
        raise AssertionError("a second lock on the same store was granted")
    except StoreLocked as exc:
        assert exc.pid is not None and str(exc.pid) in str(exc)
    a.release()
    assert holder(root) is None
    # A process killed with the lock held leaves only a file behind: the kernel released the flock.
    code = f"from storage.lock import StoreLock; StoreLock({str(root)!r}).acquire(); import os; os._exit(0)"
    subprocess.run([*edge_cmd()[:1], "-c", code], check=True, cwd=ROOT, timeout=30)
    assert (root / "LOCK").exists() and holder(root) is None
    StoreLock(root).acquire().release()


def test_second_daemon_refused_status_beside_it_and_after_it(
        tmp_path: Path, clip: Callable[..., Path], simulator: Callable[..., Simulator],
        daemons: list[DaemonProcess]) -> None:
    sim = simulator({"cam1": clip(seed=3)})
    root = tmp_path / "store"
    sections = base_sections(root, segment_seconds=1.0, clock={"sync_check": False})
    a = new_daemon(tmp_path, sections, [camera("gate-1", sim.url("cam1"))])
    daemons.append(a)
    a.start()
    assert a.proc is not None

    # A second `edge run` on the same config: refused with exit 2 and the holder's pid, writing nothing.
    second = subprocess.run(edge_cmd("run", "-c", str(a.config)), capture_output=True, text=True, timeout=60,
                            cwd=ROOT)
    assert second.returncode == 2, second.stderr
    assert f"process {a.proc.pid}" in second.stderr and "in use" in second.stderr
    assert "address already in use" not in second.stderr.lower(), "refused before touching the API port"

    # Read-only commands work beside the recorder, without its lock.
    wait_for(lambda: json.loads(run_edge("status", "-c", str(a.config), "--json").stdout)["cameras"][0]["segments"]
             >= 1, 30, 0.3, "a segment, seen by `edge status` beside the daemon")
    doc = json.loads(run_edge("status", "-c", str(a.config), "--json").stdout)
    assert doc["box"]["source"] == "index" and doc["box"]["recorder_running"] is True
    assert doc["box"]["recorder_pid"] == a.proc.pid
    assert doc["cameras"][0]["state"] == "recording"
    verify = run_edge("verify", "-c", str(a.config))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert holder(root) == a.proc.pid, "the recorder still holds its store"

    # Stopped: nothing is recording, and the status says so at once (not 2 segments + 15 s later).
    rc, _ = a.terminate()
    assert rc == 0
    t0 = time.monotonic()
    out = run_edge("status", "-c", str(a.config), "--json")
    doc = json.loads(out.stdout)
    assert time.monotonic() - t0 < 30
    assert doc["box"]["recorder_running"] is False
    assert [c["state"] for c in doc["cameras"]] == ["unknown"]
    assert doc["cameras"][0]["worker_state"] == "not recording"
    assert doc["compliance"]["ok"] is False and "recorder is not running" in doc["compliance"]["summary"]
    assert out.returncode == 1
    text = run_edge("status", "-c", str(a.config))
    assert "THE RECORDER IS NOT RUNNING" in text.stdout and "not recording" in text.stdout


def test_api_that_cannot_bind_fails_the_start(tmp_path: Path, clip: Callable[..., Path],
                                              simulator: Callable[..., Simulator]) -> None:
    sim = simulator({"cam1": clip(seed=3)})
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        from helpers import write_config

        sections = base_sections(tmp_path / "store", port=port, clock={"sync_check": False})
        cfg = write_config(tmp_path / "edge.toml", sections, [camera("gate-1", sim.url("cam1"))])
        t0 = time.monotonic()
        out = subprocess.run(edge_cmd("run", "-c", str(cfg)), capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert out.returncode == 1, out.stderr
        assert time.monotonic() - t0 < 30
        assert f"could not listen on 127.0.0.1:{port}" in out.stderr
        # It stopped cleanly (nothing left open) and let go of the store.
        assert not list((tmp_path / "store").rglob("*.partial"))
        assert holder(tmp_path / "store") is None
    finally:
        busy.close()
