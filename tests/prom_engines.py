"""Real Prometheus and Alertmanager (Debian's binaries) on loopback for tests, and a webhook receiver.

Each engine runs as its own process on a free port with its data in the test's tmp dir; `stop()`
ends only that process. The webhook receiver is an http.server in a thread that keeps every
notification with the monotonic time it arrived.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from helpers import wait_for

from capture.sim.simulator import free_port


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed; scripts/sysdeps.sh installs Debian's prometheus packages")
    return path


class Engine:
    """One engine process; its output goes to a log file kept for the failure message."""

    def __init__(self, argv: list[str], port: int, log: Path, ready_path: str) -> None:
        self.argv = argv
        self.port = port
        self.log_path = log
        self.ready_path = ready_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Engine:
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, stdout=logf, stderr=logf, start_new_session=True)
        wait_for(self._ready, timeout, 0.1, f"{Path(self.argv[0]).name} ready")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.argv[0]} exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def alertmanager(tmp: Path, webhook_url: str) -> Engine:
    port = free_port()
    cfg = tmp / "alertmanager.yml"
    cfg.write_text(json.dumps({
        "route": {"receiver": "test", "group_by": ["alertname", "box", "camera"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "test", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }), encoding="utf-8")
    (tmp / "am-data").mkdir()
    argv = [binary("prometheus-alertmanager"), f"--config.file={cfg}", f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    return Engine(argv, port, tmp / "alertmanager.log", "/-/ready")


def prometheus(tmp: Path, config: dict[str, Any]) -> Engine:
    port = free_port()
    cfg = tmp / "prometheus.yml"
    cfg.write_text(json.dumps(config), encoding="utf-8")
    (tmp / "prom-data").mkdir()
    argv = [binary("prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--rules.alert.resend-delay=1s"]
    return Engine(argv, port, tmp / "prometheus.log", "/-/ready")


class Webhook:
    """Collects Alertmanager's webhook notifications: (arrival monotonic time, alert)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                now = time.monotonic()
                with hook._lock:
                    for alert in json.loads(body).get("alerts", []):
                        hook.received.append((now, alert))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def start(self) -> Webhook:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def first(self, status: str, after: float, **labels: str) -> float | None:
        """Arrival time of the first notification with this status and these labels after `after`."""
        with self._lock:
            for t, a in self.received:
                if t >= after and a.get("status") == status and all(
                        a.get("labels", {}).get(k) == v for k, v in labels.items()):
                    return t
        return None

    def alerts(self, after: float = 0.0) -> list[dict[str, Any]]:
        with self._lock:
            return [a for t, a in self.received if t >= after]
