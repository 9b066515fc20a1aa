"""Training the motion transformer: the LightningModule (one diffusion training step) and :func:`train_motion`.

One training step, as in VASA-1:

1. a batch of windows: clean motion X_0 (B, W, M), the K frames of context before each, audio, labels g, d, e;
2. normalise the motion with the training set's statistics (buffers of the model);
3. drop conditions at random (:func:`~vasa_lab.motion.diffusion.drop_conditions`): what guidance needs later;
   then, with ``context_noise`` > 0 (ours, not VASA-1's), move the context the way the sampler's own errors will
   (:func:`~vasa_lab.motion.diffusion.noise_context`), so the model does not build on them;
4. draw a step t ~ U{0, N - 1} and noise eps ~ N(0, I) per window; X_t = sqrt(abar_t) X_0 + sqrt(1 - abar_t) eps
   (``DDPMScheduler.add_noise``);
5. loss = || H(X_t, t, C) - X_0 ||^2  + ``w_velocity`` * the same on frame-to-frame differences (velocities),
   including the step from the last context frame into the window where the context is given, weighted ``w_join``
   (it is one step of W, and the one that decides whether a join shows).

The velocity term is ours, kept because measurement said it helps (tiny world, stand-in codes): without it the
generated head jittered (dP 0.68 deg/frame against 0.50 for real clips) and lip sync was a little worse.
"""
from __future__ import annotations

import time
import warnings

import lightning as L
import torch
from torch.utils.data import DataLoader

from ..training import RunSampler, check_finished, make_trainer, resume_from, seed_everything, warmup_cosine
from .diffusion import drop_conditions, make_scheduler, noise_context
from .model import Conditioning, MotionDiT


def batch_conditioning(model: MotionDiT, batch: dict[str, torch.Tensor]) -> Conditioning:
    """A :class:`MotionWindows` batch -> the full :class:`Conditioning` (nothing dropped yet; context normalised)."""
    B, W = batch["audio"].shape[:2]
    K = batch["context"].shape[1]
    ok = batch["context_ok"].bool()
    return Conditioning(
        context=model.normalize_motion(batch["context"]), context_keep=ok,
        context_audio=batch["context_audio"], context_audio_keep=ok[:, None].expand(B, K).clone(),
        audio=batch["audio"], audio_keep=torch.ones(B, W, dtype=torch.bool, device=ok.device),
        gaze=batch["gaze"], gaze_keep=torch.ones(B, dtype=torch.bool, device=ok.device),
        distance=batch["distance"], distance_keep=torch.ones(B, dtype=torch.bool, device=ok.device),
        emotion=batch["emotion"], emotion_keep=batch["emotion_ok"].bool())


class MotionDiffusionModule(L.LightningModule):
    """Owns the training of a :class:`MotionDiT` (the plain network inference uses)."""

    def __init__(self, model: MotionDiT):
        super().__init__()
        self.model = model
        self.config = model.config
        scheduler = make_scheduler(self.config, "ddpm")
        self.register_buffer("alphas_cumprod", scheduler.alphas_cumprod.clone().float(), persistent=False)
        self.noise_scheduler = scheduler
        self.history: list[float] = []

    def diffusion_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None,
                       t: torch.Tensor | None = None):
        """The loss of one batch; ``t`` (B,): the diffusion steps to train at (default: drawn uniformly)."""
        cfg = self.config
        x0 = self.model.normalize_motion(batch["x0"])                                   # (B, W, M)
        cond = drop_conditions(batch_conditioning(self.model, batch), cfg, generator)
        last = cond.context[:, -1:]                                                      # (B, 1, M), the data's
        if cfg.context_noise > 0:
            cond = noise_context(cond, cfg.context_noise, generator)
        B = x0.shape[0]
        if t is None:
            t = torch.randint(0, cfg.timesteps, (B,), generator=generator)
        t = t.to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        x_t = self.noise_scheduler.add_noise(x0, noise, t)                               # q(X_t | X_0)
        pred = self.model(x_t, t, cond)
        dim_weight = torch.ones(x0.shape[-1], device=x0.device)                         # (M,): pose, then z_dyn
        dim_weight[: cfg.pose_dim] = cfg.w_pose
        loss = torch.mean(dim_weight * (pred - x0) ** 2)                                 # || H - X_0 ||^2
        if cfg.w_velocity > 0:
            # velocities over [last context frame, window]: inside the window, and across the join where the
            # context is given (so a window starts where the previous one ended; with a noised context, where the
            # data's ended: the way back from a context that is off is taken at the join)
            v_pred, v_true = torch.cat([last, pred], 1).diff(dim=1), torch.cat([last, x0], 1).diff(dim=1)
            weight = torch.ones_like(v_pred[..., :1])
            weight[:, 0] = cond.context_keep[:, None].float() * cfg.w_join
            loss = loss + cfg.w_velocity * torch.sum(weight * dim_weight * (v_pred - v_true) ** 2) / (
                weight.sum() * x0.shape[-1])
        return loss

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # the step's noise, t, dropped conditions and dropout come from torch's global generator: a resumed run
        # draws what the uninterrupted one would have (the windows are a pure function of their index)
        checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._resume_rng = checkpoint.get("torch_rng_state")

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # restored here, not on loading: starting the data loader draws its base seed from the global generator
        # after the checkpoint is loaded, as the uninterrupted run did before its first step
        if getattr(self, "_resume_rng", None) is not None:
            torch.set_rng_state(self._resume_rng)
            self._resume_rng = None

    def training_step(self, batch, batch_idx):
        loss = self.diffusion_loss(batch)
        self.log("train/loss", loss, prog_bar=True)
        self.history.append(float(loss.detach()))
        return loss

    def validation_step(self, batch, batch_idx):
        g = torch.Generator().manual_seed(batch_idx)
        loss = self.diffusion_loss(batch, g)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        cfg = self.config
        opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        return [opt], [warmup_cosine(opt, cfg.warmup_steps, cfg.steps, floor=0.05)]   # warm-up, cosine to 5 %


def train_motion(model: MotionDiT, clips=None, store=None, steps: int | None = None, progress: bool | None = None,
                 trainer_overrides: dict | None = None, val_batches: int = 4, history: list | None = None,
                 checkpoint_dir=None, checkpoint_every: int = 500) -> dict:
    """Train ``model`` in place on its config's data (cached motion codes); returns metrics for the store's meta.

    ``clips``: a :class:`~vasa_lab.motion.data.MotionClips` (default: :func:`~vasa_lab.motion.data.motion_clips` of
    the config, encoded once and cached). ``steps`` overrides ``config.steps`` (e.g. a short demo run);
    ``history``: a list that receives every step's training loss (for a plot). ``checkpoint_dir``: a folder for
    ``last.ckpt``, written every ``checkpoint_every`` steps; a run that finds one there resumes from it (weights,
    optimiser, schedule, step and random state) and draws the windows it had not drawn, so it ends where an
    uninterrupted run would have.
    """
    from .data import MotionWindows, motion_clips

    cfg = model.config
    seed_everything(cfg.seed)
    if clips is None:
        clips = motion_clips(cfg, store_root=store.root if store is not None else None, progress=True)
    train_idx = clips.indices("train")
    if train_idx.size == 0:
        raise ValueError("the dataset has no training clips")
    rows = torch.cat([torch.arange(int(clips.offsets[i]), int(clips.offsets[i + 1])) for i in train_idx])
    model.set_statistics(torch.from_numpy(clips.motion[rows.numpy()]), torch.from_numpy(clips.audio[rows.numpy()]))

    steps = int(steps or cfg.steps)
    train_set = MotionWindows(clips, cfg, "train", length=steps * cfg.batch_size, seed=cfg.seed)
    kwargs, resume, resumed_at = {}, None, 0
    if checkpoint_dir is not None:
        kwargs, resume, resumed_at = resume_from(checkpoint_dir, checkpoint_every)
        if resume:
            print(f"resuming from {resume} at step {resumed_at} of {steps}")
    rest = RunSampler(len(train_set), resumed_at * cfg.batch_size)           # the windows a resumed run has not drawn
    loaders = dict(train_dataloaders=DataLoader(train_set, batch_size=cfg.batch_size, sampler=rest, num_workers=0))
    has_val = clips.indices("val").size > 0
    if has_val and val_batches > 0:
        val_set = MotionWindows(clips, cfg, "val", length=val_batches * cfg.batch_size, seed=cfg.seed + 1,
                                 blink_windows=0.0)          # validation reads the data as it comes
        loaders["val_dataloaders"] = DataLoader(val_set, batch_size=cfg.batch_size, num_workers=0)
    module = MotionDiffusionModule(model)
    if history is not None:
        module.history = history
    # max_epochs=-1: the run ends at max_steps; under DDP each process sees 1/N of the windows per epoch and
    # simply goes round again (items are a pure function of their index)
    kwargs.update(max_epochs=-1, limit_val_batches=val_batches if has_val else 0, num_sanity_val_steps=0,
                  val_check_interval=None, check_val_every_n_epoch=1)
    if progress is not None:
        kwargs["enable_progress_bar"] = progress
    kwargs.update(trainer_overrides or {})
    trainer = make_trainer(steps, **kwargs)
    start = time.time()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*validation_step.*val_dataloader.*")  # val_batches=0: on purpose
        trainer.fit(module, **loaders, ckpt_path=resume, weights_only=True)
    check_finished(trainer, steps)
    model.eval()
    tail = module.history[-50:] or [float("nan")]
    metrics = dict(steps=steps, train_loss_start=module.history[0] if module.history else float("nan"),
                   train_loss_end=sum(tail) / len(tail), seconds=round(time.time() - start, 1),
                   train_clips=int(train_idx.size), parameters=model.n_parameters, resumed_at=resumed_at)
    if "val/loss" in trainer.callback_metrics:
        metrics["val_loss"] = float(trainer.callback_metrics["val/loss"])
    return metrics
