"""Languages and local time: the catalog, the choice of language, and the one local→UTC conversion."""

from __future__ import annotations

import gettext
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.config import BoxConfig
from edge.i18n import LOCALE_DIR, Localizer, choose_language
from edge.i18n.zh_CN import ZH_CN

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = [*(ROOT / "api" / "web" / "templates").glob("*.html"),
             *(ROOT / "edge" / "reports" / "templates").glob("*.html")]


def test_ten_oclock_in_beijing_is_two_oclock_utc() -> None:
    loc = Localizer("zh-CN", "Asia/Shanghai")
    assert loc.parse_local("2026-11-28T10:00:00") == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert loc.parse_local("2026-11-28T10:00") == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    # a value that states its offset keeps it
    assert loc.parse_local("2026-11-28T10:00:00Z") == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert loc.parse_local("") is None
    with pytest.raises(ValueError):
        loc.parse_local("ten o'clock")
    us = int(datetime(2026, 11, 28, 2, 0, tzinfo=UTC).timestamp() * 1e6)
    assert loc.ts(us) == "2026-11-28 10:00:00 UTC+08:00"
    assert loc.input_value(us) == "2026-11-28T10:00:00"
    assert loc.day_bounds("2026-11-28", False) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert loc.day_bounds("2026-11-28", True) == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert Localizer("en", "UTC").ts(us) == "2026-11-28 02:00:00 UTC"


def test_language_follows_the_browser_then_the_box() -> None:
    assert choose_language("zh-CN,zh;q=0.9,en;q=0.8", "en") == "zh-CN"
    assert choose_language("en-US,en;q=0.9", "zh-CN") == "en"
    assert choose_language("en;q=0.5, zh-Hans;q=0.9", "en") == "zh-CN"
    assert choose_language("fr-FR,de;q=0.7", "zh-CN") == "zh-CN"
    assert choose_language(None, "en") == "en"
    assert choose_language("", "zh-CN") == "zh-CN"


def test_box_defaults_and_a_bad_zone_is_refused() -> None:
    box = BoxConfig()
    assert (box.language, box.timezone) == ("zh-CN", "Asia/Shanghai")
    with pytest.raises(ValueError, match="unknown timezone"):
        BoxConfig(timezone="Mars/Olympus")


def test_compiled_catalog_is_current_and_covers_every_template_text() -> None:
    mo = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "edge.mo"
    with mo.open("rb") as f:
        catalog = gettext.GNUTranslations(f)
    stale = [k for k, v in ZH_CN.items() if catalog.gettext(k) != v]
    assert not stale, f"run scripts/compile_catalogs.py: {stale[:3]}"
    texts = set()
    for path in TEMPLATES:
        for m in re.finditer(r'_\("((?:[^"\\]|\\.)*)"\)', path.read_text(encoding="utf-8")):
            texts.add(m.group(1).replace('\\"', '"'))
    missing = sorted(t for t in texts if t not in ZH_CN)
    assert not missing, missing
    assert Localizer("zh-CN", "Asia/Shanghai").gettext("Access register") == "访问登记"
    assert Localizer("en", "Asia/Shanghai").gettext("Access register") == "Access register"


def test_filing_pack_in_chinese_with_beijing_times(tmp_path: Path) -> None:
    from edge.app.box import Box
    from edge.config import EdgeConfig
    from edge.reports.filing import PackInputs, build_pack, write_pack

    cfg = EdgeConfig.model_validate({"storage": {"root": str(tmp_path / "store")},
                                     "cameras": [{"id": "gate-1", "url": "rtsp://127.0.0.1/x",
                                                  "site_category": "street"}]})
    with Box(cfg) as box:
        pack = build_pack(PackInputs(cfg, box.store.index, box.store.layout, box.clock.now_us(),
                                     box.holds.in_force(), box.device_key))
        paths = write_pack(pack, tmp_path / "out", box.store.layout, loc=Localizer("zh-CN", "Asia/Shanghai"))
    html = paths["html"].read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "备案材料" in html and "UTC+08:00" in html
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert pack["generated"].endswith("Z")  # the JSON keeps UTC


def test_every_marked_text_has_a_chinese_translation_and_none_is_empty_or_fuzzy() -> None:
    """What `pybabel extract` finds in the sources (babel.cfg: `_()`, `N_()`, `{% trans %}` in the
    templates and the filing pack) is all in the catalog; the catalog has no empty or fuzzy entry,
    and each translation keeps its source's placeholders."""
    import importlib.util

    from babel.messages.pofile import read_po

    spec = importlib.util.spec_from_file_location("compile_catalogs", ROOT / "scripts" / "compile_catalogs.py")
    assert spec is not None and spec.loader is not None
    compile_catalogs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compile_catalogs)
    found = compile_catalogs.extract(ROOT)
    assert len(found) > 300, "the extraction found the templates and the marked texts"
    assert "Request an export" in found and "unknown camera '%(camera)s'" in found
    missing = {t: w[0] for t, w in found.items() if t not in ZH_CN}
    assert not missing, missing
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "edge.po").open("rb") as f:
        po = read_po(f)
    entries = [m for m in po if m.id]
    assert {m.id for m in entries} >= set(found)
    assert not [m.id for m in entries if not m.string], "empty translations"
    assert not [m.id for m in entries if m.fuzzy], "fuzzy translations"
    slots = re.compile(r"%\(\w+\)s|%%")
    assert not [m.id for m in entries if sorted(slots.findall(str(m.id))) != sorted(slots.findall(str(m.string)))]


def test_a_refusal_is_a_code_with_parameters_translated_where_shown() -> None:
    from edge.access.users import Role, User
    from edge.access.workflow import Person, second_person_refusal, unknown_camera

    why = second_person_refusal(Person("officer-1", "PSB-1"), User(1, "approver-1", Role.APPROVER, "psb-1", False))
    assert why is not None and why.code == "same_credential"
    assert "same work credential" in str(why)  # the register keeps the English
    assert "工作证件" in Localizer("zh-CN", "Asia/Shanghai").message(why)
    cam = unknown_camera("gate-9")
    assert cam.to_json() == {"code": "unknown_camera", "params": {"camera": "gate-9"}}
    assert Localizer("zh-CN", "UTC").message(cam) == "未知的摄像机“gate-9”"
    assert Localizer("en", "UTC").message(cam) == "unknown camera 'gate-9'"
