"""CAPP: Contrastive Audio and Pose Pretraining, VASA-1's measure of how well head motion fits the speech.

Lip sync has SyncNet; head pose had nothing, so VASA-1 trained a CLIP-style pair of encoders on 3-second windows
(75 frames at 25 fps): an audio encoder f_a and a transformer pose encoder f_p, each ending in a unit vector.
A batch of B windows gives B matching (audio, pose) pairs and B^2 - B mismatched ones; the symmetric InfoNCE
loss (CLIP's) pulls matching pairs together and pushes the others apart:

    s_ij = exp(tau) * <f_a(A_i), f_p(P_j)>                               (cosine similarity, learned temperature)
    L = 1/2 [ -1/B sum_i log softmax_j(s_ij)[i]  -  1/B sum_j log softmax_i(s_ij)[j] ]

**The score** is the cosine of the paired embeddings, CAPP = <f_a(A), f_p(P)>, averaged over a clip's 3 s windows
and over clips: higher when the head moves the way the speech asks for.

Our choices (the paper gives only the outline above):

* pose = (yaw, pitch, roll, tx, ty, scale) per frame, minus its mean over the window (where the head rests is not
  the audio's business; how it moves is), divided by fixed units (:data:`~.features.POSE_UNITS`), plus its
  frame-to-frame change; ground truth in training, the pose read off the pixels (:func:`~.pose_intensity.measure_face`,
  the default) or the generator's z_pose at evaluation;
* audio = the log-mel rows of each frame (4 x 40 = 160 numbers) -> a small 1-D convolutional encoder;
* the pose encoder is a convolutional stem (a nod lasts a few frames) + a transformer encoder (1 layer in tiny,
  6 in full as in VASA-1);
* both encoders end by averaging 5 frames at a time and *flattening* the 15 steps left, not by averaging over the
  whole window: an average forgets when things happened, and then audio a few frames late scores the same as
  audio on time (we tried: the shift curve came out flat);
* batches hold ``windows_per_clip`` windows of each clip at different start frames, so some negatives are the
  *same speech a few frames off*: the model has to learn when a nod happens, not only that it happens.

Like S_C and S_D, CAPP is in the units of this network (the paper's 0.588 for real video came from theirs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchmetrics import Metric

from ..training import OneLossModule, fit_for_steps, seed_everything
from ..config import resolve_profile
from .features import HOPS_PER_FRAME, MEL_DB_CENTRE, MEL_DB_FLOOR, MEL_DB_SCALE, N_MELS, log_mel, normalise_pose

SILENCE = (MEL_DB_FLOOR - MEL_DB_CENTRE) / MEL_DB_SCALE    # the normalised log-mel value of silence


@dataclass(frozen=True)
class CAPPConfig:
    profile: str = "tiny"
    window: int = 75                  # frames per window: 3 s at 25 fps, as in VASA-1
    n_mels: int = N_MELS
    width: int = 64                   # d_model of both encoders
    pose_layers: int = 1              # transformer layers of the pose encoder (VASA-1: 6)
    pool: int = 5                     # frames averaged before the flatten (75 / 5 = 15 time steps kept)
    heads: int = 4
    embed_dim: int = 64
    windows_per_clip: int = 4         # windows of one clip in a batch (same speech, other start frames)
    pose_noise: float = 0.0           # Gaussian noise on the normalised pose in training
    steps: int = 300
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    data: str = ""                    # a dataset folder; "" = the profile's synthetic world

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "CAPPConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            cfg = cls()
        elif name == "small":
            cfg = cls(profile="small", width=128, pose_layers=4, embed_dim=128, steps=6000)
        else:
            cfg = cls(profile="full", n_mels=80, width=256, pose_layers=6, heads=8, embed_dim=256, steps=60_000,
                      batch_size=256, lr=5e-4)
        return replace(cfg, **overrides) if overrides else cfg


def pose_features(pose: torch.Tensor) -> torch.Tensor:
    """Normalised pose (B, T, 6) -> (B, T, 12): the pose and its frame-to-frame change (x5, about the same size)."""
    velocity = torch.diff(pose, dim=1, prepend=pose[:, :1])
    return torch.cat([pose, 5.0 * velocity], dim=-1)


class AudioEncoder(nn.Module):
    """Log-mel rows (B, 4T, n_mels) -> unit vectors (B, D).

    per-frame linear (the 4 rows of a frame) -> 3 residual 1-D convs (kernel 5) -> average over ``pool`` frames ->
    flatten -> linear. Flattening keeps *when* things happen in the window (a mean over time would forget it, and
    the score could not notice audio that is a few frames late).
    """

    def __init__(self, cfg: CAPPConfig):
        super().__init__()
        w = cfg.width
        self.pool = cfg.pool
        self.inp = nn.Linear(HOPS_PER_FRAME * cfg.n_mels, w)
        self.convs = nn.ModuleList([nn.Sequential(nn.Conv1d(w, w, 5, padding=2), nn.GroupNorm(1, w), nn.GELU())
                                    for _ in range(3)])
        self.out = nn.Linear(w * (cfg.window // cfg.pool), cfg.embed_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        b, rows, m = mel.shape
        x = self.inp(mel.reshape(b, rows // HOPS_PER_FRAME, HOPS_PER_FRAME * m)).transpose(1, 2)   # (B, w, T)
        for conv in self.convs:
            x = x + conv(x)
        return F.normalize(self.out(F.avg_pool1d(x, self.pool).flatten(1)), dim=1)            # (B, D)


class PoseEncoder(nn.Module):
    """Normalised pose (B, T, 6) -> unit vectors (B, D).

    [pose, velocity] (12 per frame) -> a convolutional stem (local motion: a nod lasts a few frames) -> + learned
    positions -> ``pose_layers`` transformer encoder layers -> average over ``pool`` frames -> flatten -> linear.
    """

    def __init__(self, cfg: CAPPConfig):
        super().__init__()
        w = cfg.width
        self.pool = cfg.pool
        self.stem = nn.Sequential(nn.Conv1d(12, w, 5, padding=2), nn.GELU(), nn.Conv1d(w, w, 5, padding=2))
        self.pos = nn.Parameter(torch.randn(1, cfg.window, w) * 0.02)
        layer = nn.TransformerEncoderLayer(w, cfg.heads, 2 * w, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.pose_layers, enable_nested_tensor=False)
        self.out = nn.Linear(w * (cfg.window // cfg.pool), cfg.embed_dim)

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        x = self.stem(pose_features(pose).transpose(1, 2)).transpose(1, 2)                     # (B, T, w)
        x = self.encoder(x + self.pos).transpose(1, 2)                                          # (B, w, T)
        return F.normalize(self.out(F.avg_pool1d(x, self.pool).flatten(1)), dim=1)            # (B, D)


class CAPP(nn.Module):
    """The two encoders and the temperature. ``forward`` -> cosine of each (audio, pose) pair (B,)."""

    def __init__(self, config: CAPPConfig | None = None):
        super().__init__()
        cfg = config or CAPPConfig()
        self.config = cfg
        self.audio = AudioEncoder(cfg)
        self.pose = PoseEncoder(cfg)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, mel: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        return (self.audio(mel) * self.pose(pose)).sum(dim=1)


def info_nce(a: torch.Tensor, p: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE of unit vectors a, p (B, D): the mean of the audio->pose and pose->audio cross-entropies
    of the logits s * a p^T, whose diagonal holds the matching pairs."""
    logits = scale * a @ p.T                                     # (B, B)
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


# ---------------------------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------------------------
def window_starts(n_frames: int, window: int, stride: int | None = None) -> list[int]:
    """Start frames of the windows that cover a clip: every ``stride`` (default window / 3) frames, the last one
    ending at the clip's end; one window of the whole clip when it is shorter than ``window``."""
    if n_frames <= window:
        return [0]
    stride = stride or max(1, window // 3)
    starts = list(range(0, n_frames - window + 1, stride))
    if starts[-1] != n_frames - window:
        starts.append(n_frames - window)
    return starts


MIN_FRAMES = 25       # a clip shorter than 1 s says too little about head motion to score


@torch.no_grad()
def capp_windows(net: CAPP, mel: np.ndarray, pose: np.ndarray, stride: int | None = None) -> np.ndarray:
    """Cosine of every 3 s window of one clip: mel rows (4T, n_mels), pose (T, 6) -> (W,).

    A clip shorter than the window (but at least 1 s) is scored as one window padded with stillness (the
    normalised pose 0) and silence.
    """
    pose = np.asarray(pose, np.float32)
    if pose.ndim != 2 or pose.shape[1] != 6:
        raise ValueError(f"pose must be (T, 6) yaw, pitch, roll, tx, ty, scale, got {pose.shape}")
    t, w = len(pose), net.config.window
    if t < MIN_FRAMES:
        raise ValueError(f"CAPP needs at least {MIN_FRAMES} frames (1 s) of pose, got {t}")
    if not np.isfinite(pose).all():
        raise ValueError("pose has NaN rows (no face found?); fill or drop them before scoring CAPP")
    if len(mel) < HOPS_PER_FRAME * t:
        raise ValueError(f"{len(mel)} mel rows for {t} frames; need {HOPS_PER_FRAME} per frame")
    poses, mels = [], []
    for s in window_starts(t, w, stride):
        p = normalise_pose(pose[s: s + w])
        m = mel[HOPS_PER_FRAME * s: HOPS_PER_FRAME * (s + w)]
        if len(p) < w:
            p = np.pad(p, ((0, w - len(p)), (0, 0)))
            m = np.pad(m, ((0, HOPS_PER_FRAME * w - len(m)), (0, 0)), constant_values=SILENCE)
        poses.append(p)
        mels.append(m)
    net.eval()
    return net(torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(poses))).numpy()


class CAPPScore(Metric):
    """Mean CAPP cosine over clips (each clip: the mean over its 3 s windows).

    ``update(mel (4T, n_mels), pose (T, 6))``; ``compute()`` -> dict(CAPP, n). Per-clip values in ``per_clip``.
    """

    full_state_update = False

    def __init__(self, net: CAPP, **kwargs):
        super().__init__(**kwargs)
        self.net = net.eval()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.per_clip: list[float] = []

    def update(self, mel, pose) -> None:
        score = float(capp_windows(self.net, np.asarray(mel), np.asarray(pose)).mean())
        self.per_clip.append(score)
        self.total += score
        self.n += 1

    def compute(self) -> dict:
        return dict(CAPP=float(self.total) / max(int(self.n), 1), n=int(self.n))

    def reset(self) -> None:
        super().reset()
        self.per_clip = []


# ---------------------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------------------
class PoseAudioWindows(Dataset):
    """3 s (mel, pose) windows. Items come in groups of ``windows_per_clip`` from one clip at distinct start
    frames, so a batch (a multiple of the group size, not shuffled) holds same-clip near-miss negatives."""

    def __init__(self, mels: list[np.ndarray], poses: list[np.ndarray], length: int, cfg: CAPPConfig):
        usable = [c for c, p in enumerate(poses) if len(p) >= cfg.window]
        if not usable:
            raise ValueError(f"no clip has {cfg.window} frames for CAPP training")
        self.mels, self.poses, self.usable, self.length, self.cfg = mels, poses, usable, length, cfg

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        cfg, k = self.cfg, self.cfg.windows_per_clip
        group = np.random.default_rng([cfg.seed, i // k, 21])
        c = self.usable[int(group.integers(len(self.usable)))]
        n_starts = len(self.poses[c]) - cfg.window + 1
        starts = group.permutation(n_starts)
        s = int(starts[(i % k) % n_starts])
        pose = normalise_pose(self.poses[c][s: s + cfg.window])
        noise = np.random.default_rng([cfg.seed, i, 22]).standard_normal(pose.shape).astype(np.float32)
        mel = self.mels[c][HOPS_PER_FRAME * s: HOPS_PER_FRAME * (s + cfg.window)]
        return dict(mel=torch.from_numpy(np.ascontiguousarray(mel)),
                    pose=torch.from_numpy(pose + cfg.pose_noise * noise))


class CAPPModule(OneLossModule):
    def loss(self, batch):
        a, p = self.net.audio(batch["mel"]), self.net.pose(batch["pose"])
        return info_nce(a, p, self.net.log_scale.clamp(max=math.log(100)).exp())


def train_capp(net: CAPP, cfg: CAPPConfig | None = None) -> dict:
    """Train ``net`` in place on the training split's ground-truth poses; returns metrics (incl. val scores)."""
    from .syncnet import load_training_clips

    cfg = cfg or net.config
    if cfg.batch_size % cfg.windows_per_clip:
        raise ValueError(f"batch_size ({cfg.batch_size}) must be a multiple of windows_per_clip ({cfg.windows_per_clip})")
    seed_everything(cfg.seed)
    clips = load_training_clips(cfg, "train")
    poses = [clips.pose(c)[0] for c in range(len(clips))]
    mels = [log_mel(clips.source.audio_of(c), len(poses[c]), n_mels=cfg.n_mels) for c in range(len(clips))]
    data = PoseAudioWindows(mels, poses, cfg.steps * cfg.batch_size, cfg)
    module = CAPPModule(net, cfg)
    metrics = fit_for_steps(module, data, cfg.steps, cfg.batch_size)
    metrics["train_clips"] = len(clips)
    try:
        val = load_training_clips(cfg, "val")
        metric, swapped = CAPPScore(net), CAPPScore(net)
        for c in range(len(val)):
            pose = val.pose(c)[0]
            mel = log_mel(val.source.audio_of(c), len(pose), n_mels=cfg.n_mels)
            other = val.pose((c + 1) % len(val))[0][: len(pose)]
            metric.update(mel, pose)
            if len(other) == len(pose):
                swapped.update(mel, other)
        metrics.update(val_CAPP=round(metric.compute()["CAPP"], 4), val_CAPP_swapped=round(swapped.compute()["CAPP"], 4))
    except ValueError:
        pass
    return metrics


def load_capp(profile: str | None = None, config: CAPPConfig | None = None, store=None) -> CAPP:
    """Our CAPP model for a profile: from the artifact store, or trained now (about a minute in tiny)."""
    from ..artifacts import ArtifactStore

    cfg = config or CAPPConfig.for_profile(profile)
    store = store or ArtifactStore()
    net = store.get_or_train("metric-capp", cfg, build=lambda: CAPP(cfg), train=lambda n: train_capp(n, cfg),
                             expensive=cfg.profile != "tiny",
                             how_to_make=f"python -m vasa_lab.metrics.train --profile {cfg.profile}")
    return net.requires_grad_(False).eval()


# ---------------------------------------------------------------------------------------------------------------
# what the score listens for (chapter 10, section 7; benchmarks/bench_head_audio.py --part capp)
# ---------------------------------------------------------------------------------------------------------------
def frame_scale_jitter(pose: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """|pose - pose smoothed| (Gaussian, ``sigma`` frames) for yaw, pitch, roll: (T, 3) in degrees. The head's
    frame-to-frame jitter, what smoothing would take away."""
    from scipy.ndimage import gaussian_filter1d

    pose = np.asarray(pose, np.float64)
    return np.abs(pose - gaussian_filter1d(pose, sigma, axis=0))[:, :3]


def jitter_size(pose: np.ndarray) -> np.ndarray:
    """How much the head jitters around each frame: :func:`frame_scale_jitter` summed over the three angles and
    smoothed over about 3 frames, (T,) in degrees."""
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(frame_scale_jitter(pose).sum(1), 3.0)


def frame_scale_motion(pose: np.ndarray, activity: np.ndarray) -> tuple[float, float]:
    """The head's frame-scale motion: the mean of :func:`frame_scale_jitter` (degrees) and the correlation over frames
    of :func:`jitter_size` with ``activity`` (T,), e.g. :func:`vasa_lab.world.behaviour.head_activity`: does the head
    jitter while the person speaks and keep still in a pause?"""
    return (float(frame_scale_jitter(pose).mean()),
            float(np.corrcoef(jitter_size(pose), np.asarray(activity, np.float64))[0, 1]))


def taken_apart(pose: np.ndarray, activity: np.ndarray, other_pose: np.ndarray,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A true head pose (T, 6) taken apart, to be scored by CAPP against its own audio: each entry keeps one thing
    and loses another. "smoothed": the pose with its frame-scale motion (sigma 2 frames) removed; to that, the
    motion put back shuffled in time, another clip's, or white noise of its size, constant or scaled frame by
    frame by ``activity``; a random walk alone whose steps do or do not follow ``activity``; the pose 5 frames late.
    ``other_pose``: another clip's pose (its frame-scale motion, tiled to this length)."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import lfilter

    pose = np.asarray(pose, np.float64)
    smooth = gaussian_filter1d(pose, 2.0, axis=0)
    residual = pose - smooth
    size = residual.std(0, keepdims=True)
    other = np.asarray(other_pose, np.float64)
    other = np.resize(other - gaussian_filter1d(other, 2.0, axis=0), pose.shape)
    steps = np.diff(pose, axis=0).std(0, keepdims=True)

    def unit(x):
        return x / x.std(0, keepdims=True)

    def walk(kicks):                     # a random walk, slowly pulled back to 0, with the pose's step size
        w = lfilter([1.0], [1.0, -0.97], kicks, axis=0)
        return w / np.diff(w, axis=0).std(0, keepdims=True) * steps

    act = np.asarray(activity, np.float64)[:, None]
    white, kicks = rng.standard_normal(pose.shape), rng.standard_normal(pose.shape)
    variants = {
        "true pose": pose,
        "smoothed, sigma 1 frame": gaussian_filter1d(pose, 1.0, axis=0),
        "smoothed, sigma 2 frames": smooth,
        "smoothed + its jitter shuffled in time": smooth + residual[rng.permutation(len(residual))],
        "smoothed + another clip's jitter": smooth + other,
        "smoothed + white noise, constant": smooth + unit(white) * size,
        "smoothed + white noise x activity": smooth + unit(white * act) * size,
        "a random walk alone, constant steps": walk(kicks),
        "a random walk alone, steps x activity": walk(kicks * act),
        "true pose 5 frames late": np.concatenate([np.repeat(pose[:1], 5, 0), pose[:-5]]),
    }
    return {k: v.astype(np.float32) for k, v in variants.items()}
