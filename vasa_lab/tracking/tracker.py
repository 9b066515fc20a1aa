"""The face tracker: frames in, a :class:`~vasa_lab.tracking.types.FaceTrack` out.

Per frame: detect faces (a backend) -> keep one (the one that overlaps the previous frame's face most, else the
best) -> its 68 landmarks -> head pose (a fitted 3D face, :mod:`.pose`) -> gaze, eye openness, mouth opening
(:mod:`.gaze`). Then over the clip: blinks (openness against the clip's typical openness) and temporal smoothing
(:mod:`.smoothing`). Frames without a face are marked ``detected=False`` and hold NaN.

Which pose model: with the mediapipe backend the pose is fitted to all 468 mesh points against the mesh's own 3D
positions, with the yaw/pitch correction calibrated on training identities (:class:`.pose.MeshPoseModel`,
:mod:`.calibration`); any other backend's 68 landmarks are fitted against the world's canonical 3D landmarks
(:func:`.pose.fit_head_pose`, rigid points only). ``track.meta["pose_model"]`` says which was used.

``track.meta`` also counts ``frames_no_face`` and ``frames_multi_face`` (data preparation drops clips with too
many of either) and holds ``faces_per_frame`` (a list of T ints); everything in it is JSON-able.
"""
from __future__ import annotations

import time

import numpy as np

from .backends import MediaPipeBackend, make_backend, net_available
from .gaze import detect_blinks, eye_openness, gaze_from_iris, mouth_opening
from .pose import fit_head_pose, mediapipe_pose_model
from .smoothing import smooth_track
from .types import Detection, FaceTrack

SMALL_FRAME = 128     # "auto": below this many pixels (short side) a frame the mesh misses goes to the "net" backend


class NoFaceError(ValueError):
    """No face was found where one was required (e.g. the portrait given to ``track_image``)."""


def _check_frames(frames) -> np.ndarray:
    if isinstance(frames, (list, tuple)):
        if not frames:
            raise ValueError("no frames to track: the list is empty")
        frames = np.stack([np.asarray(f) for f in frames])
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be a (T, H, W, 3) uint8 RGB array, got shape {frames.shape}")
    if frames.shape[0] == 0:
        raise ValueError("no frames to track: T = 0")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB (0-255), got dtype {frames.dtype}")
    return frames


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _backend_name(backend) -> str:
    return str(getattr(backend, "name", type(backend).__name__))


class FaceTracker:
    """Track the main face of a clip (``track``) or of a photo (``track_image``).

    ``backend``: "auto" (mediapipe; on frames under 128 px that it misses, the landmark network when installed),
    "mediapipe", "haar" (boxes only), "net", or any object with ``detect(image) -> list[Detection]``.
    ``smoothing``: "one_euro", "kalman" or None, with ``smoothing_params`` for it. ``max_faces``: how many faces
    the backend looks for (2 is enough to notice a second person). ``focal``: the camera's focal length in units
    of the frame's short side (None: the synthetic world's 2.7; see :mod:`.pose`). ``calibrated_pose``: use the
    mesh pose model calibrated on the synthetic world when the backend gives a face mesh. ``min_score``:
    detections scoring lower are not faces (the landmark network always answers, with a low score on non-faces).
    """

    def __init__(self, backend="auto", smoothing: str | None = "one_euro", max_faces: int = 2,
                 focal: float | None = None, smoothing_params: dict | None = None, calibrated_pose: bool = True,
                 min_score: float = 0.3):
        if smoothing not in ("one_euro", "kalman", None, "none"):
            raise ValueError(f"unknown smoothing {smoothing!r}; choose 'one_euro', 'kalman' or None")
        self.backend_spec = backend
        self.auto = backend == "auto"
        self.max_faces = int(max_faces)
        if self.auto or backend == "mediapipe":
            self.backend = MediaPipeBackend(max_faces=self.max_faces, static_image_mode=False)
        else:
            self.backend = make_backend(backend)
        self.smoothing = None if smoothing == "none" else smoothing
        self.smoothing_params = dict(smoothing_params or {})
        self.focal = focal
        self.calibrated_pose = calibrated_pose
        self.min_score = float(min_score)
        self._photo_backend = None
        self._net = None

    @property
    def name(self) -> str:
        return "auto" if self.auto else _backend_name(self.backend)

    # --- backends -------------------------------------------------------------------------------------------
    def _net_backend(self):
        if self._net is None and net_available():
            self._net = make_backend("net")
        return self._net

    def _photo(self):
        """The backend for single photos: mediapipe in photo mode (detects in every image), else the same one."""
        if isinstance(self.backend, MediaPipeBackend):
            if self._photo_backend is None:
                self._photo_backend = MediaPipeBackend(max_faces=self.max_faces, static_image_mode=True)
            return self._photo_backend
        return self.backend

    def _keep(self, dets) -> list[Detection]:
        return [d for d in dets if float(d.score) >= self.min_score]

    def _detect(self, backend, frame: np.ndarray, dets=None) -> tuple[list[Detection], str]:
        dets = self._keep(backend.detect(frame) if dets is None else dets)
        used = _backend_name(backend)
        if not dets and self.auto and min(frame.shape[:2]) < SMALL_FRAME:
            net = self._net_backend()
            if net is not None:
                dets, used = self._keep(net.detect(frame)), "net"
        return dets, used

    # --- per frame ------------------------------------------------------------------------------------------
    def _measure(self, det: Detection, image_size) -> dict:
        """Landmarks -> pose, gaze, openness, mouth for one detection (NaN where the backend gives no landmarks)."""
        nan2 = np.full(2, np.nan)
        out = dict(box=np.asarray(det.box, np.float64), landmarks=np.full((68, 2), np.nan), pose=np.full(6, np.nan),
                   gaze=nan2, openness=np.nan, mouth=np.nan, pose_model=None)
        if det.landmarks is None:
            return out
        lm = np.asarray(det.landmarks, np.float64)
        out["landmarks"] = lm
        model = mediapipe_pose_model() if self.calibrated_pose else None
        if model is not None and det.raw is not None and det.raw.shape[0] >= 468:
            out["pose"] = model.fit(det.raw[:, :2], image_size, self.focal)
            out["pose_model"] = "mesh-calibrated"
        else:
            out["pose"] = fit_head_pose(lm, image_size, self.focal)
            out["pose_model"] = "canonical-68"
        out["openness"] = float(eye_openness(lm))
        out["mouth"] = float(mouth_opening(lm))
        if det.iris is not None and np.all(np.isfinite(out["pose"])):
            out["gaze"] = gaze_from_iris(lm, np.asarray(det.iris, np.float64), out["pose"])
        return out

    def _run(self, frames: np.ndarray, backend, fps: float) -> FaceTrack:
        t_count, h, w = frames.shape[0], frames.shape[1], frames.shape[2]
        boxes = np.full((t_count, 4), np.nan)
        landmarks = np.full((t_count, 68, 2), np.nan)
        pose = np.full((t_count, 6), np.nan)
        gaze = np.full((t_count, 2), np.nan)
        openness = np.full(t_count, np.nan)
        mouth = np.full(t_count, np.nan)
        n_faces = np.zeros(t_count, np.int64)
        used, pose_models = [], set()
        prev_box = None
        start = time.perf_counter()
        batch = None
        if callable(getattr(backend, "detect_batch", None)):            # e.g. the network: many frames at once
            batch = [d for i in range(0, t_count, 64) for d in backend.detect_batch(frames[i:i + 64])]
        for t in range(t_count):
            dets, name = self._detect(backend, frames[t], None if batch is None else batch[t])
            n_faces[t] = len(dets)
            if not dets:
                prev_box = None
                continue
            used.append(name)
            det = dets[0]
            if prev_box is not None and len(dets) > 1:          # stay with the face we were following
                det = max(dets, key=lambda d: _iou(np.asarray(d.box, float), prev_box))
            m = self._measure(det, (h, w))
            prev_box = m["box"]
            boxes[t], landmarks[t], pose[t], gaze[t] = m["box"], m["landmarks"], m["pose"], m["gaze"]
            openness[t], mouth[t] = m["openness"], m["mouth"]
            if m["pose_model"]:
                pose_models.add(m["pose_model"])
        seconds = time.perf_counter() - start
        detected = n_faces > 0
        names = sorted(set(used))
        track = FaceTrack(
            detected=detected, boxes=boxes.astype(np.float32), landmarks=landmarks.astype(np.float32),
            pose=pose.astype(np.float32), gaze=gaze.astype(np.float32), eye_openness=openness.astype(np.float32),
            blink=detect_blinks(openness),
            mouth_open=mouth.astype(np.float32), fps=float(fps), image_size=(int(h), int(w)),
            backend=self.name if len(names) != 1 else names[0],
            meta=dict(frames_no_face=int((n_faces == 0).sum()), frames_multi_face=int((n_faces > 1).sum()),
                      faces_per_frame=n_faces.tolist(), backends_used={n: used.count(n) for n in names},
                      pose_model=",".join(sorted(pose_models)) or None, seconds=seconds,
                      frames_per_second=t_count / max(seconds, 1e-9)),
        )
        return track

    # --- public ---------------------------------------------------------------------------------------------
    def track(self, frames, fps: float = 25.0) -> FaceTrack:
        """Track a clip: (T, H, W, 3) uint8 RGB frames (or a list of frames) -> FaceTrack with T rows."""
        frames = _check_frames(frames)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if hasattr(self.backend, "reset"):
            self.backend.reset()                      # a new clip: forget the face followed in the last one
        track = self._run(frames, self.backend, fps)
        if self.smoothing is not None and len(track) > 1:
            track = smooth_track(track, self.smoothing, **self.smoothing_params)
        return track

    def track_image(self, image) -> FaceTrack:
        """Track one photo: (H, W, 3) uint8 RGB -> FaceTrack with T = 1. Raises NoFaceError when there is no face."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got shape {image.shape}")
        track = self._run(_check_frames(image[None]), self._photo(), 25.0)
        if not track.detected[0]:
            raise NoFaceError(f"no face found in the {image.shape[1]}x{image.shape[0]} image by the {self.name!r} "
                              "backend; use a photo in which one face is clearly visible (roughly frontal, at "
                              "least ~40 pixels wide)")
        return track

    def detect(self, image) -> list[Detection]:
        """The backend's detections for one photo (all faces, best first)."""
        image = np.asarray(image)
        return self._detect(self._photo(), _check_frames(image[None])[0])[0]


# ---------------------------------------------------------------------------------------------------------------
# clip-level conditions of VASA-1
# ---------------------------------------------------------------------------------------------------------------
def main_gaze(track: FaceTrack, bins: int | float = 4.0) -> np.ndarray:
    """VASA-1's main eye-gaze direction of a clip: (gaze yaw, gaze pitch) in degrees.

    The per-frame gaze is noisy and darts away now and then; the main direction is where it dwells. We histogram
    the (yaw, pitch) points in 2D (``bins``: a bin width in degrees if a float, else a number of bins per axis),
    take the densest bin and its 8 neighbours, and return the mean of the points that fall there. NaN (2,) when no
    frame has a gaze.
    """
    g = np.asarray(track.gaze, np.float64)
    g = g[np.all(np.isfinite(g), axis=1)]
    if len(g) == 0:
        return np.full(2, np.nan)
    lo, hi = g.min(axis=0), g.max(axis=0)
    if isinstance(bins, (int, np.integer)):
        n = np.full(2, max(int(bins), 1))
        width = np.maximum((hi - lo) / n, 1e-6)
    else:
        width = np.full(2, float(bins))
        n = np.maximum(np.ceil((hi - lo) / width).astype(int), 1)
    idx = np.minimum(((g - lo) / width).astype(int), n - 1)                       # (N, 2) bin of each point
    counts = np.zeros(n, np.int64)
    np.add.at(counts, (idx[:, 0], idx[:, 1]), 1)
    best = np.array(np.unravel_index(np.argmax(counts), counts.shape))
    near = np.all(np.abs(idx - best) <= 1, axis=1)
    return g[near].mean(axis=0)


def head_distance(track: FaceTrack) -> float:
    """VASA-1's head-to-camera distance condition: the clip's median ``scale`` (1.0 = the average distance)."""
    s = np.asarray(track.pose[:, 5], np.float64)
    s = s[np.isfinite(s)]
    return float(np.median(s)) if s.size else float("nan")
