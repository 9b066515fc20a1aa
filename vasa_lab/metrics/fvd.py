"""FVD_25: how far the generated videos are from real ones, as distributions of 25-frame clips.

Fréchet video distance (Unterthiner et al. 2018) is FID for video. Embed every 25-frame clip with a video network,
fit a Gaussian to each set of embeddings, and measure the Fréchet (2-Wasserstein) distance between the Gaussians:

    FVD = |mu_r - mu_g|^2 + Tr( S_r + S_g - 2 (S_r S_g)^(1/2) )

It sees both what single frames look like (blur, noise, wrong colours move mu and S) and how they move (a frozen
or jittering video moves the motion features). We compute Tr (S_r S_g)^(1/2) as the sum of the square roots of
the eigenvalues of S_r^(1/2) S_g S_r^(1/2), a symmetric matrix with the same eigenvalues as S_r S_g, so the
answer is real and stable (no complex sqrtm).

**Which video network.** The paper's FVD uses I3D, an action-recognition network trained on Kinetics; give a
TorchScript I3D with ``i3d_path`` (the ``i3d_torchscript.pt`` used by StyleGAN-V and others: called as
``model(videos, rescale=False, resize=True, return_features=True)`` on (B, 3, T, H, W) floats in [-1, 1], it returns
(B, 400) features). Nothing is downloaded, so by default we train our own :class:`VideoEncoder`: a frame
encoder taught to read the face's state off each frame (pose, mouth, eyes, brows, emotion: the synthetic world's 17
FaceState numbers), whose features are summarised over the 25 frames by their mean, spread and mean change. A
3D CNN trained end to end to predict the clip's motion (what I3D does for actions) learned nothing useful within
the tiny budget (a minute of CPU), while the frame encoder learns in ~20 s and its temporal statistics see both
damaged frames and damaged motion (chapter 10: blur, noise and frozen frames all move FVD far above the floor
between two halves of the real test set). FVD numbers compare only within one encoder: ``FVD.encoder_name``
says which was used, and the table prints it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchmetrics import Metric

from ..training import OneLossModule, fit_for_steps, seed_everything
from ..config import resolve_profile

CLIP_FRAMES = 25      # FVD_25: 25-frame clips (1 s at 25 fps)
N_STATES = 17         # the synthetic world's FaceState numbers (vasa_lab.world.state)


# ---------------------------------------------------------------------------------------------------------------
# the Fréchet distance
# ---------------------------------------------------------------------------------------------------------------
def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) of two Gaussians N(mu1, S1), N(mu2, S2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}")
    r1 = _sqrt_psd(s1)
    eig = np.linalg.eigvalsh(r1 @ s2 @ r1)                   # the eigenvalues of S1 S2
    tr_sqrt = float(np.sqrt(np.clip(eig, 0, None)).sum())  # Tr (S1 S2)^(1/2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def gaussian_of(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and unbiased covariance (D, D)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least 2 feature vectors (N, D), got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


# ---------------------------------------------------------------------------------------------------------------
# the video encoders
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoEncoderConfig:
    profile: str = "tiny"
    input_size: int = 64                       # frames are resized to this (area averaging)
    channels: tuple[int, ...] = (16, 32, 48, 64)   # one stride-2 conv per stage
    frame_dim: int = 24                        # per-frame feature; the clip feature is 3x this
    steps: int = 300
    batch_size: int = 64                       # frames per step
    lr: float = 3e-3
    seed: int = 0
    data: str = ""                             # a dataset folder; "" = the profile's synthetic world

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "VideoEncoderConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            cfg = cls()
        elif name == "small":
            cfg = cls(profile="small", input_size=128, channels=(16, 32, 64, 96, 128), frame_dim=48, steps=3000)
        else:
            cfg = cls(profile="full", input_size=256, channels=(32, 48, 64, 128, 256, 256), frame_dim=128,
                      steps=30_000)
        return replace(cfg, **overrides) if overrides else cfg


class VideoEncoder(nn.Module):
    """Clips (B, T, 3, H, W) in [0, 1] -> features (B, 3 * frame_dim).

    A frame encoder (stride-2 convolutions, flatten, linear) gives f_t (frame_dim numbers) per frame; it is trained
    to read the face's state off the frame (``state_head``: the synthetic world's 17 FaceState numbers). The clip
    feature is the frame features' statistics over time:

        [ mean_t f_t,   std_t f_t,   mean_t |f_t - f_(t-1)| ]

    what the clip looks like, how much it varies, and how fast it changes: a blurred video moves the first, a
    frozen one the last two. Each of the 3F numbers is divided by its standard deviation over training clips
    (``feature_scale``, fixed after training), so the small change statistics count as much as the large
    appearance ones.
    """

    def __init__(self, config: VideoEncoderConfig | None = None):
        super().__init__()
        cfg = config or VideoEncoderConfig()
        self.config = cfg
        layers, c_in = [], 3
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        side = cfg.input_size // 2 ** len(cfg.channels)
        self.frames = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * side * side, cfg.frame_dim))
        self.state_head = nn.Sequential(nn.ReLU(), nn.Linear(cfg.frame_dim, N_STATES))
        # each clip feature divided by its spread over training clips (set after training): every number counts alike
        self.register_buffer("feature_scale", torch.ones(3 * cfg.frame_dim))

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] at any size -> (N, frame_dim)."""
        s = self.config.input_size
        if frames.shape[-1] != s or frames.shape[-2] != s:
            frames = F.interpolate(frames, size=(s, s), mode="area")
        return self.frames((frames - 0.5) * 2)

    def pool(self, f: torch.Tensor) -> torch.Tensor:
        """Frame features (B, T, F) -> clip features (B, 3F): mean, std and mean |change| over time, scaled."""
        change = (f[:, 1:] - f[:, :-1]).abs().mean(1) if f.shape[1] > 1 else torch.zeros_like(f[:, 0])
        return torch.cat([f.mean(1), f.std(1, unbiased=False), change], dim=1) / self.feature_scale

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t = clips.shape[:2]
        return self.pool(self.frame_features(clips.reshape(b * t, *clips.shape[2:])).reshape(b, t, -1))

    def video_features(self, video: torch.Tensor, starts: list[int], length: int = CLIP_FRAMES) -> torch.Tensor:
        """The clip features of the windows [s, s + length) of one video (T, 3, H, W): each frame encoded once."""
        f = torch.cat([self.frame_features(chunk) for chunk in video.split(256)])               # (T, F)
        return self.pool(torch.stack([f[s: s + length] for s in starts]))


class I3DEncoder(nn.Module):
    """A TorchScript I3D from a local file (see the module docstring for the expected call)."""

    def __init__(self, path: str | Path):
        super().__init__()
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"I3D file {path} does not exist")
        try:
            self.model = torch.jit.load(str(path), map_location="cpu").eval()
        except RuntimeError as err:
            raise ValueError(f"{path} is not a TorchScript file ({str(err).splitlines()[0]})") from None
        self.name = f"I3D ({path.name})"

    @torch.no_grad()
    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = (clips.transpose(1, 2) * 2 - 1).contiguous()              # (B, 3, T, H, W) in [-1, 1]
        try:
            return self.model(x, rescale=False, resize=True, return_features=True)
        except (TypeError, RuntimeError):
            return self.model(x)


def video_windows(frames: np.ndarray, stride: int = CLIP_FRAMES) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (N, 25, H, W, 3): the 25-frame windows every ``stride`` frames (none if T < 25)."""
    starts = range(0, len(frames) - CLIP_FRAMES + 1, stride)
    if len(frames) < CLIP_FRAMES:
        return np.zeros((0, CLIP_FRAMES, *frames.shape[1:]), np.uint8)
    return np.stack([frames[s: s + CLIP_FRAMES] for s in starts])


def to_clip_tensor(windows: np.ndarray) -> torch.Tensor:
    """(N, T, H, W, 3) uint8 -> (N, T, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(windows)).permute(0, 1, 4, 2, 3).float().div_(255.0)


class FVD(Metric):
    """Fréchet video distance between the 25-frame clips given as ``real=True`` and ``real=False``.

    ``update(frames (T, H, W, 3) uint8, real: bool)`` per video (cut into 25-frame windows every ``stride`` frames,
    5 by default: overlapping windows, so a few dozen 4-second videos give a few hundred clips);
    ``compute()`` -> dict(FVD, n_real, n_fake, encoder). The sums of features and of their outer products are the
    state, so any number of videos can be added in batches.
    """

    full_state_update = False

    def __init__(self, encoder: nn.Module, stride: int = 5, batch_size: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.stride, self.batch_size = encoder.eval(), stride, batch_size
        self.encoder_name = getattr(encoder, "name", f"ours ({type(encoder).__name__}, trained on the synthetic world)")
        self._dim = None
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", default=torch.zeros(0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", default=torch.zeros(0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_n", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    @torch.no_grad()
    def features(self, frames: np.ndarray) -> torch.Tensor:
        """(T, H, W, 3) uint8 -> (N, D) float64: the features of its 25-frame windows."""
        frames = np.asarray(frames)
        if len(frames) < CLIP_FRAMES:
            raise ValueError(f"a video needs at least {CLIP_FRAMES} frames for FVD_25, got {len(frames)}")
        if hasattr(self.encoder, "video_features"):          # ours: every frame encoded once, windows pooled
            starts = list(range(0, len(frames) - CLIP_FRAMES + 1, self.stride))
            return self.encoder.video_features(to_clip_tensor(frames[None])[0], starts).double()
        windows = video_windows(frames, self.stride)
        return torch.cat([self.encoder(to_clip_tensor(windows[i: i + self.batch_size])).double()
                          for i in range(0, len(windows), self.batch_size)])

    def update(self, frames, real: bool) -> None:
        f = self.features(frames)                                   # (N, D)
        side = "real" if real else "fake"
        s, o = getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer")
        if s.numel() == 0:
            s, o = torch.zeros(f.shape[1], dtype=torch.float64), torch.zeros(f.shape[1], f.shape[1], dtype=torch.float64)
        setattr(self, f"{side}_sum", s + f.sum(0))
        setattr(self, f"{side}_outer", o + f.T @ f)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + len(f))

    def _gaussian(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        n = int(getattr(self, f"{side}_n"))
        if n < 2:
            raise ValueError(f"FVD needs at least 2 {side} clips of {CLIP_FRAMES} frames, got {n}")
        mu = getattr(self, f"{side}_sum").numpy() / n
        cov = (getattr(self, f"{side}_outer").numpy() - n * np.outer(mu, mu)) / (n - 1)
        return mu, cov

    def compute(self) -> dict:
        (mr, sr), (mf, sf) = self._gaussian("real"), self._gaussian("fake")
        return dict(FVD=frechet_distance(mr, sr, mf, sf), n_real=int(self.real_n), n_fake=int(self.fake_n),
                    encoder=self.encoder_name)


# ---------------------------------------------------------------------------------------------------------------
# training our encoder
# ---------------------------------------------------------------------------------------------------------------
class StateFrames(Dataset):
    """Single training frames and their standardised FaceState (17 numbers); item i is a pure function of i."""

    def __init__(self, frames: list[np.ndarray], states: list[np.ndarray], length: int, seed: int = 0):
        self.frames, self.states, self.length, self.seed = frames, states, length, seed
        allstates = np.concatenate(states)
        self.mean, self.std = allstates.mean(0), allstates.std(0) + 1e-6

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, i, 31])
        c = int(rng.integers(len(self.frames)))
        t = int(rng.integers(len(self.frames[c])))
        image = torch.from_numpy(np.array(self.frames[c][t])).permute(2, 0, 1).float().div_(255.0)
        return dict(image=image, state=torch.from_numpy(((self.states[c][t] - self.mean) / self.std).astype(np.float32)))


class VideoEncoderModule(OneLossModule):
    """loss = MSE between the state head's output and the standardised FaceState of each frame."""

    def loss(self, batch):
        return F.mse_loss(self.net.state_head(self.net.frame_features(batch["image"])), batch["state"])


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, size, size, 3) uint8 by area averaging."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return np.asarray(frames)
    return np.stack([cv2.resize(np.asarray(f), (size, size), interpolation=cv2.INTER_AREA) for f in frames])


def _states_of(clips, c: int) -> np.ndarray:
    """(T, 17) FaceStates of a clip: the truth in the synthetic world; for prepared real video, the tracked pose
    in the first 6 columns and zeros elsewhere."""
    states = clips.states(c)
    if states is None:
        pose = clips.pose(c)[0]
        states = np.zeros((len(pose), N_STATES), np.float32)
        states[:, :6] = pose
    return np.asarray(states, np.float32)


def train_video_encoder(net: VideoEncoder, cfg: VideoEncoderConfig | None = None) -> dict:
    """Train ``net``'s frame encoder in place on the training split's frames; returns metrics (incl. the val
    error of the state head as a fraction of each state's variance, averaged)."""
    from .syncnet import load_training_clips

    cfg = cfg or net.config
    seed_everything(cfg.seed)
    clips = load_training_clips(cfg, "train")
    frames = [resize_frames(clips.frames(c), cfg.input_size) for c in range(len(clips))]
    data = StateFrames(frames, [_states_of(clips, c) for c in range(len(clips))], cfg.steps * cfg.batch_size, cfg.seed)
    module = VideoEncoderModule(net, cfg)
    metrics = fit_for_steps(module, data, cfg.steps, cfg.batch_size)
    with torch.no_grad():                     # the spread of each clip feature over (up to) 200 training clips
        net.feature_scale.fill_(1.0)
        windows = [to_clip_tensor(video_windows(f, CLIP_FRAMES)) for f in frames[:200] if len(f) >= CLIP_FRAMES]
        feats = torch.cat([net(w) for w in windows])
        net.feature_scale.copy_(feats.std(0).clamp_min(1e-4))
    metrics["train_clips"] = len(clips)
    try:
        val = load_training_clips(cfg, "val")
        errs = []
        with torch.no_grad():
            for c in range(min(len(val), 20)):
                frames_c = np.array(resize_frames(val.frames(c), cfg.input_size))
                x = torch.from_numpy(frames_c).permute(0, 3, 1, 2).float() / 255
                pred = net.state_head(net.frame_features(x)).numpy() * data.std + data.mean
                errs.append(((pred - _states_of(val, c)) ** 2).mean(0) / data.std ** 2)
        metrics["val_state_nmse"] = round(float(np.mean(errs)), 4)
    except ValueError:
        pass
    return metrics


def load_video_encoder(profile: str | None = None, config: VideoEncoderConfig | None = None, store=None,
                       i3d_path: str = "") -> nn.Module:
    """The FVD encoder: a TorchScript I3D from ``i3d_path`` when given, else ours from the artifact store (or
    trained now: about a minute in tiny)."""
    from ..artifacts import ArtifactStore

    if i3d_path:
        return I3DEncoder(i3d_path)
    cfg = config or VideoEncoderConfig.for_profile(profile)
    store = store or ArtifactStore()
    net = store.get_or_train("metric-video", cfg, build=lambda: VideoEncoder(cfg),
                             train=lambda n: train_video_encoder(n, cfg), expensive=cfg.profile != "tiny",
                             how_to_make=f"python -m vasa_lab.metrics.train --profile {cfg.profile}")
    net.name = f"ours (VideoEncoder {cfg.profile}, trained on the synthetic world)" if not cfg.data else \
        f"ours (VideoEncoder {cfg.profile}, trained on {Path(cfg.data).name})"
    return net.requires_grad_(False).eval()
