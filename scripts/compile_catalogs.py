"""Write edge/i18n/locale/zh_CN/LC_MESSAGES/edge.po from edge/i18n/zh_CN.py and compile it to .mo.

Run after changing a text: `python scripts/compile_catalogs.py`. Both files are committed so the
wheel carries the compiled catalog without a build step (scripts/wheel_check.sh checks it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.i18n.zh_CN import ZH_CN  # noqa: E402


def main() -> None:
    catalog = Catalog(locale="zh_CN", domain="edge", project="edge", charset="utf-8")
    for source, text in ZH_CN.items():
        catalog.add(source, text)
    out = ROOT / "edge" / "i18n" / "locale" / "zh_CN" / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "edge.po").open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True)
    with (out / "edge.mo").open("wb") as f:
        write_mo(f, catalog)


if __name__ == "__main__":
    main()
