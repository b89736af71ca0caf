"""The filing pack (Art. 15): what a site submits to the police within 30 days of commissioning.

One document, three forms (JSON, HTML, PDF): the box's identity, every configured camera (name,
id, Art. 9 site category, location and coverage, signage, resolution, codec, bitrate measured
from the index or else the configured `expected_bitrate`, reference view), the storage capacity
and retention calculation (the retention service's own forecast, `edge.recording.capacity`: days held at
current rates against the 30-day floor, less the footage that holds keep for 2 years), the
software version and the device's public signing key (the one police use to verify exports).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from edge import legal
from edge.config import EdgeConfig
from edge.i18n import Localizer
from edge.i18n.message import N_, Message
from edge.monitor import references as baseline
from edge.monitor.status import version
from edge.recording.capacity import forecast, held_bytes, measured_rates
from storage.clock import iso
from storage.diskspace import volume_of
from storage.holds import Hold
from storage.index import Index
from storage.layout import Layout
from storage.signing import DeviceKey

TEMPLATES = Path(__file__).resolve().parent / "templates"
DAY = 86_400


@dataclass(frozen=True)
class PackInputs:
    cfg: EdgeConfig
    index: Index
    layout: Layout
    now_us: int
    holds: list[Hold]
    key: DeviceKey


def _stored_bytes(index: Index) -> int:
    return int(index.reader().execute(
        "SELECT coalesce(sum(bytes), 0) FROM segments WHERE state='stored'").fetchone()[0])


def _camera(inp: PackInputs, cam_id: str, rates: dict[str, float]) -> dict[str, Any]:
    cam = inp.cfg.camera(cam_id)
    last = inp.index.last_segment(cam.id)
    measured = rates.get(cam.id)
    ref = baseline.reference_info(inp.layout, cam.id)
    return {
        "id": cam.id, "name": cam.name or cam.id, "enabled": cam.enabled, "site_category": cam.site_category,
        "location": cam.location, "signage": cam.signage,
        "resolution": f"{last.width}x{last.height}" if last is not None and last.width else None,
        "codec": last.codec if last is not None else None,
        "bitrate_bps": round(measured * 8) if measured is not None else cam.expected_bitrate,
        "bitrate_source": BITRATE_SOURCES[0] if measured is not None else BITRATE_SOURCES[1],
        "reference": None if ref is None else {"set": iso(ref.set_us), "set_by": ref.set_by,
                                               "automatic": ref.automatic, "width": ref.width, "height": ref.height},
    }


def _rates_source(window_hours: float, measured: int, cameras: int) -> str:
    if not measured:
        return "expected_bitrate of each camera (no footage measured yet)"
    rest = "" if measured == cameras else ", expected_bitrate for the rest"
    return f"measured over the last {window_hours:g} h for {measured} of {cameras} camera(s){rest}"


def _storage(inp: PackInputs, rates: dict[str, float]) -> dict[str, Any]:
    cfg, r = inp.cfg, inp.cfg.retention
    vol = volume_of(inp.layout.root)
    store_bytes = _stored_bytes(inp.index)
    held = held_bytes(inp.index, inp.holds)
    fc = forecast(cfg, vol, store_bytes, rates, held)
    per_day = fc.bytes_per_day
    days = None if math.isinf(fc.forecast_days) else round(fc.forecast_days, 1)
    floor_days = round(fc.floor_available_bytes / per_day, 1) if per_day > 0 else None
    n_measured = sum(fc.measured.values())
    return {
        "root": str(inp.layout.root), "volume_total_bytes": vol.total, "volume_free_bytes": vol.free,
        "quota_bytes": r.max_bytes, "reserve_bytes": cfg.storage.reserve_bytes, "high_watermark": r.high_watermark,
        "store_bytes": store_bytes, "other_bytes": max(0, vol.used - store_bytes),
        "capacity_bytes": fc.capacity_bytes, "bytes_per_day": round(per_day),
        "rates_source": _rates_source(r.rate_window_hours, n_measured, len(fc.rates)),
        "rates_measured": n_measured, "rates_cameras": len(fc.rates), "rate_window_hours": r.rate_window_hours,
        "forecast_days": days, "min_days": r.min_days, "wanted_days": fc.wanted_days, "forecast_ok": fc.ok,
        "hold_days": r.hold_days, "holds_in_force": len(inp.holds), "held_bytes": held,
        "floor_needed_bytes": fc.floor_needed_bytes, "floor_available_bytes": fc.floor_available_bytes,
        "floor_days_after_holds": floor_days, "floor_ok": fc.floor_ok, "on_full": r.on_full,
    }


def _gb(n: float) -> str:
    return f"{n / 1e9:,.2f} GB"


def _rates_message(s: dict[str, Any]) -> Message:
    measured, cameras = s["rates_measured"], s["rates_cameras"]
    if not measured:
        return Message("rates_expected", N_("expected_bitrate of each camera (no footage measured yet)"))
    params = {"hours": f"{s['rate_window_hours']:g}", "n": measured, "total": cameras}
    if measured == cameras:
        return Message("rates_measured", N_("measured over the last %(hours)s h for %(n)s of %(total)s camera(s)"),
                       params)
    return Message("rates_partly", N_("measured over the last %(hours)s h for %(n)s of %(total)s camera(s), "
                                      "expected_bitrate for the rest"), params)


def calculation_messages(storage: dict[str, Any]) -> list[Message]:
    """The retention calculation in sentences, as the police read it (translated where shown)."""
    s = storage
    days = (Message("unlimited", N_("unlimited (no camera enabled)")) if s["forecast_days"] is None
            else Message("days", N_("%(days)s days"), {"days": f"{s['forecast_days']:g}"}))
    meets = s["forecast_days"] is None or s["forecast_days"] >= s["min_days"]
    quota = Message("quota", N_(", quota %(quota)s"), {"quota": _gb(s["quota_bytes"])}) if s["quota_bytes"] else ""
    after = (Message("after_holds", N_(", %(days)s days at current rates"),
                     {"days": f"{s['floor_days_after_holds']:g}"}) if s["floor_days_after_holds"] is not None else "")
    return [
        Message("rate", N_("Recording rate: %(rate)s per day for all enabled cameras (%(source)s)."),
                {"rate": _gb(s["bytes_per_day"]), "source": _rates_message(s)}),
        Message("space", N_("Space footage may use: %(capacity)s (volume %(volume)s up to the %(watermark)s "
                            "watermark, less %(other)s of other files on the volume and %(reserve)s reserved for "
                            "the index and logs%(quota)s)."),
                {"capacity": _gb(s["capacity_bytes"]), "volume": _gb(s["volume_total_bytes"]),
                 "watermark": f"{s['high_watermark']:.0%}", "other": _gb(s["other_bytes"]),
                 "reserve": _gb(s["reserve_bytes"]), "quota": quota}),
        Message("forecast", N_("Forecast: %(days)s of footage; the law's floor is %(floor)s days (Art. 19(8)) -> "
                               "%(verdict)s"),
                {"days": days, "floor": f"{s['min_days']:g}",
                 "verdict": Message("meets", N_("MEETS the floor.")) if meets
                 else Message("does_not_meet", N_("DOES NOT meet the floor."))}),
        Message("holds", N_("Holds: %(n)s in force keep %(held)s for %(days)s days (at least 2 years, Art. 19(8)); "
                            "the ring buffer can use %(ring)s%(after)s -> the %(floor)s-day floor is %(state)s"),
                {"n": s["holds_in_force"], "held": _gb(s["held_bytes"]), "days": f"{s['hold_days']:g}",
                 "ring": _gb(s["floor_available_bytes"]), "after": after, "floor": f"{s['min_days']:g}",
                 "state": Message("kept", N_("kept.")) if s["floor_ok"] else Message("at_risk", N_("AT RISK."))}),
        Message("on_full", N_("When the disk is full: %(on_full)s (protect_floor: recording pauses rather than "
                              "delete footage younger than the floor)."), {"on_full": s["on_full"]}),
    ]


def calculation(storage: dict[str, Any]) -> list[str]:
    """The retention calculation in English, as the JSON keeps it."""
    return [str(m) for m in calculation_messages(storage)]


def check_messages(cams: list[dict[str, Any]], storage: dict[str, Any]) -> list[Message]:
    out = []
    for c in cams:
        cam = {"camera": c["id"]}
        if not c["signage"]:
            out.append(Message("signage", N_("Camera %(camera)s: signage not confirmed (Art. 10: a sign must mark the "
                                             "camera and its coverage); set `signage = true` once it is up."), cam))
        if not c["location"]:
            out.append(Message("location", N_("Camera %(camera)s: no location/coverage note (`location` in the "
                                              "configuration)."), cam))
        if c["reference"] is None and c["enabled"]:
            out.append(Message("reference", N_("Camera %(camera)s: no commissioned reference view yet (Art. 20(2)); "
                                               "it is taken at the first healthy sample once the camera records."),
                               cam))
    if storage["forecast_days"] is not None and storage["forecast_days"] < storage["min_days"]:
        out.append(Message("forecast_short", N_("Storage: %(days)s days forecast, under the %(floor)s-day floor "
                                                "(Art. 19(8)): add disk or lower bitrates before filing."),
                           {"days": f"{storage['forecast_days']:g}", "floor": f"{storage['min_days']:g}"}))
    if not storage["floor_ok"] and storage["held_bytes"]:
        out.append(Message("holds_floor", N_("Storage: with the footage the holds keep, the floor cannot be kept "
                                             "(Art. 19(8)).")))
    return out


def _checks(cams: list[dict[str, Any]], storage: dict[str, Any]) -> list[str]:
    return [str(m) for m in check_messages(cams, storage)]


DOCUMENT = N_("Filing pack of a public security video image system (Art. 15: filed with the police within 30 days "
              "of commissioning)")
BITRATE_SOURCES = (N_("measured"), N_("expected_bitrate (no footage yet)"))


def localized(pack: dict[str, Any], loc: Localizer) -> dict[str, Any]:
    """The pack's sentences in `loc`'s language (the JSON keeps them in English)."""
    cats = {c["site_category"] for c in pack["cameras"]} | set(pack["site_categories"])
    return {"document": loc.gettext(DOCUMENT),
            "categories": {c: loc.gettext(legal.SITE_CATEGORY_NAMES[c]) if c in legal.SITE_CATEGORY_NAMES else c
                           for c in cats},
            "calculation": [loc.message(m) for m in calculation_messages(pack["storage"])],
            "checks": [loc.message(m) for m in check_messages(pack["cameras"], pack["storage"])]}


def build_pack(inp: PackInputs) -> dict[str, Any]:
    cfg = inp.cfg
    rates = measured_rates(inp.index, inp.now_us, cfg.retention.rate_window_hours)
    cams = [_camera(inp, c.id, rates) for c in cfg.cameras]
    storage = _storage(inp, rates)
    categories: dict[str, list[str]] = {}
    for c in cams:
        categories.setdefault(c["site_category"], []).append(c["id"])
    return {
        "document": DOCUMENT,
        "generated": iso(inp.now_us),
        "box": {"id": cfg.box.id, "name": cfg.box.name, "site": cfg.box.site, "operator": cfg.box.operator},
        "software": {"name": "edge", "version": version()},
        "signing_key": {"algorithm": "Ed25519", "fingerprint": inp.key.fingerprint, "public_pem": inp.key.public_pem},
        "cameras": cams,
        "site_categories": {k: sorted(v) for k, v in sorted(categories.items())},
        "storage": storage,
        "retention_calculation": calculation(storage),
        "legal": {"min_retention_days": legal.MIN_RETENTION_DAYS, "min_hold_days": legal.MIN_HOLD_DAYS,
                  "min_access_persons": legal.MIN_ACCESS_PERSONS},
        "checks": _checks(cams, storage),
    }


def reference_data_uris(layout: Layout, camera_ids: list[str]) -> dict[str, str]:
    """Reference pictures inlined, so the HTML file stands alone (it is handed over as one file)."""
    out = {}
    for cam_id in camera_ids:
        path = baseline.reference_path(layout, cam_id)
        if path.is_file():
            out[cam_id] = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return out


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(),
                              undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"])


def render_html(pack: dict[str, Any], pictures: dict[str, str], loc: Localizer) -> str:
    """The standalone HTML in `loc`'s language, times in its zone (the JSON keeps UTC ISO times)."""
    return environment().get_template("filing_standalone.html").render(
        pack=pack, texts=localized(pack, loc), pictures=pictures, loc=loc, _=loc.gettext, gettext=loc.gettext,
        ngettext=loc.ngettext)


def write_pack(pack: dict[str, Any], out_dir: Path, layout: Layout, with_pictures: bool = True,
               loc: Localizer | None = None) -> dict[str, Path]:
    """filing.json, filing.html and filing.pdf in `out_dir` (created); returns their paths."""
    from edge.reports.pdf import render_pdf

    loc = loc or Localizer("zh-CN", "Asia/Shanghai")
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [c["id"] for c in pack["cameras"]]
    paths = {"json": out_dir / "filing.json", "html": out_dir / "filing.html", "pdf": out_dir / "filing.pdf"}
    paths["json"].write_text(json.dumps(pack, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["html"].write_text(render_html(pack, reference_data_uris(layout, ids) if with_pictures else {}, loc),
                             encoding="utf-8")
    pics = {i: baseline.reference_path(layout, i) for i in ids} if with_pictures else {}
    paths["pdf"].write_bytes(render_pdf(pack, {k: v for k, v in pics.items() if v.is_file()}, loc,
                                        localized(pack, loc)))
    return paths
