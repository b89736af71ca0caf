"""sd_notify: READY, STATUS, WATCHDOG and STOPPING datagrams from a real daemon process, received
on a socket bound here; the watchdog is withheld while the store cannot be written."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from helpers import DaemonProcess, base_sections, camera, new_daemon, wait_for

from capture.sim.simulator import Simulator
from edge.app.notify import Notifier, watchdog_interval


class Listener:
    """An AF_UNIX datagram socket collecting (time, message) pairs on a thread."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def fields(self) -> list[list[str]]:
        return [m.split("\n") for _, m in list(self.messages)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    lis = Listener(f"@edge-test-{uuid.uuid4().hex}")
    monkeypatch.setenv("NOTIFY_SOCKET", lis.address)
    monkeypatch.setenv("WATCHDOG_USEC", "600000")  # a ping every 0.3 s
    yield lis
    lis.close()


def test_notifier_unit(tmp_path: Path) -> None:
    lis = Listener(str(tmp_path / "n.sock"))
    try:
        assert Notifier(lis.address).send("READY=1", "STATUS=two\nlines")
        wait_for(lambda: lis.messages, 5, 0.05, "a datagram")
        assert lis.messages[0][1] == "READY=1\nSTATUS=two lines"
        assert not Notifier(None).send("READY=1") and not Notifier(None).enabled
        assert not Notifier(str(tmp_path / "nobody.sock")).send("READY=1"), "a dead socket is not an exception"
    finally:
        lis.close()
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None


def test_ready_status_watchdog_stopping_in_order(listener: Listener, tmp_path: Path, clip: Callable[..., Path],
                                                 simulator: Callable[..., Simulator],
                                                 daemons: list[DaemonProcess]) -> None:
    sim = simulator({"cam": clip(seed=41)})
    d = new_daemon(tmp_path, base_sections(tmp_path / "store"), [camera("gate-1", sim.url("cam"))])
    daemons.append(d)
    d.start()
    wait_for(lambda: sum("WATCHDOG=1" in f for f in listener.fields()) >= 3, 15, 0.1, "three watchdog pings")
    rc, _ = d.terminate()
    assert rc == 0
    wait_for(lambda: any("STOPPING=1" in f for f in listener.fields()), 5, 0.05, "STOPPING=1")
    msgs = listener.fields()
    assert "READY=1" in msgs[0], msgs[0]
    ready_at = 0
    assert not any("WATCHDOG=1" in f for f in msgs[:ready_at + 1]), "READY=1 comes before any WATCHDOG=1"
    stopping_at = next(i for i, f in enumerate(msgs) if "STOPPING=1" in f)
    assert stopping_at == len(msgs) - 1, "STOPPING=1 is the last word"
    statuses = [x for f in msgs for x in f if x.startswith("STATUS=")]
    assert any(s.startswith("STATUS=recording 1/1 camera(s)") for s in statuses), statuses


def _mount_tmpfs(path: Path) -> None:
    path.mkdir(parents=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0750", "tmpfs", str(path)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {res.stderr.strip()}")


def _fill(path: Path) -> Path:
    """Fill the volume to the last byte (a remount read-only is refused while files are open)."""
    filler = path / "filler.bin"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * chunk)
    return filler


def test_no_watchdog_while_the_store_is_full(listener: Listener, tmp_path: Path, clip: Callable[..., Path],
                                             simulator: Callable[..., Simulator],
                                             daemons: list[DaemonProcess]) -> None:
    store = tmp_path / "store"
    _mount_tmpfs(store)
    try:
        sim = simulator({"cam": clip(seed=42)})
        d = new_daemon(tmp_path, base_sections(store), [camera("gate-1", sim.url("cam"))])
        daemons.append(d)
        d.start()
        wait_for(lambda: sum("WATCHDOG=1" in f for f in listener.fields()) >= 2, 15, 0.1, "watchdog pings")
        filler = _fill(store)
        full_at = time.monotonic()

        def unhealthy() -> bool:
            return any(t > full_at and "NOT HEALTHY" in m for t, m in list(listener.messages))

        wait_for(unhealthy, 10, 0.1, "the daemon to notice the full store")
        first_bad = next(t for t, m in list(listener.messages) if t > full_at and "NOT HEALTHY" in m)
        assert first_bad - full_at < 5.0, "noticed within the probe cache time plus a ping interval"
        ready = httpx.get(d.url + "/readyz", timeout=5)
        assert ready.status_code == 503 and any("store not writable" in p for p in ready.json()["problems"])
        time.sleep(3.0)  # the scenario: three seconds of a store that takes no writes, ten ping intervals
        filler.unlink()
        freed_at = time.monotonic()
        during = [m for t, m in list(listener.messages) if first_bad <= t < freed_at]
        assert len(during) >= 5 and not [m for m in during if "WATCHDOG=1" in m], during
        assert all("store not writable" in m for m in during)
        wait_for(lambda: any(t > freed_at and "WATCHDOG=1" in m for t, m in list(listener.messages)), 10, 0.1,
                 "the watchdog to resume once the store takes writes again")
        assert httpx.get(d.url + "/readyz", timeout=5).status_code == 200
        rc, _ = d.terminate()
        assert rc == 0, d.log()
    finally:
        for d in daemons:
            d.cleanup()
        subprocess.run(["umount", "-l", str(store)], capture_output=True)
