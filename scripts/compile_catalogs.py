"""Write edge/i18n/locale/zh_CN/LC_MESSAGES/edge.po from edge/i18n/zh_CN.py and compile it to .mo.

Run after changing a text: `python scripts/compile_catalogs.py`. Both files are committed so the
wheel carries the compiled catalog without a build step (scripts/wheel_check.sh checks it).

`--check` extracts every marked text from the sources (Babel, with babel.cfg: `_()`, `N_()`,
`{% trans %}` ...) and exits 1 naming those the Chinese table lacks; tests/test_i18n.py runs the
same extraction.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.i18n.zh_CN import ZH_CN  # noqa: E402

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extract(root: Path = ROOT) -> dict[str, list[str]]:
    """Every text the sources mark for translation → where (file:line) it is."""
    with (root / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(root), method_map, options_map, keywords=KEYWORDS, comment_tags=()):
        texts = message if isinstance(message, tuple) else (message,)
        for text in texts:
            if text:
                found.setdefault(text, []).append(f"{filename}:{lineno}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="list marked texts without a Chinese translation")
    args = parser.parse_args()
    if args.check:
        missing = {t: w for t, w in extract().items() if t not in ZH_CN}
        for text, where in sorted(missing.items()):
            print(f"{where[0]}: {text!r}")
        return 1 if missing else 0
    catalog = Catalog(locale="zh_CN", domain="edge", project="edge", charset="utf-8")
    for source, text in ZH_CN.items():
        catalog.add(source, text)
    out = ROOT / "edge" / "i18n" / "locale" / "zh_CN" / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "edge.po").open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True)
    with (out / "edge.mo").open("wb") as f:
        write_mo(f, catalog)
    return 0


if __name__ == "__main__":
    sys.exit(main())
