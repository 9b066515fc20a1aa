"""Training data for the face latent space: frames of one person, in pairs.

The latent space learns by **self-reenactment**: take two frames of the same person, encode the appearance of the
first (the source) and the motion of the second (the driver), and draw the driver. Nothing but the motion code can
tell the decoder how the driver differs from the source, so the motion code learns to carry exactly that.

* :class:`ClipFrames` gives random access to the frames and head poses of one split of a dataset folder: the
  synthetic world (``vasa_lab.world``; the pose is the ground truth) or a folder made by ``data_prep.prepare``
  from real video (the pose is the tracker's). Frames are cached as memory-mapped ``.frames.npy`` files.
* :class:`FramePairDataset` draws (source, driver) pairs. Most come from one clip, at least ``min_gap`` frames
  apart, as in VASA-1. In the synthetic world every person speaks two clips with different gaze, emotion and
  head distance, and the looks are identical in both, so a share of pairs (``other_clip_share``) takes the driver
  from the person's other clip: larger differences between source and driver, so the motion code must carry
  gaze and expression too, not only what changes within four seconds.
* :class:`IdentityFrameDataset` draws single frames labelled with their person, for the identity network.

Items are drawn by a generator seeded with (seed, index): the same index always gives the same pair.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import DataConfig


def is_prepared(folder: str | Path) -> bool:
    """True for a folder written by data_prep.prepare (shards), False for a synthetic world folder."""
    return (Path(folder) / "shards").is_dir()


class ClipFrames:
    """Frames, poses and people of one split of a dataset folder (synthetic world or prepared real video)."""

    def __init__(self, folder: str | Path, split: str | None = "train", data_config: DataConfig | None = None):
        cfg = data_config or DataConfig(window_frames=1, window_stride=1)
        self.folder = Path(folder)
        self.prepared = is_prepared(folder)
        if self.prepared:
            from ..data.shards import PreparedClipDataset

            self.source = PreparedClipDataset(folder, split, window_frames=1, window_stride=1, config=cfg)
        else:
            from ..data.datamodule import ClipWindowDataset

            self.source = ClipWindowDataset(folder, split, window_frames=1, window_stride=1, config=cfg)
        self.entries = self.source.entries
        if not self.entries:
            raise ValueError(f"{folder} has no clips in the {split!r} split")
        self.identity = [int(e["identity"]) for e in self.entries]
        self.n_frames = [int(e["n_frames"]) for e in self.entries]
        self.clips_of: dict[int, list[int]] = defaultdict(list)
        for c, person in enumerate(self.identity):
            self.clips_of[person].append(c)
        self.people = sorted(self.clips_of)
        self._pose: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._frames: dict[int, np.ndarray] = {}
        self._expression: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def frames(self, clip: int) -> np.ndarray:
        """(T, H, W, 3) uint8, memory-mapped (opened once per clip)."""
        if clip not in self._frames:
            self._frames[clip] = self.source.frames_of(clip)
        return self._frames[clip]

    def image_size(self) -> int:
        return int(self.frames(0).shape[1])

    def states(self, clip: int) -> np.ndarray | None:
        """(T, 17) ground truth FaceStates (synthetic world only; None for real video)."""
        if self.prepared:
            tracks = self.source.tracks_of(clip)
            return tracks.get("states")
        return self.source.truth_of(clip).states

    def landmarks(self, clip: int) -> np.ndarray | None:
        """(T, 68, 2) landmarks in pixels: the truth in the synthetic world, the tracker's for real video."""
        if self.prepared:
            return np.asarray(self.source.tracks_of(clip)["landmarks"], np.float32)
        return self.source.truth_of(clip).landmarks

    def expression(self, clip: int) -> tuple[np.ndarray, np.ndarray]:
        """The given expression (T, len(EXPRESSION_NAMES)) in EXPRESSION_UNIT units, and where it is known (T, K)
        bool: every value in the synthetic world (its truth); for real video what the tracker reads (mouth opening
        in the jaw slot, eye closure in the blink slot, gaze), where the face was found."""
        from .config import EXPRESSION_NAMES, EXPRESSION_UNIT

        if clip not in self._expression:
            unit = np.asarray(EXPRESSION_UNIT, np.float32)
            k = len(EXPRESSION_NAMES)
            if self.prepared:
                tracks = self.source.tracks_of(clip)
                t = len(tracks["pose"])
                values, ok = np.zeros((t, k), np.float32), np.zeros((t, k), bool)
                detected = np.asarray(tracks.get("detected", np.ones(t, bool)), bool)
                for name, column in (("jaw_open", tracks.get("mouth_open")),
                                     ("blink", None if "eye_openness" not in tracks else 1 - np.asarray(
                                         tracks["eye_openness"], np.float32)),
                                     ("gaze_yaw", None if "gaze" not in tracks else np.asarray(tracks["gaze"])[:, 0]),
                                     ("gaze_pitch", None if "gaze" not in tracks else np.asarray(tracks["gaze"])[:, 1])):
                    if column is not None:
                        j = EXPRESSION_NAMES.index(name)
                        column = np.asarray(column, np.float32)
                        values[:, j] = np.nan_to_num(column) / unit[j]
                        ok[:, j] = detected & np.isfinite(column)
            else:
                from ..world.state import STATE_NAMES

                states = self.source.truth_of(clip).states
                values = np.stack([states[:, STATE_NAMES.index(n)] for n in EXPRESSION_NAMES], 1) / unit
                ok = np.ones(values.shape, bool)
            self._expression[clip] = (values.astype(np.float32), ok)
        return self._expression[clip]

    def pose(self, clip: int) -> tuple[np.ndarray, np.ndarray]:
        """The given head pose (T, 6) and where it can be trusted (T,) bool: truth, or the tracker's pose."""
        if clip not in self._pose:
            if self.prepared:
                tracks = self.source.tracks_of(clip)
                pose = np.asarray(tracks["pose"], np.float32)
                ok = np.asarray(tracks.get("detected", np.ones(len(pose), bool)), bool) & np.isfinite(pose).all(1)
                pose = np.nan_to_num(pose, nan=0.0)
            else:
                pose = np.asarray(self.source.truth_of(clip).states[:, :6], np.float32)
                ok = np.ones(len(pose), bool)
            self._pose[clip] = (pose, ok)
        return self._pose[clip]


# iBUG-68 groups whose boxes make the face-parts mask: (eye + brow) on each side, and the mouth
FACE_PARTS = (list(range(17, 22)) + list(range(36, 42)), list(range(22, 27)) + list(range(42, 48)), list(range(48, 68)))


def face_parts_mask(landmarks: np.ndarray | None, size: int, eye_weight: float = 1.0) -> torch.Tensor:
    """(1, size, size) float: ``eye_weight`` inside the boxes around the eyes + brows, 1 inside the mouth's box (a
    margin of size / 32 px), 0 elsewhere; all 0 when the landmarks are missing (the tracker lost the face)."""
    mask = torch.zeros(1, size, size)
    if landmarks is None or not np.isfinite(landmarks).all():
        return mask
    margin = size / 32
    for group, weight in zip(FACE_PARTS, (eye_weight, eye_weight, 1.0)):
        (x0, y0), (x1, y1) = landmarks[group].min(0) - margin, landmarks[group].max(0) + margin
        x0, y0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        x1, y1 = min(int(np.ceil(x1)) + 1, size), min(int(np.ceil(y1)) + 1, size)
        mask[:, y0:y1, x0:x1] = weight
    return mask


MOUTH_INSIDE = list(range(60, 68))   # iBUG-68 inner-lip points


def mouth_inside_mask(landmarks: np.ndarray | None, size: int) -> torch.Tensor:
    """(1, size, size) float: 1 inside the box around the inner lips (a margin of size / 32 px, at least 2 px tall
    so a closed mouth still has its lip line), 0 elsewhere and when the landmarks are missing."""
    mask = torch.zeros(1, size, size)
    if landmarks is None or not np.isfinite(landmarks).all():
        return mask
    margin = size / 32
    (x0, y0), (x1, y1) = landmarks[MOUTH_INSIDE].min(0) - margin, landmarks[MOUTH_INSIDE].max(0) + margin
    x0, y0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    x1, y1 = min(int(np.ceil(x1)) + 1, size), min(int(np.ceil(y1)) + 1, size)
    mask[:, y0:y1, x0:x1] = 1.0
    return mask


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.array(frame)).permute(2, 0, 1).float().div_(255.0)


class FramePairDataset(Dataset):
    """(source, driver) frames of one person; ``length`` items, each a pure function of (seed, index).

    Each item: ``source``, ``driver`` (3, H, W) in [0, 1]; ``source_pose``, ``driver_pose`` (6,) the given pose;
    ``pose_ok`` (2,) whether those poses are trusted; ``identity`` () int64; ``same_clip`` () bool;
    ``driver_parts`` (1, H, W) the driver's eyes/brows/mouth boxes (:func:`face_parts_mask`); ``driver_mouth``
    (1, H, W) the box of the driver's mouth inside (:func:`mouth_inside_mask`); ``source_expression``,
    ``driver_expression`` (K,) and ``expression_ok`` (2, K) from :meth:`ClipFrames.expression`.
    """

    def __init__(self, clips: ClipFrames, length: int, min_gap: int = 10, other_clip_share: float = 0.5,
                 seed: int = 0, eye_weight: float = 1.0):
        self.clips, self.length, self.min_gap, self.eye_weight = clips, length, min_gap, eye_weight
        self.other_clip_share, self.seed = other_clip_share, seed

    def __len__(self) -> int:
        return self.length

    def pair(self, index: int) -> tuple[int, int, int, int]:
        """(source clip, source frame, driver clip, driver frame) of item ``index``."""
        rng = np.random.default_rng([self.seed, index])
        c = int(rng.integers(len(self.clips)))
        t = self.clips.n_frames[c]
        s = int(rng.integers(t))
        others = [o for o in self.clips.clips_of[self.clips.identity[c]] if o != c]
        if others and rng.random() < self.other_clip_share:
            c2 = int(others[rng.integers(len(others))])
            return c, s, c2, int(rng.integers(self.clips.n_frames[c2]))
        far = np.flatnonzero(np.abs(np.arange(t) - s) >= min(self.min_gap, t // 2))
        far = far[far != s] if far.size > 1 else np.array([(s + 1) % t])
        return c, s, c, int(far[rng.integers(far.size)])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        c, s, c2, d = self.pair(index)
        pose_s, ok_s = self.clips.pose(c)
        pose_d, ok_d = self.clips.pose(c2)
        driver = to_tensor(self.clips.frames(c2)[d])
        landmarks = self.clips.landmarks(c2)
        driver_landmarks = None if landmarks is None else landmarks[d]
        (expr_s, eok_s), (expr_d, eok_d) = self.clips.expression(c), self.clips.expression(c2)
        return dict(
            source=to_tensor(self.clips.frames(c)[s]), driver=driver,
            driver_parts=face_parts_mask(driver_landmarks, driver.shape[-1], self.eye_weight),
            driver_mouth=mouth_inside_mask(driver_landmarks, driver.shape[-1]),
            source_expression=torch.from_numpy(expr_s[s].copy()), driver_expression=torch.from_numpy(expr_d[d].copy()),
            expression_ok=torch.from_numpy(np.stack([eok_s[s], eok_d[d]])),
            source_pose=torch.from_numpy(pose_s[s].copy()), driver_pose=torch.from_numpy(pose_d[d].copy()),
            pose_ok=torch.tensor([ok_s[s], ok_d[d]]), identity=torch.tensor(self.clips.identity[c]),
            same_clip=torch.tensor(c == c2),
        )


class IdentityFrameDataset(Dataset):
    """Single frames labelled with their person: ``image`` (3, H, W), ``label`` () int64 in [0, n_people)."""

    def __init__(self, clips: ClipFrames, length: int, seed: int = 0):
        self.clips, self.length, self.seed = clips, length, seed
        self.label_of = {person: k for k, person in enumerate(clips.people)}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index, 1])
        c = int(rng.integers(len(self.clips)))
        t = int(rng.integers(self.clips.n_frames[c]))
        return dict(image=to_tensor(self.clips.frames(c)[t]),
                    label=torch.tensor(self.label_of[self.clips.identity[c]]))
