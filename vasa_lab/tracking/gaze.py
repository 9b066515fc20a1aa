"""Eyes and mouth from landmarks: gaze direction, eye openness, blinks, mouth opening.

Gaze. The iris sits on an eyeball that turns; the eye corners are fixed to the skull. So the iris centre's offset
from the middle of the two corners, measured in eye widths along the eye's own axes, grows with the eye's rotation:

    o_x = (iris - m) . e_x / w,    o_y = (iris - m) . e_y / w,       m = (corner_out + corner_in) / 2,
    e_x = unit vector along the corner line (towards the image right), e_y = e_x turned 90 degrees (image down),
    w = corner distance,

and (to first order) gaze_yaw = g_x o_x + h_x head_yaw + b_x, gaze_pitch = g_y o_y + h_y head_pitch + b_y. The gain
g (degrees per eye width) depends on the eyeball's size relative to the eye opening; the head term h is there
because the corners sit in front of the eyeball's centre, so turning the head shifts the iris against the
corners a little even when the eyes hold still relative to the head. All six numbers are fitted on the synthetic
world, where the truth is known (:func:`vasa_lab.tracking.calibration.fit_gaze_gain`, mediapipe landmarks and iris
at 256 px, 3000 training renders): see :data:`GAZE_COEF`. They are the synthetic eye's numbers; a real eye (iris
radius ~6 mm on an eyeball of radius ~12 mm) has a similar gain, but we cannot measure it here.

Eye openness. The lid gap over the eye width, per eye, averaged over both (the "eye aspect ratio" of
Soukupova and Cech 2016):

    openness = (|p37 - p41| + |p38 - p40|) / (2 |p36 - p39|)       (and 43-47, 44-46 over 42-45 for the other eye)

Blinks. Openness depends on the person and the camera, so a blink is a frame whose openness falls below a fraction
of the clip's *typical* openness (the 75th percentile: robust to the blinks themselves):
``blink = openness < rel_threshold x typical``. For a single photo the typical value is a constant
(:data:`TYPICAL_OPENNESS`, the median over open-eyed synthetic renders).

Mouth opening. The inner-lip gap over the inter-ocular distance (outer eye corners), so it does not change with
the face's size in the image: ``mouth_open = |p62 - p66| / |p36 - p45|``.
"""
from __future__ import annotations

import numpy as np

# rows: gaze yaw, gaze pitch; columns: gain g (degrees per eye width), head-angle leak h, bias b (degrees)
# (fitted by vasa_lab.tracking.calibration.calibrate_mediapipe(): 3000 renders at 256 px, world seed 2024). With the
# renderer's true iris centres the gains are ~150 and ~140; mediapipe's iris is noisier, especially vertically, and
# least squares shrinks a gain when its input is noisy, so the pitch gain comes out smaller.
GAZE_COEF = np.array([[167.3, -0.329, 0.80],
                      [66.1, -0.074, 1.97]])
TYPICAL_OPENNESS = 0.3         # median openness of open eyes (mediapipe landmarks on synthetic renders)
BLINK_THRESHOLD = 0.55         # blink when openness < BLINK_THRESHOLD x the clip's typical openness

_EYES = ((36, 39, (37, 41), (38, 40)), (42, 45, (43, 47), (44, 46)))   # outer/inner corners, lid pairs


def _norm(v: np.ndarray) -> np.ndarray:
    return np.linalg.norm(v, axis=-1)


def eye_openness_per_eye(landmarks: np.ndarray) -> np.ndarray:
    """(..., 68, 2) -> (..., 2): openness of the image-left eye (36-41) and the image-right eye (42-47)."""
    lm = np.asarray(landmarks, np.float64)
    out = []
    for a, b, (u1, l1), (u2, l2) in _EYES:
        gap = 0.5 * (_norm(lm[..., u1, :] - lm[..., l1, :]) + _norm(lm[..., u2, :] - lm[..., l2, :]))
        out.append(gap / np.maximum(_norm(lm[..., b, :] - lm[..., a, :]), 1e-9))
    return np.stack(out, axis=-1)


def eye_openness(landmarks: np.ndarray) -> np.ndarray:
    """(..., 68, 2) -> (...,): lid gap / eye width, averaged over both eyes."""
    return eye_openness_per_eye(landmarks).mean(axis=-1)


def detect_blinks(openness: np.ndarray, rel_threshold: float = BLINK_THRESHOLD,
                  typical: float | None = None) -> np.ndarray:
    """(T,) openness -> (T,) bool: openness < rel_threshold x typical, where typical is the clip's 75th percentile
    (or :data:`TYPICAL_OPENNESS` for fewer than 10 valid frames, e.g. a photo). NaN frames are not blinks."""
    x = np.asarray(openness, np.float64)
    valid = np.isfinite(x)
    if typical is None:
        typical = float(np.percentile(x[valid], 75)) if valid.sum() >= 10 else TYPICAL_OPENNESS
    out = np.zeros(x.shape, bool)
    out[valid] = x[valid] < rel_threshold * typical
    return out


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """(..., 68, 2) -> (...,): inner-lip gap |p62 - p66| over the inter-ocular distance |p36 - p45|."""
    lm = np.asarray(landmarks, np.float64)
    return _norm(lm[..., 62, :] - lm[..., 66, :]) / np.maximum(_norm(lm[..., 45, :] - lm[..., 36, :]), 1e-9)


def iris_offsets(landmarks: np.ndarray, iris: np.ndarray) -> np.ndarray:
    """Iris centre offsets in eye widths along each eye's axes: (..., 68, 2), (..., 2, 2) -> (..., 2 eyes, 2)."""
    lm, ir = np.asarray(landmarks, np.float64), np.asarray(iris, np.float64)
    out = []
    for e, (a, b, _, _) in enumerate(_EYES):
        p_a, p_b = lm[..., a, :], lm[..., b, :]
        axis = p_b - p_a                    # image-left corner -> image-right corner (36 -> 39, 42 -> 45)
        w = np.maximum(_norm(axis), 1e-9)[..., None]
        ex = axis / w
        ey = np.stack([-ex[..., 1], ex[..., 0]], axis=-1)          # e_x turned +90 degrees: image down
        d = ir[..., e, :] - 0.5 * (p_a + p_b)
        out.append(np.stack([(d * ex).sum(-1), (d * ey).sum(-1)], axis=-1) / w)
    return np.stack(out, axis=-2)


def gaze_from_iris(landmarks: np.ndarray, iris: np.ndarray, head_pose: np.ndarray,
                   coef: np.ndarray = GAZE_COEF) -> np.ndarray:
    """Gaze (yaw, pitch) in degrees relative to the head: (..., 68, 2), (..., 2, 2), (..., 6) -> (..., 2).

    gaze = g * mean-over-eyes offset + h * head angle + b, per component (see the module docstring)."""
    off = iris_offsets(landmarks, iris).mean(axis=-2)                   # (..., 2)
    head = np.asarray(head_pose, np.float64)[..., :2]
    coef = np.asarray(coef, np.float64)
    return off * coef[:, 0] + head * coef[:, 1] + coef[:, 2]


def gaze_vector(yaw, pitch) -> np.ndarray:
    """Unit gaze direction for angles in degrees, as the world turns the eyes: R(yaw, pitch, 0) (0, 0, -1); (..., 3)."""
    y, p = np.radians(np.asarray(yaw, np.float64)), np.radians(np.asarray(pitch, np.float64))
    # R = Rx(p) Ry(y); (0, 0, -1) -> (sin y, sin p cos y, -cos p cos y)
    return np.stack([np.sin(y), np.sin(p) * np.cos(y), -np.cos(p) * np.cos(y)], axis=-1)


def angular_error(yaw_a, pitch_a, yaw_b, pitch_b) -> np.ndarray:
    """Angle in degrees between two gaze directions given as (yaw, pitch)."""
    cos = (gaze_vector(yaw_a, pitch_a) * gaze_vector(yaw_b, pitch_b)).sum(-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
