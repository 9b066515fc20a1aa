"""Using a trained face latent space without a Trainer: load it, encode a portrait once, encode motion, render.

::

    from vasa_lab.latent.api import load_latent_model, encode_appearance, encode_motion, render

    model = load_latent_model("tiny")                   # from the artifact store, or trained now (tiny: minutes)
    app = encode_appearance(model, portrait)            # (H, W, 3) uint8 or (3, H, W) float: once per portrait
    z_pose, z_dyn = encode_motion(model, frames)        # (T, H, W, 3) uint8 or (T, 3, H, W) float -> (T, 6), (T, d)
    video = render(model, app, z_pose, z_dyn)           # (T, 3, H, W) float in [0, 1], batched
    to_uint8(video)                                     # (T, H, W, 3) uint8

``z_pose`` is readable: yaw, pitch, roll in degrees, tx, ty in head units, scale (1 = average distance), so a pose
can be edited by hand; ``z_dyn`` is learned. Chapter 06 generates the sequence [z_pose, z_dyn] from audio.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..artifacts import ArtifactStore
from .config import LatentConfig
from .model import Appearance, FaceLatentModel  # noqa: F401  (Appearance: what encode_appearance returns)


def load_latent_model(profile: str | None = None, config: LatentConfig | None = None,
                      store: ArtifactStore | None = None, identity_config=None, **overrides) -> FaceLatentModel:
    """The trained face latent model of a profile, from the artifact store; trained now if missing.

    Training is cheap only in ``tiny`` (a few minutes on 2 cores, then cached); for ``small`` and ``full`` a missing
    model is an error under CI, and everywhere else training starts (better: run ``python -m vasa_lab.latent.train``).
    Keyword arguments override config fields, e.g. ``load_latent_model("tiny", w_transfer=0, w_cross_id=0)``.
    ``identity_config`` picks the identity network used in training (default: the profile's, on the same data).
    """
    from .id_net import IdentityNetConfig, identity_network, load_identity_net
    from .module import train_latent

    cfg = config or LatentConfig.for_profile(profile, **overrides)
    store = store or ArtifactStore()

    def train(model: FaceLatentModel) -> dict:
        needs_id = cfg.w_cross_id > 0 or (cfg.w_perceptual > 0 and cfg.perceptual_net == "ours")
        identity_net, which = None, "none"
        if needs_id:
            if cfg.arcface_path:
                identity_net, which = identity_network(cfg.arcface_path)
            else:
                id_cfg = identity_config or IdentityNetConfig.for_profile(cfg.profile, data=cfg.data)
                identity_net = load_identity_net(config=id_cfg, store=store)
                which = "ours (FaceIdentityNet)"
        before = cfg.previous_phase()       # a focus or gate phase continues the model of the phase before
        first_phase = (load_latent_model(config=before, store=store, identity_config=identity_config)
                       if before is not None else None)
        metrics = train_latent(model, identity_net, first_phase=first_phase)
        metrics["identity_net"] = which
        return metrics

    return store.get_or_train("latent", cfg, build=lambda: FaceLatentModel(cfg), train=train,
                              expensive=cfg.profile != "tiny",
                              how_to_make=f"python -m vasa_lab.latent.train --profile {cfg.profile}")


def as_frames(images, size: int, what: str = "frames") -> torch.Tensor:
    """Frames in any of the usual layouts -> (T, 3, size, size) float32 in [0, 1], with a clear error otherwise.

    Accepted: uint8 arrays (H, W, 3) or (T, H, W, 3); float tensors/arrays (3, H, W) or (T, 3, H, W) in [0, 1].
    """
    if isinstance(images, np.ndarray):
        if images.dtype == np.uint8:
            if images.ndim == 3:
                images = images[None]
            if images.ndim != 4 or images.shape[-1] != 3:
                raise ValueError(f"{what}: expected uint8 images shaped (H, W, 3) or (T, H, W, 3), got {images.shape}")
            images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
        else:
            images = torch.as_tensor(images, dtype=torch.float32)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{what}: expected a numpy array or a torch tensor, got {type(images).__name__}")
    x = images.float()
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{what}: expected float images shaped (3, H, W) or (T, 3, H, W), got {tuple(images.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{what}: no images given")
    if tuple(x.shape[-2:]) != (size, size):
        raise ValueError(f"{what}: this model draws {size}x{size} faces, got {x.shape[-1]}x{x.shape[-2]} images; "
                         f"crop and resize them first (chapter 02's tracker makes aligned crops)")
    if not torch.isfinite(x).all():
        raise ValueError(f"{what}: the images contain NaN or infinite values")
    if x.min() < -1e-3 or x.max() > 1 + 1e-3:
        raise ValueError(f"{what}: float images must be in [0, 1], got values in [{x.min():.2f}, {x.max():.2f}]")
    return x.clamp(0, 1)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def copy_gate_region(landmarks: np.ndarray, size: int) -> torch.Tensor:
    """(1, 1, size, size): 1 inside the polygons of the lips' outer edge (iBUG-68 48-59) and of each eye (36-41,
    42-47), grown by about size / 40 px, 0 elsewhere. ``landmarks`` (68, 2) in the crop's pixels. Where a model
    with a copy gate may stop copying the portrait (an open mouth's inside, a closing lid); missing landmarks give
    all ones (no restriction)."""
    import cv2

    from ..geometry import LEFT_EYE, OUTER_LIPS, RIGHT_EYE
    from .data import polygons_mask

    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        return torch.ones(1, 1, size, size)
    region = polygons_mask(lm, size, (OUTER_LIPS, RIGHT_EYE, LEFT_EYE))
    grow = 2 * max(1, round(size / 40)) + 1
    region = cv2.dilate(region, np.ones((grow, grow), np.uint8))
    return torch.from_numpy(region.astype(np.float32))[None, None]


@torch.no_grad()
def encode_appearance(model: FaceLatentModel, image, landmarks: np.ndarray | None = None,
                      source_dyn: torch.Tensor | None = None) -> Appearance:
    """A portrait (or a batch of them) -> its Appearance (canonical volume V_app and z_id). Encode once, reuse.

    ``landmarks`` (68, 2), the portrait's in its own pixels (one portrait): a model with a copy gate then paints
    over the copied portrait only around its lips and eyes (:func:`copy_gate_region`). ``source_dyn`` (1 or B, dyn_dim):
    the portrait's expression code to un-express it from, instead of the motion encoder's reading of it (the
    pipeline's :class:`vasa_lab.pipeline.source_expression.TrackedExpression`); its pose is still encoded."""
    model.eval()
    x = as_frames(image, model.config.image_size, "portrait").to(_device(model))
    motion = None
    if source_dyn is not None:
        z_pose, z_dyn = model.encode_motion(x)
        source_dyn = torch.as_tensor(source_dyn, dtype=z_dyn.dtype, device=z_dyn.device)
        source_dyn = source_dyn.reshape(-1, source_dyn.shape[-1]) if source_dyn.ndim else source_dyn.reshape(1, 1)
        if source_dyn.shape[-1] != z_dyn.shape[-1] or source_dyn.shape[0] not in (1, z_dyn.shape[0]):
            raise ValueError(f"source_dyn must be (1, {z_dyn.shape[-1]}) or ({z_dyn.shape[0]}, {z_dyn.shape[-1]}) for "
                             f"{z_dyn.shape[0]} portrait(s), not {tuple(source_dyn.shape)}")
        motion = (z_pose, source_dyn.expand_as(z_dyn))
    app = model.encode_appearance(x, motion)
    if landmarks is not None and model.decoder.gate is not None:
        shape = tuple(np.shape(image))
        width = shape[-2] if shape[-1] in (1, 3, 4) and len(shape) == 3 else shape[-1]   # (H, W, C) or (C, H, W)
        scale = x.shape[-1] / width
        region = copy_gate_region(np.asarray(landmarks, np.float64) * scale, x.shape[-1]).to(x.device)
        app = replace(app, gate_region=region.expand(len(app), -1, -1, -1))
    return app


@torch.no_grad()
def encode_motion(model: FaceLatentModel, frames, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames -> z_pose (T, 6) and z_dyn (T, dyn_dim), in batches of ``batch_size``."""
    model.eval()
    x = as_frames(frames, model.config.image_size)
    poses, dyns = [], []
    for chunk in x.split(batch_size):
        p, d = model.encode_motion(chunk.to(_device(model)))
        poses.append(p.cpu())
        dyns.append(d.cpu())
    return torch.cat(poses), torch.cat(dyns)


@torch.no_grad()
def render(model: FaceLatentModel, appearance: Appearance, z_pose, z_dyn, batch_size: int = 128) -> torch.Tensor:
    """Appearance (1 portrait, or one per frame) + motion (T, 6), (T, dyn_dim) -> frames (T, 3, H, W) in [0, 1]."""
    model.eval()
    z_pose = torch.as_tensor(z_pose, dtype=torch.float32)
    z_dyn = torch.as_tensor(z_dyn, dtype=torch.float32)
    if z_pose.dim() == 1:
        z_pose, z_dyn = z_pose[None], z_dyn[None]
    if z_pose.shape[-1] != 6 or z_dyn.shape[-1] != model.config.dyn_dim or z_pose.shape[0] != z_dyn.shape[0]:
        raise ValueError(f"render needs z_pose (T, 6) and z_dyn (T, {model.config.dyn_dim}) of one length, got "
                         f"{tuple(z_pose.shape)} and {tuple(z_dyn.shape)}")
    n, dev = z_pose.shape[0], _device(model)
    if len(appearance) not in (1, n):
        raise ValueError(f"render: {len(appearance)} portraits for {n} frames; give 1 portrait or {n}")
    out = []
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        app = (appearance if len(appearance) == 1 else appearance[sl]).to(dev)
        out.append(model.render(app, z_pose[sl].to(dev), z_dyn[sl].to(dev)).cpu())
    return torch.cat(out)


def reenact(model: FaceLatentModel, portrait, driving_frames, batch_size: int = 128) -> torch.Tensor:
    """The portrait's person, moving like the driving frames: (T, 3, H, W) in [0, 1]."""
    z_pose, z_dyn = encode_motion(model, driving_frames, batch_size)
    return render(model, encode_appearance(model, portrait), z_pose, z_dyn, batch_size)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) float in [0, 1] -> (T, H, W, 3) uint8, for display and video files."""
    return (frames.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
