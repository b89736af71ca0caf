"""MANSCDP XML (GB/T 28181 Annex A): parse the platform's commands, write the device's answers.

Platforms send GB2312/GB18030 (WVP's default) or UTF-8 and say which in the XML declaration. Expat
only decodes single-byte and UTF encodings itself, so the body is decoded here with the declared
codec (GB18030 is a superset of GB2312 and GBK) and answered in the same one. Documents with a
DOCTYPE are refused: no entity expansion from a network peer.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

DECL_RE = re.compile(rb'^\s*<\?xml[^>]*?encoding\s*=\s*["\']([A-Za-z0-9_\-]+)["\'][^>]*\?>')
ROOTS = frozenset({"Query", "Control", "Notify", "Response"})
MAX_XML_BYTES = 32_768
CODECS = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "utf-8": "utf-8", "utf8": "utf-8"}


class XmlError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    root: str           # Query | Control | Notify | Response
    cmd_type: str
    sn: int
    device_id: str
    element: ET.Element
    encoding: str       # the name the platform declared, e.g. "GB2312"

    def text(self, tag: str, default: str = "") -> str:
        el = self.element.find(tag)
        return (el.text or "").strip() if el is not None and el.text is not None else default


def parse(body: bytes) -> Command:
    if len(body) > MAX_XML_BYTES:
        raise XmlError("MANSCDP body too large")
    m = DECL_RE.match(body)
    declared = m.group(1).decode("ascii") if m else "UTF-8"
    codec = CODECS.get(declared.lower())
    if codec is None:
        raise XmlError(f"unsupported XML encoding {declared}")
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        raise XmlError(f"body is not valid {declared}") from None
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise XmlError("DOCTYPE/ENTITY not accepted")
    if m:
        # The declaration is ASCII, one character per byte in every accepted codec.
        text = text[len(m.group(0)):]
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise XmlError(f"not well-formed XML: {exc}") from None
    if root.tag not in ROOTS:
        raise XmlError(f"unknown MANSCDP root <{root.tag}>")
    cmd = (root.findtext("CmdType") or "").strip()
    sn = (root.findtext("SN") or "").strip()
    dev = (root.findtext("DeviceID") or "").strip()
    if not cmd or not sn.isdigit() or len(sn) > 10:
        raise XmlError("CmdType and a numeric SN are required")
    return Command(root.tag, cmd, int(sn), dev, root, declared)


def element(tag: str, *children: ET.Element, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.Element(tag, attrs)
    if text is not None:
        el.text = text
    el.extend(children)
    return el


def fields(parent: ET.Element, values: dict[str, str | int]) -> ET.Element:
    for k, v in values.items():
        ET.SubElement(parent, k).text = str(v)
    return parent


def document(root: str, cmd_type: str, sn: int, device_id: str, body: dict[str, str | int] | None = None,
             *children: ET.Element) -> ET.Element:
    el = ET.Element(root)
    fields(el, {"CmdType": cmd_type, "SN": sn, "DeviceID": device_id})
    if body:
        fields(el, body)
    el.extend(children)
    return el


def serialize(el: ET.Element, encoding: str = "GB2312") -> bytes:
    codec = CODECS.get(encoding.lower(), "gb18030")
    ET.indent(el)
    text = ET.tostring(el, encoding="unicode")
    return f'<?xml version="1.0" encoding="{encoding}"?>\r\n{text}\r\n'.encode(codec)
