"""What the metric networks look at: log-mel audio rows, mouth crops, normalised pose windows, clips on disk.

Every metric of VASA-1 compares *something seen* with *something heard* (S_C/S_D, CAPP) or summarises what is seen
(dP, FVD, identity). This module turns a clip into those inputs, the same way in training and in evaluation:

* **audio** -> log-mel rows at 100 Hz, four per 25 fps video frame (:func:`log_mel`): frame t owns rows 4t..4t+3,
  so a 5-frame video window [t, t+5) meets the 20 rows [4t, 4t+20) = 0.2 s of sound, as in the public SyncNet;
* **mouth crops** (:func:`mouth_crops`): a square over the mouth, placed by the eyes (so it follows the head but
  not the lips), as wide as the outer eye corners are apart, rotated so the eyes are level, resized to ``size``
  px grey. The landmarks come from the synthetic world's truth
  in training and from the tracker at evaluation; :func:`fixed_mouth_crops` uses one fixed box instead;
* **pose windows** (:func:`normalise_pose`): yaw, pitch, roll, tx, ty, scale, minus their mean over the window and
  divided by fixed units, so the encoders see how the head *moves*, not where it happens to rest;
* **clips on disk** (:func:`load_eval_clip`): an mp4 and its sound (the mp4's audio track, or a ``.wav`` with the
  same stem beside it), as an :class:`EvalClip`; :func:`world_clips` reads a split of a dataset folder with its
  ground truth.

A private log-mel is kept here (instead of ``vasa_lab.audio``) so the metrics never change when the generator's
audio features do: a metric must stay fixed while the things it measures change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..media import FPS, SAMPLE_RATE, MediaError, load_audio, read_video, to_fps

HOPS_PER_FRAME = 4                      # log-mel rows per video frame (10 ms hops at 25 fps)
N_MELS = 40
MEL_DB_FLOOR = -80.0                    # dB below which everything is silence
MEL_DB_CENTRE, MEL_DB_SCALE = -40.0, 20.0   # fixed affine normalisation: (dB - centre) / scale
POSE_UNITS = np.array([5.0, 5.0, 5.0, 0.05, 0.05, 0.05], np.float32)  # degrees x3, head units x2, scale
FIXED_MOUTH_BOX = (0.506, 0.616, 0.35)  # centre x, centre y, side as fractions of the frame (tiny world's average)


# ---------------------------------------------------------------------------------------------------------------
# audio
# ---------------------------------------------------------------------------------------------------------------
def log_mel(audio: np.ndarray, n_frames: int, sample_rate: int = SAMPLE_RATE, fps: float = FPS,
            n_mels: int = N_MELS) -> np.ndarray:
    """Speech (N,) float32 -> normalised log-mel rows (n_frames * 4, n_mels) float32, 4 rows per video frame.

    power spectrogram (400-sample Hann window in a 512 FFT, hop = sample_rate / fps / 4) -> mel (Slaney) ->
    dB, floored at -80 -> (dB + 40) / 20. The audio is cut or zero-padded to exactly n_frames video frames.
    """
    import librosa

    if n_frames < 1:
        raise ValueError(f"need at least one video frame of audio, got n_frames={n_frames}")
    audio = np.asarray(audio, np.float32).reshape(-1)
    hop = int(round(sample_rate / fps / HOPS_PER_FRAME))
    need = n_frames * HOPS_PER_FRAME * hop
    audio = np.pad(audio[:need], (0, max(0, need - audio.size)))
    power = librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_fft=512, win_length=400, hop_length=hop,
                                           n_mels=n_mels, center=True, power=2.0)          # (n_mels, rows + 1)
    db = np.maximum(10 * np.log10(power + 1e-12), MEL_DB_FLOOR)
    rows = ((db - MEL_DB_CENTRE) / MEL_DB_SCALE).T[: n_frames * HOPS_PER_FRAME]          # (4 T, n_mels)
    return np.ascontiguousarray(rows, dtype=np.float32)


def shift_audio(audio: np.ndarray, frames: int, sample_rate: int = SAMPLE_RATE, fps: float = FPS) -> np.ndarray:
    """The audio delayed by ``frames`` video frames (negative: advanced), same length, zero-filled."""
    n = int(round(frames * sample_rate / fps))
    out = np.zeros_like(audio)
    if n >= 0:
        out[n:] = audio[: audio.size - n] if n < audio.size else 0
    else:
        out[: audio.size + n] = audio[-n:]
    return out


# ---------------------------------------------------------------------------------------------------------------
# mouth crops
# ---------------------------------------------------------------------------------------------------------------
def _fill_gaps(x: np.ndarray) -> np.ndarray:
    """(T, D) with NaN rows -> interpolated from the finite rows (held at the ends); all-NaN stays NaN."""
    ok = np.isfinite(x).all(axis=1)
    if ok.all() or not ok.any():
        return x
    t = np.arange(len(x))
    return np.stack([np.interp(t, t[ok], x[ok, j]) for j in range(x.shape[1])], axis=1)


MOUTH_BELOW_EYES = 0.67    # the mouth's centre sits 0.67 eye-corner distances below the eyes' midpoint (tiny world)


def mouth_boxes(landmarks: np.ndarray) -> np.ndarray:
    """(T, 68, 2) iBUG landmarks -> (T, 4): crop centre x, y, side, angle (radians) of the mouth crop per frame.

    The box is placed by the *skull*, not by the mouth: u = the unit vector from the outer eye corner 36 to 45,
    n = u turned 90 degrees (down the face), iod = |p45 - p36|,

        centre = mean(p36, p39, p42, p45) + 0.67 iod n,    side = iod,    angle = angle of u,

    so the lips move inside a steady crop (a box that followed the lips would move with the speech itself, and
    a tracker's error in the lip points would blur exactly the signal SyncNet reads). Frames whose landmarks are
    missing (NaN) take values interpolated from their neighbours.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise ValueError(f"landmarks must be (T, 68, 2) iBUG-68 points, got shape {lm.shape}")
    eyes = lm[:, 45] - lm[:, 36]
    iod = np.linalg.norm(eyes, axis=1)
    u = eyes / np.maximum(iod, 1e-9)[:, None]
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)                    # image y points down: this is "down the face"
    centre = lm[:, [36, 39, 42, 45]].mean(axis=1) + MOUTH_BELOW_EYES * iod[:, None] * n
    angle = np.arctan2(eyes[:, 1], eyes[:, 0])
    return _fill_gaps(np.concatenate([centre, iod[:, None], angle[:, None]], axis=1))


def crop_square(frame: np.ndarray, cx: float, cy: float, side: float, angle: float, size: int) -> np.ndarray:
    """A rotated square of ``side`` px centred at (cx, cy) -> (size, size, C), bilinear, border replicated.

    Output pixel (u, v) samples the frame at  centre + R(angle) @ ((u + 0.5) / size - 0.5, (v + 0.5) / size - 0.5) * side.
    """
    k = side / size
    c, s = np.cos(angle) * k, np.sin(angle) * k
    off = -(size / 2 - 0.5)
    # the output -> input map, used with WARP_INVERSE_MAP
    m = np.array([[c, -s, cx + c * off - s * off], [s, c, cy + s * off + c * off]], np.float64)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def to_grey(frames: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) float32 luma in [0, 1] (ITU-R BT.601 weights)."""
    return (np.asarray(frames, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0


def mouth_crops(frames: np.ndarray, landmarks: np.ndarray, size: int = 24, smooth: float = 0.0) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 + landmarks (T, 68, 2) -> grey mouth crops (T, size, size) float32 in [0, 1].

    ``smooth``: sigma (frames) of a zero-phase Gaussian over the crop boxes, for tracked (jittery) landmarks.
    """
    frames = np.asarray(frames)
    boxes = mouth_boxes(landmarks)
    if not np.isfinite(boxes).all():                      # no face in any frame: the fixed box is all we have
        return fixed_mouth_crops(frames, size)
    if smooth > 0 and len(boxes) > 1:
        from scipy.ndimage import gaussian_filter1d

        boxes = gaussian_filter1d(boxes, smooth, axis=0, mode="nearest")
    out = np.empty((len(frames), size, size), np.float32)
    for t, (cx, cy, side, angle) in enumerate(boxes):
        out[t] = to_grey(crop_square(frames[t], cx, cy, side, angle, size))
    return out


def fixed_mouth_crops(frames: np.ndarray, size: int = 24,
                      box: tuple[float, float, float] = FIXED_MOUTH_BOX) -> np.ndarray:
    """The same crop for every frame (no landmarks): the box where the tiny world's mouths are on average."""
    frames = np.asarray(frames)
    h, w = frames.shape[1:3]
    cx, cy, side = box[0] * w, box[1] * h, box[2] * w
    return np.stack([to_grey(crop_square(f, cx, cy, side, 0.0, size)) for f in frames]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# pose
# ---------------------------------------------------------------------------------------------------------------
def normalise_pose(pose: np.ndarray) -> np.ndarray:
    """(..., T, 6) yaw, pitch, roll (deg), tx, ty (head units), scale -> minus the mean over T, / POSE_UNITS."""
    pose = np.asarray(pose, np.float32)
    return (pose - pose.mean(axis=-2, keepdims=True)) / POSE_UNITS


# ---------------------------------------------------------------------------------------------------------------
# clips
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class EvalClip:
    """One clip to be measured. Only frames and audio are required; the rest is used when known.

    ``pose``/``landmarks`` given here (ground truth, or the generator's z_pose) are used instead of the tracker's;
    ``portrait`` is the identity reference (default: the first frame).
    """

    name: str
    frames: np.ndarray                      # (T, H, W, 3) uint8 RGB at 25 fps
    audio: np.ndarray                       # (N,) float32 mono 16 kHz
    fps: float = FPS
    pose: np.ndarray | None = None          # (T, 6) yaw, pitch, roll, tx, ty, scale
    landmarks: np.ndarray | None = None     # (T, 68, 2) pixels
    portrait: np.ndarray | None = None      # (H, W, 3) uint8
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        f = np.asarray(self.frames)
        if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
            raise ValueError(f"{self.name}: frames must be (T, H, W, 3) uint8, got {f.shape} {f.dtype}")
        if len(f) < 5:
            raise ValueError(f"{self.name}: {len(f)} frames is too short to measure; at least 5 are needed (0.2 s)")
        a = np.asarray(self.audio, np.float32).reshape(-1)
        if a.size == 0:
            raise ValueError(f"{self.name}: the clip has no audio samples")
        if not np.isfinite(a).all():
            raise ValueError(f"{self.name}: the audio contains NaN or infinite values")
        self.frames, self.audio = f, a

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    def reference_image(self) -> np.ndarray:
        return self.portrait if self.portrait is not None else self.frames[0]


def load_eval_clip(path: str | Path) -> EvalClip:
    """An mp4 (or any video PyAV reads) and its sound -> EvalClip at 25 fps; MediaError with one sentence if not.

    The sound is ``<stem>.wav`` beside the video when it exists, else the video's own audio track.
    """
    path = Path(path)
    frames, fps = read_video(path)
    wav = path.with_suffix(".wav")
    try:
        audio = load_audio(wav if wav.is_file() else path, SAMPLE_RATE)
    except MediaError as err:
        if wav.is_file():
            raise
        raise MediaError(f"{path}: no audio to measure lip sync against: the video has no readable audio track and "
                         f"there is no {wav.name} beside it ({err})") from None
    try:
        return EvalClip(path.stem, to_fps(frames, fps), audio, meta=dict(path=str(path), source_fps=fps))
    except ValueError as err:
        raise MediaError(str(err)) from None


def world_clips(folder: str | Path, split: str | None = "test", limit: int | None = None) -> list[EvalClip]:
    """The clips of one split of a dataset folder with their ground truth pose and landmarks (synthetic world or
    prepared real video: for real video the "truth" is the preparation's tracker)."""
    from ..data.clips import ClipFrames

    clips = ClipFrames(folder, split)
    out = []
    for c in range(len(clips) if limit is None else min(limit, len(clips))):
        pose, _ = clips.pose(c)
        audio = np.asarray(clips.source.audio_of(c), np.float32)
        entry = clips.entries[c]
        out.append(EvalClip(str(entry.get("stem", entry.get("key", c))), np.array(clips.frames(c)), audio,
                            pose=np.asarray(pose, np.float32), landmarks=clips.landmarks(c),
                            meta=dict(identity=clips.identity[c], index=c)))
    return out


def halves_by_person(clips: list[EvalClip]) -> tuple[list[EvalClip], list[EvalClip]]:
    """Chapter 10's split of a test set: (A, B), A each person's first clip, B everybody's other clips (in order).

    A is the reference for the distribution metric (FVD_25) and B the clips every table row is made from, so a
    row is never compared with the very clips it was made from, while every person of B is also seen in A.
    """
    first: dict = {}
    for clip in clips:
        first.setdefault(clip.meta["identity"], clip)
    return [c for c in clips if first[c.meta["identity"]] is c], [c for c in clips if first[c.meta["identity"]] is not c]
