"""Image health: pure functions on small grey pictures (numpy arrays), no I/O and no state.

The health service decodes one sampled keyframe per camera, downsizes it to `ANALYSIS_WIDTH`
(320x180 for 16:9) grey, and asks these functions what is wrong with it. Each check answers one
question so that a camera showing one fault raises exactly one alarm:

- picture-level faults (`dark`, `overexposed`, `covered`) make the picture useless, so the
  content checks (`blurred`, `frozen`, `moved`) are not asked on such a picture at all;
- `blurred` compares detail (Laplacian variance over picture variance, so lighting cancels out)
  with the commissioned reference, since lenses and scenes differ too much for one absolute
  number; a low absolute floor covers a camera without a reference yet. A blurred picture cannot
  be matched against the reference, so `moved` is not asked on it;
- `frozen` needs consecutive samples whose pictures are identical while time advanced;
- `moved` matches ORB features against the reference and fits a similarity transform (RANSAC):
  gradients survive day/night lighting changes where plain pixel differences do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Grey = NDArray[np.uint8]

ANALYSIS_WIDTH = 320


@dataclass(frozen=True)
class Thresholds:
    """Per-camera limits (defaults in `edge.config.HealthThresholds`, documented there)."""

    dark_mean: float = 30.0
    overexposed_mean: float = 225.0
    covered_std: float = 6.0
    blur_ratio: float = 0.35
    blur_min_detail: float = 0.03
    frozen_diff: float = 0.1
    moved_min_matches: int = 20
    moved_min_coverage: float = 0.35
    moved_shift: float = 0.06
    moved_rotation_deg: float = 3.0


@dataclass(frozen=True)
class Metrics:
    brightness: float      # mean grey level 0..255
    contrast: float        # standard deviation of the grey levels
    sharpness: float       # variance of the Laplacian
    width: int
    height: int

    @property
    def detail(self) -> float:
        """Sharpness relative to contrast: a darker picture of the same scene has a smaller
        Laplacian variance but the same detail, so night is not mistaken for blur."""
        return self.sharpness / max(self.contrast * self.contrast, 1.0)

    def as_dict(self) -> dict[str, float]:
        return {"brightness": round(self.brightness, 2), "contrast": round(self.contrast, 2),
                "sharpness": round(self.sharpness, 2), "detail": round(self.detail, 4)}


@dataclass(frozen=True)
class Alignment:
    """How the current view maps onto the reference view."""

    matches: int           # RANSAC inliers
    shift: float           # translation as a fraction of the picture width
    rotation_deg: float
    scale: float
    coverage: float        # share of the reference's feature areas (4x4 grid) where matches were found

    def as_dict(self) -> dict[str, float]:
        return {"matches": self.matches, "shift": round(self.shift, 4), "rotation_deg": round(self.rotation_deg, 2),
                "scale": round(self.scale, 4), "coverage": round(self.coverage, 3)}


def analysis_size(width: int, height: int, target: int = ANALYSIS_WIDTH) -> tuple[int, int]:
    """Target size keeping the aspect ratio (even numbers, at most the source size)."""
    if width <= 0 or height <= 0:
        raise ValueError("picture has no size")
    w = min(target, width)
    h = max(2, round(height * w / width / 2) * 2)
    return w, h


def to_grey(image: NDArray[np.uint8], target: int = ANALYSIS_WIDTH) -> Grey:
    """A BGR or grey picture as analysis-size grey."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    w, h = analysis_size(grey.shape[1], grey.shape[0], target)
    if (grey.shape[1], grey.shape[0]) != (w, h):
        grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey, dtype=np.uint8)


def measure(grey: Grey) -> Metrics:
    mean, std = cv2.meanStdDev(grey)
    lap = cv2.Laplacian(grey, cv2.CV_64F)
    return Metrics(float(mean[0][0]), float(std[0][0]), float(lap.var()), grey.shape[1], grey.shape[0])


def picture_faults(m: Metrics, t: Thresholds) -> set[str]:
    """`dark`, `overexposed` or `covered`: at most one, the most specific."""
    if m.brightness < t.dark_mean:
        return {"dark"}
    if m.brightness > t.overexposed_mean:
        return {"overexposed"}
    # A hand or cloth over the lens: nearly one grey level at a normal exposure. (Detail cannot
    # tell it from a dim scene: on a flat picture the sensor noise is all the detail there is.)
    if m.contrast < t.covered_std:
        return {"covered"}
    return set()


def is_blurred(m: Metrics, reference_detail: float | None, t: Thresholds) -> bool:
    """Detail under a fraction of the reference's (or under the absolute floor without one)."""
    if m.detail < t.blur_min_detail:
        return True
    if reference_detail is None or reference_detail <= 0:
        return False
    return m.detail < t.blur_ratio * reference_detail


def difference(a: Grey, b: Grey) -> float:
    """Mean absolute grey difference between two pictures (inf when their sizes differ)."""
    if a.shape != b.shape:
        return math.inf
    return float(cv2.absdiff(a, b).mean())


def is_frozen(current: Grey, previous: Grey | None, t: Thresholds) -> bool:
    """The picture did not change since the previous sample (the caller checks time advanced)."""
    return previous is not None and difference(current, previous) <= t.frozen_diff


def _normalise(grey: Grey) -> Grey:
    # Local contrast equalisation: the same scene by day and by night yields similar gradients.
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    return np.asarray(clahe.apply(grey), dtype=np.uint8)


def features(grey: Grey) -> tuple[list[cv2.KeyPoint], NDArray[np.uint8] | None]:
    # Created per call: OpenCV's detectors are not documented thread-safe, and creating one costs
    # microseconds next to the detection itself.
    orb = cv2.ORB_create(nfeatures=600, fastThreshold=10, edgeThreshold=15, patchSize=15)  # type: ignore[attr-defined]
    kps, desc = orb.detectAndCompute(_normalise(grey), None)
    return list(kps), desc


GRID = 4


def _fit(src: NDArray[np.float32], dst: NDArray[np.float32]) -> tuple[NDArray[np.float64], NDArray[np.bool_]] | None:
    if len(src) < 4:
        return None
    matrix, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
    if matrix is None or inliers is None:
        return None
    return np.asarray(matrix, dtype=np.float64), np.asarray(inliers).ravel() > 0


def _cells(points: NDArray[np.float32], w: int, h: int) -> set[tuple[int, int]]:
    """Which cells of a GRID x GRID division of the picture hold at least one point."""
    pts = points.reshape(-1, 2)
    return {(min(GRID - 1, int(x * GRID / w)), min(GRID - 1, int(y * GRID / h))) for x, y in pts}


def _alignment(matrix: NDArray[np.float64], matches: int, coverage: float, w: int, h: int) -> Alignment:
    a, b = float(matrix[0, 0]), float(matrix[1, 0])
    # Where the reference's centre went, rather than the raw translation (which a rotation about
    # the corner would inflate).
    cx, cy = w / 2, h / 2
    nx = float(matrix[0, 0] * cx + matrix[0, 1] * cy + matrix[0, 2])
    ny = float(matrix[1, 0] * cx + matrix[1, 1] * cy + matrix[1, 2])
    return Alignment(matches, math.hypot(nx - cx, ny - cy) / w, math.degrees(math.atan2(b, a)),
                     math.hypot(a, b), coverage)


def _near_identity(al: Alignment) -> bool:
    return al.shift < 0.01 and abs(al.rotation_deg) < 0.5 and abs(al.scale - 1.0) < 0.01


def align(reference: Grey | tuple[int, ...], current: Grey,
          ref_features: tuple[list[cv2.KeyPoint], NDArray[np.uint8] | None] | None = None) -> Alignment | None:
    """The similarity transform from the reference to the current view, or None when the views
    share too little to be matched at all (which for a textured picture means it was re-aimed).

    A camera's on-screen overlay (clock, name) stays put when the camera is re-aimed, and may win
    the first RANSAC fit with an identity transform; so when the first fit is the identity, the
    matches it left out are fitted again, and a second, consistent motion of the scene wins."""
    if isinstance(reference, tuple):  # the reference's shape, with its features given
        if ref_features is None:
            raise ValueError("a reference given by its shape needs its features")
        shape = reference
    else:
        shape = reference.shape
        ref_features = ref_features if ref_features is not None else features(reference)
    ref_kps, ref_desc = ref_features
    cur_kps, cur_desc = features(current)
    if ref_desc is None or cur_desc is None or len(ref_kps) < 4 or len(cur_kps) < 4:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref_desc, cur_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    src = np.array([ref_kps[m.queryIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    dst = np.array([cur_kps[m.trainIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    first = _fit(src, dst)
    if first is None:
        return None
    h, w = shape[:2]
    # Coverage: the share of the picture areas that hold reference features where matched ones
    # are found. An overlay covers one or two areas; the scene, even at dusk, most of them.
    ref_cells = max(1, len(_cells(np.array([k.pt for k in ref_kps], dtype=np.float32), w, h)))
    matrix, inliers = first
    n1 = int(inliers.sum())
    al = _alignment(matrix, n1, len(_cells(src[inliers], w, h)) / ref_cells, w, h)
    if _near_identity(al):
        rest = ~inliers
        second = _fit(src[rest], dst[rest])
        if second is not None:
            n2 = int(second[1].sum())
            al2 = _alignment(second[0], n2, len(_cells(src[rest][second[1]], w, h)) / ref_cells, w, h)
            if n2 >= max(8, n1 // 2) and not _near_identity(al2):
                return al2
    return al


def is_moved(alignment: Alignment | None, t: Thresholds) -> bool:
    if alignment is None or alignment.matches < t.moved_min_matches or alignment.coverage < t.moved_min_coverage:
        return True
    return (alignment.shift > t.moved_shift or abs(alignment.rotation_deg) > t.moved_rotation_deg
            or abs(alignment.scale - 1.0) > 2 * t.moved_shift)


#: Image alarm codes, in the order a fault is reported.
IMAGE_CODES = ("dark", "overexposed", "covered", "blurred", "frozen", "moved")
PICTURE_CODES = frozenset({"dark", "overexposed", "covered"})


class Reference:
    """The commissioned view of a camera: its analysis-size grey picture and what is derived
    from it once (detail, ORB features) instead of at every sample."""

    def __init__(self, grey: Grey) -> None:
        # Only what the checks use is kept, not the picture itself (230 KB per camera at the
        # analysis size; it stays on disk as reference.png).
        self.shape = grey.shape
        self.metrics = measure(grey)
        self.features = features(grey)


@dataclass(frozen=True)
class Verdict:
    faults: frozenset[str]       # codes found bad in this sample
    checked: frozenset[str]      # codes this sample could judge (the others keep their state)
    metrics: Metrics
    alignment: Alignment | None
    difference: float | None

    def details(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.metrics.as_dict())
        if self.alignment is not None:
            out["alignment"] = self.alignment.as_dict()
        if self.difference is not None:
            out["difference"] = round(self.difference, 3)
        return out


def evaluate(grey: Grey, t: Thresholds, reference: Reference | None, previous: Grey | None) -> Verdict:
    """Every check on one sample. `previous` is the camera's previous sample (for `frozen`), taken
    at an earlier time; `reference` may be None (no commissioned view: `moved` is not judged)."""
    m = measure(grey)
    checked = set(PICTURE_CODES)
    faults = picture_faults(m, t)
    alignment: Alignment | None = None
    diff: float | None = None
    if faults:
        return Verdict(frozenset(faults), frozenset(checked), m, None, None)
    checked.add("blurred")
    ref_detail = reference.metrics.detail if reference is not None else None
    blurred = is_blurred(m, ref_detail, t)
    if blurred:
        faults.add("blurred")
    if previous is not None:
        checked.add("frozen")
        diff = difference(grey, previous)
        if diff <= t.frozen_diff:
            faults.add("frozen")
    if reference is not None and not blurred:
        checked.add("moved")
        if reference.shape != grey.shape:
            faults.add("moved")  # a different resolution or aspect: re-commission the camera
        else:
            alignment = align(reference.shape, grey, reference.features)
            if is_moved(alignment, t):
                faults.add("moved")
    return Verdict(frozenset(faults), frozenset(checked), m, alignment, diff)
