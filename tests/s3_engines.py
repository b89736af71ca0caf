"""A real S3 endpoint on loopback for tests: moto's server mode as a separate process, and a tiny
HTTP proxy in front of it that can slow PUTs down or alter their bodies in flight.

The proxy is how a test damages an upload between the box and the store (a faulty middlebox):
it flips one byte of each PUT body while keeping its length and headers, so only a checksum can
tell. It also keeps the `x-amz-checksum-sha256` header of every PUT it forwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from helpers import wait_for

from capture.sim.simulator import free_port

BUCKET = "evidence"
ACCESS_KEY = "edge-test"
SECRET = "edge-test-secret"


class MotoServer:
    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        exe = Path(sys.executable).with_name("moto_server")
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(self.port)], stdout=logf,
                                         stderr=logf, start_new_session=True,
                                         env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"})
        wait_for(self._up, 30, 0.1, "moto server")
        return self

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"moto_server exited: {self.log_path.read_text(errors='replace')[-2000:]}")
        try:
            return httpx.get(self.url + "/moto-api/", timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def client(self, url: str | None = None) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=url or self.url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET, region_name="us-east-1")

    def make_locked_bucket(self, name: str = BUCKET) -> None:
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)


HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class TamperProxy:
    """Forwards every request to `upstream`; `corrupt_puts` flips a byte of PUT bodies,
    `put_delay` sleeps before forwarding a PUT."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.corrupt_puts = False
        self.put_delay = 0.0
        self.put_checksums: list[tuple[str, str | None]] = []  # (path, x-amz-checksum-sha256)
        self.corrupted = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("content-length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "PUT" and "retention" not in self.path:
                    proxy.put_checksums.append((self.path, self.headers.get("x-amz-checksum-sha256")))
                    if proxy.put_delay:
                        time.sleep(proxy.put_delay)
                    if proxy.corrupt_puts and body:
                        body = body[:-1] + bytes([body[-1] ^ 0xFF])
                        proxy.corrupted += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                with httpx.Client(timeout=30.0) as c:
                    r = c.request(self.command, proxy.upstream + self.path, headers=headers, content=body)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in HOP_HEADERS and k.lower() not in ("content-length", "content-encoding"):
                        self.send_header(k, v)
                # A HEAD answer's length is the object's, not of the (empty) body.
                length_out = r.headers.get("content-length", "0") if self.command == "HEAD" else str(len(r.content))
                self.send_header("content-length", length_out)
                self.end_headers()
                if self.command != "HEAD":
                    # A client killed mid-request (the restart test) is not the proxy's failure.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(r.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> TamperProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

