"""The per-frame state of a synthetic face: the contract between motion and rendering.

Everything the renderer draws is decided by two objects:

* an :class:`~vasa_lab.world.person.Identity` (fixed for a clip: face shape, colours, hair, background), and
* a :class:`FaceState` per frame (what moves: head pose, mouth, eyes, brows).

Units and sign conventions (these are the ground truth that later chapters measure against):

* ``yaw``, ``pitch``, ``roll`` are head rotation angles in **degrees**, applied as R = Rz(roll) @ Rx(pitch) @ Ry(yaw)
  in a camera frame with x to the image right, y down the image, z away from the camera.
  Positive yaw turns the face towards the image's right (the nose tip moves right),
  positive pitch tilts the face down (the nose tip moves down),
  positive roll rotates the face clockwise in the image.
* ``tx``, ``ty`` translate the head in the camera frame in units of the head's half-width
  (x right, y down); ``scale`` is head-to-camera proximity: 1.0 is the average distance, 1.2 means the camera is
  1.2 times closer (the face looks about 20% larger).
* Mouth parameters are in [0, 1] except ``lip_width`` in [-1, 1] (negative = narrow/pursed, positive = spread).
* ``blink`` is eyelid closure, 0 open .. 1 closed. ``gaze_yaw``/``gaze_pitch`` are eye rotations in degrees relative
  to the head, with the same signs as the head angles (positive gaze_yaw looks towards the image right).
* ``brow_raise`` in [-1, 1], ``brow_furrow`` in [0, 1], ``smile`` in [-1, 1] (mouth corners up/down),
  ``eye_wide`` in [-1, 1] (negative = squint).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np


@dataclass
class FaceState:
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    scale: float = 1.0
    jaw_open: float = 0.0
    lip_width: float = 0.0
    lip_round: float = 0.0
    lip_press: float = 0.0
    blink: float = 0.0
    gaze_yaw: float = 0.0
    gaze_pitch: float = 0.0
    brow_raise: float = 0.0
    brow_furrow: float = 0.0
    smile: float = 0.0
    eye_wide: float = 0.0

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def to_array(self) -> np.ndarray:
        return np.array([getattr(self, n) for n in self.names()], dtype=np.float32)

    @classmethod
    def from_array(cls, values: np.ndarray) -> "FaceState":
        return cls(**{n: float(v) for n, v in zip(cls.names(), values)})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


STATE_NAMES = FaceState.names()
TRUE_BLINK = 0.5    # a frame of the world is part of a blink when its eyelid closure (the blink state) exceeds this
