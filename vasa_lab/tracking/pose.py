"""Head pose from 2D landmarks: fit a rigid 3D face to what the camera saw.

The synthetic world makes an image with a pinhole camera (:class:`vasa_lab.geometry.Camera`):

    p_cam = R p + C,    R = Rz(roll) Rx(pitch) Ry(yaw),    C = (tx, ty - face_centre_y, base_distance / scale)
    u = f_px X / Z + c_x,    v = f_px Y / Z + c_y

Head pose estimation runs this backwards. Given 2D landmarks u_k and a 3D model of the same points p_k (the mean
face's landmarks, :func:`vasa_lab.geometry.canonical_landmarks_3d`), find the R and C that minimise the
reprojection error

    E(R, C) = sum_k | project(R p_k + C) - u_k |^2.

This is the Perspective-n-Point problem; ``cv2.solvePnP`` with ``SOLVEPNP_ITERATIVE`` minimises E with
Levenberg-Marquardt from a starting guess. We start it from a good guess (roll from the eye line, distance from the
face's size, position from its centre; or a pose passed as ``init``), then read the angles back out of R in our
convention:

    R[2] = (cos p sin y, sin p, cos p cos y)   ->   pitch = asin R[2,1],  yaw = atan2(R[2,0], R[2,2])
    R[0,1] = -sin r cos p,  R[1,1] = cos r cos p   ->   roll = atan2(-R[0,1], R[1,1])

and the translation in head units: tx = C_x, ty = C_y + face_centre_y, scale = base_distance / C_z.

Which landmarks to fit. Only points that move with the skull tell the pose: the mouth opens, the lids blink and
the brows rise with expression, and the jaw line of the synthetic world (like an annotator's) slides to the
silhouette when the head turns. Measured with :func:`vasa_lab.tracking.accuracy.pose_subset_study` on 16 clips of
training identities at 256 px (median / 95th percentile |pitch error| in degrees; pitch is the hard angle):

    landmarks fitted                  true landmarks     mediapipe's, mapped
    all 68                            1.8 / 5.0          2.5 / 6.3
    eye corners + nose (RIGID)        1.5 / 7.8          2.8 / 10.0
    RIGID + jaw (POSE_POINTS)         1.6 / 5.0          2.6 / 7.4
    RIGID + brows                     4.1 / 9.0          6.1 / 10.4
    RIGID + mouth corners             3.6 / 9.1          3.3 / 8.9

Brows and mouth hurt (they move with expression); the jaw helps (it is long and spans the face's depth, which pins
pitch) even though it marches at large yaw. :data:`POSE_POINTS` is the default. Most of the remaining pitch error
is not noise but *identity*: one mean face cannot tell a person with a longer nose from a nod. For mediapipe we
therefore fit all 468 mesh points against the mesh's own 3D model and correct yaw/pitch with a regression
calibrated on training identities (:class:`MeshPoseModel`, :mod:`vasa_lab.tracking.calibration`).

The focal length. For synthetic frames it is the world's camera, f_px = 2.7 x image size. For real footage it is
unknown; we use the same 2.7 x the frame's *short side* (so a centred square crop of a real frame gets the numbers
the synthetic world would give it). A long focal length makes the projection nearly orthographic: the angles
hardly depend on it, while the absolute distance (``scale``) is only meaningful relative to other frames of the
same video - which is how it is used (VASA-1's condition ``d`` is a normalised head distance).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from vasa_lab.geometry import CAMERA, Camera, canonical_landmarks_3d, rotation_matrix

# Outer/inner eye corners and the nose (bridge, tip, base): the points that never move with expression.
RIGID = (36, 39, 42, 45, 27, 28, 29, 30, 31, 32, 33, 34, 35)
# The landmarks fitted by default: RIGID and the jaw line (see the measurements in the module docstring).
POSE_POINTS = RIGID + tuple(range(17))


def camera_matrix(image_size, focal: float | None = None, camera: Camera = CAMERA) -> np.ndarray:
    """The 3x3 pinhole matrix K for an image of (H, W) pixels: f_px = focal x min(H, W), centre at the middle."""
    h, w = int(image_size[0]), int(image_size[1])
    f_px = (camera.focal if focal is None else float(focal)) * min(h, w)
    return np.array([[f_px, 0.0, (w - 1) / 2.0], [0.0, f_px, (h - 1) / 2.0], [0.0, 0.0, 1.0]])


def rotation_to_angles(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of R = Rz(roll) Rx(pitch) Ry(yaw) (the inverse of ``rotation_matrix``)."""
    pitch = np.arcsin(np.clip(r[2, 1], -1.0, 1.0))
    yaw = np.arctan2(r[2, 0], r[2, 2])
    roll = np.arctan2(-r[0, 1], r[1, 1])
    return tuple(float(v) for v in np.degrees([yaw, pitch, roll]))


def pose_to_rt(pose, camera: Camera = CAMERA) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch, roll, tx, ty, scale) -> (R (3, 3), C (3,)) of p_cam = R p + C."""
    yaw, pitch, roll, tx, ty, scale = (float(v) for v in pose)
    return rotation_matrix(yaw, pitch, roll), np.array([tx, ty - camera.face_centre_y,
                                                        camera.base_distance / max(scale, 1e-6)])


def rt_to_pose(r: np.ndarray, c: np.ndarray, camera: Camera = CAMERA) -> np.ndarray:
    """(R, C) -> (6,) yaw, pitch, roll (degrees), tx, ty (head units), scale."""
    yaw, pitch, roll = rotation_to_angles(r)
    c = np.asarray(c, dtype=float).reshape(3)
    return np.array([yaw, pitch, roll, c[0], c[1] + camera.face_centre_y, camera.base_distance / max(c[2], 1e-6)])


def project_pose(points3d: np.ndarray, pose, image_size, focal: float | None = None,
                 camera: Camera = CAMERA) -> np.ndarray:
    """Project head-frame points (N, 3) with a pose (6,) into an (H, W) image; (N, 2) pixels."""
    r, c = pose_to_rt(pose, camera)
    k = camera_matrix(image_size, focal, camera)
    pc = np.asarray(points3d, float) @ r.T + c
    return pc[:, :2] / pc[:, 2:3] * k[0, 0] + k[:2, 2]


def initial_guess(points2d: np.ndarray, model: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A starting pose for the iterative fit: facing the camera, rolled like the point cloud, at the distance
    where the model's spread matches the image's, centred where the points are. Returns (rvec, tvec)."""
    uv = points2d - points2d.mean(axis=0)
    xy = model[:, :2] - model[:, :2].mean(axis=0)
    # the 2D rotation + scale that best maps the model's x, y onto the image (Procrustes): angle from the
    # cross-covariance, spread ratio = image size per model unit = f / Z
    cov = xy.T @ uv
    angle = np.arctan2(cov[0, 1] - cov[1, 0], cov[0, 0] + cov[1, 1])
    ratio = np.sqrt((uv ** 2).sum() / max((xy ** 2).sum(), 1e-12))
    z = k[0, 0] / max(ratio, 1e-9)
    r = rotation_matrix(0.0, 0.0, np.degrees(angle))
    centre_cam = np.array([(points2d[:, 0].mean() - k[0, 2]) * z / k[0, 0],
                           (points2d[:, 1].mean() - k[1, 2]) * z / k[1, 1], z])
    t = centre_cam - r @ model.mean(axis=0)
    return cv2.Rodrigues(r)[0], t.reshape(3, 1)


def solve_pnp(points2d: np.ndarray, points3d: np.ndarray, k: np.ndarray, init=None,
              camera: Camera = CAMERA) -> np.ndarray:
    """The core fit: cv2.solvePnP (iterative Levenberg-Marquardt) of head-frame points (N, 3) to pixels (N, 2),
    started from ``init`` (a pose (6,)) or from :func:`initial_guess`. Returns the pose (6,), NaN if it failed."""
    obj, img = np.asarray(points3d, np.float64), np.asarray(points2d, np.float64)
    ok = np.all(np.isfinite(img), axis=1) & np.all(np.isfinite(obj), axis=1)
    if ok.sum() < 6:
        return np.full(6, np.nan)
    obj, img = obj[ok], img[ok]
    if init is not None and np.all(np.isfinite(init)):
        r0, c0 = pose_to_rt(init, camera)
        rvec, tvec = cv2.Rodrigues(r0)[0], c0.reshape(3, 1)
    else:
        rvec, tvec = initial_guess(img, obj, k)
    done, rvec, tvec = cv2.solvePnP(obj, img, k, None, rvec=rvec.copy(), tvec=tvec.copy(), useExtrinsicGuess=True,
                                    flags=cv2.SOLVEPNP_ITERATIVE)
    if not done or not np.all(np.isfinite(tvec)) or tvec[2, 0] <= 0:
        return np.full(6, np.nan)
    return rt_to_pose(cv2.Rodrigues(rvec)[0], tvec[:, 0], camera)


def fit_head_pose(landmarks68, image_size, focal: float | None = None, subset=POSE_POINTS,
                  model: np.ndarray | None = None, init=None, camera: Camera = CAMERA) -> np.ndarray:
    """Fit the canonical 3D face to 68 image landmarks; returns (6,) yaw, pitch, roll, tx, ty, scale.

    ``landmarks68``: (68, 2) pixels; ``image_size``: (H, W); ``focal``: focal length in units of min(H, W) (the
    world camera's 2.7 by default); ``subset``: the landmark indices fitted (default :data:`POSE_POINTS`; None =
    all 68); ``model``: (68, 3) head-frame points (default :func:`canonical_landmarks_3d`); ``init``: a pose (6,)
    to start from (e.g. the previous frame's). Landmarks with NaN (no face) give a pose of NaNs.
    """
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks must have shape (68, 2), got {lm.shape}")
    if not np.all(np.isfinite(lm)):
        return np.full(6, np.nan)
    model = canonical_landmarks_3d() if model is None else np.asarray(model, dtype=np.float64)
    idx = list(range(68)) if subset is None else list(subset)
    return solve_pnp(lm[idx], model[idx], camera_matrix(image_size, focal, camera), init, camera)


# ---------------------------------------------------------------------------------------------------------------
# the calibrated mesh model (mediapipe)
# ---------------------------------------------------------------------------------------------------------------
WEIGHTS_FILE = Path(__file__).resolve().parent.parent / "weights" / "tracking" / "mediapipe_synthetic.safetensors"


@dataclass
class MeshPoseModel:
    """Head pose from a face mesh: PnP against the mesh's own 3D points, plus a learned yaw/pitch correction.

    ``points3d`` (V, 3) is where each mesh vertex sits on the mean synthetic face, in our head frame (triangulated
    from training renders by :func:`vasa_lab.tracking.calibration.triangulate`). The correction (optional) maps
    the face's 2D shape to the residual yaw and pitch (:func:`vasa_lab.tracking.calibration.fit_pose_correction`):

        z = standardise([ (s - s_mean) B,  yaw_fit, pitch_fit ]),    (yaw, pitch) += [z, 1] W

    where s is the normalised 2D mesh (:meth:`shape_features`) and B its principal directions.
    """

    points3d: np.ndarray                     # (V, 3) head frame
    vertex_rms: np.ndarray | None = None     # (V,) triangulation residual in pixels (how rigid/consistent)
    feat_mean: np.ndarray | None = None      # (F,)
    basis: np.ndarray | None = None          # (F, k)
    a_mean: np.ndarray | None = None         # (k + 2,)
    a_std: np.ndarray | None = None          # (k + 2,)
    weights: np.ndarray | None = None        # (k + 3, 2)
    meta: dict = field(default_factory=dict)

    @property
    def fit_vertices(self) -> np.ndarray:
        """The skin vertices used by the PnP fit (the iris points are left out: the eyes turn)."""
        n = min(468, self.points3d.shape[0])
        return np.where(np.all(np.isfinite(self.points3d[:n]), axis=1))[0]

    def fit_uncorrected(self, mesh_xy: np.ndarray, image_size, focal: float | None = None, init=None) -> np.ndarray:
        idx = self.fit_vertices
        return solve_pnp(np.asarray(mesh_xy)[idx, :2], self.points3d[idx], camera_matrix(image_size, focal), init)

    @staticmethod
    def shape_features(mesh_xy: np.ndarray) -> np.ndarray:
        """The 2D mesh (468 skin points) with position, size and roll taken out: centred, rotated so the outer eye
        corners are level, divided by the RMS radius; flattened (936,)."""
        from .backends import MEDIAPIPE_TO_IBUG68

        p = np.asarray(mesh_xy, np.float64)[:468, :2]
        p = p - p.mean(axis=0)
        d = p[MEDIAPIPE_TO_IBUG68[45]] - p[MEDIAPIPE_TO_IBUG68[36]]
        a = np.arctan2(d[1], d[0])
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])     # rotate by -a
        p = p @ rot.T
        return (p / np.sqrt((p ** 2).sum(axis=1).mean())).ravel()

    @property
    def corrected(self) -> bool:
        return self.weights is not None

    def correction(self, mesh_xy: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """(d_yaw, d_pitch) in degrees for one mesh and its uncorrected pose."""
        z = np.concatenate([(self.shape_features(mesh_xy) - self.feat_mean) @ self.basis, pose[:2]])
        z = (z - self.a_mean) / self.a_std
        return np.concatenate([z, [1.0]]) @ self.weights

    def fit(self, mesh_xy: np.ndarray, image_size, focal: float | None = None, init=None,
            correct: bool = True) -> np.ndarray:
        """Pose (6,) of one face mesh (V, 2+) in pixels; NaN if the fit failed."""
        pose = self.fit_uncorrected(mesh_xy, image_size, focal, init)
        if correct and self.corrected and np.all(np.isfinite(pose)):
            pose = pose.copy()
            pose[:2] += self.correction(mesh_xy, pose)
        return pose

    def with_correction(self, feat_mean, basis, a_mean, a_std, weights) -> "MeshPoseModel":
        return MeshPoseModel(self.points3d, self.vertex_rms, feat_mean, basis, a_mean, a_std, weights, dict(self.meta))

    # --- on disk: safetensors (numbers only; nothing executes on load)
    _ARRAYS = ("points3d", "vertex_rms", "feat_mean", "basis", "a_mean", "a_std", "weights")

    def save(self, path: str | Path | None = None) -> Path:
        from safetensors.numpy import save_file

        path = Path(path) if path is not None else WEIGHTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(getattr(self, k), dtype=np.float32) for k in self._ARRAYS
                  if getattr(self, k) is not None}
        save_file(arrays, str(path), metadata={"meta": json.dumps(self.meta)})
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> "MeshPoseModel":
        from safetensors import safe_open
        from safetensors.numpy import load_file

        path = Path(path) if path is not None else WEIGHTS_FILE
        if not path.exists():
            raise FileNotFoundError(f"no mesh pose calibration at {path}; make one with "
                                    "vasa_lab.tracking.calibration.calibrate_mediapipe()")
        arrays = {k: v.astype(np.float64) for k, v in load_file(str(path)).items()}
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("meta", "{}"))
        return cls(**arrays, meta=meta)


@lru_cache(maxsize=1)
def mediapipe_pose_model() -> MeshPoseModel | None:
    """The shipped calibration for the mediapipe backend, or None when the file is missing."""
    try:
        return MeshPoseModel.load()
    except FileNotFoundError:
        return None
