"""Identity similarity: does the generated face still look like the person in the portrait?

    ID = 1 / T sum_t cos( psi(portrait), psi(frame_t) )

with psi an identity network: a pretrained ArcFace from a local file (``arcface_path``; see
:mod:`vasa_lab.latent.id_net`) or, by default, our own :class:`~vasa_lab.latent.id_net.FaceIdentityNet` trained
on the synthetic world's training people with ArcFace's loss. It reads a fixed face crop, so it suits aligned
talking-head frames like ours. The numbers compare within one network only; ``IdentitySimilarity.network`` says
which was used.
"""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric


def _images(x: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (T, H, W, 3) uint8 -> (T, 3, H, W) float in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected (H, W, 3) or (T, H, W, 3) uint8 images, got shape {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float().div_(255.0)


class IdentitySimilarity(Metric):
    """Mean cosine between the portrait's identity embedding and each frame's, averaged per clip then over clips.

    ``update(portrait (H, W, 3) uint8, frames (T, H, W, 3) uint8)``; ``compute()`` -> dict(identity, n).
    """

    full_state_update = False

    def __init__(self, net: torch.nn.Module, network: str = "ours (FaceIdentityNet)", batch_size: int = 128,
                 **kwargs):
        super().__init__(**kwargs)
        self.net, self.network, self.batch_size = net.eval(), network, batch_size
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.per_clip: list[float] = []

    @torch.no_grad()
    def frame_similarities(self, portrait, frames) -> torch.Tensor:
        """(T,) the cosine between the portrait's identity embedding and each frame's."""
        ref = self.net(_images(portrait))                                          # (1, E) unit vectors
        x = _images(frames)
        return torch.cat([self.net(x[i: i + self.batch_size]) @ ref[0] for i in range(0, len(x), self.batch_size)])

    def update(self, portrait, frames) -> None:
        value = float(self.frame_similarities(portrait, frames).mean())
        self.per_clip.append(value)
        self.total += value
        self.n += 1

    def compute(self) -> dict:
        return dict(identity=float(self.total) / max(int(self.n), 1), n=int(self.n))

    def reset(self) -> None:
        super().reset()
        self.per_clip = []


def load_identity_metric_net(profile: str | None = None, arcface_path: str = "", store=None):
    """(network, its name): ArcFace from ``arcface_path`` if given, else ours for the profile (store / trained now)."""
    from ..latent.id_net import identity_network

    return identity_network(arcface_path, profile=profile, store=store)
