"""Training data for the face latent space: frames of one person, in pairs.

The latent space learns by **self-reenactment**: take two frames of the same person, encode the appearance of the
first (the source) and the motion of the second (the driver), and draw the driver. Nothing but the motion code can
tell the decoder how the driver differs from the source, so the motion code learns to carry exactly that.

* :class:`~vasa_lab.data.clips.ClipFrames` (in :mod:`vasa_lab.data.clips`) gives random access to the frames and
  head poses of one split of a dataset folder.
* :class:`FramePairDataset` draws (source, driver) pairs. Most come from one clip, at least ``min_gap`` frames
  apart, as in VASA-1. In the synthetic world every person speaks two clips with different gaze, emotion and
  head distance, and the looks are identical in both, so a share of pairs (``other_clip_share``) takes the driver
  from the person's other clip: larger differences between source and driver, so the motion code must carry
  gaze and expression too, not only what changes within four seconds.
* :class:`IdentityFrameDataset` draws single frames labelled with their person, for the identity network.
* :class:`FramePoseDataset` draws single frames with their given head pose, for the pose phase.
* :func:`new_face_frames` draws people never seen before, one frame each, in the states of the clips' frames, for
  the faces phase.

Items are drawn by a generator seeded with (seed, index): the same index always gives the same pair.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.clips import ClipFrames
from ..geometry import INNER_LIPS, LEFT_BROW, LEFT_EYE, OUTER_LIPS, RIGHT_BROW, RIGHT_EYE
from .config import EXPRESSION_NAMES, EXPRESSION_UNIT


# iBUG-68 groups whose boxes make the face-parts mask: (eye + brow) on each side, and the mouth
FACE_PARTS = (RIGHT_BROW + RIGHT_EYE, LEFT_BROW + LEFT_EYE, OUTER_LIPS + INNER_LIPS)


def face_parts_mask(landmarks: np.ndarray | None, size: int, eye_weight: float = 1.0) -> torch.Tensor:
    """(1, size, size) float: ``eye_weight`` inside the boxes around the eyes + brows, 1 inside the mouth's box (a
    margin of size / 32 px), 0 elsewhere; all 0 when the landmarks are missing (the tracker lost the face)."""
    mask = torch.zeros(1, size, size)
    if landmarks is None or not np.isfinite(landmarks).all():
        return mask
    for group, weight in zip(FACE_PARTS, (eye_weight, eye_weight, 1.0)):
        mask[(slice(None), *landmark_box(landmarks[group], size))] = weight
    return mask


def landmark_box(points: np.ndarray, size: int) -> tuple[slice, slice]:
    """(rows, columns) of the box around ``points`` (N, 2) with a margin of size / 32 px, inside the frame."""
    margin = size / 32
    (x0, y0), (x1, y1) = points.min(0) - margin, points.max(0) + margin
    x0, y0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    x1, y1 = min(int(np.ceil(x1)) + 1, size), min(int(np.ceil(y1)) + 1, size)
    return slice(y0, y1), slice(x0, x1)


MOUTH_INSIDE = list(range(60, 68))   # iBUG-68 inner-lip points


def inside_mask(landmarks: np.ndarray | None, size: int, groups: tuple[list[int], ...]) -> torch.Tensor:
    """(1, size, size) float: 1 inside the box around each group of landmarks (a margin of size / 32 px, so a
    closed mouth or a shut eye still has its line and the lids around it), 0 elsewhere and when the landmarks are
    missing."""
    mask = torch.zeros(1, size, size)
    if landmarks is None or not np.isfinite(landmarks).all():
        return mask
    for group in groups:
        mask[(slice(None), *landmark_box(landmarks[group], size))] = 1.0
    return mask


def mouth_inside_mask(landmarks: np.ndarray | None, size: int) -> torch.Tensor:
    """The box around the inner lips (:func:`inside_mask`): where copying the source is wrong when the mouth moves."""
    return inside_mask(landmarks, size, (MOUTH_INSIDE,))


def polygons_mask(landmarks: np.ndarray, size: int, groups: tuple[list[int], ...]) -> np.ndarray:
    """(size, size) uint8: 1 inside the polygon of each group of landmarks (pixels, filled at 1/8 px), 0 elsewhere."""
    mask = np.zeros((size, size), np.uint8)
    for group in groups:
        cv2.fillPoly(mask, [np.round(np.asarray(landmarks, np.float64)[group] * 8).astype(np.int32)], 1, shift=3)
    return mask


def mouth_opening_mask(landmarks: np.ndarray | None, size: int) -> torch.Tensor:
    """(1, size, size) float: 1 inside the polygon of the inner lips (iBUG-68 60-67), where an open mouth shows
    its inside (teeth, tongue, shadow) and nothing of the closed source can be copied; all 0 for a closed mouth
    and when the landmarks are missing."""
    if landmarks is None or not np.isfinite(landmarks).all():
        return torch.zeros(1, size, size)
    return torch.from_numpy(polygons_mask(landmarks, size, (MOUTH_INSIDE,)).astype(np.float32))[None]


def lips_mask(landmarks: np.ndarray | None, size: int) -> torch.Tensor:
    """The box around the outer lips (:func:`inside_mask`): where a smile lifts or lowers the mouth's corners."""
    return inside_mask(landmarks, size, (OUTER_LIPS,))


def eyes_inside_mask(landmarks: np.ndarray | None, size: int) -> torch.Tensor:
    """The boxes around each eye's six points (:func:`inside_mask`): where a blink changes the pixels."""
    return inside_mask(landmarks, size, (RIGHT_EYE, LEFT_EYE))


def landmark_tensor(landmarks: np.ndarray | None) -> torch.Tensor:
    """(68, 2) float32 landmarks in pixels; zeros where unknown (a batch needs a tensor; ``landmarks_ok`` says)."""
    if landmarks is None or not np.isfinite(landmarks).all():
        return torch.zeros(68, 2)
    return torch.from_numpy(np.asarray(landmarks, np.float32).copy())


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.array(frame)).permute(2, 0, 1).float().div_(255.0)


class FramePairDataset(Dataset):
    """(source, driver) frames of one person; ``length`` items, each a pure function of (seed, index).

    Each item: ``source``, ``driver`` (3, H, W) in [0, 1]; ``source_pose``, ``driver_pose`` (6,) the given pose;
    ``pose_ok`` (2,) whether those poses are trusted; ``identity`` () int64; ``same_clip`` () bool;
    ``driver_parts`` (1, H, W) the driver's eyes/brows/mouth boxes (:func:`face_parts_mask`); ``driver_mouth``
    (1, H, W) the box of the driver's mouth inside (:func:`mouth_inside_mask`); ``driver_eyes`` (1, H, W) the boxes
    of its eyes (:func:`eyes_inside_mask`); ``driver_lips`` (1, H, W) the box of its outer lips (:func:`lips_mask`);
    ``driver_mouth_open`` (1, H, W) the polygon of its inner lips
    (:func:`mouth_opening_mask`); ``source_expression``,
    ``driver_expression`` (K,) and ``expression_ok`` (2, K) from :meth:`ClipFrames.expression`;
    ``source_landmarks``, ``driver_landmarks`` (68, 2) in pixels and ``landmarks_ok`` () whether both are known.
    ``blink_share`` of the pairs take their driver from the frames where the person's eyes are closed.
    """

    def __init__(self, clips: ClipFrames, length: int, min_gap: int = 10, other_clip_share: float = 0.5,
                 seed: int = 0, eye_weight: float = 1.0, blink_share: float = 0.0):
        self.clips, self.length, self.min_gap, self.eye_weight = clips, length, min_gap, eye_weight
        self.other_clip_share, self.seed, self.blink_share = other_clip_share, seed, blink_share
        self.closed_eyes = self.closed_eye_frames() if blink_share > 0 else {}

    def closed_eye_frames(self, threshold: float = 0.5) -> dict[int, np.ndarray]:
        """Clip -> the frames where the eyes are closed (blink > ``threshold``: the world's truth, or what the
        tracker read on real video), for the clips that have any."""
        k = EXPRESSION_NAMES.index("blink")
        closed = {}
        for c in range(len(self.clips)):
            values, ok = self.clips.expression(c, EXPRESSION_NAMES, EXPRESSION_UNIT)
            frames = np.flatnonzero(ok[:, k] & (values[:, k] > threshold))
            if frames.size:
                closed[c] = frames
        return closed

    def __len__(self) -> int:
        return self.length

    def pair(self, index: int) -> tuple[int, int, int, int]:
        """(source clip, source frame, driver clip, driver frame) of item ``index``."""
        rng = np.random.default_rng([self.seed, index])
        c = int(rng.integers(len(self.clips)))
        t = self.clips.n_frames[c]
        s = int(rng.integers(t))
        others = [o for o in self.clips.clips_of[self.clips.identity[c]] if o != c]
        blinking = [o for o in (c, *others) if o in self.closed_eyes]
        if blinking and rng.random() < self.blink_share:   # a driver mid-blink, any clip of the person
            c2 = int(blinking[rng.integers(len(blinking))])
            return c, s, c2, int(rng.choice(self.closed_eyes[c2]))
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
        landmarks = self.clips.landmarks(c)
        source_landmarks = None if landmarks is None else landmarks[s]
        known = [lm is not None and bool(np.isfinite(lm).all()) for lm in (source_landmarks, driver_landmarks)]
        (expr_s, eok_s), (expr_d, eok_d) = (self.clips.expression(c, EXPRESSION_NAMES, EXPRESSION_UNIT),
                                            self.clips.expression(c2, EXPRESSION_NAMES, EXPRESSION_UNIT))
        return dict(
            source=to_tensor(self.clips.frames(c)[s]), driver=driver,
            driver_parts=face_parts_mask(driver_landmarks, driver.shape[-1], self.eye_weight),
            driver_mouth=mouth_inside_mask(driver_landmarks, driver.shape[-1]),
            driver_eyes=eyes_inside_mask(driver_landmarks, driver.shape[-1]),
            driver_lips=lips_mask(driver_landmarks, driver.shape[-1]),
            driver_mouth_open=mouth_opening_mask(driver_landmarks, driver.shape[-1]),
            source_expression=torch.from_numpy(expr_s[s].copy()), driver_expression=torch.from_numpy(expr_d[d].copy()),
            expression_ok=torch.from_numpy(np.stack([eok_s[s], eok_d[d]])),
            source_pose=torch.from_numpy(pose_s[s].copy()), driver_pose=torch.from_numpy(pose_d[d].copy()),
            pose_ok=torch.tensor([ok_s[s], ok_d[d]]), identity=torch.tensor(self.clips.identity[c]),
            same_clip=torch.tensor(c == c2),
            source_landmarks=landmark_tensor(source_landmarks), driver_landmarks=landmark_tensor(driver_landmarks),
            landmarks_ok=torch.tensor(all(known)),
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


class FramePoseDataset(Dataset):
    """Single frames and their given head pose, for the pose phase: ``n_items`` items, item i a frame of a clip, both
    drawn from ``(seed, i)`` (so an interrupted run draws the same items again).

    Each item: ``image`` (3, H, W) in [0, 1], ``pose`` (6,) the given pose, ``pose_ok`` whether it is trusted."""

    def __init__(self, clips: ClipFrames, n_items: int, seed: int = 0):
        self.clips, self.n_items, self.seed = clips, int(n_items), int(seed)

    def __len__(self) -> int:
        return self.n_items

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        c = int(rng.integers(len(self.clips)))
        t = int(rng.integers(self.clips.n_frames[c]))
        pose, ok = self.clips.pose(c)
        return dict(image=to_tensor(self.clips.frames(c)[t]), pose=torch.from_numpy(pose[t].copy()),
                    pose_ok=torch.tensor(bool(ok[t])))



def new_face_frames(clips: ClipFrames, n: int, size: int, tag: str) -> tuple[torch.Tensor, np.ndarray]:
    """``n`` people never seen before, one frame each, in the true state of a random frame of ``clips``, all drawn
    from ``tag`` (the same tag gives the same faces on any machine): images (n, 3, size, size) uint8 and their
    states (n, 17) in the world's STATE_NAMES order. Needs the synthetic world's truth (real video has none)."""
    from ..world.person import sample_identity
    from ..world.samples import identity_seeds, render_faces, tagged_rng

    if n < 1:
        raise ValueError(f"new_face_frames draws at least one face, not {n}")
    known = [clips.states(c) for c in range(len(clips))]
    if any(s is None or not np.isfinite(s).all() for s in known):
        raise ValueError("new faces are drawn in the true states of the world's frames, and these clips have none "
                         "(real video): train without the faces phase (new_faces=0)")
    states = np.concatenate(known)
    states = states[tagged_rng(tag).integers(len(states), size=n)]
    faces = render_faces([sample_identity(int(s)) for s in identity_seeds(tag, n)], list(states), size)
    return torch.from_numpy(faces["images"]).permute(0, 3, 1, 2).contiguous(), faces["states"]
