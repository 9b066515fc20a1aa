"""Training data: random people in random states rendered by the world, with their truth; mild augmentation."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...world.person import sample_identity
from ...world.samples import identity_seeds, random_state, render_faces, tagged_rng


def render_examples(tag: str, n: int, size: int, frames_per_identity: int = 4, seed: int = 0,
                    return_states: bool = False, workers: int = 1):
    """Render ``n`` frames of identities from ``tag``'s generator in random states (:mod:`vasa_lab.world.samples`).

    Returns images (n, size, size, 3) uint8 RGB and points (n, 70, 2) float32 pixels: the 68 landmarks, then the
    two iris centres (image-left eye first); with ``return_states`` also the states (n, 17) in STATE_NAMES order
    (the ground truth pose, for evaluation). ``workers`` > 1 renders in that many processes; the frames are the
    same either way.
    """
    if n < 1 or frames_per_identity < 1:
        raise ValueError(f"n and frames_per_identity must be at least 1, got {n} and {frames_per_identity}")
    n_ids = -(-n // frames_per_identity)
    seeds = identity_seeds(tag, n_ids, seed)
    rng = tagged_rng(tag + "/states", seed)
    people = [sample_identity(int(s)) for s in seeds]
    states = [random_state(rng) for _ in range(n)]
    faces = render_faces([people[i // frames_per_identity] for i in range(n)], states, size, workers=workers)
    points = np.concatenate([faces["landmarks"], faces["iris"]], axis=1)                 # (n, 70, 2)
    if return_states:
        return faces["images"], points, faces["states"]
    return faces["images"], points


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
