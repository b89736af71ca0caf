"""Test cameras with broken firmware: tiny RTSP-ish TCP servers that never finish the handshake
while always sending something, so a socket timeout (no data) never fires.

- "endless_header": answers OPTIONS with a status line and a header line that never ends;
- "huge_sdp": answers OPTIONS properly, then DESCRIBE with a huge Content-Length and an SDP that
  trickles forever, junk after the first lines.
"""

from __future__ import annotations

import socket
import threading
import time


class FaultyCamera:
    def __init__(self, mode: str, chunk_interval: float = 0.05) -> None:
        if mode not in ("endless_header", "huge_sdp"):
            raise ValueError(mode)
        self.mode = mode
        self.chunk_interval = chunk_interval
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self.connections = 0
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept, daemon=True, name=f"faulty-{mode}")
        t.start()
        self._threads.append(t)

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/live"

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _read_request(self, conn: socket.socket) -> str:
        buf = b""
        while b"\r\n\r\n" not in buf and not self._stop.is_set():
            data = conn.recv(4096)
            if not data:
                raise ConnectionError("closed")
            buf += data
        head = buf.decode("latin-1")
        for line in head.split("\r\n"):
            if line.lower().startswith("cseq:"):
                return line.split(":", 1)[1].strip()
        return "1"

    def _trickle(self, conn: socket.socket, chunk: bytes) -> None:
        while not self._stop.is_set():
            conn.sendall(chunk)
            time.sleep(self.chunk_interval)

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(5.0)
                cseq = self._read_request(conn)
                if self.mode == "endless_header":
                    conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nX-Firmware: ".encode())
                    self._trickle(conn, b"A" * 64)
                    return
                conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n"
                             .encode())
                cseq = self._read_request(conn)
                conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                             f"Content-Length: 200000000\r\n\r\nv=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\n"
                             .encode())
                self._trickle(conn, b"a=x-junk:" + b"\xff\x00Z" * 300 + b"\r\n")
        except OSError:
            pass

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        for t in self._threads:
            t.join(2.0)
