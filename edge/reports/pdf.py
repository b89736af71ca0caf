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

from edge.i18n import Localizer

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


def render_pdf(pack: dict[str, Any], pictures: dict[str, Path], loc: Localizer | None = None,
               texts: dict[str, Any] | None = None) -> bytes:
    """The filing pack as PDF in `loc`'s language, times in its zone; `texts` are the pack's
    sentences in that language (`edge.reports.filing.localized`; the JSON's English without them)."""
    loc = loc or Localizer("zh-CN", "Asia/Shanghai")
    _ = loc.gettext
    pdf = _Pdf()
    pdf.set_title(_("Filing pack") + " " + str(pack["box"]["id"]))
    pdf.set_creator(f"edge {pack['software']['version']}")
    pdf.add_page()
    pdf.heading(_("Filing pack: public security video image system"), 16)
    texts = texts or {"document": pack["document"], "calculation": pack["retention_calculation"],
                      "checks": pack["checks"], "categories": {}}
    pdf.para(texts["document"])
    pdf.para(f"{_('Generated')} {loc.iso_ts(pack['generated'])}")
    pdf.ln(2)
    box = pack["box"]
    pdf.heading(_("Box"))
    pdf.rows([(_("Box id"), box["id"]), (_("Name"), box["name"]), (_("Site"), box["site"]),
              (_("Operator"), box["operator"]),
              (_("Software"), f"{pack['software']['name']} {pack['software']['version']}")])
    pdf.ln(2)
    pdf.heading(f"{_('Cameras')} ({len(pack['cameras'])})")
    for cam in pack["cameras"]:
        pdf.set_font(pdf.family, "B", 11)
        pdf.multi_cell(0, 6, pdf.text_of(f"{cam['name']}  ({cam['id']})"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(pdf.family, "", 9)
        ref = cam["reference"]
        pdf.rows([
            (_("Site category (Art. 9)"),
             f"{texts['categories'].get(cam['site_category'], cam['site_category'])} ({cam['site_category']})"),
            (_("Location / coverage"), cam["location"]),
            (_("Signage (Art. 10)"), _("confirmed") if cam["signage"] else _("NOT confirmed")),
            (_("Enabled"), _("yes") if cam["enabled"] else _("no")),
            (_("Resolution"), cam["resolution"] or _("not recorded yet")),
            (_("Codec"), cam["codec"] or _("not recorded yet")),
            (_("Bitrate"), f"{_mbit(cam['bitrate_bps'])} ({_(cam['bitrate_source'])})"),
            (_("Reference view"), f"{_('set')} {loc.iso_ts(ref['set'])} {_('by')} {ref['set_by']}"
             + (f" ({_('automatic')})" if ref["automatic"] else "") if ref else _("not commissioned yet")),
        ])
        pic = pictures.get(cam["id"])
        if pic is not None:
            if pdf.will_page_break(60):
                pdf.add_page()
            pdf.image(str(pic), w=90)
        pdf.ln(3)
    pdf.heading(_("Site categories"))
    pdf.rows([(f"{texts['categories'].get(k, k)} ({k})", ", ".join(v)) for k, v in pack["site_categories"].items()])
    pdf.ln(2)
    pdf.heading(_("Storage and retention (Art. 19(8))"))
    for line in texts["calculation"]:
        pdf.para(line)
    pdf.ln(2)
    pdf.heading(_("Device signing key (verifies exported footage)"))
    pdf.rows([(_("Algorithm"), pack["signing_key"]["algorithm"]),
              (_("Fingerprint"), pack["signing_key"]["fingerprint"])])
    pdf.mono(pack["signing_key"]["public_pem"])
    if texts["checks"]:
        pdf.ln(2)
        pdf.heading(_("Open points before filing"))
        for c in texts["checks"]:
            pdf.para("- " + c)
    return bytes(pdf.output())
