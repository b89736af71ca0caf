"""RTSP authentication: Basic and Digest (RFC 2617/7616, MD5 and SHA-256, qop=auth or none).

The header is answered from a `WWW-Authenticate` challenge; Digest is preferred when both are
offered, and Basic is only sent after the server asked for it (never pre-emptively).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class AuthError(ValueError):
    pass


def parse_challenges(headers: list[str]) -> dict[str, dict[str, str]]:
    """{'digest': {...}, 'basic': {...}} from the WWW-Authenticate header values."""
    out: dict[str, dict[str, str]] = {}
    for value in headers:
        scheme, _, rest = value.strip().partition(" ")
        params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
                  for m in _PARAM.finditer(rest)}
        out.setdefault(scheme.lower(), params)
    return out


class Credentials:
    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._nc = 0

    @property
    def ready(self) -> bool:
        return self._challenge is not None

    def accept(self, challenge_headers: list[str]) -> None:
        """Take the server's challenge (from a 401). Raises AuthError if no scheme is usable."""
        ch = parse_challenges(challenge_headers)
        if "digest" in ch:
            algo = ch["digest"].get("algorithm", "MD5").upper()
            if algo not in _HASHES:
                raise AuthError(f"unsupported digest algorithm {algo}")
            if "nonce" not in ch["digest"]:
                raise AuthError("digest challenge without a nonce")
            self._challenge = ("digest", ch["digest"])
        elif "basic" in ch:
            self._challenge = ("basic", ch["basic"])
        else:
            raise AuthError("the server offers no Basic or Digest authentication")
        self._nc = 0

    def header(self, method: str, uri: str) -> str | None:
        if self._challenge is None:
            return None
        scheme, p = self._challenge
        if scheme == "basic":
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
            return f"Basic {token}"
        algo = p.get("algorithm", "MD5").upper()
        h = _HASHES[algo]

        def hx(s: str) -> str:
            return h(s.encode()).hexdigest()

        realm, nonce = p.get("realm", ""), p["nonce"]
        ha1 = hx(f"{self.user}:{realm}:{self.password}")
        ha2 = hx(f"{method}:{uri}")
        fields = [f'username="{_q(self.user)}"', f'realm="{_q(realm)}"', f'nonce="{_q(nonce)}"',
                  f'uri="{_q(uri)}"']
        qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self._nc += 1
            nc = f"{self._nc:08x}"
            cnonce = os.urandom(8).hex()
            response = hx(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        elif qops:
            raise AuthError(f"unsupported digest qop {p.get('qop')!r}")
        else:
            response = hx(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in p:
            fields.append(f'opaque="{_q(p["opaque"])}"')
        if "algorithm" in p:
            fields.append(f"algorithm={algo}")
        return "Digest " + ", ".join(fields)


def _q(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')
