"""The loss: the integral (soft-argmax) L1, the lid and lip gaps, and a Gaussian heatmap target."""
from __future__ import annotations

import torch

from .config import GAP_PAIRS, LandmarkNetConfig
from .model import cell_centres


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
