"""The network: heatmaps from a small encoder-decoder, points by a soft-argmax, a confidence from the peaks."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import N_POINTS, LandmarkNetConfig


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


def peak_mass(log_p: torch.Tensor, points: torch.Tensor, stride: int, radius: float) -> torch.Tensor:
    """Share of each map's probability within ``radius`` cells of its point: (B, K, h, w), (B, K, 2) -> (B, K)."""
    _, _, h, w = log_p.shape
    dx2 = (cell_centres(w, stride).to(points) - points[..., 0:1]) ** 2                    # (B, K, w)
    dy2 = (cell_centres(h, stride).to(points) - points[..., 1:2]) ** 2                    # (B, K, h)
    near = (dy2[..., :, None] + dx2[..., None, :]) <= (radius * stride) ** 2
    return (log_p.exp() * near).sum(dim=(2, 3))


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


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
