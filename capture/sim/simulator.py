"""Test cameras: a real RTSP server on 127.0.0.1 serving looped H.264 clips.

The server itself (``server.py``) needs GStreamer's RTSP server, which only
Debian's ``/usr/bin/python3`` can import; this module runs it as a subprocess
and stays importable from the venv. See docs/test-cameras.md for the measured
behaviour this relies on.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from capture.sim.clips import KINDS, default_clip_dir, make_clip

__all__ = [
    "KINDS",
    "GarbageServer",
    "Simulator",
    "default_clip_dir",
    "free_port",
    "make_clip",
    "run_simulator_cli",
    "simulator_available",
]

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("server.py")
APT_PACKAGES = (
    "python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 "
    "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
_PROBE = "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); " \
         "from gi.repository import GstRtspServer"


def simulator_available() -> str | None:
    """None if the RTSP simulator can run here, else the apt-get command that would fix it."""
    sudo = "" if os.geteuid() == 0 else "sudo "
    fix = f"{sudo}apt-get install -y {APT_PACKAGES}"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{sudo}apt-get install -y python3 {APT_PACKAGES}"
    try:
        res = subprocess.run([SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, timeout=30,
                             env=_clean_env())
    except (OSError, subprocess.TimeoutExpired):
        return fix
    return None if res.returncode == 0 else fix


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    # The venv's PYTHONPATH/PYTHONHOME must not leak into the system interpreter.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.setdefault("GST_DEBUG", "0")
    return env


def _fps_from_name(path: Path) -> int | None:
    m = re.search(r"_(\d+)fps_", path.name)
    return int(m.group(1)) if m else None


class Simulator:
    """A loopback RTSP server with one mount per clip: ``rtsp://127.0.0.1:PORT/NAME``."""

    def __init__(self, mounts: Mapping[str, Path], port: int | None = None,
                 fps: int | Mapping[str, int] | None = None, audio: Mapping[str, str] | None = None) -> None:
        if not mounts:
            raise ValueError("Simulator needs at least one mount")
        for name in mounts:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise ValueError(f"bad mount name {name!r}")
        self.mounts = {name: Path(p) for name, p in mounts.items()}
        self._auto_port = port is None
        self.port: int = free_port() if port is None else port
        # Annex-B carries no timestamps, so the server must be told the frame rate;
        # clips from make_clip() carry it in their file name.
        self.fps: dict[str, int] = {}
        for name, p in self.mounts.items():
            if isinstance(fps, int):
                self.fps[name] = fps
            elif fps is not None and name in fps:
                self.fps[name] = fps[name]
            else:
                self.fps[name] = _fps_from_name(Path(p)) or 25
        #: Mounts that also carry an audio stream: "aac" (MP4 can keep it) or "pcma" (it cannot).
        self.audio = dict(audio or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._drainer: threading.Thread | None = None
        self.stderr_tail = b""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def url(self, name: str) -> str:
        if name not in self.mounts:
            raise KeyError(f"no mount {name!r}; have {sorted(self.mounts)}")
        return f"rtsp://127.0.0.1:{self.port}/{name}"

    def urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in self.mounts}

    def start(self, timeout: float = 20.0) -> None:
        if self.running:
            raise RuntimeError("simulator already running")
        attempts = 3 if self._auto_port else 1
        for attempt in range(attempts):
            try:
                self._start_once(timeout)
                return
            except _PortBusy:
                # Another process grabbed our auto-picked port between probe and bind.
                if attempt == attempts - 1:
                    raise
                self.port = free_port()

    def _start_once(self, timeout: float) -> None:
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), "--parent-pid", str(os.getpid())]
        for name, clip in self.mounts.items():
            cmd += ["--mount", f"{name}={clip}", "--fps", f"{name}={self.fps[name]}"]
            if name in self.audio:
                cmd += ["--audio", f"{name}={self.audio[name]}"]
        # Own process group: a Ctrl-C aimed at pytest doesn't hit the server half-way
        # through a test, and stop() can signal it (by PID) without touching anyone else.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_clean_env(), start_new_session=True)
        self._proc = proc
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or proc.poll() is not None:
                break
            ready, _, _ = select.select([proc.stdout], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        if line.startswith(b"READY "):
            self.port = int(line.split()[1])
            # The server writes nothing more unless something breaks; drain stderr in the
            # background anyway so a chatty GStreamer can never block on a full pipe, and keep
            # the tail for diagnostics.
            self._drainer = threading.Thread(target=self._drain, args=(proc,), daemon=True)
            self._drainer.start()
            return
        self._signal(signal.SIGKILL)
        proc.wait(timeout=5.0)
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        self._close_pipes()
        if "cannot listen" in err:
            raise _PortBusy(f"RTSP simulator: {err}")
        why = "exited" if proc.returncode is not None else f"no READY within {timeout:.0f} s"
        raise RuntimeError(f"RTSP simulator failed to start ({why}, rc={proc.returncode}): "
                           f"{' '.join(cmd)}\n{err or line.decode(errors='replace')}")

    def _signal(self, sig: int) -> None:
        if self.running:
            assert self._proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, sig)

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                proc.wait(timeout=5.0)
        self._close_pipes()

    def kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5.0)
        self._close_pipes()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but no data flows."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def restart(self, timeout: float = 20.0) -> None:
        """Stop (if running) and start again on the same port."""
        self.stop()
        self._auto_port = False  # clients hold URLs with this port; keep it
        self.start(timeout)

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        with contextlib.suppress(OSError, ValueError), proc.stderr:
            while chunk := os.read(proc.stderr.fileno(), 4096):
                self.stderr_tail = (self.stderr_tail + chunk)[-16384:]

    def _close_pipes(self) -> None:
        # stderr belongs to the drain thread, which closes it at EOF (the process is gone
        # by now, so EOF is imminent); closing it here could race with its read.
        if self._drainer is not None:
            self._drainer.join(timeout=2.0)
            self._drainer = None
        if self._proc is not None:
            for pipe in (self._proc.stdout, self._proc.stderr):
                if pipe is not None and not pipe.closed:
                    with contextlib.suppress(OSError):
                        pipe.close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __del__(self) -> None:
        # Last resort so an aborted test never leaves a server behind.
        if getattr(self, "_proc", None) is not None and self.running:
            self.kill()


class _PortBusy(RuntimeError):
    pass


class GarbageServer:
    """A TCP listener that is not an RTSP server, for connection-failure tests.

    Modes: ``garbage`` sends random non-RTSP bytes then closes; ``silent`` accepts
    and never answers (exercises socket timeouts); ``close`` accepts and hangs up.
    """

    MODES = ("garbage", "silent", "close")

    def __init__(self, mode: str = "garbage") -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}")
        self.mode = mode
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.port = 0
        self.connections = 0

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/x"

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.settimeout(0.1)
        self._sock, self.port = sock, int(sock.getsockname()[1])
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"garbage-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._sock is not None
        junk = (b"\x00\x17\xfe garbage \xff\x80 not rtsp \x1b[2J" * 64) + os.urandom(2048)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            if self.mode == "silent":
                self._conns.append(conn)  # keep it open, say nothing
                continue
            with contextlib.suppress(OSError), conn:
                if self.mode == "garbage":
                    conn.settimeout(1.0)
                    conn.sendall(junk)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for s in [*self._conns, self._sock]:
            if s is not None:
                s.close()
        self._conns.clear()
        self._sock = None

    def __enter__(self) -> GarbageServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def run_simulator_cli(cameras: int, port: int, kind: str = "normal", width: int = 1920,
                      height: int = 1080, bitrate: int | None = None) -> int:
    """``edge simulate``: serve cam1..camN on ``port`` until SIGINT/SIGTERM."""
    if cameras < 1:
        print("need at least one camera", file=sys.stderr)
        return 2
    missing = simulator_available()
    if missing is not None:
        print(f"RTSP simulator unavailable; install with:\n  {missing}", file=sys.stderr)
        return 1
    clip_dir = default_clip_dir()
    # A few seeds give the demo visually distinct cameras without encoding N clips.
    seeds = range(min(cameras, 3))
    print(f"preparing clips in {clip_dir} (cached after the first run) ...", flush=True)
    clips = [make_clip(clip_dir, kind, width, height, fps=25, gop=50, seconds=8.0,
                       bitrate=bitrate or 3_000_000, seed=s) for s in seeds]
    mounts = {f"cam{i + 1}": clips[i % len(clips)] for i in range(cameras)}
    sim = Simulator(mounts, port=port)
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        sim.start()
        for url in sim.urls().values():
            print(url)
        print(f"serving {cameras} camera(s) on 127.0.0.1:{sim.port}; Ctrl-C to stop", flush=True)
        while not stopping.wait(1.0):
            if not sim.running:
                print("simulator exited unexpectedly", file=sys.stderr)
                return 1
        return 0
    except RuntimeError as e:
        print(str(e), file=sys.stderr)
        return 1
    finally:
        sim.stop()
        for s, h in old.items():
            signal.signal(s, h)
