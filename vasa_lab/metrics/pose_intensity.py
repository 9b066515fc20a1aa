"""dP, how much the head moves, and the head pose every pose-based metric reads off the video.

VASA-1 reports the *pose variation intensity* dP: the mean absolute change of the head's pose angles between
adjacent frames,

    dP = 1 / (3 (T - 1)) sum_t sum_{a in yaw, pitch, roll} | a_t - a_{t-1} |      (degrees per frame)

It is not "higher is better": real video sets the target (0.505 on the paper's VoxCeleb2 test set; about 0.5 in our
synthetic world by construction), a frozen head scores 0 and a jittering one too much.

**Where the pose comes from.** A generated video carries no ground truth, so the pose is measured from the pixels
with chapter 02's tracker (:func:`measure_face`): its landmarks (the landmark network at 64 px, mediapipe from 128
px), then a head pose fitted to the rigid points - eye corners and nose (:data:`vasa_lab.tracking.pose.RIGID`) and
the two ends of the jaw line at the ears (0 and 16). The tracker's own pose also fits the lower jaw line; at 64 px
that leaks the mouth into the pitch (its pitch error correlates at -0.8 with the mouth opening of the synthetic
truth), which would let a talking mouth pass for a nodding head in CAPP and dP. Without those points the
correlation is -0.15 (val split). Then a light zero-phase Gaussian smoothing over time (sigma = 0.4 frames,
chosen on the val split so that dP of the ground-truth clips matches the truth) takes off the fitting jitter.
Chapter 10 reports how close tracker-dP comes to ground-truth dP on the test split.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from torchmetrics import Metric

from ..tracking.pose import RIGID, fit_head_pose

METRIC_POSE_POINTS = tuple(RIGID) + (0, 16)   # rigid points + the jaw line's ends at the ears
POSE_SMOOTH_SIGMA = 0.4                       # frames, zero-phase Gaussian (chosen on the val split)
SMALL_FRAME = 128                             # below this the landmark network tracks, above it mediapipe


def pose_intensity(angles: np.ndarray) -> float:
    """dP of one clip: angles (T, >=3) yaw, pitch, roll in degrees -> mean |a_t - a_(t-1)| over frames and angles."""
    a = np.asarray(angles, np.float64)
    if a.ndim != 2 or a.shape[1] < 3:
        raise ValueError(f"angles must be (T, 3) yaw, pitch, roll (or a (T, 6) pose), got shape {a.shape}")
    if len(a) < 2:
        raise ValueError("dP needs at least 2 frames")
    return float(np.abs(np.diff(a[:, :3], axis=0)).mean())


class PoseIntensity(Metric):
    """dP averaged over clips: ``update(pose (T, 6) or angles (T, 3))`` per clip, ``compute()`` -> dict(dP, n)."""

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.per_clip: list[float] = []

    def update(self, pose) -> None:
        value = pose_intensity(np.asarray(pose))
        self.per_clip.append(value)
        self.total += value
        self.n += 1

    def compute(self) -> dict:
        return dict(dP=float(self.total) / max(int(self.n), 1), n=int(self.n))

    def reset(self) -> None:
        super().reset()
        self.per_clip = []


def _fill(x: np.ndarray) -> np.ndarray:
    """(T, D) with NaN rows -> interpolated from the finite rows (held at the ends)."""
    ok = np.isfinite(x).all(axis=1)
    if ok.all():
        return x
    t = np.arange(len(x))
    return np.stack([np.interp(t, t[ok], x[ok, j]) for j in range(x.shape[1])], axis=1)


def make_tracker(frame_size: int):
    """The tracker the metrics use for frames of this size: no smoothing (the metrics smooth the pose themselves)."""
    from ..tracking import FaceTracker

    return FaceTracker(backend="net" if frame_size < SMALL_FRAME else "auto", smoothing=None)


def pose_from_landmarks(landmarks: np.ndarray, image_size: tuple[int, int], sigma: float = POSE_SMOOTH_SIGMA
                        ) -> np.ndarray:
    """(T, 68, 2) landmarks (NaN where no face) -> (T, 6) pose fitted to METRIC_POSE_POINTS, gaps filled, smoothed."""
    pose = np.full((len(landmarks), 6), np.nan)
    for t, lm in enumerate(landmarks):
        if np.isfinite(lm).all():
            pose[t] = fit_head_pose(lm, image_size, subset=METRIC_POSE_POINTS)
    if not np.isfinite(pose).all(axis=1).any():
        raise ValueError("the head pose could not be fitted in any frame")
    pose = _fill(pose)
    if sigma > 0 and len(pose) > 1:
        pose = gaussian_filter1d(pose, sigma, axis=0, mode="nearest")
    return pose.astype(np.float32)


def measure_face(frames: np.ndarray, tracker=None, name: str = "clip") -> dict:
    """Track a clip for the metrics: -> dict(landmarks (T, 68, 2) gaps filled, pose (T, 6), detected (T,) bool).

    Raises ValueError when no frame has a face (nothing to measure).
    """
    frames = np.asarray(frames)
    tracker = tracker or make_tracker(min(frames.shape[1:3]))
    track = tracker.track(frames)
    if not track.detected.any():
        raise ValueError(f"{name}: no face found in any of its {len(frames)} frames")
    lm = track.landmarks.astype(np.float64)
    lm[~track.detected] = np.nan
    pose = pose_from_landmarks(lm, frames.shape[1:3])
    filled = _fill(lm.reshape(len(lm), -1)).reshape(lm.shape).astype(np.float32)
    return dict(landmarks=filled, pose=pose, detected=track.detected.copy())
