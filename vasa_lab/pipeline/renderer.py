"""Motion codes -> frames: the face latent model's decoder on one portrait's appearance, batched.

The appearance (the canonical volume V_app and z_id, chapter 03) is encoded ONCE per portrait; every frame is the
same volume warped by its own motion code and decoded. So a frame costs one decoder pass, and frames can be drawn
one at a time (lowest latency: a frame leaves as soon as its code exists) or in batches (more frames a second: the
decoder's weights are read once per batch). Device and numeric precision are chosen here and nowhere else:
``precision="bf16"`` runs the decoder under ``torch.autocast`` (on a GPU; on a CPU it is usually slower), and
``compile=True`` hands the decoder to ``torch.compile``.

Two kinds of frame: the model's square face crop (resized to ``size`` if asked), or with a
:class:`vasa_lab.pipeline.photo.PhotoCompositor` the whole photo at its own resolution with the animated face pasted in.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import cv2
import numpy as np
import torch

PRECISIONS = ("32", "bf16", "16")


class FrameRenderer:
    """Draw frames for one portrait: ``render(motion (n, 6 + dyn_dim)) -> (n, H, W, 3) uint8``.

    ``latent``: the trained :class:`~vasa_lab.latent.model.FaceLatentModel`; ``appearance``: what
    :func:`vasa_lab.latent.api.encode_appearance` gave for the portrait; ``batch``: frames per decoder call;
    ``size``: resize the face crop to this many pixels; ``compositor``: draw the whole photo instead.
    """

    def __init__(self, latent, appearance, batch: int = 64, size: int | None = None, compositor=None,
                 precision: str = "32", compile: bool = False):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch must be a whole number of frames >= 1, got {batch!r}")
        self.latent = latent
        self.device = next(latent.parameters()).device
        self.appearance = appearance.to(self.device)
        self.batch, self.size, self.compositor = int(batch), size, compositor
        self.precision = precision
        self._decode = latent.render_parts if compositor is not None else latent.render
        self.compiled = bool(compile)
        if compile:
            self._decode = torch.compile(self._decode)
        self.frames_drawn = 0

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) of the frames it draws."""
        if self.compositor is not None:
            return self.compositor.size
        side = int(self.size or self.latent.config.image_size)
        return side, side

    def _autocast(self):
        if self.precision == "32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.no_grad()
    def _draw(self, motion: np.ndarray) -> np.ndarray:
        z = torch.as_tensor(np.asarray(motion), dtype=torch.float32, device=self.device)
        if z.dim() != 2 or z.shape[1] != 6 + self.latent.config.dyn_dim:
            raise ValueError(f"motion must be (n, {6 + self.latent.config.dyn_dim}) codes [z_pose, z_dyn], got "
                             f"{tuple(z.shape)}")
        n = z.shape[0]
        if self.compiled and n < self.batch:         # one shape for the compiled decoder: pad, never recompile
            z = torch.cat([z, z[-1:].expand(self.batch - n, -1)])
        with self._autocast():
            out = self._decode(self.appearance, z[:, :6], z[:, 6:])
        if self.compiled and n < self.batch:
            out = out[:n] if isinstance(out, torch.Tensor) else _first(out, n)
        if self.compositor is not None:
            frames = self.compositor.compose(_float32(out))
        else:
            image = out.float() if isinstance(out, torch.Tensor) else out.image.float()
            frames = (image.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            if self.size is not None and self.size != frames.shape[1]:
                frames = np.stack([cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
                                   for f in frames])
        self.frames_drawn += len(frames)
        return frames

    def batches(self, motion: np.ndarray) -> Iterator[np.ndarray]:
        """(n, H, W, 3) uint8 frames, ``batch`` at a time."""
        for start in range(0, len(motion), self.batch):
            yield self._draw(motion[start:start + self.batch])

    def render(self, motion: np.ndarray) -> np.ndarray:
        """All of ``motion``'s frames at once (n, H, W, 3) uint8 (drawn ``batch`` at a time)."""
        parts = list(self.batches(motion))
        h, w = self.frame_size
        return np.concatenate(parts) if parts else np.zeros((0, h, w, 3), np.uint8)


def _first(rendered, n: int):
    """The first n frames of a Rendered batch."""
    for name in ("image", "painted", "copied", "flow", "driver_grid", "gate"):
        value = getattr(rendered, name, None)
        if isinstance(value, torch.Tensor):
            setattr(rendered, name, value[:n])
    return rendered


def _float32(rendered):
    """A Rendered batch made under autocast, with its tensors back in float32 for the compositor."""
    for name in ("image", "painted", "flow", "gate"):
        value = getattr(rendered, name, None)
        if isinstance(value, torch.Tensor) and value.dtype != torch.float32:
            setattr(rendered, name, value.float())
    return rendered
