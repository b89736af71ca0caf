"""Shared test utilities: polling instead of sleeping, configs, a daemon run as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from capture.sim.simulator import free_port

#: Small clips keep the simulator and the recorder cheap; GOP 25 at 25 fps is one keyframe a second.
CLIP = {"width": 320, "height": 180, "fps": 25, "gop": 25, "seconds": 6.0}
#: Screenshots and other things a person looks at after a run (git-ignored).
ARTIFACTS = Path(os.environ.get("EDGE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def wait_for(cond: Callable[[], T], timeout: float, interval: float = 0.1, what: str = "condition") -> T:
    """Poll `cond` until it returns something truthy; fail the test with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def write_config(path: Path, sections: dict[str, dict[str, object]], cameras: list[dict[str, object]]) -> Path:
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    for cam in cameras:
        lines.append("[[cameras]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in cam.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def camera(cam_id: str, url: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {"id": cam_id, "url": url, "site_category": "street",
                               "reconnect_initial": 0.2, "reconnect_max": 1.0, "stall_timeout": 3.0}
    base.update(extra)
    return base


def base_sections(root: Path, port: int = 0, segment_seconds: float = 2.0,
                  **extra: dict[str, object]) -> dict[str, dict[str, object]]:
    sections: dict[str, dict[str, object]] = {
        "storage": {"root": str(root), "segment_seconds": segment_seconds, "sync_interval": 0.5},
        "api": {"host": "127.0.0.1", "port": port},
        "health": {"interval_seconds": 2.0},
    }
    for k, v in extra.items():
        sections.setdefault(k, {}).update(v)
    return sections


def edge_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge", *args]


def run_edge(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(edge_cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT)


class DaemonProcess:
    """`edge run -c CONFIG` as a real process, its stderr collected in a file."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config = config
        self.port = port
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> DaemonProcess:
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(edge_cmd("--log-level", "debug", "run", "-c", str(self.config)),
                                         stdout=logf, stderr=logf, cwd=ROOT, start_new_session=True)
        wait_for(self.healthy, timeout, 0.1, "the daemon's /healthz")
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took)."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def new_daemon(tmp: Path, sections: dict[str, dict[str, object]], cameras: list[dict[str, object]],
               name: str = "edge") -> DaemonProcess:
    port = free_port()
    sections = dict(sections)
    sections["api"] = {**sections.get("api", {}), "port": port}
    cfg = write_config(tmp / f"{name}.toml", sections, cameras)
    return DaemonProcess(cfg, port, tmp / f"{name}.log")
