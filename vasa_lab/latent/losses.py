"""The losses of the face latent space, each written out beside its equation.

Reconstruction (source -> driver of the same person):

* ``L1 = mean |x̂ - x|``;
* multi-scale SSIM (Wang, Simoncelli & Bovik 2003), written here by hand and checked against torchmetrics in the
  tests: ``L_ssim = 1 - MS-SSIM(x̂, x)``;
* a perceptual loss ``Σ_l w_l mean |φ_l(x̂) - φ_l(x)|`` through a pluggable feature network φ: VGG19 when the user
  has its weights on disk (:class:`VGG19Features`), otherwise our identity network trained on the synthetic people
  (:mod:`vasa_lab.latent.id_net`), the way MegaPortraits adds VGGFace to VGG19;
* optionally a patch GAN with the hinge loss and feature matching (:class:`PatchDiscriminator`).

Motion:

* weak pose supervision ``L_pose = mean |(z_pose - p) / unit|`` against the tracker's pose p where given;
* cycle consistency on motion codes: encoding a frame drawn with B's motion gives B's motion back;
* landmark correspondence on the source-pixel flow (:func:`flow_landmark_loss`): where the driver's mouth corner is,
  the flow should read the source's mouth corner.

VASA-1's additions for disentanglement:

* the pairwise transfer loss: with frames i, j of one video, ``| D(app_j, pose_i, dyn_j) - D(app_i, pose_i, dyn_j) |``
  (both should show pose i and dynamics j);
* the cross-identity loss: ``1 - cos(ψ(D(app_A, motion_B)), ψ(x_A))`` with ψ an identity network.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..artifacts import load_state_dict
from .model import POSE_UNIT

# MS-SSIM's scale weights (Wang et al. 2003) for five scales; at 64 px only three fit an 11-tap window, so the
# first three are used and renormalised to sum to one.
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2     # (K1 L)^2, (K2 L)^2 for data range L = 1


# ---------------------------------------------------------------------------------------------------------------
# pixels
# ---------------------------------------------------------------------------------------------------------------
def l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().mean()


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 of (B, 3, H, W) images inside a (B, 1, H, W) weight mask, per masked pixel and channel (0 if none)."""
    return (mask * (x - y).abs()).sum() / (3 * (mask > 0).sum()).clamp(min=1)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """PSNR = 10 log10(1 / MSE) per image, for images in [0, 1]: (B, 3, H, W) x 2 -> (B,) in dB."""
    mse = (x - y).pow(2).flatten(1).mean(1).clamp(min=1e-10)
    return 10 * torch.log10(1.0 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """A normalised 2D Gaussian, (size, size): the local window SSIM averages over."""
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim_parts(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor, reflect: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The two SSIM factors averaged over each image, each (B,).

    With local (Gaussian-weighted) means μ, variances σ² and covariance σ_xy::

        l  = (2 μx μy + C1) / (μx² + μy² + C1)          luminance
        cs = (2 σxy + C2) / (σx² + σy² + C2)             contrast x structure
        SSIM = mean(l * cs)

    By default only windows that fit inside the image count (the paper's definition). ``reflect=True`` follows
    torchmetrics' border convention instead (reflect-pad, average l * cs over the whole image and cs over the
    unpadded part), so the two can be compared number for number.
    """
    c, k = x.shape[1], window.shape[-1]
    if reflect:
        pad = (k - 1) // 2
        x, y = F.pad(x, (pad,) * 4, mode="reflect"), F.pad(y, (pad,) * 4, mode="reflect")
    w = window.to(x).expand(c, 1, *window.shape)           # one window per channel (depthwise)
    blur = lambda t: F.conv2d(t, w, groups=c)              # "valid": no padding
    mu_x, mu_y = blur(x), blur(y)
    var_x = (blur(x * x) - mu_x ** 2).clamp(min=0)
    var_y = (blur(y * y) - mu_y ** 2).clamp(min=0)
    cov = blur(x * y) - mu_x * mu_y
    lum = (2 * mu_x * mu_y + SSIM_C1) / (mu_x ** 2 + mu_y ** 2 + SSIM_C1)
    cs = (2 * cov + SSIM_C2) / (var_x + var_y + SSIM_C2)
    full = (lum * cs).flatten(1).mean(1)
    if reflect:
        cs = cs[..., pad:-pad, pad:-pad]
    return full, cs.flatten(1).mean(1)


def ssim(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5, reflect: bool = False
         ) -> torch.Tensor:
    """Single-scale SSIM per image, (B,)."""
    return ssim_parts(x, y, gaussian_window(window_size, sigma), reflect)[0]


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int | None = None, window_size: int = 11,
            sigma: float = 1.5, reflect: bool = False) -> torch.Tensor:
    """Multi-scale SSIM per image, (B,), for images in [0, 1].

        MS-SSIM = SSIM_M^β_M · Π_{j<M} cs_j^β_j

    Scale j+1 is scale j average-pooled by 2; ``scales`` defaults to as many as leave the coarsest scale at least
    one window wide (3 at 64 px, 5 from 176 px). Negative factors are clipped to 0 before the power (the "relu"
    normalisation torchmetrics uses too), which keeps the gradient finite. ``reflect``: see :func:`ssim_parts`.
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ms_ssim needs two (B, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    fit = 1
    while fit < 5 and min(x.shape[-2:]) // 2 ** fit >= window_size:
        fit += 1
    scales = scales or fit
    if min(x.shape[-2:]) // 2 ** (scales - 1) < window_size:
        raise ValueError(f"{scales} scales need images of at least {window_size * 2 ** (scales - 1)} px, "
                         f"got {tuple(x.shape[-2:])}")
    betas = torch.tensor(MS_SSIM_BETAS[:scales], dtype=x.dtype, device=x.device)
    betas = betas / betas.sum()
    window = gaussian_window(window_size, sigma)
    factors = []
    for j in range(scales):
        full, cs = ssim_parts(x, y, window, reflect)
        factors.append(full if j == scales - 1 else cs)
        if j < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(factors).clamp(min=0)           # (scales, B)
    return torch.prod(stacked ** betas[:, None], dim=0)


# ---------------------------------------------------------------------------------------------------------------
# perceptual
# ---------------------------------------------------------------------------------------------------------------
# VGG19's convolution widths, "M" = 2x2 max pool (Simonyan & Zisserman 2015, configuration E).
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
VGG19_TAPS = (1, 6, 11, 20, 29)   # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 as indices into ``features``


class VGG19Features(nn.Module):
    """VGG19's convolutional part, built here and filled from a local file (no download, ever).

    The file is a state dict with torchvision's key names (``features.0.weight`` ...), as ``.safetensors`` or a
    ``.pth`` read with ``weights_only=True``. Images in [0, 1] are normalised with ImageNet's mean and std.
    Returns the activations relu1_1 ... relu5_1, the layers MegaPortraits' perceptual loss uses.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        layers, c_in = [], 3
        for item in VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c_in, item, 3, padding=1), nn.ReLU(inplace=False)]
                c_in = item
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        state = load_state_dict(path)
        state = {k: v for k, v in state.items() if k.startswith("features.")}
        missing = self.load_state_dict(state, strict=False).missing_keys
        if missing:
            raise ValueError(f"{path} does not hold VGG19 weights with torchvision's names (missing {missing[:3]}...)")
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, taps = (x - self.mean) / self.std, []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in VGG19_TAPS:
                taps.append(h)
            if i >= VGG19_TAPS[-1]:
                break
        return taps


class PerceptualLoss(nn.Module):
    """Σ_l w_l mean |φ_l(x̂) - φ_l(x)| through a frozen feature network φ that returns a list of feature maps."""

    def __init__(self, features: nn.Module, weights: tuple[float, ...] | None = None, name: str = ""):
        super().__init__()
        self.features = features.requires_grad_(False).eval()
        self.weights = weights
        self.name = name or type(features).__name__

    def train(self, mode: bool = True):   # the feature network stays in eval mode
        super().train(mode)
        self.features.eval()
        return self

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        fa, fb = self.features(x_hat), self.features(x)
        weights = self.weights or (1.0,) * len(fa)
        return sum(w * (a - b.detach()).abs().mean() for w, a, b in zip(weights, fa, fb))


# ---------------------------------------------------------------------------------------------------------------
# motion codes, transfer and identity
# ---------------------------------------------------------------------------------------------------------------
def pose_loss(z_pose: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """L_pose = mean |(z_pose - p) / unit|, each pose component in units of POSE_UNIT (10 degrees, 0.1 head units).

    ``mask`` (B,) marks the frames whose given pose is trusted (the tracker found the face)."""
    err = ((z_pose - target) / z_pose.new_tensor(POSE_UNIT)).abs().mean(1)    # (B,)
    if mask is None:
        return err.mean()
    return (err * mask).sum() / mask.sum().clamp(min=1)


def cycle_loss(pose_back: torch.Tensor, dyn_back: torch.Tensor, pose: torch.Tensor, dyn: torch.Tensor,
               w_dyn: float = 1.0) -> torch.Tensor:
    """E_mot(D(app_A, pose_B, dyn_B)) should give (pose_B, dyn_B) back, B's codes as fixed targets:
    mean |(pose' - pose_B) / unit| + w_dyn mean |dyn' - dyn_B|."""
    return pose_loss(pose_back, pose.detach()) + w_dyn * (dyn_back - dyn.detach()).abs().mean()


# the iBUG-68 points whose correspondence the flow learns: the brows, the nose, the eyes with their lids and the lips
# (17-67), skin that is the same in both frames. Not the jaw line (0-16): it is the face's outline, which slides over
# the face as the head turns. A closing lid and an opening lip are skin that moved: where the driver's lid is drawn
# the flow should read the portrait's lid (the copy gate lets G2D paint what the moved skin uncovers)
CORRESPONDING_POINTS = tuple(range(17, 68))
# ... the same without the lips' upper and lower edges: the brows, nose and eyes, and the four points where the lips
# meet (the outer and inner corners), where a smile shows (``LatentConfig.flow_landmark_lips = "corners"``)
CORNER_POINTS = tuple(range(17, 48)) + (48, 54, 60, 64)


def flow_at(flow: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Where the flow (B, H, W, 2; ``grid_sample`` units, ``align_corners=False``) reads the source at ``points``
    (B, K, 2) of the output, in pixels (pixel centres at integers), read bilinearly: (B, K, 2) pixels."""
    h, w = flow.shape[1:3]
    size = flow.new_tensor([w, h])
    q = (2 * points + 1) / size - 1                                                    # (B, K, 2) grid units
    read = F.grid_sample(flow.permute(0, 3, 1, 2), q[:, :, None, :], mode="bilinear", padding_mode="border",
                         align_corners=False)[..., 0].permute(0, 2, 1)                 # (B, K, 2) grid units
    return ((read + 1) * size - 1) / 2


def flow_landmark_loss(flow: torch.Tensor, source_landmarks: torch.Tensor, driver_landmarks: torch.Tensor,
                       ok: torch.Tensor, points: tuple[int, ...] = CORRESPONDING_POINTS, delta: float = 1.0
                       ) -> torch.Tensor:
    """Where the driver's landmark k is drawn, the source-pixel flow should read the source's landmark k.

    ``flow`` (B, H, W, 2): where each output pixel reads the source (``grid_sample`` units, ``align_corners=False``);
    landmarks (B, 68, 2) in pixels (pixel centres at integers); ``ok`` (B,) marks the pairs whose landmarks are
    both known. With q_k the driver's and p_k the source's point k (pixels),

        L = mean_k huber_δ(| flow(q_k) - p_k |)        in pixels, δ = ``delta`` px

    where flow(q_k) is the flow read bilinearly at q_k and turned back into pixels (:func:`flow_at`). A smile lifts a mouth corner by a
    pixel or two: a small share of any image loss, but the whole of this one."""
    idx = list(points)
    dist = (flow_at(flow, driver_landmarks[:, idx]) - source_landmarks[:, idx]).norm(dim=-1)   # (B, K) pixels
    err = F.huber_loss(dist, torch.zeros_like(dist), delta=delta, reduction="none").mean(1)
    ok = ok.float()
    return (err * ok).sum() / ok.sum().clamp(min=1)


def identity_loss(emb_a: torch.Tensor, emb_b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """L_id = mean (1 - cos(ψ_a, ψ_b)) over the pairs in ``mask``."""
    err = 1 - F.cosine_similarity(emb_a, emb_b, dim=1)
    if mask is None:
        return err.mean()
    return (err * mask).sum() / mask.sum().clamp(min=1)


# ---------------------------------------------------------------------------------------------------------------
# the patch GAN (off in tiny; on in full)
# ---------------------------------------------------------------------------------------------------------------
class PatchDiscriminator(nn.Module):
    """A PatchGAN: strided convolutions whose last layer gives one real/fake score per image patch.

    ``forward`` returns the intermediate feature maps (for feature matching) and the score map (B, 1, h, w).
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        blocks, c_in = [], 3
        for c in channels:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.score = nn.Conv2d(c_in, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        feats, h = [], x * 2 - 1
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        return feats, self.score(h)


def hinge_d_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(x̂))]."""
    return F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()


def hinge_g_loss(fake_score: torch.Tensor) -> torch.Tensor:
    """L_G = -E[D(x̂)]."""
    return -fake_score.mean()


def feature_matching_loss(real_feats: list[torch.Tensor], fake_feats: list[torch.Tensor]) -> torch.Tensor:
    """L_FM = Σ_l mean |D_l(x) - D_l(x̂)|, real features as fixed targets."""
    return sum((f - r.detach()).abs().mean() for r, f in zip(real_feats, fake_feats))
