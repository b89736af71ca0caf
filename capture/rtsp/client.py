"""An RTSP/1.0 client for one camera: DESCRIBE, SETUP (RTP over the RTSP TCP connection), PLAY.

Strict and small: every step has a timeout and the whole handshake a deadline; Basic or Digest
auth answers a 401; keep-alive by GET_PARAMETER (OPTIONS when the server does not list it) at half
the session timeout. After PLAY, `pump` reads the socket once into a fixed buffer and hands every
complete interleaved frame to its channel's handler as (memoryview, start, end): one recv for
many RTP packets, no object per packet. RTSP messages interleaved with the media (keep-alive
answers, server requests) are skipped.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from capture.rtsp import sdp
from capture.rtsp.auth import AuthError, Credentials
from capture.rtsp.errors import RtspClosed, RtspError, RtspNotFound, RtspTimeout, RtspUnauthorized, Unsupported

Handler = Callable[[memoryview, int, int], None]
#: Takes the run of complete frames of one channel from (buffer, view, start, fill); returns where
#: it stopped (`Depacketizer.consume`).
Runner = Callable[[bytearray, memoryview, int, int], int]
BUFFER = 1 << 17  # room for two interleaved frames of up to 64 KiB each (RSS: one per camera)
MAX_HEADER = 16384  # an RTSP message head longer than this is not one
MAX_BODY = 65536  # an SDP (or any answer body) longer than this is refused
EARLY_MAX = 1 << 21  # media kept from before the PLAY answer (a keyframe or two); more is dropped


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def parse_head(head: bytes) -> tuple[str, dict[str, list[str]]]:
    """(start line, headers by lower-case name) of an RTSP message head."""
    lines = head.decode("utf-8", "replace").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers


class RtspClient:
    def __init__(self, url: str, timeout: float, handshake_timeout: float | None = None,
                 user_agent: str = "edge") -> None:
        parts = urlsplit(url)
        if parts.scheme != "rtsp":
            raise Unsupported(f"{parts.scheme}:// (only rtsp:// over TCP)")
        if not parts.hostname:
            raise RtspError("the URL names no host")
        self.host, self.port = parts.hostname, parts.port or 554
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            netloc += f":{parts.port}"
        #: The request URL, without credentials (they go in Authorization headers only).
        self.url = urlunsplit(("rtsp", netloc, parts.path or "/", parts.query, ""))
        self.creds = (Credentials(unquote(parts.username or ""), unquote(parts.password or ""))
                      if parts.username is not None else None)
        self.timeout = timeout
        self.handshake_timeout = handshake_timeout or timeout
        self.user_agent = user_agent
        self.sock: socket.socket | None = None
        self.session: str | None = None
        self.session_timeout = 60.0
        self.public: set[str] = set()
        self._cseq = 0
        self._deadline = 0.0
        self._next_keepalive = 0.0
        self.buf = bytearray(BUFFER)
        self.mv = memoryview(self.buf)
        self._start = 0
        self._fill = 0
        #: Interleaved frames that came before the PLAY answer, for the first dispatch.
        self._early: list[bytes] = []
        self._early_bytes = 0
        self._fresh = False
        self.skipped = 0  # bytes between frames that were no RTSP message (resynchronised over)
        #: Per channel, what takes a run of its frames at once (instead of its handler per frame).
        self.runners: list[Runner | None] = [None] * 256
        self._room = 0  # what the last receive was given room for

    # -- handshake ------------------------------------------------------------------------------
    def _remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise RtspTimeout(f"no complete handshake within {self.handshake_timeout:g} s")
        return min(left, self.timeout)

    def connect(self) -> None:
        self._deadline = time.monotonic() + self.handshake_timeout
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self._remaining())
        except TimeoutError:
            raise RtspTimeout(f"no TCP connection within {self.timeout:g} s") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        for attempt in range(2):
            self._send(method, url, headers or {})
            resp = self._read_response()
            if resp.status == 401 and self.creds is not None and attempt == 0:
                try:
                    self.creds.accept(resp.headers.get("www-authenticate", []))
                except AuthError as exc:
                    raise RtspUnauthorized(str(exc)) from None
                continue
            return self._check(method, resp)
        raise RtspUnauthorized(f"{method}: the camera refused the credentials")

    def _check(self, method: str, resp: Response) -> Response:
        if 200 <= resp.status < 300:
            return resp
        what = f"{method}: {resp.status} {resp.reason}"
        if resp.status in (401, 403):
            raise RtspUnauthorized(what)
        if resp.status == 404:
            raise RtspNotFound(what)
        if resp.status in (461, 501, 505):
            raise Unsupported(what)
        raise RtspError(what)

    def _send(self, method: str, url: str, headers: dict[str, str]) -> None:
        assert self.sock is not None
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {self.user_agent}"]
        if self.creds is not None and (auth := self.creds.header(method, url)) is not None:
            lines.append(f"Authorization: {auth}")
        if self.session is not None:
            lines.append(f"Session: {self.session}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        try:
            self.sock.settimeout(self._remaining() if self._deadline else self.timeout)
            self.sock.sendall(data)
        except TimeoutError:
            raise RtspTimeout(f"{method}: could not send within {self.timeout:g} s") from None

    def _read_response(self) -> Response:
        while True:
            start, fill = self._start, self._fill
            if fill - start >= 4 and self.buf[start] == 0x24:
                # Media before the answer (GStreamer sends the prerolled keyframe ahead of its PLAY
                # answer): kept for the first dispatch. Dropping it cost a whole GOP at every start.
                length = (self.buf[start + 2] << 8) | self.buf[start + 3]
                if fill - start >= 4 + length:
                    if self._early_bytes + 4 + length <= EARLY_MAX:
                        self._early.append(bytes(self.buf[start:start + 4 + length]))
                        self._early_bytes += 4 + length
                    self._start = start + 4 + length
                    continue
            else:
                end = self.buf.find(b"\r\n\r\n", start, fill)
                if end >= 0:
                    line, headers = parse_head(bytes(self.buf[start:end]))
                    try:
                        body_len = int(headers.get("content-length", ["0"])[0] or 0)
                    except ValueError:
                        raise RtspError("bad Content-Length in the server's answer") from None
                    if not 0 <= body_len <= MAX_BODY:
                        raise RtspError(f"the server's answer is too large ({body_len} bytes)")
                    if fill - end - 4 >= body_len:
                        body = bytes(self.buf[end + 4:end + 4 + body_len])
                        self._start = end + 4 + body_len
                        if line.startswith("RTSP/"):
                            bits = line.split(" ", 2)
                            try:
                                status = int(bits[1])
                            except (IndexError, ValueError):
                                raise RtspError(f"bad status line {line[:80]!r}") from None
                            if headers.get("cseq", [""])[0] not in ("", str(self._cseq)):
                                continue  # the answer to an earlier (keep-alive) request
                            return Response(status, bits[2] if len(bits) > 2 else "", headers, body)
                        continue  # a request from the server: not answered
                elif fill - start > MAX_HEADER:
                    raise RtspError("the server's answer is not RTSP")
            self._recv(self._remaining() if self._deadline else self.timeout)

    def _recv(self, timeout: float) -> int:
        assert self.sock is not None
        if self._start == self._fill:
            self._start = self._fill = 0
        elif len(self.buf) - self._fill < 65540:
            n = self._fill - self._start
            self.buf[0:n] = self.buf[self._start:self._fill]
            self._start, self._fill = 0, n
        if timeout:
            self.sock.settimeout(timeout)
        self._room = len(self.buf) - self._fill
        try:
            n = self.sock.recv_into(self.mv[self._fill:])
        except TimeoutError:
            if self._deadline:
                raise RtspTimeout(f"no complete handshake within {self.handshake_timeout:g} s") from None
            raise RtspTimeout(f"nothing from the camera for {timeout:g} s") from None
        if n == 0:
            raise RtspClosed("the camera closed the connection")
        self._fill += n
        return n

    def describe(self) -> sdp.Session:
        resp = self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        base = resp.header("content-base") or resp.header("content-location") or self.url
        try:
            return sdp.parse(resp.body.decode("utf-8", "replace"), base)
        except sdp.SdpError as exc:
            raise RtspError(f"bad SDP: {exc}") from None

    def options(self) -> None:
        resp = self.request("OPTIONS", self.url)
        self.public = {m.strip().upper() for m in (resp.header("public") or "").split(",") if m.strip()}

    def setup(self, media: sdp.Media, channel: int) -> tuple[int, int]:
        """SETUP one stream interleaved on (channel, channel + 1); returns the channels granted."""
        resp = self.request("SETUP", media.control,
                            {"Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}"})
        transport = resp.header("transport") or ""
        granted = (channel, channel + 1)
        for part in transport.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "interleaved":
                lo, _, hi = value.partition("-")
                try:
                    granted = (int(lo), int(hi) if hi else int(lo) + 1)
                except ValueError:
                    raise RtspError(f"bad Transport {transport!r}") from None
        if "TCP" not in transport.upper() or not 0 <= granted[0] < 256 or not 0 <= granted[1] < 256:
            raise Unsupported(f"the camera did not grant RTP over TCP ({transport or 'no Transport'})")
        session = resp.header("session")
        if session:
            sid, _, params = session.partition(";")
            self.session = sid.strip()
            for p in params.split(";"):
                k, _, v = p.strip().partition("=")
                if k.lower() == "timeout" and v.isdigit() and int(v) > 0:
                    self.session_timeout = float(v)
        return granted

    def play(self) -> dict[str, dict[str, str]]:
        """PLAY from now; returns RTP-Info by control URL ({'seq': ..., 'rtptime': ...})."""
        resp = self.request("PLAY", self.url, {"Range": "npt=0.000-"})
        info: dict[str, dict[str, str]] = {}
        for item in (resp.header("rtp-info") or "").split(","):
            fields = dict(p.strip().partition("=")[::2] for p in item.split(";") if "=" in p)
            if "url" in fields:
                info[fields["url"]] = fields
        self._deadline = 0.0
        self._next_keepalive = time.monotonic() + self.session_timeout / 2
        self._fresh = True  # media read with the answer waits in the buffer for the first dispatch
        return info

    # -- streaming ------------------------------------------------------------------------------
    def keepalive(self, now: float) -> None:
        """Send a keep-alive when one is due; its answer is skipped by `pump`."""
        if now < self._next_keepalive:
            return
        self._next_keepalive = now + max(1.0, self.session_timeout / 2)
        self._send("GET_PARAMETER" if "GET_PARAMETER" in self.public else "OPTIONS", self.url, {})

    def pump(self, handlers: list[Handler | None]) -> int:
        """One recv, then every complete frame to its handler. Returns the bytes received."""
        if self._fresh:
            # What came with (or before) the PLAY answer first: a recv now could wait for the next
            # packet while these are complete in the buffer.
            self._fresh = False
            self._dispatch(handlers)
            return 0
        n = self._recv(self.timeout)
        self._dispatch(handlers)
        return n

    def drain(self, handlers: list[Handler | None]) -> int:
        """Without blocking: read what the socket holds (recv until it is empty), dispatching as the
        buffer fills. Returns the bytes received (0: nothing was waiting)."""
        assert self.sock is not None
        if self.sock.gettimeout() != 0.0:
            self.sock.setblocking(False)
        if self._fresh:
            self._fresh = False
            self._dispatch(handlers)
        total = 0
        while True:
            try:
                n, room = self._recv(0.0), self._room
            except BlockingIOError:
                return total
            total += n
            self._dispatch(handlers)
            if n < room:
                # A TCP receive takes everything queued up to the room it is given: less than the
                # room means the socket is empty now. Stop, rather than pay a failing call.
                return total

    def _dispatch(self, handlers: list[Handler | None]) -> None:
        if self._early:
            early, self._early, self._early_bytes = self._early, [], 0
            for frame in early:
                h = handlers[frame[1]] if frame[1] < len(handlers) else None
                if h is not None:
                    h(memoryview(frame), 4, len(frame))
        buf, mv, runners = self.buf, self.mv, self.runners
        start, fill = self._start, self._fill
        nh = len(handlers)
        while fill - start >= 4:
            if buf[start] == 0x24:
                run = runners[buf[start + 1]]
                if run is not None:
                    stop = run(buf, mv, start, fill)
                    if stop == start:
                        break  # its next frame is incomplete
                    start = stop
                    continue
                end = start + 4 + ((buf[start + 2] << 8) | buf[start + 3])
                if end > fill:
                    break
                ch = buf[start + 1]
                h = handlers[ch] if ch < nh else None
                if h is not None:
                    h(mv, start + 4, end)
                start = end
            else:
                nxt = self._skip_message(start, fill)
                if nxt < 0:
                    break
                start = nxt
        self._start = start

    def _skip_message(self, start: int, fill: int) -> int:
        """Past an interleaved RTSP message (or junk up to the next '$'); -1 when incomplete."""
        buf = self.buf
        head = bytes(buf[start:start + 4])
        if head.isalpha() or head == b"RTSP":
            end = buf.find(b"\r\n\r\n", start, fill)
            if end < 0:
                if fill - start > MAX_HEADER:
                    raise RtspError("an interleaved RTSP message head is too long")
                return -1
            _, headers = parse_head(bytes(buf[start:end]))
            body = end + 4 + int(headers.get("content-length", ["0"])[0] or 0)
            return body if body <= fill else -1
        nxt = buf.find(b"$", start + 1, fill)
        stop = nxt if nxt >= 0 else fill
        self.skipped += stop - start
        return stop

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            if self.session is not None:
                self.sock.settimeout(0.5)
                self._deadline = 0.0
                self._cseq += 1
                self.sock.sendall(f"TEARDOWN {self.url} RTSP/1.0\r\nCSeq: {self._cseq}\r\n"
                                  f"Session: {self.session}\r\n\r\n".encode())
        except OSError:
            pass  # the connection is going away anyway
        finally:
            self.sock.close()
            self.sock = None
