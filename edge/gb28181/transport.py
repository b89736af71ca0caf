"""SIP transports: one UDP socket, or one TCP connection to the platform (reconnected when lost).

Each delivers (raw message, peer address) to a callback on its own thread and sends bytes to a
peer. A datagram or stream that cannot be framed is dropped here (TCP: the connection is reset),
never raised into the service.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable

from edge.gb28181.sip import SipError, StreamFramer

log = logging.getLogger(__name__)

Addr = tuple[str, int]
Handler = Callable[[bytes, Addr], None]


def local_ip_towards(host: str, port: int) -> str:
    """The address this host uses to reach `host` (no packet is sent: a UDP connect only routes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((host, port))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class UdpTransport:
    name = "UDP"

    def __init__(self, bind: Addr, handler: Handler) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(bind)
        self.sock.settimeout(0.5)
        self.handler = handler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gb28181-udp", daemon=True)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self) -> None:
        self._thread.start()

    def send(self, data: bytes, addr: Addr) -> None:
        try:
            self.sock.sendto(data, addr)
        except OSError as exc:
            log.warning("gb28181: send to %s:%d failed: %s", addr[0], addr[1], exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65_535)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            if data.strip(b"\r\n"):
                self.handler(data, (addr[0], addr[1]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()


class TcpTransport:
    """SIP over TCP (RFC 3261 18.3). The device keeps one connection to the platform (its
    REGISTER, keepalives and answers go there, and platforms send their requests back on it) and
    also listens on its SIP port, as devices do, for requests the platform opens a connection for."""

    name = "TCP"
    MAX_INBOUND = 16

    def __init__(self, bind: Addr, server: Addr, handler: Handler) -> None:
        self.server = server
        self.handler = handler
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(bind)
        self.listener.listen(self.MAX_INBOUND)
        self.listener.settimeout(0.5)
        self._sock: socket.socket | None = None
        self._inbound: dict[Addr, socket.socket] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Messages of every inbound connection are handled on one long-lived thread: handlers read
        # the index, and SQLite readers are per thread (a thread per connection would leak them).
        self._inbox: queue.Queue[tuple[bytes, Addr]] = queue.Queue(maxsize=256)
        self._threads = [threading.Thread(target=self._run, name="gb28181-tcp", daemon=True),
                         threading.Thread(target=self._accept, name="gb28181-tcp-accept", daemon=True),
                         threading.Thread(target=self._dispatch, name="gb28181-tcp-dispatch", daemon=True)]
        self.connected = threading.Event()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def send(self, data: bytes, addr: Addr) -> None:
        with self._lock:
            sock = self._inbound.get(addr) if addr != self.server else None
            sock = sock or self._sock
        if sock is None:
            log.debug("gb28181: no TCP connection, message dropped")
            return
        try:
            sock.sendall(data)
        except OSError as exc:
            log.warning("gb28181: TCP send failed: %s", exc)

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            self.handler(data, addr)

    def _read(self, sock: socket.socket, peer: Addr) -> None:
        framer = StreamFramer()
        try:
            while not self._stop.is_set():
                try:
                    chunk = sock.recv(65_536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                for msg in framer.feed(chunk):
                    try:
                        self._inbox.put((msg, peer), timeout=1.0)
                    except queue.Full:
                        log.warning("gb28181: TCP inbox full, message from %s:%d dropped", *peer)
        except (OSError, SipError) as exc:
            # A stream that cannot be framed cannot be resynchronised: drop the connection.
            log.warning("gb28181: TCP connection with %s:%d dropped: %s", peer[0], peer[1], exc)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                sock = socket.create_connection(self.server, timeout=5.0)
                sock.settimeout(0.5)
            except OSError as exc:
                log.debug("gb28181: TCP connect to %s:%d failed: %s", *self.server, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            with self._lock:
                self._sock = sock
            self.connected.set()
            try:
                self._read(sock, self.server)
            finally:
                self.connected.clear()
                with self._lock:
                    self._sock = None
                sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            addr = (peer[0], peer[1])
            with self._lock:
                if len(self._inbound) >= self.MAX_INBOUND:
                    conn.close()
                    continue
                self._inbound[addr] = conn
            conn.settimeout(0.5)
            threading.Thread(target=self._serve, args=(conn, addr), name="gb28181-tcp-in", daemon=True).start()

    def _serve(self, conn: socket.socket, addr: Addr) -> None:
        try:
            self._read(conn, addr)
        finally:
            with self._lock:
                self._inbound.pop(addr, None)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            socks = [s for s in (self._sock, *self._inbound.values()) if s is not None]
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            if t.is_alive():
                t.join(2.0)
        self.listener.close()
