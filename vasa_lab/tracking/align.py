"""Crop and align: a steady square face crop at any size.

The later chapters learn from face crops, so the crop must follow the face without adding motion of its own: a
crop that jitters by a pixel teaches the latent space that faces jitter. We build it from landmarks that hardly
deform (the eye and mouth centres), not from the detector's box (which breathes with every frame):

    centre = (eye_mid + mouth_mid) / 2 + up * 0.1 * d,     eye_mid = mean of 36-47,  mouth_mid = mean of 48-67,
    d      = max(inter-ocular distance |p36 - p45|, 1.35 x eye-to-mouth distance |mouth_mid - eye_mid|),
    side   = scale x 1.8 x d.

Taking the larger of two face measures keeps the size steady when the head turns (the eyes get closer together)
or nods (the mouth gets closer to the eyes); 1.35 makes the two agree on a frontal face. With the default
``scale=1.6`` the crop holds the whole head and a little hair. Then, over time, centre and log(side) are smoothed
with a Gaussian (offline: past and future frames both count, so no lag), and frames without a face take the
values interpolated from their neighbours (held at the ends).

There is no rotation by default: the latent space models head pose (roll included) itself, so the crop only
removes translation and scale. ``align_roll=True`` also levels the eyes (a similarity transform).

The crop itself is an affine warp (``cv2.warpAffine``, bilinear, border replicated): the square [x0, x0 + side]
maps onto [0, size) with pixel centres at integers, out = (x - x0) * size / side - 0.5 (and the same for y).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .types import Detection, FaceTrack

SIZE_FACTOR = 1.8       # crop side = scale x SIZE_FACTOR x face measure d
EYE_MOUTH_FACTOR = 1.35  # d = max(inter-ocular, EYE_MOUTH_FACTOR x eye-to-mouth distance)
LIFT = 0.1              # move the centre up by LIFT x d (room for the forehead and hair)
BOX_FACTOR = 1.1        # a Haar face box is ~0.9 x SIZE_FACTOR x d wide (measured on synthetic and real faces)


def face_square(landmarks: np.ndarray, scale: float = 1.6) -> np.ndarray:
    """(..., 68, 2) landmarks -> (..., 3): crop centre x, centre y and side, in pixels (no smoothing)."""
    lm = np.asarray(landmarks, np.float64)
    eye = lm[..., 36:48, :].mean(axis=-2)
    mouth = lm[..., 48:68, :].mean(axis=-2)
    iod = np.linalg.norm(lm[..., 45, :] - lm[..., 36, :], axis=-1)
    down = mouth - eye
    em = np.linalg.norm(down, axis=-1)
    d = np.maximum(iod, EYE_MOUTH_FACTOR * em)
    centre = 0.5 * (eye + mouth) - LIFT * d[..., None] * down / np.maximum(em, 1e-9)[..., None]
    return np.concatenate([centre, (scale * SIZE_FACTOR * d)[..., None]], axis=-1)


def box_square(box: np.ndarray, scale: float = 1.6) -> np.ndarray:
    """A detector box (..., 4) -> (..., 3) centre x, y and side, for detections without landmarks.

    OpenCV's frontal-face box is about 0.9 x (SIZE_FACTOR x d) wide, so side = scale x BOX_FACTOR x box width gives
    about the same crop as the landmarks would."""
    b = np.asarray(box, np.float64)
    w = np.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])
    return np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2, scale * BOX_FACTOR * w], axis=-1)


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    """Interpolate NaN rows of (T, D) from the valid ones (held constant beyond the first/last valid frame)."""
    t = np.arange(x.shape[0])
    ok = np.all(np.isfinite(x), axis=1)
    out = x.copy()
    for j in range(x.shape[1]):
        out[:, j] = np.interp(t, t[ok], x[ok, j])
    return out


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing of (T, D) along time, edges padded by repeating the end values."""
    if sigma <= 0 or x.shape[0] < 2:
        return x
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.concatenate([np.repeat(x[:1], r, axis=0), x, np.repeat(x[-1:], r, axis=0)])
    return np.stack([np.convolve(padded[:, j], k, mode="valid") for j in range(x.shape[1])], axis=1)


def crop_boxes(track: FaceTrack, scale: float = 1.6, smooth: bool = True, sigma: float = 2.0) -> np.ndarray:
    """Stable square crops for every frame of a track: (T, 4) x0, y0, x1, y1 in pixels (x1 - x0 = y1 - y0).

    ``sigma``: the temporal smoothing in frames (Gaussian on centre and log side). Raises ValueError when no frame
    has a face."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    sq = face_square(track.landmarks, scale)                               # (T, 3)
    from_box = ~np.all(np.isfinite(sq), axis=1) & np.all(np.isfinite(track.boxes), axis=1)
    if from_box.any():                                                     # detector-only frames
        sq[from_box] = box_square(track.boxes[from_box], scale)
    if not np.any(np.all(np.isfinite(sq), axis=1)):
        raise ValueError("no face was detected in any frame of the track, so there is nothing to crop")
    sq = _fill_gaps(sq)
    sq[:, 2] = np.log(np.maximum(sq[:, 2], 1e-3))
    if smooth:
        sq = _gaussian_smooth(sq, sigma)
    half = 0.5 * np.exp(sq[:, 2])
    return np.stack([sq[:, 0] - half, sq[:, 1] - half, sq[:, 0] + half, sq[:, 1] + half], axis=1).astype(np.float32)


def crop_matrix(box: np.ndarray, size: int, angle_deg: float = 0.0) -> np.ndarray:
    """The 2x3 affine matrix that maps a square box (x0, y0, x1, y1) onto a (size, size) crop, optionally turning
    the content by -angle_deg about the box centre (to level a face rolled by angle_deg)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    k = size / max(x1 - x0, 1e-6)
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    a = np.radians(-angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * k
    # out = rot (x - c) + (size - 1) / 2   (the box centre goes to the crop centre)
    t = np.array([(size - 1) / 2.0, (size - 1) / 2.0]) - rot @ np.array([cx, cy])
    return np.concatenate([rot, t[:, None]], axis=1)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points (..., 2) (e.g. landmarks into crop coordinates)."""
    p = np.asarray(points, np.float64)
    return p @ matrix[:, :2].T + matrix[:, 2]


def _roll_angles(track: FaceTrack) -> np.ndarray:
    """Eye-line angle per frame in degrees (clockwise positive), gaps filled and smoothed."""
    d = track.landmarks[:, 45].astype(np.float64) - track.landmarks[:, 36]
    ang = np.degrees(np.arctan2(d[:, 1], d[:, 0]))[:, None]
    if not np.any(np.isfinite(ang)):
        return np.zeros(len(track))
    return _gaussian_smooth(_fill_gaps(ang), 2.0)[:, 0]


def crop_align(frames: np.ndarray, track: FaceTrack, size: int = 256, scale: float = 1.6, boxes=None,
               align_roll: bool = False) -> np.ndarray:
    """Crop every frame to a steady square around the face: (T, H, W, 3) uint8 -> (T, size, size, 3) uint8.

    ``boxes``: crops from :func:`crop_boxes` (made here if None); ``align_roll``: also level the eyes.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {frames.shape}")
    if frames.shape[0] != len(track):
        raise ValueError(f"{frames.shape[0]} frames but the track has {len(track)}")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    boxes = crop_boxes(track, scale) if boxes is None else np.asarray(boxes)
    angles = _roll_angles(track) if align_roll else np.zeros(len(track))
    out = np.zeros((frames.shape[0], size, size, 3), np.uint8)
    for t in range(frames.shape[0]):
        m = crop_matrix(boxes[t], size, angles[t])
        out[t] = cv2.warpAffine(frames[t], m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def crop_image(image: np.ndarray, detection: Detection, size: int = 256, scale: float = 1.6) -> np.ndarray:
    """A square face crop of one portrait from one detection (landmarks if it has them, else its box)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if detection.landmarks is not None and np.all(np.isfinite(detection.landmarks)):
        cx, cy, side = face_square(detection.landmarks, scale)
    else:
        cx, cy, side = box_square(detection.box, scale)
    box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
    return cv2.warpAffine(image, crop_matrix(box, size), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


# ---------------------------------------------------------------------------------------------------------------
# a user's portrait, framed like the synthetic world's training frames (the main job's first step)
# ---------------------------------------------------------------------------------------------------------------
# Where the face sits in a synthetic world frame at the neutral pose (yaw = pitch = roll = 0, scale 1), as
# fractions of the frame: the centre (x, y) and side of face_square(landmarks, scale=1). Measured with
# ``reference_framing()`` below on 12 unseen identities at 256 px: the true landmarks give (0.498, 0.430, 0.677),
# chapter 02's tracker on the same renders (0.499, 0.433, 0.682); people differ by 0.011 in y and 0.023 in side.
REFERENCE_FRAMING = (0.498, 0.431, 0.678)


def reference_framing(n_people: int = 12, size: int = 256, seed: int = 0) -> tuple[float, float, float]:
    """Measure :data:`REFERENCE_FRAMING`: the mean face square of neutral synthetic faces, as fractions of the frame
    (people ``1000 ..`` of world ``seed``, which no profile trains on)."""
    from ..world.clip import person
    from ..world.render import render_frame
    from ..world.state import FaceState

    squares = []
    for i in range(n_people):
        _, landmarks = render_frame(person(seed, 1000 + i).identity, FaceState(), size)
        squares.append(face_square(np.asarray(landmarks), scale=1.0) / size)
    cx, cy, side = np.mean(squares, axis=0)
    return float(cx), float(cy), float(side)


def framing_box(landmarks: np.ndarray, framing: tuple[float, float, float] = REFERENCE_FRAMING) -> np.ndarray:
    """(68, 2) landmarks -> the square crop (x0, y0, x1, y1) that puts this face where the world's faces sit.

    With the face square (cx, cy, s) and the reference (fx, fy, fs) as fractions of the frame, the crop side is
    S = s / fs and the crop's corner is (cx - fx S, cy - fy S): the face square then covers the same fraction of
    the crop, at the same place, as in a training frame."""

    cx, cy, s = face_square(np.asarray(landmarks, np.float64), scale=1.0)
    fx, fy, fs = framing
    side = s / fs
    x0, y0 = cx - fx * side, cy - fy * side
    return np.array([x0, y0, x0 + side, y0 + side])


def crop_square(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Cut the square ``box`` out of ``image`` (edges replicated where it leaves the image) at ``size`` pixels.

    The warp goes to at most 4x the target first and is then shrunk with area averaging, so a big photo does not
    alias when it becomes a 64-pixel face."""
    side_px = float(box[2] - box[0])
    inter = int(np.clip(round(side_px), size, 4 * size))
    crop = cv2.warpAffine(image, crop_matrix(box, inter), (inter, inter), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    if inter != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return crop


@dataclass
class Portrait:
    """A portrait made ready for the appearance encoder."""

    crop: np.ndarray            # (size, size, 3) uint8 RGB, aligned like the training frames
    box: np.ndarray             # (4,) the crop in the original image's pixels
    landmarks: np.ndarray       # (68, 2) in the original image's pixels
    image_size: tuple[int, int]  # (height, width) of the original image
    backend: str                # which tracker backend found the face
    faces: int                  # how many faces it found (the largest, best one is used)
    image: np.ndarray | None = None   # (H, W, 3) uint8 the whole photo (for drawing the video at its resolution)

    def crop_landmarks(self) -> np.ndarray:
        """(68, 2) the landmarks in the crop's pixels (NaN for a detector-only backend)."""
        return transform_points(self.landmarks, crop_matrix(self.box, self.crop.shape[0]))


def align_portrait(image, size: int, tracker=None) -> Portrait:
    """Find the face in a portrait (chapter 02's tracker) and crop it the way the training frames are framed.

    Raises :class:`NoFaceError` when there is no face, ValueError when the image cannot be read."""
    from ..media import read_portrait
    from .tracker import FaceTracker, NoFaceError

    img = read_portrait(image)
    tracker = tracker or FaceTracker("auto", smoothing=None)
    dets = tracker.detect(img)
    if not dets:
        name = image if isinstance(image, (str, Path)) else "the portrait"
        raise NoFaceError(f"no face found in {name} ({img.shape[1]}x{img.shape[0]} pixels); use a photo in which "
                          "one face is clearly visible, roughly frontal and at least ~40 pixels wide")
    det = dets[0]
    if det.landmarks is not None and np.all(np.isfinite(det.landmarks)):
        landmarks = np.asarray(det.landmarks, np.float64)
        box = framing_box(landmarks)
    else:                                   # a detector-only backend: frame the box like chapter 02's crops do
        cx, cy, side = box_square(det.box, scale=1.0)
        side = side / REFERENCE_FRAMING[2]
        landmarks = np.full((68, 2), np.nan)
        box = np.array([cx - REFERENCE_FRAMING[0] * side, cy - REFERENCE_FRAMING[1] * side,
                        cx + (1 - REFERENCE_FRAMING[0]) * side, cy + (1 - REFERENCE_FRAMING[1]) * side])
    crop = crop_square(img, box, size)
    return Portrait(crop=crop, box=box, landmarks=landmarks, image_size=img.shape[:2],
                    backend=str(getattr(tracker, "name", "")), faces=len(dets), image=img)
