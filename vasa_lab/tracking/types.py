"""What a face tracker returns: the contract between tracking, data preparation and every later chapter.

A :class:`Detection` is one face found in one image, as a backend sees it. A :class:`FaceTrack` is a whole clip,
one row per frame, in the same units and sign conventions as the synthetic world's ground truth
(:mod:`vasa_lab.world.state`): angles in degrees, positive yaw = the face turns towards the image right, positive
pitch = the face tilts down, positive roll = clockwise in the image; ``scale`` 1.0 = average head-to-camera
distance. So a tracked clip and a synthetic clip can be compared number for number.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import POSE_NAMES  # noqa: F401  (the column order of FaceTrack.pose)


@dataclass
class Detection:
    """One face in one image."""

    box: np.ndarray                       # (4,) x0, y0, x1, y1 in pixels
    score: float                          # detector confidence in [0, 1]
    landmarks: np.ndarray | None = None   # (68, 2) pixels, iBUG-68 order; None for a detector-only backend
    iris: np.ndarray | None = None        # (2, 2) pixels: image-left eye's iris centre, then image-right's
    raw: np.ndarray | None = None         # (N, 2 or 3) the backend's own landmarks (e.g. 478 face-mesh points)


@dataclass
class FaceTrack:
    """A tracked clip: T frames, every array's first axis is time. Frames without a face hold NaN."""

    detected: np.ndarray        # (T,) bool
    boxes: np.ndarray           # (T, 4) float32 pixels
    landmarks: np.ndarray       # (T, 68, 2) float32 pixels, iBUG-68 order
    pose: np.ndarray            # (T, 6) float32: yaw, pitch, roll (degrees), tx, ty (head units), scale
    gaze: np.ndarray            # (T, 2) float32: gaze yaw, gaze pitch in degrees, relative to the head
    eye_openness: np.ndarray    # (T,) float32: lid gap / eye width, averaged over both eyes
    blink: np.ndarray           # (T,) bool
    mouth_open: np.ndarray      # (T,) float32: inner-lip gap / inter-ocular distance
    fps: float = 25.0
    image_size: tuple[int, int] = (0, 0)   # (height, width) of the tracked frames
    backend: str = ""
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.detected.shape[0])

    def angle(self, name: str) -> np.ndarray:
        """One pose component over time, e.g. ``track.angle("yaw")``."""
        return self.pose[:, POSE_NAMES.index(name)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (for np.savez / shards)."""
        return dict(detected=self.detected, boxes=self.boxes, landmarks=self.landmarks, pose=self.pose,
                    gaze=self.gaze, eye_openness=self.eye_openness, blink=self.blink, mouth_open=self.mouth_open)
