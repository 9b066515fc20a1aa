"""Chapter 03 (face latent space): the head rotation and the inverse rigid transform of the warp."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _rotation_cases():
    from vasa_lab.geometry import rotation_matrix

    rows = [(30, 0, 0), (0, 20, 0), (0, 0, -15), (18, -7, 5), (-40, 25, 10)]
    return [Case(f"yaw={y}, pitch={p}, roll={r}", (y, p, r), rotation_matrix(y, p, r)) for y, p, r in rows]


def _wrong_rotation(yaw, pitch, roll):
    from vasa_lab.geometry import rotation_matrix

    # the same three rotations applied in the other order
    return rotation_matrix(yaw, 0, 0) @ rotation_matrix(0, pitch, 0) @ rotation_matrix(0, 0, roll)


register(Exercise(
    key="03.1", title="the head rotation R = Rz(roll) Rx(pitch) Ry(yaw)", answer="my_rotation",
    reference="vasa_lab.geometry.rotation_matrix", cases=_rotation_cases, wrong=_wrong_rotation,
    hint="angles are in degrees; Ry = [[cos, 0, -sin], [0, 1, 0], [sin, 0, cos]], "
         "Rx = [[1, 0, 0], [0, cos, -sin], [0, sin, cos]], Rz = [[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]]; "
         "the order matters"))


def _inverse_cases():
    import torch

    from vasa_lab.latent import model as lm

    rng = np.random.default_rng(3)
    out = []
    for pose in ([0, 0, 0, 0, 0, 1], [18.0, -7.0, 5.0, 0.1, -0.05, 1.1], [-30.0, 12.0, -8.0, -0.2, 0.15, 0.9]):
        q = rng.uniform(-1, 1, (50, 3))
        expected = lm.rigid_inverse(torch.tensor(q)[None], torch.tensor([pose], dtype=torch.float64))[0].numpy()
        out.append(Case(f"pose {pose}", (q, *pose), expected))
    return out


def _wrong_inverse(q, yaw, pitch, roll, tx, ty, s):
    from vasa_lab.latent.model import PIVOT_Y, TRANSLATION_GAIN
    from vasa_lab.geometry import rotation_matrix

    o = np.array([0.0, PIVOT_Y, 0.0])
    r = rotation_matrix(yaw, pitch, roll)
    return (q / s - o - TRANSLATION_GAIN * np.array([tx, ty, 0.0])) @ r.T + o       # R instead of R^T


register(Exercise(
    key="03.2", title="the inverse rigid transform T⁻¹(q) that the warp samples with", answer="my_rigid_inverse",
    reference="vasa_lab.latent.model.rigid_inverse", cases=_inverse_cases, wrong=_wrong_inverse,
    hint="undo the steps of T(p) = s (R (p - o) + o + k t) in reverse order: divide by s, subtract o + k t, "
         "rotate back by R's inverse (its transpose), add o", atol=1e-9))
