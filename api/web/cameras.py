"""The overview (`/`), the camera page, snapshots/references (footage roles only) and the
maintainer's re-commissioning of a camera's reference view."""

from __future__ import annotations

import time
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.auth import daemon_of
from api.web import timeline
from api.web.deps import (
    BASELINE_ROLES,
    LIVE_ROLES,
    Refused,
    WebUser,
    check_csrf,
    ensure_role,
    flash,
    form_of,
    localizer,
    render,
    web_user,
)
from capture.state import CameraState
from edge.access.live_view import LiveView, keyframe_mp4
from edge.access.users import FOOTAGE_ROLES
from edge.config import CameraConfig
from edge.i18n.message import N_, Message, term
from edge.monitor import references as baseline
from edge.monitor.image_health import commission
from edge.monitor.status import CameraOut, StatusDoc, status_of
from storage.clock import DAY_US

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(web_user)]
Form = Annotated[FormData, Depends(form_of)]
#: A snapshot older than this (in sampling intervals) is not the camera's current view.
FRESH_INTERVALS = 3
MESSAGES = {"baseline": N_("Reference view re-commissioned from the current snapshot and registered (baseline_set).")}


def _camera(request: Request, web: WebUser, cam_id: str) -> CameraConfig:
    try:
        return daemon_of(request).cfg.camera(cam_id)
    except KeyError:
        raise Refused(404, Message("no_camera", N_("There is no camera '%(camera)s' on this box."),
                                   {"camera": cam_id}), web) from None


def _held_days(doc: StatusDoc, now_us: int) -> float | None:
    oldest = [c.oldest for c in doc.cameras if c.oldest]
    if not oldest:
        return None
    from datetime import datetime

    first = min(datetime.fromisoformat(o.replace("Z", "+00:00")).timestamp() for o in oldest)
    return max(0.0, (now_us / 1e6 - first) / 86_400)


def storage_view(doc: StatusDoc, now_us: int) -> dict[str, Any]:
    s = doc.box.storage
    used_pct = round(100.0 * s.volume_used_bytes / s.volume_total_bytes, 1) \
        if s.volume_total_bytes and s.volume_used_bytes is not None else None
    ret = doc.retention or {}
    box = ret.get("box", {}) if isinstance(ret.get("box"), dict) else {}
    return {"held_days": _held_days(doc, now_us), "floor_days": doc.compliance.min_days,
            "forecast_days": doc.compliance.forecast_days if doc.compliance.forecast_days is not None
            else s.forecast_days, "used_pct": used_pct, "store_bytes": s.store_bytes,
            "total": s.volume_total_bytes, "free": s.volume_free_bytes, "holds_active": doc.compliance.holds_active,
            "hold_days": box.get("hold_days")}


def _picture_state(request: Request, web: WebUser, cam_id: str) -> dict[str, Any]:
    layout = daemon_of(request).store.layout
    latest = baseline.latest_path(layout, cam_id)
    ref = baseline.reference_info(layout, cam_id)
    return {"sees": web.sees_footage, "has_snapshot": latest.is_file(), "has_reference": ref is not None,
            "version": int(latest.stat().st_mtime) if latest.is_file() else 0, "reference": ref}


@router.get("/")
def overview(request: Request, web: User) -> Response:
    d = daemon_of(request)
    doc = status_of(d)
    now = d.clock.now_us()
    tiles = [{"cam": c, "pic": _picture_state(request, web, c.id)} for c in doc.cameras]
    return render(request, web, "overview.html", {"doc": doc, "tiles": tiles, "storage": storage_view(doc, now),
                                                  "footage_roles": sorted(r.value for r in FOOTAGE_ROLES)})


def _camera_out(doc: StatusDoc, cam_id: str) -> CameraOut | None:
    return next((c for c in doc.cameras if c.id == cam_id), None)


@router.get("/cameras/{cam_id}")
def camera_page(cam_id: str, request: Request, web: User, msg: str = "", hours: int = 24) -> Response:
    d = daemon_of(request)
    cam = _camera(request, web, cam_id)
    doc = status_of(d)
    out = _camera_out(doc, cam_id)
    now = d.clock.now_us()
    w = d.workers.get(cam_id)
    live_from = None
    if w is not None and w.status.state is CameraState.RECORDING:
        last = d.store.index.last_segment(cam_id)
        live_from = last.end_us if last is not None else now - int(d.cfg.storage.segment_seconds * 1e6)
    hours = hours if hours in timeline.WINDOWS else 24
    tl = timeline.build(d.store.index, d.alarms, cam_id, now, live_from, hours, localizer(request).zone)
    return render(request, web, "camera.html", {
        "cfg": cam, "cam": out, "tl": tl, "windows": timeline.WINDOWS, "gaps": timeline.gap_rows(tl),
        "pic": _picture_state(request, web, cam_id),
        "may_commission": web.role in BASELINE_ROLES, "message": flash(request, MESSAGES, msg),
        "live": web.role in LIVE_ROLES and live_from is not None,
        "footage_roles": sorted(r.value for r in FOOTAGE_ROLES),
        "events": d.alarms.events(since_us=now - DAY_US, camera=cam_id, limit=50)})


def _picture(request: Request, web: WebUser, cam_id: str, kind: str) -> Response:
    d = daemon_of(request)
    _camera(request, web, cam_id)
    ensure_role(request, web, FOOTAGE_ROLES, N_("Seeing camera pictures"))
    layout = d.store.layout
    path = baseline.latest_path(layout, cam_id) if kind == "snapshot" else baseline.reference_path(layout, cam_id)
    try:
        # Read once: the sampler replaces latest.jpg atomically at any moment, so a size taken from
        # one stat and bytes read later (FileResponse) may belong to two different pictures.
        data = path.read_bytes()
    except FileNotFoundError:
        raise Refused(404, Message("no_picture", N_("Camera %(camera)s has no %(kind)s yet."),
                                   {"camera": cam_id, "kind": term(kind)}), web) from None
    # A picture of the scene is footage: every view is registered (Art. 19(4)), once per web
    # session, camera and kind; not once per tile per reload of the overview.
    seen: set[tuple[str, str, str]] = request.app.state.snapshot_viewed
    key = (web.session.id_sha256, cam_id, kind)
    if key not in seen:
        seen.add(key)
        d.register.append(web.actor, "snapshot_view", cameras=[cam_id], subject=cam_id,
                          detail={"kind": kind, "via": "web", "registered": "once per session and camera"})
    media = "image/jpeg" if kind == "snapshot" else "image/png"
    return Response(data, media_type=media)


@router.get("/cameras/{cam_id}/snapshot.jpg")
def snapshot(cam_id: str, request: Request, web: User) -> Response:
    return _picture(request, web, cam_id, "snapshot")


@router.get("/cameras/{cam_id}/reference.png")
def reference(cam_id: str, request: Request, web: User) -> Response:
    return _picture(request, web, cam_id, "reference")


@router.get("/cameras/{cam_id}/live.mp4")
def live(cam_id: str, request: Request, web: User) -> Response:
    """The camera's newest keyframe as a one-frame MP4 (copied, not re-encoded); 404 until one arrives."""
    _camera(request, web, cam_id)
    ensure_role(request, web, LIVE_ROLES, N_("The live view"))
    view: LiveView = request.app.state.live_view
    sample = view.picture(web.session.id_sha256, cam_id, web.actor)
    if sample is None:
        return Response(status_code=404, content=b"no live picture yet", media_type="text/plain")
    return Response(keyframe_mp4(sample), media_type="video/mp4")


@router.post("/cameras/{cam_id}/baseline")
def recommission(cam_id: str, request: Request, web: User, form: Form) -> Response:
    """The current view becomes the reference for the 'moved' check (after a legitimate re-aim)."""
    d = daemon_of(request)
    _camera(request, web, cam_id)
    check_csrf(request, web, form)
    ensure_role(request, web, BASELINE_ROLES, N_("Re-commissioning a camera's reference view"))
    path = baseline.latest_path(d.store.layout, cam_id)
    max_age = max(60.0, FRESH_INTERVALS * d.cfg.health.interval_seconds)
    w = d.workers.get(cam_id)
    if w is None or w.status.state is not CameraState.RECORDING:
        raise Refused(409, Message("not_recording", N_("Camera %(camera)s is not recording: its current view "
                                                       "cannot be commissioned."), {"camera": cam_id}), web)
    if not path.is_file() or time.time() - path.stat().st_mtime > max_age:
        raise Refused(409, Message("no_snapshot", N_("Camera %(camera)s has no current snapshot (none sampled in the "
                                                     "last %(seconds)s s); wait for the next image-health sample and "
                                                     "try again."), {"camera": cam_id, "seconds": f"{max_age:g}"}), web)
    picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if picture is None:
        raise Refused(409, Message("snapshot_unreadable", N_("The snapshot of camera %(camera)s could not be read; "
                                                             "try again."), {"camera": cam_id}), web)
    commission(d.store.layout, d.register, d.clock, cam_id, np.asarray(picture, dtype=np.uint8), automatic=False,
               set_by=web.name, actor=web.actor)
    return RedirectResponse(f"/cameras/{cam_id}?msg=baseline", status_code=303)
