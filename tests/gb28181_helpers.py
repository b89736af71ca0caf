"""SIPp as the GB/T 28181 platform, for the gb28181 tests: the platform's SIP server (UAS scenario,
message log parsed here) and one-shot UAC scenarios for queries and INVITEs; an RTP receiver that
reassembles MPEG-PS; H.264 helpers to compare what came back with what is stored."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from capture.sim.simulator import free_port

SIPP = shutil.which("sipp")
SCENARIOS = Path(__file__).resolve().parent / "sipp"
DEVICE_ID = "34020000001180000001"
SERVER_ID = "34020000002000000001"
DOMAIN = "3402000000"
PASSWORD = "edge-gb-test"  # platform.xml's verifyauth checks this one


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def channel_id(n: int) -> str:
    return f"3402000000132{n:07d}"


@dataclass(frozen=True)
class Logged:
    direction: str   # "received" | "sent"
    text: str

    @property
    def start(self) -> str:
        return self.text.split("\r\n", 1)[0]

    @property
    def body(self) -> bytes:
        return self.text.split("\r\n\r\n", 1)[1].encode("latin-1") if "\r\n\r\n" in self.text else b""

    def header(self, name: str) -> str:
        for line in self.text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == name.lower():
                return v.strip()
        return ""

    def xml(self) -> ET.Element:
        body = self.body
        m = re.match(rb'\s*<\?xml[^>]*encoding="([^"]+)"[^>]*\?>', body)
        codec = "gb18030" if m and m.group(1).lower().startswith(b"gb") else "utf-8"
        text = body.decode(codec)
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
        return ET.fromstring(text.strip())


def sipp_transport(transport: str) -> str:
    return "t1" if transport == "tcp" else "u1"


class Platform:
    """`sipp -sf platform.xml`: the platform's SIP server on 127.0.0.1."""

    def __init__(self, tmp: Path, transport: str = "udp") -> None:
        assert SIPP, "sipp (Debian sip-tester) is not installed; scripts/sysdeps.sh installs it"
        self.transport = transport
        self.port = free_port() if transport == "tcp" else free_udp_port()
        self.log_path = tmp / f"platform-{self.port}.log"
        self.err_path = tmp / f"platform-{self.port}.err"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Platform:
        # -latin1 keeps GB2312 bodies intact in the message log (SIPp writes bytes as they came).
        self.proc = subprocess.Popen(
            [str(SIPP), "-sf", str(SCENARIOS / "platform.xml"), "-i", "127.0.0.1", "-p", str(self.port),
             "-t", sipp_transport(self.transport), "-trace_msg", "-message_file", str(self.log_path),
             "-trace_err", "-error_file", str(self.err_path), "-nostdin", "-max_recv_loops", "1000",
             "-timeout", "600s", "-max_socket", "64"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return self

    def messages(self) -> list[Logged]:
        if not self.log_path.exists():
            return []
        raw = self.log_path.read_bytes().decode("latin-1")
        out = []
        for block in re.split(r"\n-{10,}[^\n]*\n", "\n" + raw):
            m = re.match(r"\s*(?:UDP|TCP) message (received|sent) [\[(]\d+(?:\] bytes| bytes\)) ?:\s*\n\n", block)
            if not m:
                continue
            text = block[m.end():].rstrip("\n")
            # One TCP read can hold several messages: split them by Content-Length.
            while text.strip():
                head, sep, rest = text.partition("\n\n") if "\r\n\r\n" not in text else text.partition("\r\n\r\n")
                length = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                n = int(length.group(1)) if length else 0
                body, text = rest[:n], rest[n:].lstrip("\r\n")
                head = head.replace("\r\n", "\n").replace("\n", "\r\n")
                out.append(Logged(m.group(1), head + "\r\n\r\n" + body))
        return out

    def received(self, method: str) -> list[Logged]:
        return [m for m in self.messages() if m.direction == "received" and m.start.startswith(method + " ")]

    def manscdp(self, cmd_type: str, root: str | None = None) -> list[ET.Element]:
        """Bodies of the MESSAGE/NOTIFY requests the device sent with this CmdType."""
        out = []
        for m in self.received("MESSAGE") + self.received("NOTIFY"):
            try:
                el = m.xml()
            except (ET.ParseError, UnicodeDecodeError, IndexError):
                continue
            if el.findtext("CmdType") == cmd_type and (root is None or el.tag == root):
                out.append(el)
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def uac(tmp: Path, scenario: str, device_port: int, keys: dict[str, str], transport: str = "udp",
        timeout: float = 30.0, pause_ms: int = 0, log_path: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """One call of a UAC scenario against the device; SIPp exits 0 when the call succeeded."""
    assert SIPP
    base = {"server_id": SERVER_ID, "device_id": DEVICE_ID, "domain": DOMAIN, "root": "Query"}
    args = [str(SIPP), "-sf", str(SCENARIOS / scenario), f"127.0.0.1:{device_port}", "-i", "127.0.0.1",
            "-p", str(free_port() if transport == "tcp" else free_udp_port()), "-t", sipp_transport(transport),
            "-m", "1", "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error", "-trace_msg",
            "-message_file", str(log_path or tmp / f"uac-{scenario}-{time.monotonic_ns()}.log")]
    if pause_ms:
        args += ["-d", str(pause_ms)]
    for k, v in {**base, **keys}.items():
        args += ["-key", k, v]
    return subprocess.run(args, capture_output=True, timeout=timeout + 15)


class RtpReceiver:
    """Listens for RTP (UDP, or TCP with RFC 4571 framing; TCP passive: we listen, the device
    connects) and keeps the packets."""

    def __init__(self, tcp: bool = False) -> None:
        self.tcp = tcp
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        if tcp:
            self.sock.listen(1)
        self.sock.settimeout(0.3)
        self.packets: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        conn: socket.socket | None = None
        buf = b""
        while not self._stop.is_set():
            try:
                if not self.tcp:
                    self.packets.append(self.sock.recv(65_535))
                    continue
                if conn is None:
                    conn, _ = self.sock.accept()
                    conn.settimeout(0.3)
                chunk = conn.recv(65_536)
                if not chunk:
                    conn.close()
                    conn = None
                    continue
                buf += chunk
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    n = struct.unpack("!H", buf[:2])[0]
                    self.packets.append(buf[2:2 + n])
                    buf = buf[2 + n:]
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def headers(self) -> list[tuple[int, int, int, int, bool]]:
        """(payload type, seq, timestamp, ssrc, marker) of each packet."""
        out = []
        for p in self.packets:
            b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", p[:12])
            assert b0 >> 6 == 2
            out.append((b1 & 0x7F, seq, ts, ssrc, bool(b1 & 0x80)))
        return out

    def ps_bytes(self) -> bytes:
        """Payloads in sequence order (loopback UDP does not reorder, but sort anyway)."""
        items = sorted(((struct.unpack("!H", p[2:4])[0], p[12:]) for p in self.packets), key=lambda x: x[0])
        return b"".join(payload for _, payload in items)


def annexb_nals(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte string (start codes 00 00 01 / 00 00 00 01)."""
    parts = re.split(rb"\x00\x00\x01", data)
    nals = [p[:-1] if p.endswith(b"\x00") else p for p in parts[1:]]
    return [n for n in nals if n]


def avcc_nals(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 4 <= len(data):
        n = struct.unpack("!I", data[i:i + 4])[0]
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out
