"""GB/T 28181 20-digit codes (Annex D / E of the 2016 and 2022 editions).

Layout: digits 1-8 centre code (province, city, district, basic unit), 9-10 industry code,
11-13 type code, 14 network identifier, 15-20 serial number. A device that registers and the
channels it exposes must carry the type code of what they are, since platforms (WVP, vendor
platforms) sort devices by it.
"""

from __future__ import annotations

import re

ID_RE = re.compile(r"^[0-9]{20}$")

#: Type codes (digits 11-13) this box may use.
DEVICE_TYPES = {"111": "DVR", "118": "NVR"}
CHANNEL_TYPES = {"131": "camera", "132": "IP camera"}
SERVER_TYPES = {"200": "central signalling control server"}


def type_code(code: str) -> str:
    return code[10:13]


def check_id(code: str, allowed: dict[str, str], what: str) -> str:
    """The code unchanged, or ValueError naming the rule it breaks."""
    if not ID_RE.match(code):
        raise ValueError(f"must be 20 digits (GB/T 28181 {what} code), got {len(code)} characters")
    t = type_code(code)
    if t not in allowed:
        kinds = ", ".join(f"{k} {v}" for k, v in allowed.items())
        raise ValueError(f"type code (digits 11-13) is {t}; a {what} must be one of: {kinds}")
    return code


def check_domain(domain: str) -> str:
    """The SIP domain is the first 10 digits of the server id (centre code + industry code)."""
    if not re.fullmatch(r"[0-9]{10}", domain):
        raise ValueError("must be 10 digits (the first 10 digits of the server id)")
    return domain
