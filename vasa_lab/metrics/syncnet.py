"""Lip sync: S_C and S_D (LSE-C / LSE-D), measured by a SyncNet trained on our data.

SyncNet (Chung & Zisserman, "Out of time", 2016) has two towers: one embeds 5 consecutive mouth crops
v_t = f_v(frames t..t+4), the other the 0.2 s of audio under them a_t = f_a(mel rows 4t..4t+19). Trained so that the
distance d(v, a) = ||v - a||_2 is small for the sound that goes with the picture and large for other sound, it
can find where in time the sound fits a video.

**Scoring (as the public SyncNet evaluation does it).** For every window t and every audio offset k in
[-15, 15] frames, d_t(k) = ||v_t - a_{t+k}|| (audio embeddings outside the clip are zero vectors, as in the
public script's zero padding). Average over the clip, D(k) = mean_t d_t(k); then

    S_D = min_k D(k)                  (LSE-D, lower is better: the sound fits where it fits best)
    S_C = median_k D(k) - min_k D(k)  (LSE-C, higher is better: how much better that fit is than a typical one)
    offset = 15 - argmin_k            (the public script's "AV offset"; 0 for a synced clip)

**Training** uses the contrastive loss of the SyncNet paper on pairs (v, a, y), y = 1 for the audio of the same
frames and y = 0 for audio shifted within the same clip by 2..15 frames or taken from another clip:

    E = 1/(2N) sum_n [ y_n d_n^2 + (1 - y_n) max(m - d_n, 0)^2 ]      (m: the margin)

so synced pairs sit near 0 and others beyond m. Numbers are in the units of *this* network: our S_D of 3 and
the paper's 7.2 for real video are not comparable; only the orderings (real > shifted, real > static, ...) are.

The mouth crops come from the ground-truth landmarks in training; at evaluation from the tracker
(``crop_source="tracker"``), the truth when the clip carries it (``"given"``), or a fixed box (``"fixed"``);
chapter 10 measures how much the choice matters.

**Pretrained weights** from a local file (``SyncNetConfig.weights_path``): a state dict of :class:`SyncNet` (the
architecture below, with the same config fields), in safetensors (preferred) or a torch file read with
``weights_only=True``, e.g. one trained on real video in the ``full`` profile. The public ``syncnet_v2.model`` of
syncnet_python is a different network (VGG-M towers on 224-px colour face crops and 13 MFCCs) and is not
implemented here; a file with its layer names is refused with a message saying so.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchmetrics import Metric

from ..config import resolve_profile
from ..training import OneLossModule, fit_for_steps, seed_everything
from .features import HOPS_PER_FRAME, N_MELS, log_mel, mouth_crops

WINDOW = 5            # video frames per SyncNet window (0.2 s at 25 fps)
MAX_OFFSET = 15       # offsets searched at evaluation: +-15 frames, as the public evaluation


@dataclass(frozen=True)
class SyncNetConfig:
    profile: str = "tiny"
    crop_size: int = 24                 # mouth crops are resized to this (grey)
    crop: str = "eyes-placed"           # how the crop is placed (features.mouth_boxes); part of the store's key
    n_mels: int = N_MELS
    channels: tuple[int, ...] = (16, 32, 48, 64)   # per tower, the first at full size, then each halves it
    embed_dim: int = 64
    margin: float = 10.0                # m of the contrastive loss
    min_shift: int = 2                  # a negative from the same clip is shifted by at least this many frames
    same_clip_negatives: float = 0.5    # share of negatives taken from the same clip (the rest: other clips)
    steps: int = 500
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    data: str = ""                      # a dataset folder; "" = the profile's synthetic world
    weights_path: str = ""              # pretrained weights of this architecture (see the module docstring)

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "SyncNetConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            cfg = cls()
        elif name == "small":
            cfg = cls(profile="small", crop_size=32, channels=(32, 64, 96, 128), embed_dim=128, steps=6000)
        else:
            cfg = cls(profile="full", crop_size=48, n_mels=80, channels=(64, 96, 128, 256, 256), embed_dim=256,
                      steps=60_000, batch_size=128, lr=1e-3)
        return replace(cfg, **overrides) if overrides else cfg


def _tower(c_in: int, channels: tuple[int, ...], side: tuple[int, int], embed_dim: int) -> nn.Sequential:
    """conv 3x3 + BN + ReLU at full size, then one strided (halving) conv per further stage, then a linear embed."""
    layers = [nn.Conv2d(c_in, channels[0], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True)]
    h, w = side
    for a, b in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(a, b, 3, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        h, w = (h + 1) // 2, (w + 1) // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels[-1] * h * w, embed_dim))


class SyncNet(nn.Module):
    """Two towers into one embedding space.

    ``embed_video``: mouth crops (B, 5, S, S) in [0, 1] -> (B, D); each window is standardised (zero mean, unit
    variance) first, so skin tone and lighting do not matter.
    ``embed_audio``: log-mel rows (B, 20, n_mels) -> (B, D).
    """

    def __init__(self, config: SyncNetConfig | None = None):
        super().__init__()
        cfg = config or SyncNetConfig()
        self.config = cfg
        self.video = _tower(WINDOW, cfg.channels, (cfg.crop_size, cfg.crop_size), cfg.embed_dim)
        self.audio = _tower(1, cfg.channels, (cfg.n_mels, WINDOW * HOPS_PER_FRAME), cfg.embed_dim)

    def embed_video(self, crops: torch.Tensor) -> torch.Tensor:
        x = crops - crops.mean(dim=(1, 2, 3), keepdim=True)
        x = x / (x.std(dim=(1, 2, 3), keepdim=True) + 0.02)
        return self.video(x)

    def embed_audio(self, mel: torch.Tensor) -> torch.Tensor:
        return self.audio(mel.transpose(1, 2)[:, None])          # (B, 1, n_mels, 20)

    def forward(self, crops: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """The distance ||v - a|| per pair: (B, 5, S, S), (B, 20, n_mels) -> (B,)."""
        return (self.embed_video(crops) - self.embed_audio(mel)).norm(dim=1)


# ---------------------------------------------------------------------------------------------------------------
# the public evaluation procedure
# ---------------------------------------------------------------------------------------------------------------
def offset_distances(video_emb: torch.Tensor, audio_emb: torch.Tensor, max_offset: int = MAX_OFFSET) -> torch.Tensor:
    """d_t(k) = ||v_t - a_{t+k}|| for k = -max_offset..max_offset: (N, D), (N, D) -> (N, 2 max_offset + 1).

    Audio embeddings beyond the clip's ends are zero vectors (the public script pads with zeros).
    """
    n = video_emb.shape[0]
    padded = F.pad(audio_emb, (0, 0, max_offset, max_offset))                   # (N + 2K, D)
    idx = torch.arange(n)[:, None] + torch.arange(2 * max_offset + 1)[None]      # (N, 2K + 1): a_{t+k} at t + k + K
    return (video_emb[:, None, :] - padded[idx]).norm(dim=-1)


@dataclass
class SyncResult:
    distance: float       # S_D = min_k mean_t d_t(k)
    confidence: float     # S_C = median_k mean_t d_t(k) - S_D
    offset: int           # max_offset - argmin_k (the public script's AV offset)
    curve: np.ndarray     # (2K + 1,) mean distance per offset k = -K..K


def sync_scores(dists: torch.Tensor | np.ndarray) -> SyncResult:
    """The public SyncNet scores from a distance matrix (N windows, 2K + 1 offsets).

    D(k) = mean over windows; S_D = min D; S_C = median D - min D; offset = K - argmin D. The median of an odd
    number of offsets is the middle value (torch.median's lower median for an even count).
    """
    d = torch.as_tensor(dists, dtype=torch.float64)
    if d.dim() != 2 or d.shape[0] == 0 or d.shape[1] % 2 == 0:
        raise ValueError(f"distances must be (windows, 2K + 1 offsets) with at least one window, got {tuple(d.shape)}")
    curve = d.mean(dim=0)                                   # D(k)
    minval, minidx = curve.min(dim=0)
    k = (d.shape[1] - 1) // 2
    return SyncResult(float(minval), float(curve.median() - minval), int(k - int(minidx)), curve.numpy())


@torch.no_grad()
def score_clip(net: SyncNet, crops: np.ndarray, mel: np.ndarray, max_offset: int = MAX_OFFSET,
               batch_size: int = 512) -> SyncResult:
    """S_D, S_C of one clip: mouth crops (T, S, S) and its log-mel rows (4 T, n_mels)."""
    t = len(crops)
    if t < WINDOW:
        raise ValueError(f"a clip needs at least {WINDOW} frames for lip sync, got {t}")
    crops_t = torch.from_numpy(np.ascontiguousarray(crops, np.float32))
    mel_t = torch.from_numpy(np.ascontiguousarray(mel, np.float32))
    n = t - WINDOW + 1
    starts = torch.arange(n)
    v_idx = starts[:, None] + torch.arange(WINDOW)[None]                                # (N, 5)
    a_idx = HOPS_PER_FRAME * starts[:, None] + torch.arange(WINDOW * HOPS_PER_FRAME)[None]  # (N, 20)
    net.eval()
    v = torch.cat([net.embed_video(crops_t[i]) for i in v_idx.split(batch_size)])
    a = torch.cat([net.embed_audio(mel_t[i]) for i in a_idx.split(batch_size)])
    return sync_scores(offset_distances(v, a, max_offset))


class LipSync(Metric):
    """S_C and S_D averaged over clips (torchmetrics: ``update`` per clip, ``compute`` at the end).

    ``update(crops (T, S, S), mel (4T, n_mels))``; ``compute()`` -> dict(S_C, S_D, offset_abs, n). Per-clip values
    are kept in ``self.per_clip`` (list of SyncResult) for plots.
    """

    full_state_update = False

    def __init__(self, net: SyncNet, max_offset: int = MAX_OFFSET, **kwargs):
        super().__init__(**kwargs)
        self.net, self.max_offset = net.eval(), max_offset
        self.add_state("distance", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("confidence", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("offset_abs", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.per_clip: list[SyncResult] = []

    def update(self, crops, mel) -> None:
        r = score_clip(self.net, np.asarray(crops), np.asarray(mel), self.max_offset)
        self.per_clip.append(r)
        self.distance += r.distance
        self.confidence += r.confidence
        self.offset_abs += abs(r.offset)
        self.n += 1

    def compute(self) -> dict:
        n = max(int(self.n), 1)
        return dict(S_C=float(self.confidence) / n, S_D=float(self.distance) / n,
                    offset_abs=float(self.offset_abs) / n, n=int(self.n))

    def reset(self) -> None:
        super().reset()
        self.per_clip = []


# ---------------------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------------------
class SyncPairs(Dataset):
    """(mouth window, audio window, label) pairs from clips held in memory; item i is a pure function of (seed, i).

    Half the items are synced (label 1); the rest pair the window with audio shifted by min_shift..15 frames in
    the same clip (``same_clip_negatives`` of them) or with audio from another clip (label 0).
    """

    def __init__(self, crops: list[np.ndarray], mels: list[np.ndarray], length: int, cfg: SyncNetConfig):
        self.crops, self.mels, self.length, self.cfg = crops, mels, length, cfg

    def __len__(self) -> int:
        return self.length

    def _audio(self, c: int, t: int) -> np.ndarray:
        a = HOPS_PER_FRAME * t
        return self.mels[c][a: a + WINDOW * HOPS_PER_FRAME]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, i, 11])
        c = int(rng.integers(len(self.crops)))
        last = len(self.crops[c]) - WINDOW
        t = int(rng.integers(last + 1))
        label = i % 2 == 0
        if label:
            ca, ta = c, t
        elif rng.random() < self.cfg.same_clip_negatives:
            shifts = [s for s in range(-MAX_OFFSET, MAX_OFFSET + 1)
                      if abs(s) >= self.cfg.min_shift and 0 <= t + s <= last]
            ca, ta = c, t + int(shifts[rng.integers(len(shifts))])
        else:
            ca = int((c + 1 + rng.integers(len(self.crops) - 1)) % len(self.crops))
            ta = int(rng.integers(len(self.crops[ca]) - WINDOW + 1))
        return dict(crops=torch.from_numpy(np.ascontiguousarray(self.crops[c][t: t + WINDOW])),
                    mel=torch.from_numpy(np.ascontiguousarray(self._audio(ca, ta))),
                    label=torch.tensor(float(label)))


def contrastive_loss(d: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    """E = 1/(2N) sum [ y d^2 + (1 - y) max(m - d, 0)^2 ]  (the SyncNet paper's loss)."""
    return 0.5 * (y * d.pow(2) + (1 - y) * F.relu(margin - d).pow(2)).mean()


class SyncNetModule(OneLossModule):
    def loss(self, batch):
        return contrastive_loss(self.net(batch["crops"], batch["mel"]), batch["label"], self.cfg.margin)


def clip_inputs(frames: np.ndarray, landmarks: np.ndarray, audio: np.ndarray, cfg: SyncNetConfig):
    """(mouth crops (T, S, S), log-mel rows (4T, n_mels)) of one clip."""
    return mouth_crops(frames, landmarks, cfg.crop_size), log_mel(audio, len(frames), n_mels=cfg.n_mels)


def load_training_clips(cfg, split: str = "train"):
    """The split's clips as ClipFrames (frames, truth, audio) of the config's dataset folder."""
    from ..data.clips import ClipFrames, dataset_folder

    return ClipFrames(dataset_folder(cfg), split)


def train_syncnet(net: SyncNet, cfg: SyncNetConfig | None = None) -> dict:
    """Train ``net`` in place on the training split; returns metrics (incl. held-out sync on the val split)."""
    cfg = cfg or net.config
    seed_everything(cfg.seed)
    clips = load_training_clips(cfg, "train")
    crops, mels = [], []
    for c in range(len(clips)):
        lm = clips.landmarks(c)
        x, m = clip_inputs(np.asarray(clips.frames(c)), lm, clips.source.audio_of(c), cfg)
        crops.append(x)
        mels.append(m)
    data = SyncPairs(crops, mels, cfg.steps * cfg.batch_size, cfg)
    module = SyncNetModule(net, cfg)
    metrics = fit_for_steps(module, data, cfg.steps, cfg.batch_size)
    metrics["train_clips"] = len(clips)
    try:
        val = load_training_clips(cfg, "val")
        metric = LipSync(net)
        for c in range(min(len(val), 20)):
            metric.update(*clip_inputs(np.asarray(val.frames(c)), val.landmarks(c), val.source.audio_of(c), cfg))
        metrics.update({f"val_{k}": round(v, 4) for k, v in metric.compute().items()})
    except ValueError:
        pass
    return metrics


def load_syncnet(profile: str | None = None, config: SyncNetConfig | None = None, store=None) -> SyncNet:
    """Our SyncNet for a profile: pretrained weights from ``config.weights_path``, else the artifact store, else
    trained now (about a minute in tiny; an error under CI for the larger profiles)."""
    from ..artifacts import ArtifactStore, load_state_dict

    cfg = config or SyncNetConfig.for_profile(profile)
    if cfg.weights_path:
        state = load_state_dict(cfg.weights_path)
        if any(k.startswith(("netcnnaud", "netcnnlip")) for k in state):
            raise ValueError(f"{cfg.weights_path} holds the public syncnet_python weights (netcnnaud/netcnnlip), a "
                             "different architecture that vasa_lab does not implement; give weights of "
                             "vasa_lab.metrics.syncnet.SyncNet")
        net = SyncNet(cfg)
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{cfg.weights_path} does not fit SyncNet with this config: {str(err)[:200]}") from None
        return net.requires_grad_(False).eval()
    store = store or ArtifactStore()
    net = store.get_or_train("metric-syncnet", cfg, build=lambda: SyncNet(cfg), train=lambda n: train_syncnet(n, cfg),
                             expensive=cfg.profile != "tiny",
                             how_to_make=f"python -m vasa_lab.metrics.train --profile {cfg.profile}")
    return net.requires_grad_(False).eval()
