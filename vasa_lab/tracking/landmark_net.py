"""A small landmark network for the synthetic world: heatmaps, a soft-argmax, and an integral loss.

MediaPipe's face mesh is made for real photographs at a few hundred pixels; in a 64 px synthetic frame (the tiny
profile) its face detector often finds nothing. So chapter 02 trains its own landmark network on the world, which
knows every landmark of every frame it renders. It is also a compact, honest example of how modern landmark
detectors work.

**Heatmap regression.** Instead of regressing 2 numbers per point from a global feature vector, a fully
convolutional encoder-decoder (a U-Net-like "hourglass-lite") outputs one map per point, K = 70 maps (68 iBUG
landmarks + 2 iris centres) at 1/``stride`` of the input resolution. Each map H_k is a score for "point k is
here"; the convolutions only have to recognise local appearance in context, which is far easier to learn than a
global regression.

**Soft-argmax (integral regression, Sun et al. 2018).** A plain argmax of H_k is not differentiable and is
quantised to the heatmap grid. Turn the map into a probability distribution over its cells with a spatial softmax
and take the expected position::

    p_k,i = softmax(beta * H_k)_i = exp(beta H_k,i) / sum_j exp(beta H_k,j)        (i runs over the h*w cells)
    x_k   = sum_i p_k,i * x_i,      y_k = sum_i p_k,i * y_i                     (x_i, y_i: the cell centre in pixels)

This is differentiable, and sub-pixel: a distribution spread over two neighbouring cells puts the point between
them. ``beta`` is an inverse temperature; the network can scale its own logits, so beta = 1 works.

**Loss.** Three terms, in units of s = image_size / 64 pixels so they have the same scale at every resolution::

    L = mean_k |x_k - x_k*|_1 / s                                    the integral loss (L1 on the soft-argmax)
      + mu * mean_(a,b) |(x_a - x_b) - (x_a* - x_b*)|_1 / s           the gaps between facing lid and lip points
      + lambda * mean_k CE(G_k, p_k)                                  a Gaussian target for each heatmap

* The integral loss alone trains the points well (measured at the tiny budget: NME 0.028 with it alone, 0.030
  with a heatmap weight of 3), but leaves the *shape* of p_k free.
* The tracker reads blinks and mouth opening from the gap between the upper and lower lid (1-2 px at 64 px) and
  between the inner lips. Half a pixel of error on each point hardly moves the first term but ruins the gap; with
  the second term the predicted eye openness follows the truth far better (correlation with the true openness on
  held-out faces 0.53 -> 0.76, at the same point error).
* The cross-entropy against a normalised Gaussian G_k (sigma ``heatmap_sigma`` cells) centred on the true point,
  CE(G, p) = -sum_i G_i log p_i, keeps each p_k one peak. A small weight costs no accuracy and makes the peak's
  sharpness a meaningful **confidence**: a detection's score is the mean share of each map's probability mass
  within ``score_radius`` cells of its soft-argmax.

**Data.** Random identities (seeds drawn from a generator keyed by the text "landmark-net-train"; evaluation
uses "landmark-net-eval", so its people were never seen) in random states over the world's ranges: pose,
translation, distance, mouth, blink, gaze, brows, expression. The frames are rendered once into a uint8 array
(6000 frames at 64 px take ~25 s) and seen about five times each, with mild photometric augmentation
(brightness, contrast, colour, noise, blur) so the network copes with H.264 artefacts.

Use::

    net = load_landmark_net()                  # cached in the artifact store, or trained once (~2 min on a CPU)
    backend = NetBackend(net)
    [det] = backend.detect(frame)              # frame (H, W, 3) uint8 RGB -> a Detection with 68 landmarks + iris
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import time
from dataclasses import dataclass

import cv2
import lightning as L
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import resolve_profile
from .types import Detection

N_LANDMARKS = 68
N_POINTS = N_LANDMARKS + 2            # 68 iBUG landmarks, then the iris centres (image-left eye, image-right eye)
OUTER_EYE_CORNERS = (36, 45)          # for the inter-ocular normalisation of the landmark error
# facing points whose gap the tracker reads: upper/lower eyelids (blinks) and inner lips (mouth opening)
GAP_PAIRS = torch.tensor([(37, 41), (38, 40), (43, 47), (44, 46), (61, 67), (62, 66), (63, 65)])
TRAIN_TAG = "landmark-net-train"
EVAL_TAG = "landmark-net-eval"


# ---------------------------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LandmarkNetConfig:
    """Everything that decides the network and its training (the artifact store hashes this)."""

    image_size: int = 64                 # the network's input, square, pixels
    widths: tuple[int, ...] = (32, 48, 64, 96)    # channels at S/2, S/4, S/8, S/16
    level_convs: int = 2                 # 3x3 convolutions per encoder level below S/2 (the first has stride 2)
    stride: int = 4                      # heatmaps are image_size / stride cells wide (2, 4 or 8)
    beta: float = 1.0                    # soft-argmax inverse temperature
    heatmap_sigma: float = 1.0           # Gaussian target width, heatmap cells
    gap_weight: float = 1.0              # mu: weight of the lid/lip gap L1
    heatmap_weight: float = 0.3          # lambda: weight of the heatmap cross-entropy
    score_radius: float = 1.5            # confidence: probability mass within this many cells of the point
    n_train: int = 6000                  # pre-rendered training frames
    frames_per_identity: int = 4         # -> n_train / frames_per_identity training identities
    steps: int = 2000                    # optimiser steps (the data is reshuffled each epoch)
    batch_size: int = 16
    lr: float = 1e-2                     # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    augment: bool = True
    eval_frames: int = 300               # held-out frames measured after training (0: skip)
    seed: int = 0

    @classmethod
    def for_profile(cls, profile: str | None = None) -> "LandmarkNetConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            return cls()
        if name == "small":
            return cls(image_size=128, widths=(32, 64, 96, 128, 160), n_train=12000, steps=4000, batch_size=32,
                       lr=4e-3)
        return cls(image_size=256, widths=(32, 64, 96, 128, 192, 256), n_train=40000, steps=20000, batch_size=32,
                   lr=3e-3)

    @property
    def heatmap_size(self) -> int:
        return self.image_size // self.stride


# ---------------------------------------------------------------------------------------------------------------
# training data: random identities in random states, rendered by the world
# ---------------------------------------------------------------------------------------------------------------
def tagged_rng(tag: str, seed: int = 0) -> np.random.Generator:
    """A generator keyed by a text tag (and a seed): the same tag always gives the same numbers, on any machine."""
    digest = hashlib.sha256(f"{tag}/{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def identity_seeds(tag: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` identity seeds for ``sample_identity``, drawn from the generator for ``tag`` (e.g. TRAIN_TAG)."""
    return tagged_rng(tag, seed).integers(0, 2**32, size=n, dtype=np.uint64).astype(np.int64)


def random_state(rng: np.random.Generator):
    """A random :class:`FaceState` inside the world's ranges (see ``world.motion``), wider than a clip's typical
    values so the network sees the extremes: pose and translation from clipped normals, the rest uniform."""
    from ..world.state import FaceState

    def normal(sd, lim):
        return float(np.clip(rng.normal(0.0, sd), -lim, lim))

    return FaceState(
        yaw=normal(18, 35), pitch=normal(12, 25), roll=normal(10, 20),
        tx=normal(0.12, 0.3), ty=normal(0.12, 0.3), scale=float(rng.uniform(0.75, 1.25)),
        jaw_open=float(rng.uniform(0, 1) ** 1.5), lip_width=float(rng.uniform(-1, 1)),
        lip_round=float(rng.uniform(0, 1)), lip_press=float(rng.uniform(0, 1) * (rng.random() < 0.3)),
        blink=float(rng.uniform(0, 1) if rng.random() < 0.4 else 0.0),
        gaze_yaw=normal(15, 30), gaze_pitch=normal(10, 20),
        brow_raise=float(rng.uniform(-1, 1)), brow_furrow=float(rng.uniform(0, 1) * (rng.random() < 0.5)),
        smile=float(rng.uniform(-1, 1)), eye_wide=float(rng.uniform(-1, 1)),
    )


def render_examples(tag: str, n: int, size: int, frames_per_identity: int = 4, seed: int = 0,
                    return_states: bool = False, workers: int = 1):
    """Render ``n`` frames of identities from ``tag``'s generator in random states.

    Returns images (n, size, size, 3) uint8 RGB and points (n, 70, 2) float32 pixels: the 68 landmarks, then the
    two iris centres (image-left eye first), as :func:`vasa_lab.world.render.render_frame` reports them; with
    ``return_states`` also the states (n, 17) in STATE_NAMES order (the ground truth pose, for evaluation).
    ``workers`` > 1 renders in that many processes (spawned: a script that calls this needs the usual
    ``if __name__ == "__main__":`` guard); the frames are the same either way.
    """
    from ..world.identity import sample_identity
    from ..world.render import render_frame

    if n < 1 or frames_per_identity < 1:
        raise ValueError(f"n and frames_per_identity must be at least 1, got {n} and {frames_per_identity}")
    n_ids = -(-n // frames_per_identity)
    seeds = identity_seeds(tag, n_ids, seed)
    rng = tagged_rng(tag + "/states", seed)
    people = [sample_identity(int(s)) for s in seeds]
    states = [random_state(rng) for _ in range(n)]
    jobs = [(people[i // frames_per_identity], states[i], size, True) for i in range(n)]
    if workers > 1 and n >= 100:
        with mp.get_context("spawn").Pool(workers) as pool:
            results = pool.starmap(render_frame, jobs, chunksize=50)
    else:
        results = [render_frame(*job) for job in jobs]
    images = np.stack([r[0] for r in results])                                             # (n, S, S, 3)
    points = np.stack([np.concatenate([r[1], r[2]["iris_centres"]]) for r in results])     # (n, 70, 2)
    points = points.astype(np.float32)
    if return_states:
        return images, points, np.stack([st.to_array() for st in states])
    return images, points


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mild photometric augmentation, so compression and lighting changes do not throw the network.

    images: (B, 3, H, W) float in [0, 1]. Per image: out = clip(contrast * (x - mean) + mean * brightness + colour
    shift + noise), and a 3x3 blur for a third of them (like the chroma smoothing of H.264's yuv420p).
    """
    b = images.shape[0]

    def u(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(b, *shape, 1, 1, generator=generator)

    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    x = u(0.75, 1.25, 1) * (images - mean) + mean * u(0.8, 1.2, 1) + u(-0.04, 0.04, 3)
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    pick = (torch.rand(b, 1, 1, 1, generator=generator) < 0.33).float()
    x = pick * blur + (1 - pick) * x
    x = x + u(0.0, 0.02, 1) * torch.randn(x.shape, generator=generator)
    return x.clamp(0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------------------------
def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """A 3x3 convolution (stride 1 or 2), batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def cell_centres(n_cells: int, stride: int) -> torch.Tensor:
    """Pixel coordinate of each heatmap cell's centre: cell j covers pixels [s j, s j + s), so its centre is
    x_j = s j + (s - 1) / 2 (pixel centres at integers, as the world's landmarks)."""
    return torch.arange(n_cells, dtype=torch.float32) * stride + (stride - 1) / 2.0


def soft_argmax(heatmaps: torch.Tensor, stride: int = 1, beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected position under a spatial softmax: x = sum_i softmax(beta * H)_i * x_i (see the module docstring).

    heatmaps: (B, K, h, w) logits. Returns points (B, K, 2) in input pixels (x, y) and the log-probabilities
    log p (B, K, h, w) (kept as logs for a stable cross-entropy; p = log_p.exp()).
    """
    b, k, h, w = heatmaps.shape
    log_p = torch.log_softmax(beta * heatmaps.reshape(b, k, h * w), dim=-1).reshape(b, k, h, w)
    p = log_p.exp()
    xs = cell_centres(w, stride).to(heatmaps)                       # (w,)
    ys = cell_centres(h, stride).to(heatmaps)                       # (h,)
    x = (p.sum(dim=2) * xs).sum(dim=-1)                             # marginal over rows (B, K, w) -> (B, K)
    y = (p.sum(dim=3) * ys).sum(dim=-1)                             # marginal over columns (B, K, h) -> (B, K)
    return torch.stack([x, y], dim=-1), log_p


def gaussian_targets(points: torch.Tensor, h: int, w: int, stride: int, sigma: float) -> torch.Tensor:
    """Normalised Gaussian target distributions G (B, K, h, w), each summing to 1, centred on ``points`` (B, K, 2)
    pixels: G_i proportional to exp(-|c_i - p|^2 / (2 (sigma * stride)^2)) over the cell centres c_i.

    The Gaussian is separable, G = g_y g_x^T, so two 1-D exponentials make it.
    """
    s2 = 2.0 * (sigma * stride) ** 2
    gx = torch.exp(-(cell_centres(w, stride).to(points) - points[..., 0:1]) ** 2 / s2)     # (B, K, w)
    gy = torch.exp(-(cell_centres(h, stride).to(points) - points[..., 1:2]) ** 2 / s2)     # (B, K, h)
    gx = gx / gx.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    gy = gy / gy.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    return gy[..., :, None] * gx[..., None, :]


def peak_mass(log_p: torch.Tensor, points: torch.Tensor, stride: int, radius: float) -> torch.Tensor:
    """Share of each map's probability within ``radius`` cells of its point: (B, K, h, w), (B, K, 2) -> (B, K)."""
    _, _, h, w = log_p.shape
    dx2 = (cell_centres(w, stride).to(points) - points[..., 0:1]) ** 2                    # (B, K, w)
    dy2 = (cell_centres(h, stride).to(points) - points[..., 1:2]) ** 2                    # (B, K, h)
    near = (dy2[..., :, None] + dx2[..., None, :]) <= (radius * stride) ** 2
    return (log_p.exp() * near).sum(dim=(2, 3))


# ---------------------------------------------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------------------------------------------
class LandmarkNet(nn.Module):
    """Image (B, 3, S, S) in [0, 1] -> heatmap logits (B, 70, S/stride, S/stride) -> points (B, 70, 2) pixels.

    * **space-to-depth** first: ``pixel_unshuffle(2)`` turns (3, S, S) into (12, S/2, S/2) without losing a pixel, so
      no convolution runs at full resolution (on a CPU, narrow convolutions over many pixels are what costs);
    * an **encoder**: ``widths[0]`` channels at S/2, then each level halves the resolution (a stride-2 conv and
      ``level_convs - 1`` more), ``widths[l]`` channels at S/2^(l+1);
    * a **decoder** in the style of a feature pyramid: from the deepest level up to the heatmap level,
      y_l = conv(upsample(lateral_l(y_(l+1))) + f_l), an addition of the coarse context to the finer features;
    * a 1x1 **head**: one logit map per point, then the soft-argmax.
    """

    def __init__(self, config: LandmarkNetConfig | None = None):
        super().__init__()
        self.config = config or LandmarkNetConfig()
        c = self.config
        w = c.widths
        if c.stride not in (2, 4, 8) or c.stride > 2 ** len(w):
            raise ValueError(f"stride must be 2, 4 or 8 (and at most 2^len(widths)), got {c.stride}")
        if c.image_size % 2 ** len(w) != 0:
            raise ValueError(f"image_size {c.image_size} must be divisible by 2^{len(w)} = {2 ** len(w)} "
                             f"for {len(w)} levels")
        self.out_level = {2: 0, 4: 1, 8: 2}[c.stride]
        self.register_buffer("mean", torch.tensor([0.5, 0.45, 0.4]).view(1, 3, 1, 1), persistent=False)
        self.stem = conv_bn_relu(12, w[0])
        self.down = nn.ModuleList(
            nn.Sequential(conv_bn_relu(w[i - 1], w[i], stride=2),
                          *[conv_bn_relu(w[i], w[i]) for _ in range(c.level_convs - 1)])
            for i in range(1, len(w)))
        levels = range(self.out_level, len(w) - 1)
        self.lateral = nn.ModuleList(nn.Conv2d(w[i + 1], w[i], 1) for i in levels)
        self.fuse = nn.ModuleList(conv_bn_relu(w[i], w[i]) for i in levels)
        self.head = nn.Conv2d(w[self.out_level], N_POINTS, 1)

    def heatmaps(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) float in [0, 1] -> logits (B, 70, S/stride, S/stride)."""
        x = F.pixel_unshuffle((images - self.mean) * 4.0, 2)         # (B, 12, S/2, S/2)
        feats = [self.stem(x)]                                       # widths[0] at S/2
        for block in self.down:                                      # widths[l] at S/2^(l+1)
            feats.append(block(feats[-1]))
        y = feats[-1]
        for j in reversed(range(len(self.fuse))):                    # deepest level - 1 ... out_level
            f = feats[self.out_level + j]
            y = F.interpolate(self.lateral[j](y), size=f.shape[-2:], mode="bilinear", align_corners=False)
            y = self.fuse[j](y + f)
        return self.head(y)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 3, S, S) -> points (B, 70, 2) pixels, log-probabilities (B, 70, S/stride, S/stride)."""
        return soft_argmax(self.heatmaps(images), self.config.stride, self.config.beta)


def landmark_loss(points: torch.Tensor, log_p: torch.Tensor, target: torch.Tensor,
                  config: LandmarkNetConfig) -> tuple[torch.Tensor, dict]:
    """The loss of the module docstring, in three terms (s = image_size / 64 pixels):

        L = mean_k |x_k - x_k*|_1 / s                                  the integral loss on the soft-argmax
          + mu * mean_(a,b) |(x_a - x_b) - (x_a* - x_b*)|_1 / s         gaps between facing lid and lip points
          + lambda * mean_k CE(G_k, p_k),   CE(G, p) = -sum_i G_i log p_i   heatmap shape (a Gaussian target)

    points, target: (B, K, 2) pixels; log_p: (B, K, h, w). Returns the loss and its parts (detached).
    """
    unit = config.image_size / 64.0
    coord = (points - target).abs().mean() / unit
    loss = coord
    parts = dict(coord_l1=coord.detach())
    if config.gap_weight > 0:
        a, b = GAP_PAIRS[:, 0], GAP_PAIRS[:, 1]
        gap = ((points[:, a] - points[:, b]) - (target[:, a] - target[:, b])).abs().mean() / unit
        loss = loss + config.gap_weight * gap
        parts["gap_l1"] = gap.detach()
    if config.heatmap_weight > 0:
        _, _, h, w = log_p.shape
        g = gaussian_targets(target, h, w, config.stride, config.heatmap_sigma)
        ce = -(g * log_p).sum(dim=(2, 3)).mean()
        loss = loss + config.heatmap_weight * ce
        parts["heatmap_ce"] = ce.detach()
    return loss, parts


# ---------------------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------------------
def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


class LandmarkNetModule(L.LightningModule):
    """Owns the training of a :class:`LandmarkNet`: loss, augmentation, optimiser and one-cycle schedule.

    A batch is (images (B, S, S, 3) uint8, points (B, 70, 2) pixels).
    """

    def __init__(self, config: LandmarkNetConfig | None = None, net: LandmarkNet | None = None):
        super().__init__()
        self.config = config or LandmarkNetConfig()
        self.net = net if net is not None else LandmarkNet(self.config)
        self.history: list[float] = []          # the loss of every step, for plotting

    def forward(self, images: torch.Tensor):
        return self.net(images)

    def training_step(self, batch, batch_idx):
        images, target = batch
        x = images.permute(0, 3, 1, 2).float() / 255.0                     # (B, 3, S, S) in [0, 1]
        if self.config.augment:
            x = augment(x)
        points, log_p = self.net(x)
        loss, parts = landmark_loss(points, log_p, target, self.config)
        self.history.append(float(loss.detach()))
        self.log("train/loss", loss, prog_bar=True)
        for name, value in parts.items():
            self.log(f"train/{name}", value)
        return loss

    def configure_optimizers(self):
        c = self.config
        opt = torch.optim.AdamW(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        # one cycle: a short warm-up to the peak rate, then a cosine decay to ~0 over the remaining steps; a short
        # CPU budget reaches a much lower loss this way than with a constant rate
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=max(c.steps, 2), pct_start=0.15)
        return dict(optimizer=opt, lr_scheduler=dict(scheduler=sched, interval="step"))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def train_landmark_net(config: LandmarkNetConfig | None = None, net: LandmarkNet | None = None,
                       workers: int = 1, threads: int | None = None, verbose: bool = False) -> LandmarkNet:
    """Render the training set and train a LandmarkNet on it, deterministically (seeded, deterministic kernels).

    Trains ``net`` in place if given (the artifact store passes the module it will save). Afterwards
    ``net.metrics`` holds the timings and the error on ``config.eval_frames`` frames of held-out identities.
    ``workers`` > 1 renders the training frames in parallel processes; ``threads`` sets torch's CPU threads (on a
    machine whose cores are busy with other work, 1 thread can be several times faster than 2).
    """
    from ..repro import setup, trainer_kwargs

    config = config or LandmarkNetConfig.for_profile()
    setup(config.seed, threads=threads)
    net = net if net is not None else LandmarkNet(config)
    t0 = time.perf_counter()
    images, points = render_examples(TRAIN_TAG, config.n_train, config.image_size, config.frames_per_identity,
                                     config.seed, workers=workers)
    t_render = time.perf_counter() - t0
    data = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(points))
    loader = torch.utils.data.DataLoader(data, batch_size=config.batch_size, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(config.seed))
    module = LandmarkNetModule(config, net)
    trainer = L.Trainer(**trainer_kwargs(max_steps=config.steps, max_epochs=-1, accelerator="cpu"))
    t1 = time.perf_counter()
    trainer.fit(module, loader)
    t_train = time.perf_counter() - t1
    net.eval()
    metrics = dict(render_s=round(t_render, 1), train_s=round(t_train, 1), parameters=count_parameters(net),
                   final_loss=float(np.mean(module.history[-50:])))
    if config.eval_frames:
        metrics.update(evaluate_landmark_net(net, n=config.eval_frames))
    net.metrics = metrics
    net.history = module.history
    if verbose:
        print(metrics)
    return net


def load_landmark_net(config: LandmarkNetConfig | None = None, store=None, workers: int = 1) -> LandmarkNet:
    """The trained LandmarkNet for ``config`` (default: the current profile's) from the artifact store, or trained
    once and cached there. Training the small and full profiles is marked expensive (an error under CI)."""
    from ..artifacts import ArtifactStore

    config = config or LandmarkNetConfig.for_profile()
    store = store if store is not None else ArtifactStore()

    def train(net):
        train_landmark_net(config, net, workers=workers)
        return net.metrics

    return store.get_or_train(
        "landmark_net", config, build=lambda: LandmarkNet(config), train=train, expensive=config.image_size > 64,
        how_to_make="python -c 'from vasa_lab.tracking.landmark_net import load_landmark_net; load_landmark_net()' "
                    "with VASA_LAB_PROFILE set")


# ---------------------------------------------------------------------------------------------------------------
# inference: a tracking backend
# ---------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict(net: LandmarkNet, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Frames (N, H, W, 3) uint8 RGB of any size -> points (N, 70, 2) in the frames' pixels, scores (N,) in [0, 1].

    Each frame is resized as a whole to the network's input (the synthetic face is roughly centred) and the
    points are mapped back: x_frame = (x_net + 0.5) * W / S - 0.5 (pixel centres at integers in both).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"frames must be (N, H, W, 3) uint8 RGB, got {images.shape} {images.dtype}")
    n, h, w, _ = images.shape
    if n == 0:
        return np.zeros((0, N_POINTS, 2), np.float32), np.zeros((0,), np.float32)
    if h < 8 or w < 8:
        raise ValueError(f"frames must be at least 8 x 8 pixels, got {h} x {w}")
    c = net.config
    s = c.image_size
    if (h, w) != (s, s):
        interp = cv2.INTER_AREA if min(h, w) > s else cv2.INTER_LINEAR
        images = np.stack([cv2.resize(im, (s, s), interpolation=interp) for im in images])
    was_training = net.training
    net.eval()
    points, scores = [], []
    for start in range(0, n, batch_size):
        x = to_tensor(images[start:start + batch_size])
        p, log_p = net(x)                                              # (B, 70, 2), (B, 70, h, w)
        mass = peak_mass(log_p, p, c.stride, c.score_radius)          # (B, 70)
        points.append(p)
        scores.append(mass.mean(dim=1))
    net.train(was_training)
    pts = torch.cat(points).numpy()
    pts[..., 0] = (pts[..., 0] + 0.5) * (w / s) - 0.5
    pts[..., 1] = (pts[..., 1] + 0.5) * (h / s) - 0.5
    return pts.astype(np.float32), torch.cat(scores).numpy().astype(np.float32)


class NetBackend:
    """A tracking backend around a trained :class:`LandmarkNet`: one face per frame, 68 landmarks + 2 iris centres.

    ``score`` is the heatmaps' peakiness: the mean share of probability mass within ``score_radius`` cells of each
    predicted point (about 0.8 on a clear synthetic face, lower on a blurred or unfamiliar image). The network
    always predicts a face; deciding "no face" is a threshold on the score, which the tracker owns.
    """

    name = "net"

    def __init__(self, model: LandmarkNet | None = None, config: LandmarkNetConfig | None = None,
                 box_padding: float = 0.1):
        self.model = (model if model is not None else load_landmark_net(config)).eval()
        self.box_padding = box_padding

    def _detection(self, pts: np.ndarray, score: float, h: int, w: int) -> Detection:
        lm = pts[:N_LANDMARKS]
        lo, hi = lm.min(axis=0), lm.max(axis=0)
        pad = self.box_padding * (hi - lo)
        box = np.array([max(lo[0] - pad[0], 0.0), max(lo[1] - pad[1], 0.0),
                        min(hi[0] + pad[0], w - 1.0), min(hi[1] + pad[1], h - 1.0)], np.float32)
        return Detection(box=box, score=float(np.clip(score, 0.0, 1.0)), landmarks=lm.astype(np.float32),
                         iris=pts[N_LANDMARKS:].astype(np.float32))

    def detect(self, image: np.ndarray) -> list[Detection]:
        """image (H, W, 3) uint8 RGB -> [one Detection]."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        return self.detect_batch(image[None])[0]

    def detect_batch(self, images: np.ndarray) -> list[list[Detection]]:
        """images (N, H, W, 3) uint8 RGB -> one [Detection] per frame (batched through the network)."""
        images = np.asarray(images)
        pts, scores = predict(self.model, images)
        h, w = images.shape[1:3]
        return [[self._detection(p, s, h, w)] for p, s in zip(pts, scores)]


# ---------------------------------------------------------------------------------------------------------------
# measuring it
# ---------------------------------------------------------------------------------------------------------------
def landmark_nme(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Normalised mean error per frame: mean_k |p_k - t_k| / |t_36 - t_45| (inter-ocular distance, outer eye
    corners). pred, truth: (N, 68, 2) -> (N,)."""
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    iod = np.linalg.norm(truth[:, OUTER_EYE_CORNERS[0]] - truth[:, OUTER_EYE_CORNERS[1]], axis=-1)
    return np.linalg.norm(pred - truth, axis=-1).mean(axis=-1) / np.maximum(iod, 1e-6)


def evaluate_landmark_net(net: LandmarkNet, n: int = 300, size: int | None = None, tag: str = EVAL_TAG) -> dict:
    """Error on ``n`` frames of held-out identities (from ``tag``'s generator) in random states.

    Returns nme (mean), nme_median, iris_px (mean iris-centre error in pixels) and score (mean confidence).
    ``size`` renders the frames at another size than the network's input (they are resized by :func:`predict`).
    """
    size = size or net.config.image_size
    images, truth = render_examples(tag, n, size, frames_per_identity=1)
    pts, scores = predict(net, images)
    nme = landmark_nme(pts[:, :N_LANDMARKS], truth[:, :N_LANDMARKS])
    iris = np.linalg.norm(pts[:, N_LANDMARKS:] - truth[:, N_LANDMARKS:], axis=-1)
    return dict(nme=float(nme.mean()), nme_median=float(np.median(nme)), iris_px=float(iris.mean()),
                score=float(scores.mean()))
