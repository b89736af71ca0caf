"""The filing pack as a PDF (fpdf2): the paper the site hands to the police.

DejaVu Sans is used when the system has it (Debian's fonts-dejavu-core), with Droid Sans
Fallback (fonts-droid-fallback) for Chinese names; without them the PDF core font is used and
characters it cannot print become '?', which the pack's JSON and HTML still carry exactly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
CJK_FALLBACK = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
# fpdf2 subsets fonts with fontTools, which logs every table at INFO: noise in `edge report`'s output.
logging.getLogger("fontTools").setLevel(logging.WARNING)


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.family = "helvetica"
        self.unicode = False
        for d in FONT_DIRS:
            regular, bold, mono = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf", d / "DejaVuSansMono.ttf"
            if regular.is_file() and bold.is_file() and mono.is_file():
                self.add_font("dejavu", "", str(regular))
                self.add_font("dejavu", "B", str(bold))
                self.add_font("dejavumono", "", str(mono))
                self.family, self.unicode = "dejavu", True
                if CJK_FALLBACK.is_file():
                    self.add_font("cjk", "", str(CJK_FALLBACK))
                    self.set_fallback_fonts(["cjk"], exact_match=False)
                break
        self.set_auto_page_break(True, margin=15)

    def text_of(self, s: object) -> str:
        t = "-" if s is None or s == "" else str(s)
        return t if self.unicode else t.encode("latin-1", "replace").decode("latin-1")

    def heading(self, s: str, size: int = 13) -> None:
        self.set_font(self.family, "B", size)
        self.multi_cell(0, 8, self.text_of(s), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family, "", 9)

    def para(self, s: str) -> None:
        self.multi_cell(0, 5, self.text_of(s), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rows(self, rows: list[tuple[str, object]], key_width: float = 55) -> None:
        for k, v in rows:
            self.set_font(self.family, "B", 9)
            self.cell(key_width, 5, self.text_of(k), new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.set_font(self.family, "", 9)
            self.multi_cell(0, 5, self.text_of(v), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def mono(self, s: str) -> None:
        self.set_font("dejavumono" if self.unicode else "courier", "", 8)
        self.multi_cell(0, 4, self.text_of(s), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family, "", 9)


def _mbit(bps: float) -> str:
    return f"{bps / 1e6:.2f} Mbit/s"


def render_pdf(pack: dict[str, Any], pictures: dict[str, Path]) -> bytes:
    pdf = _Pdf()
    pdf.set_title("Filing pack " + str(pack["box"]["id"]))
    pdf.set_creator(f"edge {pack['software']['version']}")
    pdf.add_page()
    pdf.heading("Filing pack: public security video image system", 16)
    pdf.para(pack["document"])
    pdf.para(f"Generated {pack['generated']}")
    pdf.ln(2)
    box = pack["box"]
    pdf.heading("Box")
    pdf.rows([("Box id", box["id"]), ("Name", box["name"]), ("Site", box["site"]), ("Operator", box["operator"]),
              ("Software", f"{pack['software']['name']} {pack['software']['version']}")])
    pdf.ln(2)
    pdf.heading(f"Cameras ({len(pack['cameras'])})")
    for cam in pack["cameras"]:
        pdf.set_font(pdf.family, "B", 11)
        pdf.multi_cell(0, 6, pdf.text_of(f"{cam['name']}  ({cam['id']})"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(pdf.family, "", 9)
        ref = cam["reference"]
        pdf.rows([
            ("Site category (Art. 9)", cam["site_category"]), ("Location / coverage", cam["location"]),
            ("Signage (Art. 10)", "confirmed" if cam["signage"] else "NOT confirmed"),
            ("Enabled", "yes" if cam["enabled"] else "no"),
            ("Resolution", cam["resolution"] or "not recorded yet"), ("Codec", cam["codec"] or "not recorded yet"),
            ("Bitrate", f"{_mbit(cam['bitrate_bps'])} ({cam['bitrate_source']})"),
            ("Reference view", f"set {ref['set']} by {ref['set_by']}" + (" (automatic)" if ref["automatic"] else "")
             if ref else "not commissioned yet"),
        ])
        pic = pictures.get(cam["id"])
        if pic is not None:
            if pdf.will_page_break(60):
                pdf.add_page()
            pdf.image(str(pic), w=90)
        pdf.ln(3)
    pdf.heading("Site categories")
    pdf.rows([(k, ", ".join(v)) for k, v in pack["site_categories"].items()])
    pdf.ln(2)
    pdf.heading("Storage and retention (Art. 19(8))")
    for line in pack["retention_calculation"]:
        pdf.para(line)
    pdf.ln(2)
    pdf.heading("Device signing key (verifies exported footage)")
    pdf.rows([("Algorithm", pack["signing_key"]["algorithm"]), ("Fingerprint", pack["signing_key"]["fingerprint"])])
    pdf.mono(pack["signing_key"]["public_pem"])
    if pack["checks"]:
        pdf.ln(2)
        pdf.heading("Open points before filing")
        for c in pack["checks"]:
            pdf.para("- " + c)
    return bytes(pdf.output())
