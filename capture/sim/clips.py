"""Synthetic H.264 clips for the test-camera simulator.

Clips are raw Annex-B files (what ``multifilesrc ! h264parse`` expects): single
slice per frame, SPS/PPS repeated before every IDR, fixed GOP and no B-frames,
so the RTSP stream the simulator serves has simple, predictable timing.
Every picture is generated deterministically from a seed so image-health tests
can compare clips of different kinds (normal vs moved, normal vs blurred).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]

KINDS = (
    "normal",
    "black",
    "overexposed",
    "blurred",
    "frozen",
    "covered",
    "moved",
    "resolution_change",
)

# Bump when the picture generator changes, so cached clips are regenerated.
_GENERATOR_VERSION = 1


def default_clip_dir() -> Path:
    env = os.environ.get("EDGE_CLIP_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "edge" / "clips"


def clip_name(kind: str, width: int, height: int, fps: int, gop: int, seconds: float,
              bitrate: int | None, seed: int) -> str:
    rate = f"b{bitrate}" if bitrate else "crf"
    return f"{kind}_{width}x{height}_{fps}fps_g{gop}_{seconds:g}s_{rate}_s{seed}.h264"


def make_clip(
    path: Path,
    kind: str = "normal",
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    gop: int = 25,
    seconds: float = 8.0,
    bitrate: int | None = None,
    *,
    seed: int = 0,
) -> Path:
    """Encode (or reuse) a clip and return its path.

    ``path`` is either a directory (the file name is derived from the
    parameters) or a ``.h264`` file path; in the latter case a ``.json`` sidecar
    records the parameters so a stale file with other parameters is rebuilt.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown clip kind {kind!r}; expected one of {', '.join(KINDS)}")
    if width % 2 or height % 2:
        raise ValueError("width and height must be even (yuv420p)")
    params = {
        "kind": kind, "width": width, "height": height, "fps": fps, "gop": gop,
        "seconds": seconds, "bitrate": bitrate, "seed": seed, "version": _GENERATOR_VERSION,
    }
    path = Path(path)
    if path.suffix != ".h264":
        path = path / clip_name(kind, width, height, fps, gop, seconds, bitrate, seed)
    sidecar = path.with_name(path.name + ".json")
    if path.exists() and path.stat().st_size > 0 and sidecar.exists():
        try:
            if json.loads(sidecar.read_text()) == params:
                return path
        except (OSError, ValueError):
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a private temp name and rename: parallel test workers may build
    # the same clip at once, and a reader must never see a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        n_frames = max(1, round(seconds * fps))
        if kind == "resolution_change":
            w2, h2 = (480, 270) if (width, height) != (480, 270) else (320, 180)
            half = n_frames // 2
            with tmp.open("wb") as out:
                for w, h, n in ((width, height, half), (w2, h2, n_frames - half)):
                    part = tmp.with_name(tmp.name + f".{w}x{h}")
                    _encode(part, _frames("normal", w, h, fps, n, seed), w, h, fps, gop, bitrate)
                    out.write(part.read_bytes())
                    part.unlink()
        else:
            frames = _frames(kind, width, height, fps, n_frames, seed)
            _encode(tmp, frames, width, height, fps, gop, bitrate, constant_qp=kind == "frozen")
        os.replace(tmp, path)
        sidecar.write_text(json.dumps(params))
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _encode(path: Path, frames: Iterator[Image], width: int, height: int, fps: int, gop: int,
            bitrate: int | None, constant_qp: bool = False) -> None:
    x264 = ":".join([
        f"keyint={gop}", f"min-keyint={gop}", "scenecut=0", "bframes=0",
        # Single slice: multi-slice keyframes confuse timestamps downstream (see test-cameras.md).
        "slices=1", "sliced-threads=0",
        # SPS/PPS before every IDR so a client joining the loop at any GOP can decode.
        "repeat-headers=1", "annexb=1",
    ])
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        options: dict[str, object] = {"preset": "veryfast", "x264-params": x264, "g": str(gop), "bf": "0"}
        if bitrate:
            stream.bit_rate = bitrate
            # VBV caps keep per-GOP sizes close to the target, like a real camera's CBR.
            options["maxrate"] = str(bitrate)
            options["bufsize"] = str(bitrate)
        elif constant_qp:
            # Rate control would re-spend bits on a static picture; constant QP makes every
            # decoded frame of a frozen clip identical, like a camera that re-sends one frame.
            options["qp"] = "23"
        else:
            options["crf"] = "23"
        stream.options = options
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


# --- picture generation ----------------------------------------------------------------------


def _scene_canvas(width: int, height: int, seed: int) -> Image:
    """A static textured scene twice the view size, so views can be re-aimed inside it."""
    rng = np.random.default_rng(seed)
    cw, ch = 2 * width, 2 * height
    # Smooth background gradient: low-texture regions like a real wall or sky.
    ys, xs = np.mgrid[0:ch, 0:cw].astype(np.float32)
    base = rng.integers(40, 120, size=3)
    canvas = np.empty((ch, cw, 3), np.float32)
    for c in range(3):
        canvas[..., c] = base[c] + 60 * (xs / cw) * (c + 1) / 3 + 40 * (ys / ch) * (3 - c) / 3
    img = np.clip(canvas, 0, 255).astype(np.uint8)
    scale = width / 640
    # Many small, high-contrast shapes give ORB/SIFT plenty of distinct corners.
    n_shapes = int(220 * (cw * ch) / (1280 * 720)) + 40
    for _ in range(n_shapes):
        color = tuple(int(v) for v in rng.integers(0, 256, size=3))
        x, y = int(rng.integers(0, cw)), int(rng.integers(0, ch))
        size = int(rng.integers(int(6 * scale) + 2, int(45 * scale) + 4))
        shape = int(rng.integers(0, 4))
        if shape == 0:
            cv2.rectangle(img, (x, y), (x + size, y + int(size * rng.uniform(0.4, 1.6))), color, -1)
        elif shape == 1:
            cv2.circle(img, (x, y), size // 2, color, -1, cv2.LINE_AA)
        elif shape == 2:
            pts = rng.integers(-size, size, size=(3, 2)) + np.array([x, y])
            cv2.fillPoly(img, [pts.astype(np.int32)], color, cv2.LINE_AA)
        else:
            x2, y2 = x + int(rng.integers(-size, size)) * 2, y + int(rng.integers(-size, size)) * 2
            cv2.line(img, (x, y), (x2, y2), color, max(1, int(3 * scale)), cv2.LINE_AA)
    for i in range(int(30 * (cw * ch) / (1280 * 720)) + 6):
        x, y = int(rng.integers(0, cw - 40)), int(rng.integers(20, ch))
        color = tuple(int(v) for v in rng.integers(0, 256, size=3))
        cv2.putText(img, f"CAM{seed}-{i:03d}", (x, y), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * scale + 0.2, color, max(1, int(2 * scale)), cv2.LINE_AA)
    return img


def _view(canvas: Image, width: int, height: int, moved: bool) -> Image:
    """Cut the camera's view out of the canvas; ``moved`` re-aims it (pan 25 % + 10 deg roll)."""
    cx, cy = float(width), float(height)  # centre of the canvas = centre of the normal view
    angle = 0.0
    if moved:
        cx += 0.25 * width
        angle = 10.0
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    # Shift so the chosen canvas point lands in the middle of the output image.
    m[0, 2] += width / 2 - cx
    m[1, 2] += height / 2 - cy
    out = cv2.warpAffine(canvas, m, (width, height), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    return np.asarray(out, dtype=np.uint8)


def _draw_moving(img: Image, i: int, fps: int) -> None:
    """A box crossing the picture every 4 s plus a frame counter: keyframes always differ."""
    h, w = img.shape[:2]
    bw, bh = max(8, w // 8), max(8, h // 6)
    period = 4 * fps
    t = (i % period) / period
    x = int(t * (w + bw)) - bw
    y = int(h * 0.55 + math.sin(2 * math.pi * t) * h * 0.2)
    cv2.rectangle(img, (x, y), (x + bw, y + bh), (20, 220, 250), -1)
    cv2.rectangle(img, (x + bw // 4, y + bh // 4), (x + 3 * bw // 4, y + 3 * bh // 4), (200, 30, 30), -1)
    scale = w / 640
    cv2.putText(img, f"frame {i:06d}", (int(10 * scale), int(30 * scale) + 8), cv2.FONT_HERSHEY_SIMPLEX,
                0.8 * scale + 0.2, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)


def _noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> NDArray[np.float32]:
    return rng.normal(0.0, sigma, size=shape).astype(np.float32)


def _frames(kind: str, width: int, height: int, fps: int, n: int, seed: int) -> Iterator[Image]:
    rng = np.random.default_rng(seed + 1000)
    shape = (height, width, 3)
    if kind in ("normal", "blurred", "frozen", "moved"):
        view = _view(_scene_canvas(width, height, seed), width, height, moved=kind == "moved")
        if kind == "frozen":
            first = view.copy()
            _draw_moving(first, 0, fps)
            for _ in range(n):
                yield first
            return
        for i in range(n):
            img = view.copy()
            _draw_moving(img, i, fps)
            if kind == "blurred":
                img = np.asarray(cv2.GaussianBlur(img, (0, 0), 8.0), dtype=np.uint8)
            yield img
    elif kind == "black":
        for _ in range(n):
            yield np.clip(4.0 + _noise(rng, shape, 2.5), 0, 255).astype(np.uint8)
    elif kind == "overexposed":
        # Blown-out highlights keep a faint trace of the scene, like a real overexposed sensor.
        ghost = _view(_scene_canvas(width, height, seed), width, height, moved=False).astype(np.float32)
        for _ in range(n):
            yield np.clip(235.0 + ghost * 0.08 + _noise(rng, shape, 2.0), 0, 255).astype(np.uint8)
    elif kind == "covered":
        # A hand or cloth over the lens: brownish grey, slight shading, almost no texture.
        ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None, None]
        base = np.array([70, 95, 115], np.float32)[None, None, :] + 6.0 * ys
        for _ in range(n):
            yield np.clip(base + _noise(rng, shape, 1.5), 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"kind {kind!r} has no frame generator")
