"""SIP messages (RFC 3261): a small strict parser and serialiser for what a GB/T 28181 device sees.

Why not a library: `sipmessage` (the maintained pure-Python parser on PyPI) follows RFC 3261's
hostname grammar, whose top label must start with a letter, so it refuses every GB/T 28181 URI
(`sip:34020000001320000001@3402000000`: the domain is ten digits); `sippy`/`aiosip` are whole
stacks. So this module parses only what the device needs, strictly: a size cap, mandatory
headers parsed up front (a handler never meets a header that fails later), Content-Length
checked against the body, no folding or bare CR/LF, and TCP framing. Anything that fails is a
`SipError` carrying the 4xx to answer with.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65_536
MAX_HEADER_BYTES = 16_384
MAX_HEADERS = 64
REQUIRED = ("Via", "From", "To", "Call-ID", "CSeq")
METHODS = frozenset({"REGISTER", "MESSAGE", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO",
                     "SUBSCRIBE", "NOTIFY"})
COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
           "c": "Content-Type", "o": "Event", "k": "Supported", "s": "Subject"}
CANONICAL = {n.lower(): n for n in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length",
                                     "Content-Type", "Expires", "Max-Forwards", "WWW-Authenticate",
                                     "Authorization", "Event", "Subscription-State", "Subject", "User-Agent",
                                     "Date", "Route", "Record-Route", "Allow", "Supported")}

TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
TOKEN_RE = re.compile(TOKEN)
# Host: a name or an IPv4 address; digits-only names are what GB/T 28181 domains look like.
URI_RE = re.compile(
    r"^(?P<scheme>sips?):(?:(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+)(?::[^@]*)?@)?"
    r"(?P<host>[A-Za-z0-9\-.]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?(?P<params>(?:;[^;?]*)*)"
    r"(?:\?.*)?$"
)
VIA_RE = re.compile(r"^SIP\s*/\s*2\.0\s*/\s*(?P<transport>" + TOKEN + r")\s+"
                    r"(?P<host>[A-Za-z0-9\-.]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?\s*(?P<params>(?:;[^;]*)*)$")
CSEQ_RE = re.compile(r"^(?P<num>[0-9]{1,10})\s+(?P<method>" + TOKEN + r")$")
STATUS_RE = re.compile(r"^SIP/2\.0 (?P<code>[1-6][0-9]{2}) (?P<phrase>[^\r\n]*)$")
REQUEST_RE = re.compile(r"^(?P<method>[A-Z]+) (?P<uri>\S+) SIP/2\.0$")


class SipError(ValueError):
    """A message that cannot be accepted; `status` is the response a request gets."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, value = part.partition("=")
        if not TOKEN_RE.fullmatch(name.strip()):
            raise SipError(f"bad parameter {part!r}")
        out[name.strip().lower()] = value.strip().strip('"')
    return out


@dataclass(frozen=True)
class Uri:
    scheme: str
    user: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Uri:
        m = URI_RE.match(text.strip())
        if not m:
            raise SipError(f"bad SIP URI {text[:80]!r}", 416)
        port = int(m["port"]) if m["port"] else None
        if port is not None and not 0 < port < 65536:
            raise SipError("bad port in URI", 416)
        return cls(m["scheme"], m["user"] or "", m["host"], port, _params(m["params"] or ""))

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}:{user}{self.host}{port}"


@dataclass(frozen=True)
class NameAddr:
    display: str
    uri: Uri
    params: dict[str, str]

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if "<" in text:
            display, _, rest = text.partition("<")
            inner, sep, params = rest.partition(">")
            if not sep:
                raise SipError("unclosed <> in address")
            return cls(display.strip().strip('"'), Uri.parse(inner), _params(params))
        # addr-spec form: parameters after the URI belong to the header.
        uri, _, params = text.partition(";")
        return cls("", Uri.parse(uri), _params(params))


@dataclass(frozen=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Via:
        m = VIA_RE.match(text.strip())
        if not m:
            raise SipError(f"bad Via {text[:80]!r}")
        return cls(m["transport"].upper(), m["host"], int(m["port"]) if m["port"] else None,
                   _params(m["params"] or ""))

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")


@dataclass
class Message:
    """A request (method set) or a response (code set), headers in order, names canonical."""

    method: str = ""
    uri: str = ""
    code: int = 0
    phrase: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str, default: str = "") -> str:
        key = name.lower()
        for k, v in self.headers:
            if k.lower() == key:
                return v
        return default

    def getlist(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self.headers if k.lower() == key]

    def add(self, name: str, value: str) -> None:
        if "\r" in value or "\n" in value:
            raise ValueError("header value with a line break")
        self.headers.append((name, value))

    @property
    def call_id(self) -> str:
        return self.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        m = CSEQ_RE.match(self.get("CSeq").strip())
        assert m is not None  # checked at parse
        return int(m["num"]), m["method"]

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.get("From"))

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.get("To"))

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(p) for v in self.getlist("Via") for p in _split_commas(v)]

    @property
    def content_type(self) -> str:
        return self.get("Content-Type").split(";")[0].strip().lower()

    def to_bytes(self) -> bytes:
        start = f"{self.method} {self.uri} SIP/2.0" if self.method else f"SIP/2.0 {self.code} {self.phrase}"
        lines = [start] + [f"{k}: {v}" for k, v in self.headers if k != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def _split_commas(value: str) -> list[str]:
    """Split a comma-joined header outside quotes and <>."""
    parts, depth, quoted, cur = [], 0, False, ""
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse(data: bytes) -> Message:
    """One datagram (or one framed TCP message) into a checked request or response."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipError("message too large", 513)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipError("no end of headers")
    if len(head) > MAX_HEADER_BYTES:
        raise SipError("headers too large", 513)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipError("headers are not UTF-8") from None
    lines = text.split("\r\n")
    if any(ch in text.replace("\r\n", "") for ch in "\r\n\x00"):
        raise SipError("bad line structure")
    if len(lines) - 1 > MAX_HEADERS:
        raise SipError("too many headers", 513)
    msg = Message()
    if m := REQUEST_RE.match(lines[0]):
        msg.method, msg.uri = m["method"], m["uri"]
    elif m := STATUS_RE.match(lines[0]):
        msg.code, msg.phrase = int(m["code"]), m["phrase"]
    else:
        raise SipError("bad start line")
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            raise SipError("folded header lines are not accepted")
        name, sep2, value = line.partition(":")
        name = name.strip()
        if not sep2 or not TOKEN_RE.fullmatch(name):
            raise SipError(f"bad header line {line[:60]!r}")
        canon = COMPACT.get(name.lower()) or CANONICAL.get(name.lower(), name)
        msg.headers.append((canon, value.strip()))
    msg.body = body
    return _checked(msg)


def _checked(msg: Message) -> Message:
    for name in REQUIRED:
        if not msg.get(name):
            raise SipError(f"missing {name} header")
    if len(msg.getlist("Call-ID")) != 1 or len(msg.getlist("CSeq")) != 1 or len(msg.call_id) > 256:
        raise SipError("bad Call-ID or CSeq")
    if not CSEQ_RE.match(msg.get("CSeq").strip()):
        raise SipError("bad CSeq")
    _ = msg.from_, msg.to, msg.vias  # raise SipError when malformed
    if msg.is_request:
        if msg.method not in METHODS:
            raise SipError(f"method {msg.method} not supported", 501)
        if msg.cseq[1] != msg.method:
            raise SipError("CSeq method differs from the request method")
        Uri.parse(msg.uri)
    for name in ("Content-Length", "Expires", "Max-Forwards"):
        value = msg.get(name)
        if value and not value.isdigit():
            raise SipError(f"bad {name}")
    length = msg.get("Content-Length")
    if length:
        n = int(length)
        if n > len(msg.body):
            raise SipError("Content-Length larger than the body")
        # Over UDP anything past Content-Length is to be discarded (RFC 3261 18.3).
        msg.body = msg.body[:n]
    return msg


def content_length_of(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            v = value.strip()
            if not v.isdigit() or int(v) > MAX_MESSAGE_BYTES:
                raise SipError("bad Content-Length", 513)
            return int(v)
    raise SipError("Content-Length is required over TCP")


class StreamFramer:
    """Splits a TCP byte stream into messages by Content-Length (RFC 3261 18.3)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            # CRLF keep-alives (RFC 5626) between messages.
            while self._buf[:2] == b"\r\n":
                del self._buf[:2]
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEADER_BYTES:
                    raise SipError("headers too large", 513)
                return out
            n = content_length_of(bytes(self._buf[:end]))
            total = end + 4 + n
            if len(self._buf) < total:
                return out
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


@dataclass(frozen=True)
class Local:
    """How this device appears in the messages it sends."""

    user: str
    host: str
    port: int
    transport: str  # "UDP" | "TCP"

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@{self.host}:{self.port}"


def request(method: str, uri: str, local: Local, *, from_uri: str, from_tag: str, to_uri: str,
            to_tag: str = "", call_id: str, cseq: int, body: bytes = b"", content_type: str = "",
            extra: list[tuple[str, str]] | None = None) -> Message:
    req = Message(method=method, uri=uri, body=body)
    req.add("Via", f"SIP/2.0/{local.transport} {local.host}:{local.port};rport;branch={new_branch()}")
    req.add("From", f"<{from_uri}>;tag={from_tag}")
    req.add("To", f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else ""))
    req.add("Call-ID", call_id)
    req.add("CSeq", f"{cseq} {method}")
    req.add("Max-Forwards", "70")
    req.add("User-Agent", "edge")
    for name, value in extra or []:
        req.add(name, value)
    if content_type:
        req.add("Content-Type", content_type)
    return req


def response(req: Message, code: int, phrase: str, *, to_tag: str = "", body: bytes = b"",
             content_type: str = "", extra: list[tuple[str, str]] | None = None) -> Message:
    resp = Message(code=code, phrase=phrase, body=body)
    for via in req.getlist("Via"):
        resp.add("Via", via)
    resp.add("From", req.get("From"))
    to = req.get("To")
    if to_tag and not req.to.tag:
        to += f";tag={to_tag}"
    resp.add("To", to)
    resp.add("Call-ID", req.call_id)
    resp.add("CSeq", req.get("CSeq"))
    resp.add("User-Agent", "edge")
    for name, value in extra or []:
        resp.add(name, value)
    if content_type:
        resp.add("Content-Type", content_type)
    return resp
