"""SIP digest authentication, client side (RFC 2617, RFC 7616 algorithms; RFC 3261 22.4).

Platforms (WVP, vendor platforms) challenge REGISTER with `WWW-Authenticate: Digest realm=...,
nonce=...` and mostly MD5 without qop; some send qop="auth", a few SHA-256. The hashes come from
hashlib; this module only assembles the strings the RFCs define.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from edge.gb28181.sip import SipError

ALGORITHMS = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256"}
PARAM_RE = re.compile(r'\s*([A-Za-z0-9\-_]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)\s*(?:,|$)')


@dataclass(frozen=True)
class Challenge:
    realm: str
    nonce: str
    opaque: str = ""
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    stale: bool = False


def parse_challenge(header: str) -> Challenge:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise SipError(f"unsupported authentication scheme {scheme!r}")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = PARAM_RE.match(rest, pos)
        if not m or m.end() == pos:
            raise SipError("malformed WWW-Authenticate")
        value = m[2]
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[m[1].lower()] = value
        pos = m.end()
    if "realm" not in params or "nonce" not in params:
        raise SipError("WWW-Authenticate without realm or nonce")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in ALGORITHMS:
        raise SipError(f"unsupported digest algorithm {algorithm}")
    qop = tuple(q.strip() for q in params.get("qop", "").split(",") if q.strip())
    if qop and "auth" not in qop:
        raise SipError("only qop=auth is supported")
    return Challenge(params["realm"], params["nonce"], params.get("opaque", ""), algorithm, qop,
                     params.get("stale", "").lower() == "true")


def _h(algorithm: str, text: str) -> str:
    return hashlib.new(ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def ha1_md5(username: str, realm: str, password: str) -> str:
    return _h("MD5", f"{username}:{realm}:{password}")


def response_value(ch: Challenge, username: str, password: str, method: str, uri: str, nc: int = 1,
                   cnonce: str = "", ha1: str = "") -> str:
    """The `response=` value: KD(H(A1), nonce[:nc:cnonce:qop]:H(A2)); `ha1` (MD5 only) stands in
    for the password."""
    if ha1 and not ch.algorithm.startswith("MD5"):
        raise SipError(f"password_ha1 answers MD5 challenges only, the platform asked for {ch.algorithm}")
    ha1 = ha1 or _h(ch.algorithm, f"{username}:{ch.realm}:{password}")
    if ch.algorithm.endswith("-SESS"):
        ha1 = _h(ch.algorithm, f"{ha1}:{ch.nonce}:{cnonce}")
    ha2 = _h(ch.algorithm, f"{method}:{uri}")
    if ch.qop:
        return _h(ch.algorithm, f"{ha1}:{ch.nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    return _h(ch.algorithm, f"{ha1}:{ch.nonce}:{ha2}")


def authorization(ch: Challenge, username: str, password: str, method: str, uri: str, nc: int = 1,
                  ha1: str = "") -> str:
    """The Authorization header value answering the challenge."""
    cnonce = secrets.token_hex(8) if ch.qop or ch.algorithm.endswith("-SESS") else ""
    resp = response_value(ch, username, password, method, uri, nc, cnonce, ha1)
    parts = [f'username="{username}"', f'realm="{ch.realm}"', f'nonce="{ch.nonce}"', f'uri="{uri}"',
             f'response="{resp}"', f"algorithm={ch.algorithm}"]
    if ch.opaque:
        parts.append(f'opaque="{ch.opaque}"')
    if ch.qop:
        parts += ["qop=auth", f"nc={nc:08x}", f'cnonce="{cnonce}"']
    elif cnonce:
        parts.append(f'cnonce="{cnonce}"')
    return "Digest " + ", ".join(parts)
