"""systemd notification (sd_notify) with the standard library: an AF_UNIX datagram to
`$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).

The daemon sends `READY=1` once recording has started, `STATUS=<one line>` periodically,
`WATCHDOG=1` every `WATCHDOG_USEC / 2` **only while** the store is writable, the index answers
and every capture thread is alive (so systemd restarts a daemon that runs but cannot record), and
`STOPPING=1` when it shuts down. Without `NOTIFY_SOCKET` (not under systemd) nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

from edge.app.probes import Probes
from edge.periodic import PeriodicService

log = logging.getLogger(__name__)

#: STATUS= is refreshed this often when there is no watchdog to pace it.
STATUS_INTERVAL = 10.0


class Notifier:
    def __init__(self, address: str | None) -> None:
        self.address = address or None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def _sockaddr(self) -> str | bytes:
        assert self.address is not None
        if self.address.startswith("@"):
            return b"\0" + self.address[1:].encode()
        return self.address

    def send(self, *fields: str) -> bool:
        """Send one datagram of `KEY=VALUE` lines; False (logged once per failure) when it fails."""
        if self.address is None:
            return False
        payload = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._sockaddr())
                sock.sendall(payload)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None without a watchdog."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process (e.g. a wrapper)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None


class NotifyService(PeriodicService):
    name = "notify"

    def __init__(self, probes: Probes, status_line: Callable[[list[str]], str], notifier: Notifier,
                 watchdog: float | None) -> None:
        super().__init__(watchdog if watchdog is not None else STATUS_INTERVAL)
        self.probes = probes
        self.status_line = status_line
        self.notifier = notifier
        self.watchdog = watchdog
        self._withheld: tuple[str, ...] = ()
        self.pings = 0

    def tick(self) -> None:
        problems = self.probes.problems()
        fields = [f"STATUS={self.status_line(problems)}"]
        if self.watchdog is not None:
            if problems:
                if tuple(problems) != self._withheld:
                    log.error("watchdog withheld: %s", "; ".join(problems))
                self._withheld = tuple(problems)
            else:
                if self._withheld:
                    log.info("watchdog resumed: the daemon is healthy again")
                self._withheld = ()
                fields.append("WATCHDOG=1")
                self.pings += 1
        self.notifier.send(*fields)
