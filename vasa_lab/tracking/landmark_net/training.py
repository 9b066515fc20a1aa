"""Training: the LightningModule, the training run, and the trained net from the artifact store."""
from __future__ import annotations

import time

import lightning as L
import numpy as np
import torch
import torch.nn as nn

from ...repro import setup
from ...training import adamw_one_cycle, make_trainer
from .config import TRAIN_TAG, LandmarkNetConfig
from .data import augment, render_examples
from .loss import landmark_loss
from .model import LandmarkNet


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
        return adamw_one_cycle(self.net.parameters(), c.lr, c.steps, weight_decay=c.weight_decay)


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
    trainer = make_trainer(config.steps, max_epochs=-1, accelerator="cpu")
    t1 = time.perf_counter()
    trainer.fit(module, loader)
    t_train = time.perf_counter() - t1
    net.eval()
    metrics = dict(render_s=round(t_render, 1), train_s=round(t_train, 1), parameters=count_parameters(net),
                   final_loss=float(np.mean(module.history[-50:])))
    if config.eval_frames:
        from .measure import evaluate_landmark_net   # measure imports this module: imported when used

        metrics.update(evaluate_landmark_net(net, n=config.eval_frames))
    net.metrics = metrics
    net.history = module.history
    if verbose:
        print(metrics)
    return net


def load_landmark_net(config: LandmarkNetConfig | None = None, store=None, workers: int = 1) -> LandmarkNet:
    """The trained LandmarkNet for ``config`` (default: the current profile's) from the artifact store, or trained
    once and cached there. Training the small and full profiles is marked expensive (an error under CI)."""
    from ...artifacts import ArtifactStore

    config = config or LandmarkNetConfig.for_profile()
    store = store if store is not None else ArtifactStore()

    def train(net):
        train_landmark_net(config, net, workers=workers)
        return net.metrics

    return store.get_or_train(
        "landmark_net", config, build=lambda: LandmarkNet(config), train=train, expensive=config.image_size > 64,
        how_to_make="python -c 'from vasa_lab.tracking.landmark_net import load_landmark_net; load_landmark_net()' "
                    "with VASA_LAB_PROFILE set")
