"""RTP for GB/T 28181 media: MPEG-PS payload (PT 96), SSRC from the SDP `y=` line, sent over UDP
or TCP with RFC 4571 framing (2-byte length before each packet), TCP active or passive.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

RTP_MAX_PAYLOAD = 1400
PS_PAYLOAD_TYPE = 96


class RtpPacketizer:
    def __init__(self, ssrc: int, payload_type: int = PS_PAYLOAD_TYPE, seq: int = 0) -> None:
        self.ssrc = ssrc & 0xFFFFFFFF
        self.pt = payload_type
        self.seq = seq & 0xFFFF

    def packets(self, payload: bytes, ts90k: int) -> list[bytes]:
        """`payload` split into RTP packets of one timestamp; the marker is set on the last."""
        out = []
        for i in range(0, len(payload), RTP_MAX_PAYLOAD):
            part = payload[i:i + RTP_MAX_PAYLOAD]
            last = i + RTP_MAX_PAYLOAD >= len(payload)
            header = struct.pack("!BBHII", 0x80, (0x80 if last else 0) | self.pt, self.seq, ts90k & 0xFFFFFFFF,
                                 self.ssrc)
            self.seq = (self.seq + 1) & 0xFFFF
            out.append(header + part)
        return out


class RtpSink:
    """Where RTP packets go; `send` raises OSError when the peer is gone (the session ends)."""

    def send(self, packet: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class UdpSink(RtpSink):
    def __init__(self, dest: tuple[str, int], bind_host: str = "0.0.0.0") -> None:
        self.dest = dest
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind_host, 0))

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, packet: bytes) -> None:
        self.sock.sendto(packet, self.dest)

    def close(self) -> None:
        self.sock.close()


class TcpSink(RtpSink):
    """RFC 4571 over one TCP connection. Active: the device connects to the platform's port (SDP
    a=setup:passive from the platform). Passive: the device listens and the platform connects
    (a=setup:active); `accept` waits for it."""

    def __init__(self, dest: tuple[str, int] | None, bind_host: str = "0.0.0.0") -> None:
        self.dest = dest
        self._conn: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        if dest is None:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((bind_host, 0))
            self._listener.listen(1)

    @property
    def port(self) -> int:
        if self._listener is not None:
            return int(self._listener.getsockname()[1])
        return int(self._conn.getsockname()[1]) if self._conn is not None else 9

    def open(self, timeout: float) -> None:
        if self._listener is not None:
            self._listener.settimeout(timeout)
            conn, _ = self._listener.accept()
            self._listener.close()
            self._listener = None
        else:
            assert self.dest is not None
            conn = socket.create_connection(self.dest, timeout=timeout)
        conn.settimeout(10.0)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn

    def send(self, packet: bytes) -> None:
        if self._conn is None:
            raise OSError("TCP media connection not open")
        self._conn.sendall(struct.pack("!H", len(packet)) + packet)

    def close(self) -> None:
        for s in (self._conn, self._listener):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()
