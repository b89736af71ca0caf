"""How a native session starts: the first access unit of a fresh session is its keyframe, kept
(RTP-Info names its packet), and media a server sends ahead of its PLAY answer is not lost. Dropping
either made every start and every reconnect wait a whole GOP."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from capture.native_source import NativeSource
from capture.paramsets import _avcc_units
from capture.sim.simulator import Simulator


def test_a_fresh_session_starts_on_its_first_keyframe(clip: Callable[..., Path],
                                                     simulator: Callable[..., Simulator]) -> None:
    """The simulator's pipeline starts for its first client on a keyframe, as cameras start a
    session: the first access unit is kept (RTP-Info names its packet), not dropped as possibly
    torn, so recording starts without waiting a GOP."""
    sim = simulator({"cam": clip(seed=5)})
    src = NativeSource(sim.url("cam"), 5.0, audio=False)
    src.connect()
    try:
        first = None
        deadline = time.monotonic() + 10
        while first is None and time.monotonic() < deadline:
            units = [au for au in src.read() if au.stream == 0]
            first = units[0] if units else None
        assert first is not None and first.keyframe
        assert {u[0] & 0x1F for u in _avcc_units(bytes(first.data)) or ()} >= {5}
    finally:
        src.close()


class EarlyMediaServer:
    """Answers OPTIONS/DESCRIBE/SETUP, then sends the first RTP packets (a keyframe) BEFORE its PLAY
    answer, as GStreamer may: a client that drops media ahead of the answer loses that keyframe."""

    SPS, PPS = bytes.fromhex("6742c01e95a0501ec8"), bytes.fromhex("68ce3c80")

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @staticmethod
    def _rtp(seq: int, ts: int, marker: bool, payload: bytes) -> bytes:
        wire = bytes([0x80, (0x80 if marker else 0) | 96]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big") \
            + (0x1234).to_bytes(4, "big") + payload
        return b"$\0" + len(wire).to_bytes(2, "big") + wire

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        sprop = ",".join(base64.b64encode(x).decode() for x in (self.SPS, self.PPS))
        sdp = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
               "a=rtpmap:96 H264/90000\r\n"
               f"a=fmtp:96 packetization-mode=1;sprop-parameter-sets={sprop}\r\na=control:stream=0\r\n")
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    lines = head.decode().split("\r\n")
                    method = lines[0].split(" ")[0]
                    cseq = next(x.split(":", 1)[1].strip() for x in lines if x.lower().startswith("cseq"))
                    ok = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n"
                    if method == "OPTIONS":
                        conn.sendall((ok + "Public: DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n").encode())
                    elif method == "DESCRIBE":
                        conn.sendall((ok + f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
                                      + sdp).encode())
                    elif method == "SETUP":
                        conn.sendall((ok + "Session: 42;timeout=60\r\n"
                                      "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n").encode())
                    elif method == "PLAY":
                        idr = bytes([0x65]) + b"\x88" * 40
                        conn.sendall(self._rtp(1000, 9000, True, idr)  # the keyframe, ahead of the answer
                                     + (ok + "Session: 42\r\nRTP-Info: url=stream=0;seq=1000;rtptime=9000\r\n\r\n")
                                     .encode()
                                     + self._rtp(1001, 12600, True, bytes([0x41]) + b"\x11" * 20)
                                     + self._rtp(1002, 16200, True, bytes([0x41]) + b"\x22" * 20))
                    else:
                        conn.sendall((ok + "\r\n").encode())

    def close(self) -> None:
        self.sock.close()


def test_media_sent_before_the_play_answer_is_kept() -> None:
    srv = EarlyMediaServer()
    src = NativeSource(f"rtsp://127.0.0.1:{srv.port}/cam", 3.0, audio=False)
    try:
        src.connect()
        got: list[tuple[bool, int]] = []
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            got += [(au.keyframe, au.ts - src.origin(au)) for au in src.read()]
        assert got[:2] == [(True, 0), (False, 3600)]
    finally:
        src.close()
        srv.close()
