"""Reference images and snapshots on disk: `<root>/health/<camera>/`.

- `reference.png` + `reference.json`: the commissioned view (Art. 20(2): position, angle and scope
  must not change), written crash-safe (temp file, fsync, rename, fsync dir) since losing it
  silently would re-commission the camera on whatever it shows next.
- `latest.jpg`: the newest sampled picture, for the maintenance page (footage roles only). It is
  replaced atomically at every sample but not fsynced: after a power cut an older one is fine.

The store root is 0750 and these files 0640: they are pictures of the scene.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from storage.fsutil import make_dirs_durable, write_file_atomic
from storage.layout import Layout

#: Snapshots and references are stored at most this wide (enough to recognise the view).
PICTURE_WIDTH = 640


@dataclass(frozen=True)
class ReferenceInfo:
    camera: str
    set_us: int
    set_by: str
    automatic: bool
    width: int
    height: int
    path: Path
    meta: dict[str, Any]


def camera_dir(layout: Layout, camera: str) -> Path:
    return layout.health_dir / camera


def reference_path(layout: Layout, camera: str) -> Path:
    return camera_dir(layout, camera) / "reference.png"


def reference_meta_path(layout: Layout, camera: str) -> Path:
    return camera_dir(layout, camera) / "reference.json"


def latest_path(layout: Layout, camera: str) -> Path:
    return camera_dir(layout, camera) / "latest.jpg"


def _ensure_dir(layout: Layout, camera: str) -> Path:
    d = camera_dir(layout, camera)
    if not d.is_dir():
        make_dirs_durable(d, layout.root)
        os.chmod(layout.health_dir, 0o750)
        os.chmod(d, 0o750)
    return d


def save_reference(layout: Layout, camera: str, picture: NDArray[np.uint8], set_us: int, set_by: str,
                   automatic: bool, extra: dict[str, Any] | None = None) -> ReferenceInfo:
    """Store a BGR picture as the camera's reference. The PNG is written before its metadata, so
    a reader that sees new metadata always finds the matching picture."""
    _ensure_dir(layout, camera)
    ok, png = cv2.imencode(".png", picture)
    if not ok:
        raise ValueError("the reference picture could not be encoded")
    meta: dict[str, Any] = {"camera": camera, "set_us": set_us, "set_by": set_by, "automatic": automatic,
                            "width": int(picture.shape[1]), "height": int(picture.shape[0]), **(extra or {})}
    write_file_atomic(reference_path(layout, camera), png.tobytes())
    write_file_atomic(reference_meta_path(layout, camera),
                      json.dumps(meta, sort_keys=True, indent=1).encode("utf-8"))
    return ReferenceInfo(camera, set_us, set_by, automatic, meta["width"], meta["height"],
                         reference_path(layout, camera), meta)


def reference_info(layout: Layout, camera: str) -> ReferenceInfo | None:
    try:
        meta = json.loads(reference_meta_path(layout, camera).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not reference_path(layout, camera).is_file():
        return None
    return ReferenceInfo(camera, int(meta.get("set_us", 0)), str(meta.get("set_by", "")),
                         bool(meta.get("automatic", False)), int(meta.get("width", 0)),
                         int(meta.get("height", 0)), reference_path(layout, camera), meta)


def load_reference(layout: Layout, camera: str) -> tuple[NDArray[np.uint8], ReferenceInfo] | None:
    info = reference_info(layout, camera)
    if info is None:
        return None
    picture = cv2.imread(str(info.path), cv2.IMREAD_COLOR)
    if picture is None:
        return None
    return np.asarray(picture, dtype=np.uint8), info


def save_latest(layout: Layout, camera: str, picture: NDArray[np.uint8]) -> Path:
    d = _ensure_dir(layout, camera)
    ok, jpg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError("the snapshot could not be encoded")
    path = latest_path(layout, camera)
    tmp = d / "latest.jpg.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "wb") as f:
        f.write(jpg.tobytes())
    os.replace(tmp, path)
    return path
