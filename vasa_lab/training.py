"""One way to train every network of the course: seeded, quiet, for a fixed number of optimiser steps.

Every LightningModule's training goes through these few functions, so a fix or a setting lands everywhere at once:

* :func:`~vasa_lab.repro.seed_everything` (re-exported here): the one seeding call, before building data and nets;
* :func:`trainer_kwargs` / :func:`make_trainer`: a ``lightning.Trainer`` that stops after ``steps`` optimiser
  steps, keeps quiet under CI (no progress bar, no logger, no model summary), asks for deterministic kernels
  (warn only) and takes any Lightning argument on top (devices, strategy, precision ...);
* :func:`adamw_one_cycle`, :func:`one_cycle`, :func:`warmup_cosine`: what ``configure_optimizers`` returns;
* :class:`OneLossModule`: a network and one loss (a subclass writes ``loss(batch)``);
* :func:`fit_for_steps`: train a module on a dataset that already holds ``steps * batch_size`` items in order;
* :func:`resume_from`: checkpoints every N steps into a folder, and the step to resume from when one is there;
  :class:`RunSampler` serves a resumed run the items it had not drawn, and :func:`check_finished` refuses a run
  that stopped short.

The modules themselves (their losses, their ``training_step``) stay beside their networks; only the plumbing is here.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .repro import seed_everything, under_ci

__all__ = ["seed_everything", "trainer_kwargs", "make_trainer", "adamw_one_cycle", "one_cycle", "warmup_cosine",
           "OneLossModule", "fit_for_steps", "checkpoint_step", "resume_from", "RunSampler", "steps_per_device",
           "check_finished"]


def trainer_kwargs(**overrides) -> dict:
    """Keyword arguments for ``lightning.Trainer`` that keep CI and notebooks quiet and reproducible."""
    kwargs = dict(
        enable_progress_bar=not under_ci(),
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        deterministic="warn",
        accelerator="auto",
        devices=1,
    )
    kwargs.update(overrides)
    return kwargs


def make_trainer(steps: int, **overrides) -> L.Trainer:
    """A Trainer for ``steps`` optimiser steps over one pass of a dataset that holds exactly that many batches
    (``max_epochs=1``, no validation), unless ``overrides`` say otherwise."""
    kwargs = dict(max_steps=steps, max_epochs=1, limit_val_batches=0)
    kwargs.update(overrides)
    return L.Trainer(**trainer_kwargs(**kwargs))


def one_cycle(optimizer: torch.optim.Optimizer, lr: float, steps: int, pct_start: float = 0.15) -> dict:
    """A one-cycle schedule stepped every batch: a short warm-up to ``lr``, then a cosine decay to ~0. On a short
    CPU budget this reaches a much lower loss than a constant rate."""
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(int(steps), 2),
                                                pct_start=pct_start)
    return dict(scheduler=sched, interval="step")


def adamw_one_cycle(params, lr: float, steps: int, weight_decay: float = 1e-4, pct_start: float = 0.15):
    """AdamW with a one-cycle schedule, in the form ``configure_optimizers`` returns."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return [opt], [one_cycle(opt, lr, steps, pct_start)]


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, steps: int, floor: float = 0.05) -> dict:
    """A linear warm-up over ``warmup_steps``, then a cosine decay to ``floor`` times the rate at ``steps``."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        p = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))

    return dict(scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, factor), interval="step")


class OneLossModule(L.LightningModule):
    """A network ``net`` trained on one loss with AdamW and a one-cycle schedule over ``cfg.steps`` steps (``cfg``
    has ``lr`` and ``steps``): a subclass writes :meth:`loss`. ``last_loss`` keeps the latest value for the report.
    (The metric networks and the identity network train this way.)"""

    def __init__(self, net: torch.nn.Module, cfg):
        super().__init__()
        self.net, self.cfg = net, cfg
        self.last_loss = float("nan")

    def loss(self, batch) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.last_loss = float(loss.detach())
        return loss

    def configure_optimizers(self):
        return adamw_one_cycle(self.parameters(), self.cfg.lr, self.cfg.steps)


def fit_for_steps(module: L.LightningModule, data: Dataset, steps: int, batch_size: int, net=None,
                  **trainer_overrides) -> dict:
    """Train ``module`` for ``steps`` batches of ``batch_size`` (``data`` already holds ``steps * batch_size``
    items, in order: the data set decides the randomness), then put ``net`` (default ``module.net``) in eval
    mode. Returns the seconds taken and the module's ``last_loss`` if it keeps one."""
    started = time.perf_counter()
    make_trainer(steps, **trainer_overrides).fit(module, DataLoader(data, batch_size=batch_size, shuffle=False))
    (net if net is not None else module.net).eval()
    metrics = dict(train_seconds=round(time.perf_counter() - started, 1))
    if hasattr(module, "last_loss"):
        metrics["final_loss"] = round(float(module.last_loss), 4)
    return metrics


def checkpoint_step(path) -> int:
    """The global step stored in a Lightning checkpoint (read safely: tensors and plain containers only)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return int(state["global_step"])


def resume_from(checkpoint_dir, every: int) -> tuple[dict, str | None, int]:
    """Checkpointing into ``checkpoint_dir`` every ``every`` steps (``last.ckpt`` plus one per step), and where to
    resume: (Trainer arguments to add, the checkpoint to resume from or None, its step). A checkpoint cut short
    by a kill is reported and ignored (the run starts again)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    checkpoint_dir = Path(checkpoint_dir)
    last, resume, start = checkpoint_dir / "last.ckpt", None, 0
    if last.is_file():
        try:
            start, resume = checkpoint_step(last), str(last)
        except Exception as err:   # a checkpoint cut short by a kill: say so and start again
            print(f"note: {last} is unreadable ({type(err).__name__}); training from the start")
    kwargs = dict(enable_checkpointing=True, callbacks=[ModelCheckpoint(
        dirpath=checkpoint_dir, filename="step-{step}", every_n_train_steps=every, save_last=True, save_top_k=0)])
    return kwargs, resume, start


class RunSampler(Sampler[int]):
    """The items of a whole training run, in order, from item ``start`` on (a resumed run's first undrawn item).

    Its length stays the whole run's, ``n_items``, though it yields only the rest. On resuming mid-epoch, Lightning
    restores how many batches of the epoch are done and ends the epoch when that count reaches the loader's length:
    a loader of the rest alone would end a run resumed at step 3250 of 7000 at step 3750."""

    def __init__(self, n_items: int, start: int = 0):
        self.n_items, self.start = int(n_items), int(start)

    def __iter__(self):
        return iter(range(self.start, self.n_items))

    def __len__(self) -> int:
        return self.n_items


def steps_per_device(trainer, steps: int) -> int:
    """The optimiser steps a one-pass run over ``steps`` batches makes on ``trainer``'s devices: Lightning deals
    each of N devices 1/N of the batches, so the run makes ``steps // N`` steps of N batches each (``trainer``
    None or not yet attached: one device). A learning-rate schedule must span these steps, not ``steps``."""
    return int(steps) // max(int(getattr(trainer, "world_size", 1) or 1), 1)


def check_finished(trainer: L.Trainer, steps: int) -> None:
    """Raise unless ``trainer`` made the optimiser steps a run of ``steps`` batches makes
    (:func:`steps_per_device`): a run that stopped short (a kill the trainer caught, a limit) must not hand back a
    model that looks finished. Its checkpoints stay; running again resumes."""
    expected = steps_per_device(trainer, steps)
    if trainer.global_step < expected:
        raise RuntimeError(f"training stopped at step {trainer.global_step} of {expected}; run the same command "
                           "again to resume from the last checkpoint")
