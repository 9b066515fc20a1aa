"""Does the face visibly talk, blink, look and smile? Expression read from pixels by chapter 02's tracker.

A motion code can carry the mouth while the rendered frames do not show it, so every claim about expression is
measured here on pixels, by a reader that is not the model: :class:`vasa_lab.tracking.FaceTracker` (mediapipe's face
mesh, unsmoothed), on frames resized to :data:`READ_SIZE` (the size its gaze gain was calibrated at). Per frame:

    mouth   = |p62 - p66| / |p36 - p45|                      inner-lip gap over the outer eye corners
    eyes    = eye aspect ratio (lid gap / eye width);  blink = eyes < 0.55 x the clip's 75th percentile
    gaze    = iris against the eye corners (degrees);  main gaze = VASA-1's dwell direction of the clip
    smile   = (mid-lip height - mouth-corner height) / |p36 - p45|    corners up = positive
    brow    = (eye-centre height - brow height) / |p36 - p45|           brows up = larger

:func:`compare` then puts a re-rendered (or generated) clip beside the real frames of the same clip and the
world's truth: the mouth's range (std over the clip) as a share of the real frames', the correlation of each with
the true jaw, blink F1 against the true blinks, and the main-gaze error of each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..world.state import TRUE_BLINK

READ_SIZE = 256                    # frames are read at this size (the tracker's gaze gain was fitted at 256 px)


@dataclass
class PixelReading:
    """What the tracker reads off a clip's frames, one row per frame (NaN where it found no face)."""

    detected: np.ndarray       # (T,) bool
    mouth: np.ndarray          # (T,)
    eyes: np.ndarray           # (T,) eye aspect ratio
    blink: np.ndarray          # (T,) bool
    gaze: np.ndarray           # (T, 2) degrees
    main_gaze: np.ndarray      # (2,) degrees
    smile: np.ndarray          # (T,)
    brow: np.ndarray           # (T,)

    @property
    def detection_rate(self) -> float:
        return float(np.mean(self.detected)) if len(self.detected) else 0.0


def smile_and_brow(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 68, 2) landmarks -> smile (T,), brow (T,), both in units of the outer-eye-corner distance."""
    lm = np.asarray(landmarks, np.float64)
    iod = np.linalg.norm(lm[:, 36] - lm[:, 45], axis=-1)
    corners = 0.5 * (lm[:, 48, 1] + lm[:, 54, 1])
    mid = 0.5 * (lm[:, 51, 1] + lm[:, 57, 1])
    smile = (mid - corners) / iod                                  # y grows downwards: corners above mid -> > 0
    eye_y = lm[:, 36:48, 1].mean(1)
    brow_y = lm[:, 17:27, 1].mean(1)
    return smile, (eye_y - brow_y) / iod


def at_read_size(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 frames resized to READ_SIZE px (cubic when enlarging, area averaging when shrinking)."""
    import cv2

    if frames.shape[1] == READ_SIZE and frames.shape[2] == READ_SIZE:
        return frames
    interp = cv2.INTER_CUBIC if frames.shape[1] < READ_SIZE else cv2.INTER_AREA
    return np.stack([cv2.resize(f, (READ_SIZE, READ_SIZE), interpolation=interp) for f in frames])


def read_pixels(frames: np.ndarray, tracker=None) -> PixelReading:
    """Track (T, H, W, 3) uint8 frames with chapter 02's tracker (no smoothing) at READ_SIZE px."""
    from ..tracking import FaceTracker, main_gaze

    frames = at_read_size(np.asarray(frames))
    tracker = tracker or FaceTracker(backend="mediapipe", smoothing=None)
    track = tracker.track(frames)
    smile, brow = smile_and_brow(track.landmarks)
    return PixelReading(detected=np.asarray(track.detected, bool), mouth=np.asarray(track.mouth_open, np.float64),
                        eyes=np.asarray(track.eye_openness, np.float64), blink=np.asarray(track.blink, bool),
                        gaze=np.asarray(track.gaze, np.float64), main_gaze=main_gaze(track), smile=smile, brow=brow)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the frames where both are finite; 0 when either is constant there."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) < 1e-9 or np.std(b[ok]) < 1e-9:
        return 0.0
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def blink_f1(predicted: np.ndarray, truth: np.ndarray, tolerance: int = 1) -> float:
    """F1 of blink *frames*, a predicted frame counting as right when a true blink lies within ``tolerance``
    frames (and a true one as found when a prediction does). NaN when neither has any blink."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    if not p.any() and not t.any():
        return float("nan")
    def near(x):
        out = x.copy()
        for k in range(1, tolerance + 1):
            out[k:] |= x[:-k]
            out[:-k] |= x[k:]
        return out
    precision = (p & near(t)).sum() / max(p.sum(), 1)
    recall = (t & near(p)).sum() / max(t.sum(), 1)
    return float(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))


def blink_rate(flags: np.ndarray, fps: float = 25.0) -> float:
    """Blinks per second in a per-frame blink flag: the frames where it turns on (a blink already on at the first
    frame counts too), over the clip's length."""
    f = np.asarray(flags, bool)
    return float((f[0] + (f[1:] & ~f[:-1]).sum()) / (len(f) / fps)) if f.size else float("nan")


def _std(x: np.ndarray) -> float:
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    return float(np.std(x)) if x.size > 1 else float("nan")


def _closed(mouth: np.ndarray) -> float:
    """The mouth at its most closed over a clip: the 10th percentile of the tracked opening (NaN if never found)."""
    mouth = np.asarray(mouth, np.float64)
    return float(np.nanpercentile(mouth, 10)) if np.isfinite(mouth).any() else float("nan")


def compare(real: PixelReading, shown: PixelReading, truth: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """One clip: what the tracker reads off ``shown`` frames (re-rendered or generated) against the real frames of
    the same clip, and both against the truth (``jaw_open``, ``blink``, ``gaze_yaw``, ``gaze_pitch`` per frame)."""
    row = dict(detected=shown.detection_rate, mouth_range=_std(shown.mouth) / max(_std(real.mouth), 1e-9),
               mouth_vs_real=correlation(shown.mouth, real.mouth),
               # the mouth at its most closed: a mouth that never shuts has a range and still looks wrong
               mouth_closed_real=_closed(real.mouth), mouth_closed_shown=_closed(shown.mouth))
    if truth is not None:
        jaw = truth["jaw_open"]
        row.update(mouth_vs_jaw_real=correlation(real.mouth, jaw), mouth_vs_jaw_shown=correlation(shown.mouth, jaw))
        true_blink = np.asarray(truth["blink"]) > TRUE_BLINK
        row.update(blink_f1_real=blink_f1(real.blink, true_blink), blink_f1_shown=blink_f1(shown.blink, true_blink))
        # how often the eyes blink, whenever they do: generated blinks cannot know when the real person blinked (the
        # speech does not say), so F1 against the truth says little of them, and the rate says whether they blink
        row.update(blinks_per_second_truth=blink_rate(true_blink), blinks_per_second_real=blink_rate(real.blink),
                   blinks_per_second_shown=blink_rate(shown.blink))
        true_gaze = np.array([np.median(truth["gaze_yaw"]), np.median(truth["gaze_pitch"])])
        row.update(gaze_error_real=float(np.linalg.norm(real.main_gaze - true_gaze)),
                   gaze_error_shown=float(np.linalg.norm(shown.main_gaze - true_gaze)))
    return row


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    """Means over clips (NaN-aware) plus the ratios the targets are stated in."""
    keys = sorted({k for r in rows for k in r})
    out = {k: float(np.nanmean([r.get(k, np.nan) for r in rows])) for k in keys}
    if "mouth_vs_jaw_real" in out:
        out["mouth_jaw_ratio"] = out["mouth_vs_jaw_shown"] / max(out["mouth_vs_jaw_real"], 1e-9)
        out["gaze_error_ratio"] = out["gaze_error_shown"] / max(out["gaze_error_real"], 1e-9)
    return out
