"""Face detection and landmark backends: the part of a tracker that looks at pixels.

A backend is any object with ``detect(image) -> list[Detection]``: ``image`` is one (H, W, 3) uint8 RGB frame, the
list holds the faces it found, best first (by score, then by size). Everything after that (head pose, gaze,
blinks, smoothing, crops) works on the landmarks and does not care which backend found them.

Two backends live here:

* :class:`MediaPipeBackend`: Google's face mesh (mediapipe 0.10.21, the model files ship inside the wheel, so it
  runs offline). It finds a face with a small detector, then regresses **478 mesh points** (468 on the skin and,
  with ``refine=True``, 5 per iris). Our tracker speaks the 68-point iBUG convention of the synthetic world, so a
  table picks one mesh vertex per iBUG point (:data:`MEDIAPIPE_TO_IBUG68`). The table is not copied from
  anywhere: :func:`derive_mediapipe_to_ibug68` renders synthetic faces whose 68 landmarks are known, runs the mesh
  and keeps, for every iBUG point, the vertex that lies closest on average (distances in units of the
  inter-ocular distance).
* :class:`HaarBackend`: OpenCV's Viola-Jones frontal-face cascade (the XML ships with opencv-python). A box only,
  no landmarks: the fallback detector when nothing else is available, and a baseline for "did we find a face".

A third, :mod:`vasa_lab.tracking.landmark_net` (``NetBackend``), is a small heatmap CNN trained on the synthetic
world; :func:`make_backend` imports it only when asked for.

Which works where (measured, see ``benchmarks/bench_tracking.py``): the mesh finds every synthetic face we rendered,
down to 32 px (it upsamples its crop), with landmark NME 0.036 at 256 px, 0.055 at 64 px and 0.096 at 32 px; it
finds both real photos (Grace Hopper, the astronaut). The Haar cascade finds both real photos but only about half
of the synthetic cartoon faces (it was trained on real, frontal faces).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings

import numpy as np

from .types import Detection

# mediapipe (through absl and TFLite) prints banners on stderr; glog's level must be set before it is imported.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_MESH = 478            # face mesh points with refine_landmarks=True (468 without)
IRIS_CENTRES = (468, 473)   # refine landmarks: centre of the iris in the image-left eye, then the image-right eye
                            # (checked on renders: 468 sits in iBUG's right eye 36-41, i.e. the person's right)

# ---------------------------------------------------------------------------------------------------------------
# the 478 -> 68 table
# ---------------------------------------------------------------------------------------------------------------
# MEDIAPIPE_TO_IBUG68[k] is the face-mesh vertex used for iBUG landmark k. Derived (not copied) with
# derive_mediapipe_to_ibug68(n_faces=400, size=256, seed=7): 400 renders of synthetic identities at 256 px, half of
# them near-frontal (|yaw|, |pitch| <= 5 degrees; only these choose the jaw points 0-16, because the synthetic jaw
# line "marches" to the silhouette when the head turns, while a mesh vertex stays on the skin), the other half with
# yaw in [-30, 30], pitch in [-20, 20], roll in [-15, 15] and random mouth, brows and gaze. For each iBUG point the
# vertex with the smallest mean distance / inter-ocular distance won. Re-derive with that call (a slow test does).
MEDIAPIPE_TO_IBUG68 = np.array([
    127, 137, 177, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 435, 401, 366, 356,   # jaw 0-16
    46, 53, 52, 66, 107, 336, 296, 282, 283, 276,   # brows 17-26
    168, 197, 5, 1, 75, 97, 2, 328, 460,   # nose 27-35
    130, 160, 158, 173, 153, 144, 398, 385, 387, 359, 390, 374,   # eyes 36-47
    61, 74, 72, 11, 302, 304, 291, 321, 314, 17, 84, 181,   # outer lips 48-59
    78, 81, 13, 311, 306, 403, 15, 179,   # inner lips 60-67
], dtype=np.int64)


def mesh_to_ibug68(mesh: np.ndarray, table: np.ndarray | None = None) -> np.ndarray:
    """Pick the 68 iBUG points out of face-mesh points: (478 or 468, D) -> (68, D)."""
    table = MEDIAPIPE_TO_IBUG68 if table is None else table
    return np.asarray(mesh)[table]


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got shape {image.shape} and dtype {image.dtype}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise ValueError(f"the image is too small to hold a face: {image.shape[1]}x{image.shape[0]} pixels")
    return np.ascontiguousarray(image)


def _sort(dets: list[Detection]) -> list[Detection]:
    """Best first: by score, ties broken by box area."""
    area = lambda d: float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return sorted(dets, key=lambda d: (-round(float(d.score), 3), -area(d)))


# Lines that mediapipe's C++ side prints on start-up and on its first frames; they are not errors.
_NOISE = re.compile(r"^(INFO: Created TensorFlow Lite|WARNING: All log messages before absl::InitializeLog|"
                    r"[WI]\d{4} .*(inference_feedback_manager|landmark_projection_calculator|gl_context))")


@contextlib.contextmanager
def _filtered_stderr():
    """Run a block with the process's stderr (file descriptor 2, where C++ logs go) captured, then print back
    every captured line except mediapipe's known start-up notices, so real errors still show."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):              # no usable fd 2 (some notebook front ends): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except ValueError:
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not _NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _quiet_mediapipe():
    """Import mediapipe with its log spam at warning level (errors still come through)."""
    try:
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:                                     # absl is a mediapipe dependency; nothing to quiet
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)   # protobuf's "SymbolDatabase.GetPrototype" notice
        import mediapipe as mp
    return mp


class MediaPipeBackend:
    """Face mesh (legacy ``mediapipe.solutions.face_mesh``): boxes, 68 iBUG landmarks, iris centres, 478 raw points.

    ``static_image_mode=False`` (video) runs the face detector only until a face is found and then follows it from
    frame to frame with the mesh model alone (faster and steadier); ``True`` (photos) detects in every image. Call
    :meth:`reset` between clips in video mode so one clip's face does not seed the next.

    The legacy API gives no confidence per face, so ``score`` is 1.0 and faces are ordered by size.
    """

    name = "mediapipe"

    def __init__(self, max_faces: int = 2, refine: bool = True, static_image_mode: bool = False,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        self.max_faces, self.refine, self.static_image_mode = int(max_faces), bool(refine), bool(static_image_mode)
        self.min_detection_confidence, self.min_tracking_confidence = min_detection_confidence, min_tracking_confidence
        self._mesh = None

    def _make(self):
        mp = _quiet_mediapipe()
        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=self.static_image_mode, max_num_faces=self.max_faces, refine_landmarks=self.refine,
            min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence)

    def reset(self) -> None:
        """Forget the face followed so far (start of a new clip)."""
        if self._mesh is not None:
            self._mesh.close()
        self._mesh = None

    def close(self) -> None:
        self.reset()

    def __del__(self):
        try:
            self.reset()
        except Exception:        # interpreter shutdown: mediapipe may already be gone
            pass

    def mesh_points(self, image) -> list[np.ndarray]:
        """The raw mesh of every face: a list of (478, 3) arrays, x and y in pixels (pixel centres at integers),
        z in the same pixel units relative to the face's centre (smaller = nearer the camera)."""
        image = _check_image(image)
        h, w = image.shape[:2]
        if self._mesh is None:
            with _filtered_stderr():           # the graph's start-up notices come during creation and frame 1
                self._mesh = self._make()
                result = self._mesh.process(image)
        else:
            result = self._mesh.process(image)
        faces = []
        for face in result.multi_face_landmarks or []:
            p = np.array([(q.x, q.y, q.z) for q in face.landmark], dtype=np.float32)
            # mediapipe's normalised x, y run over [0, 1] from the image's left edge to its right edge; our pixel
            # centres sit at integers, so pixel = x * W - 0.5. Its z uses the same scale as x.
            faces.append(np.stack([p[:, 0] * w - 0.5, p[:, 1] * h - 0.5, p[:, 2] * w], axis=1))
        return faces

    def detect(self, image) -> list[Detection]:
        dets = []
        for mesh in self.mesh_points(image):
            xy = mesh[:, :2]
            box = np.array([*xy[:468].min(axis=0), *xy[:468].max(axis=0)], dtype=np.float32)
            lm = mesh_to_ibug68(xy) if MEDIAPIPE_TO_IBUG68[0] >= 0 else None
            iris = xy[list(IRIS_CENTRES)].copy() if mesh.shape[0] >= N_MESH else None
            dets.append(Detection(box=box, score=1.0, landmarks=None if lm is None else lm.astype(np.float32),
                                  iris=iris, raw=mesh))
        return _sort(dets)


class HaarBackend:
    """OpenCV's frontal-face Haar cascade: a detector only (``landmarks`` is None).

    Viola-Jones slides a window over an image pyramid and runs a cascade of boosted stages on Haar-like features;
    a window is a face when it passes every stage. ``score`` squashes the last stage's weight into [0, 1].
    It handles near-frontal faces only (roughly |yaw| < 30 degrees), and needs the face to be at least
    ``min_size`` pixels wide, or 1/``min_fraction`` of the image's short side if that is larger (searching for
    tiny faces in a large frame is what makes the cascade slow).
    """

    name = "haar"

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml", scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_size: int = 24, min_fraction: float = 8.0):
        import cv2

        path = os.path.join(cv2.data.haarcascades, cascade)
        self.classifier = cv2.CascadeClassifier(path)
        if self.classifier.empty():
            raise ValueError(f"could not load the Haar cascade {path!r} (is opencv-python-headless < 5 installed?)")
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, int(min_size)
        self.min_fraction = float(min_fraction)

    def detect(self, image) -> list[Detection]:
        import cv2

        image = _check_image(image)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        # the smallest face we look for; shrink the image so that it is min_size pixels there (same answer, faster)
        smallest = max(self.min_size, int(min(image.shape[:2]) / self.min_fraction))
        k = self.min_size / smallest
        if k < 1.0:
            gray = cv2.resize(gray, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        boxes, _, weights = self.classifier.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        dets = []
        for (x, y, w, h), wt in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1)):
            score = float(1.0 / (1.0 + np.exp(-float(wt))))          # logistic squash of the stage weight
            box = np.array([x, y, x + w, y + h], dtype=np.float32) / min(k, 1.0)
            dets.append(Detection(box=box, score=score))
        return _sort(dets)


# ---------------------------------------------------------------------------------------------------------------
# choosing a backend by name
# ---------------------------------------------------------------------------------------------------------------
def net_available() -> bool:
    """Whether the landmark network backend (``vasa_lab.tracking.landmark_net``) can be imported."""
    import importlib.util

    return importlib.util.find_spec("vasa_lab.tracking.landmark_net") is not None


def make_backend(name, **kwargs):
    """A backend from its name ("mediapipe", "haar", "net") or any object with a ``detect`` method."""
    if not isinstance(name, str):
        if not callable(getattr(name, "detect", None)):
            raise ValueError(f"a backend must be a name or an object with a detect(image) method, got {name!r}")
        return name
    if name == "mediapipe":
        return MediaPipeBackend(**kwargs)
    if name == "haar":
        return HaarBackend()
    if name == "net":
        if not net_available():
            raise ValueError("the 'net' backend needs vasa_lab/tracking/landmark_net/, which is not installed")
        from .landmark_net import NetBackend
        return NetBackend()
    raise ValueError(f"unknown tracking backend {name!r}; choose 'auto', 'mediapipe', 'haar', 'net' or pass an "
                     "object with a detect(image) method")


# ---------------------------------------------------------------------------------------------------------------
# deriving the 478 -> 68 table from the synthetic world
# ---------------------------------------------------------------------------------------------------------------
def _calibration_renders(n_faces: int, size: int, seed: int, frontal: bool):
    """Synthetic renders for calibration: (images list, landmarks (N, 68, 2), states (N, 17), irises (N, 2, 2)).

    Identities come from ``sample_identity`` with seeds drawn from ``seed`` (never the evaluation world's)."""
    from vasa_lab.world.person import sample_identity
    from vasa_lab.world.samples import render_faces
    from vasa_lab.world.state import FaceState

    rng = np.random.default_rng([seed, 68, int(frontal)])
    people, states = [], []
    for _ in range(n_faces):
        idn = sample_identity(int(rng.integers(2 ** 31)))
        lim = (5.0, 5.0, 5.0) if frontal else (30.0, 20.0, 15.0)
        st = FaceState(yaw=rng.uniform(-lim[0], lim[0]), pitch=rng.uniform(-lim[1], lim[1]),
                       roll=rng.uniform(-lim[2], lim[2]), tx=rng.uniform(-0.15, 0.15), ty=rng.uniform(-0.15, 0.15),
                       scale=rng.uniform(0.85, 1.15), jaw_open=rng.uniform(0, 0.6) * (rng.random() < 0.7),
                       lip_width=rng.uniform(-0.5, 0.5), smile=rng.uniform(-0.5, 0.8),
                       blink=rng.uniform(0, 1) * (rng.random() < 0.15), gaze_yaw=rng.uniform(-20, 20),
                       gaze_pitch=rng.uniform(-12, 12), brow_raise=rng.uniform(-0.5, 0.8),
                       eye_wide=rng.uniform(-0.3, 0.6))
        people.append(idn)
        states.append(st)
    faces = render_faces(people, states, size)
    return list(faces["images"]), faces["landmarks"], faces["states"], faces["iris"]


def derive_mediapipe_to_ibug68(n_faces: int = 400, size: int = 256, seed: int = 7, return_stats: bool = False):
    """Derive :data:`MEDIAPIPE_TO_IBUG68` empirically on the synthetic world.

    For every iBUG point k and mesh vertex v, the mean over renders of |mesh_v - truth_k| / inter-ocular distance
    (outer eye corners 36-45); the table keeps argmin_v. Jaw points 0-16 use only the near-frontal half of the
    renders (see the comment at the table). Returns the (68,) table, and with ``return_stats`` also a dict with
    the winning mean distances and which eye's iris is refine point 468.
    """
    backend = MediaPipeBackend(max_faces=1, refine=True, static_image_mode=True)
    half = n_faces // 2
    dists, found, iris_checks = {}, {}, []
    for frontal in (True, False):
        images, marks, _, irises = _calibration_renders(half if frontal else n_faces - half, size, seed, frontal)
        rows = []
        for img, lm, ir in zip(images, marks, irises):
            faces = backend.mesh_points(img)
            if not faces:
                continue
            mesh = faces[0][:, :2]                                           # (478, 2)
            iod = np.linalg.norm(lm[45] - lm[36])
            rows.append(np.linalg.norm(mesh[None, :, :] - lm[:, None, :], axis=2) / iod)   # (68, 478)
            if mesh.shape[0] >= N_MESH:
                iris_checks.append(np.linalg.norm(mesh[468] - ir[0]) < np.linalg.norm(mesh[468] - ir[1]))
        dists[frontal] = np.mean(rows, axis=0)                               # (68, 478)
        found[frontal] = len(rows)
    backend.close()
    mean = dists[False].copy()
    mean[:17] = dists[True][:17]                                             # the jaw from frontal renders only
    both = (found[True] * dists[True] + found[False] * dists[False]) / (found[True] + found[False])
    mean[17:] = both[17:]
    mean = mean[:, :468]                                                     # iris points are not skin
    table = mean.argmin(axis=1).astype(np.int64)
    if not return_stats:
        return table
    return table, dict(mean_distance=mean[np.arange(68), table], found=found,
                       iris_468_is_image_left=float(np.mean(iris_checks)) if iris_checks else float("nan"))
