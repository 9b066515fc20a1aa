"""The landmark network's settings and the constants its parts share."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...config import resolve_profile
from ...geometry import N_LANDMARKS

N_POINTS = N_LANDMARKS + 2            # 68 iBUG landmarks, then the iris centres (image-left eye, image-right eye)
# facing points whose gap the tracker reads: upper/lower eyelids (blinks) and inner lips (mouth opening)
GAP_PAIRS = torch.tensor([(37, 41), (38, 40), (43, 47), (44, 46), (61, 67), (62, 66), (63, 65)])
TRAIN_TAG = "landmark-net-train"      # the training people are drawn from this tag's generator ...
EVAL_TAG = "landmark-net-eval"        # ... and the held-out people from this one's


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
