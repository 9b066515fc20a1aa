"""Calibrating a tracker on the synthetic world: where the truth is known, measure and correct.

A landmark detector trained on real faces (mediapipe's face mesh) puts its points where *it* thinks they belong
on our cartoon faces. Three things are fitted here, all on **training identities** (seeds never used for
evaluation), and evaluated on held-out ones in :mod:`vasa_lab.tracking.accuracy`:

1. **A 3D model of the mesh in our head frame** (:func:`triangulate`). For every render we know the pose (R, C) and
   see where mesh vertex v landed, u_v. The vertex's head-frame position X_v satisfies, for every view,

       (u - c_x) (r_3 . X + C_z) = f (r_1 . X + C_x),      (v - c_y) (r_3 . X + C_z) = f (r_2 . X + C_y),

   two equations linear in X: stack all views and solve by least squares (linear triangulation, "DLT"). The result
   is the mean synthetic face *as the mesh sees it*, so the pose fit no longer pays for the mesh's systematic
   offsets.
2. **A correction of the fitted yaw and pitch** (:func:`fit_pose_correction`). One rigid mean face cannot tell a
   long nose from a nod: with a near-orthographic camera, a person whose nose stands out further looks like the
   mean face pitched down. But face proportions are correlated, so the rest of the face carries a hint. We
   describe the 2D face shape by a few principal components of its normalised mesh and fit a ridge regression from
   them (and the fitted angles) to the residual truth - fit.
3. **The gaze gain** (:func:`fit_gaze_gain`): degrees of eye rotation per unit of iris offset (in eye widths),
   and how much head rotation leaks into that offset. See :mod:`vasa_lab.tracking.gaze`.

:func:`calibrate_mediapipe` runs all of it and writes the small file that :class:`~vasa_lab.tracking.pose.MeshPoseModel`
loads (shipped in ``vasa_lab/weights/tracking/``). Re-running it takes a few minutes on a CPU.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vasa_lab.world.state import STATE_NAMES

from .pose import MeshPoseModel, camera_matrix, pose_to_rt

# world seeds for calibration renders; evaluation uses make_clip(seed=1000, ...), never these
CALIBRATION_SEED = 2024


# ---------------------------------------------------------------------------------------------------------------
# synthetic renders with known truth
# ---------------------------------------------------------------------------------------------------------------
def sample_states(rng: np.random.Generator, n: int, frontal: bool = False) -> np.ndarray:
    """Face states for calibration, (n, 17) in STATE_NAMES order: poses a little wider than the world's clips
    (yaw ~ N(0, 12), pitch ~ N(0, 8), roll ~ N(0, 5)), random mouths, blinks, gaze, brows and emotions.
    ``frontal`` keeps |yaw|, |pitch|, |roll| <= 5 degrees."""
    from vasa_lab.world.behaviour import EMOTION_OFFSETS, EMOTIONS

    out = np.zeros((n, len(STATE_NAMES)), np.float32)
    col = {name: i for i, name in enumerate(STATE_NAMES)}
    for i in range(n):
        if frontal:
            yaw, pitch, roll = rng.uniform(-5, 5, 3)
        else:
            yaw, pitch = np.clip(rng.normal(0, 12), -35, 35), np.clip(rng.normal(0, 8), -25, 25)
            roll = np.clip(rng.normal(0, 5) + 0.15 * yaw, -20, 20)
        s = dict(yaw=yaw, pitch=pitch, roll=roll, tx=rng.normal(0, 0.07), ty=rng.normal(0, 0.07),
                 scale=rng.uniform(0.8, 1.2), jaw_open=rng.uniform(0, 0.7) * (rng.random() < 0.7),
                 lip_width=rng.uniform(-0.6, 0.6), lip_round=rng.uniform(0, 0.7) * (rng.random() < 0.3),
                 lip_press=rng.uniform(0, 1) * (rng.random() < 0.15),
                 blink=(rng.uniform(0, 1) if rng.random() < 0.5 else 1.0) * (rng.random() < 0.15),
                 gaze_yaw=rng.uniform(-25, 25), gaze_pitch=rng.uniform(-15, 15),
                 brow_raise=rng.uniform(-0.4, 0.6))
        emotion = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
        for name, offset in EMOTION_OFFSETS[emotion].items():
            s[name] = s.get(name, 0.0) + rng.uniform(0.6, 1.0) * offset
        for name, v in s.items():
            out[i, col[name]] = v
    lo = dict(brow_raise=-1, smile=-1, eye_wide=-1, lip_width=-1)
    for name in ("jaw_open", "lip_round", "lip_press", "blink", "brow_furrow", "brow_raise", "smile", "eye_wide",
                 "lip_width"):
        out[:, col[name]] = np.clip(out[:, col[name]], lo.get(name, 0), 1)
    return out


def render_set(n: int, size: int, seed: int = CALIBRATION_SEED, frontal: bool = False) -> dict:
    """n renders of random identities (seeded by ``seed``): dict of images (n, size, size, 3) uint8, landmarks
    (n, 68, 2), states (n, 17), iris (n, 2, 2) pixels, identity_seeds (n,)."""
    from vasa_lab.world.person import sample_identity
    from vasa_lab.world.samples import render_faces

    rng = np.random.default_rng([seed, size, int(frontal)])
    states = sample_states(rng, n, frontal)
    seeds = rng.integers(2 ** 31, size=n)
    faces = render_faces([sample_identity(int(s)) for s in seeds], states, size)
    return dict(faces, states=states, identity_seeds=seeds)


def run_mesh(images: np.ndarray) -> np.ndarray:
    """Face-mesh points of every image (photo mode): (n, 478, 3), NaN where no face was found."""
    from .backends import MediaPipeBackend

    backend = MediaPipeBackend(max_faces=1, refine=True, static_image_mode=True)
    out = np.full((len(images), 478, 3), np.nan, np.float32)
    for i, img in enumerate(images):
        faces = backend.mesh_points(img)
        if faces:
            out[i] = faces[0]
    backend.close()
    return out


# ---------------------------------------------------------------------------------------------------------------
# 1. triangulation
# ---------------------------------------------------------------------------------------------------------------
def triangulate(points2d: np.ndarray, poses: np.ndarray, image_size) -> tuple[np.ndarray, np.ndarray]:
    """Head-frame 3D positions of V points seen in N views with known poses.

    ``points2d``: (N, V, 2) pixels (NaN = not seen); ``poses``: (N, 6); ``image_size``: (H, W) of every view.
    Returns (X (V, 3), rms residual (V,) in pixels). See the module docstring for the equations; each equation is
    divided by C_z so that its residual is in pixels.
    """
    k = camera_matrix(image_size)
    f, cx, cy = k[0, 0], k[0, 2], k[1, 2]
    rc = [pose_to_rt(p) for p in poses]
    r = np.array([a for a, _ in rc])                          # (N, 3, 3)
    c = np.array([b for _, b in rc])                          # (N, 3)
    n_points = points2d.shape[1]
    x = np.full((n_points, 3), np.nan)
    rms = np.full(n_points, np.nan)
    for v in range(n_points):
        du, dv = points2d[:, v, 0] - cx, points2d[:, v, 1] - cy
        ok = np.isfinite(du) & np.isfinite(dv)
        if ok.sum() < 3:
            continue
        z = c[ok, 2:3]
        a = np.concatenate([(du[ok, None] * r[ok, 2] - f * r[ok, 0]) / z, (dv[ok, None] * r[ok, 2] - f * r[ok, 1]) / z])
        b = np.concatenate([(f * c[ok, 0] - du[ok] * c[ok, 2]) / z[:, 0], (f * c[ok, 1] - dv[ok] * c[ok, 2]) / z[:, 0]])
        x[v] = np.linalg.lstsq(a, b, rcond=None)[0]
        rms[v] = np.sqrt(np.mean((a @ x[v] - b) ** 2))
    return x, rms


# ---------------------------------------------------------------------------------------------------------------
# 2. the yaw/pitch correction
# ---------------------------------------------------------------------------------------------------------------
def fit_pose_correction(model: MeshPoseModel, meshes: np.ndarray, truth_poses: np.ndarray, image_size,
                        n_components: int = 48, ridge: float = 1e-3) -> MeshPoseModel:
    """Fit the shape -> (yaw, pitch) residual regression of ``model`` (returns a new model with it).

    Features: the first ``n_components`` principal components of the normalised 2D mesh
    (:meth:`MeshPoseModel.shape_features`) and the fitted yaw and pitch; targets: truth - fit for yaw and pitch.
    Ridge regression, w = (A^T A + lambda I)^-1 A^T y, with the features standardised first.
    """
    fits = np.array([model.fit_uncorrected(m[:, :2], image_size) for m in meshes])
    feats = np.array([model.shape_features(m[:, :2]) for m in meshes])
    ok = np.all(np.isfinite(fits), axis=1) & np.all(np.isfinite(feats), axis=1)
    feats, fits, truth = feats[ok], fits[ok], truth_poses[ok]
    mean = feats.mean(axis=0)
    _, _, vt = np.linalg.svd(feats - mean, full_matrices=False)
    basis = vt[:n_components].T                                   # (F, k)
    a = np.concatenate([(feats - mean) @ basis, fits[:, :2]], axis=1)
    a_mean, a_std = a.mean(axis=0), a.std(axis=0) + 1e-9
    a = (a - a_mean) / a_std
    y = truth[:, :2] - fits[:, :2]
    a1 = np.concatenate([a, np.ones((len(a), 1))], axis=1)
    reg = ridge * len(a) * np.eye(a1.shape[1])
    reg[-1, -1] = 0.0                                             # the bias is not shrunk
    w = np.linalg.solve(a1.T @ a1 + reg, a1.T @ y)                # (k + 3, 2)
    return model.with_correction(mean, basis, a_mean, a_std, w)


# ---------------------------------------------------------------------------------------------------------------
# 3. the gaze gain
# ---------------------------------------------------------------------------------------------------------------
def fit_gaze_gain(landmarks: np.ndarray, iris: np.ndarray, head_poses: np.ndarray, truth_gaze: np.ndarray,
                  openness_min: float = 0.12) -> np.ndarray:
    """Least-squares gaze coefficients (see :func:`vasa_lab.tracking.gaze.gaze_from_iris`): (2, 3) rows for
    gaze yaw and gaze pitch: gaze = g * offset + h * head_angle + b. Frames with closed eyes are left out."""
    from .gaze import eye_openness, iris_offsets

    off = iris_offsets(landmarks, iris).mean(axis=1)                   # (N, 2) mean over both eyes
    ok = np.all(np.isfinite(off), axis=1) & np.all(np.isfinite(head_poses[:, :2]), axis=1)
    ok &= eye_openness(landmarks) > openness_min
    coef = np.zeros((2, 3))
    for j in range(2):
        a = np.stack([off[ok, j], head_poses[ok, j], np.ones(ok.sum())], axis=1)
        coef[j] = np.linalg.lstsq(a, truth_gaze[ok, j], rcond=None)[0]
    return coef


# ---------------------------------------------------------------------------------------------------------------
# the whole calibration
# ---------------------------------------------------------------------------------------------------------------
def calibrate_mediapipe(n_renders: int = 3000, size: int = 256, seed: int = CALIBRATION_SEED,
                        path: str | Path | None = None, verbose: bool = True) -> tuple[MeshPoseModel, np.ndarray]:
    """Render ``n_renders`` training faces, run the mesh, triangulate its 3D model, fit the pose correction and
    the gaze coefficients. Saves the pose model to ``path`` (default: the shipped file) and returns
    (model, gaze coefficients (2, 3)); the gaze numbers are the ones written into ``gaze.GAZE_COEF``."""
    import time

    from .backends import IRIS_CENTRES, mesh_to_ibug68

    t0 = time.time()
    data = render_set(n_renders, size, seed)
    meshes = run_mesh(data["images"])
    found = np.all(np.isfinite(meshes[:, :, 0]), axis=1)
    if verbose:
        print(f"rendered and meshed {n_renders} faces at {size} px in {time.time() - t0:.0f} s; "
              f"mesh found {found.mean():.1%}")
    meshes, states = meshes[found], data["states"][found].astype(np.float64)
    poses = states[:, :6]
    x, rms = triangulate(meshes[:, :, :2], poses, (size, size))
    model = MeshPoseModel(points3d=x, vertex_rms=rms)
    model = fit_pose_correction(model, meshes, poses, (size, size))
    model.meta = dict(n_renders=n_renders, size=size, seed=seed, found=float(found.mean()))
    model.save(path)
    fitted = np.array([model.fit(m[:, :2], (size, size)) for m in meshes])
    lm = np.array([mesh_to_ibug68(m[:, :2]) for m in meshes])
    iris = meshes[:, list(IRIS_CENTRES), :2]
    gaze_cols = [STATE_NAMES.index("gaze_yaw"), STATE_NAMES.index("gaze_pitch")]
    gaze_coef = fit_gaze_gain(lm, iris, fitted, states[:, gaze_cols])
    if verbose:
        err = np.abs(fitted[:, :3] - poses[:, :3])
        print(f"training-set |error| median yaw/pitch/roll {np.round(np.median(err, axis=0), 2)} degrees; "
              f"gaze coefficients {np.round(gaze_coef, 3).tolist()}; took {time.time() - t0:.0f} s")
    return model, gaze_coef
