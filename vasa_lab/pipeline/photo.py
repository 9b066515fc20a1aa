"""Your own photo at its own resolution: the animated face pasted back into the uncropped picture.

The face latent model draws a small square (64 px in ``tiny``, 128 px in ``small``). A user's photo is usually much
bigger, and nobody wants a 64-pixel crop back. The renderer's source-pixel path (``image_skip``, see
:mod:`vasa_lab.latent.model`) already says, for every output pixel, *where in the portrait its colour comes from*:
a flow field over the crop. That flow does not care about resolution, so we

1. cut the same crop box out of the photo at the photo's own resolution (``R`` px, capped at ``max_crop``);
2. upsample the flow to ``R x R`` and read the high-resolution crop along it: every pixel the model copies, it now
   copies sharply;
3. add the model's painted correction (what copying cannot give: the inside of an open mouth, a closing eyelid),
   upsampled: only those places come out at the model's own resolution;
4. paste the result back into the photo through the crop's inverse affine map, blended by a feathered mask that is 1
   in the middle of the crop and falls to 0 at its edges, so every pixel outside the crop box is the photo's own,
   unchanged, and the seam cannot be seen.

Where the crop box leaves the photo (a face near the border) the crop is padded by repeating the edge; those
padded pixels are never pasted back (the mask is warped with the same map and is 0 outside the photo), so nothing
wraps around or smears along the border. The output frame is the photo itself, shrunk first if its longer side
exceeds ``max_side`` (memory stays bounded; the size is a setting). H.264 needs even sides: one pixel is trimmed
where a side is odd.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MAX_SIDE = 1024         # the longest side of an output video, by default (a larger photo is shrunk first)
MAX_CROP = 768          # the face crop is never drawn at more than this many pixels a side
FEATHER = 0.12          # the mask's soft edge, as a share of the crop's side


def feather_mask(size: int, feather: float = FEATHER) -> np.ndarray:
    """(size, size) float32: 1 in the middle, a smooth (raised-cosine) fall to 0 over ``feather x size`` pixels at
    each edge. The corners are rounded by taking the product of the two axes' profiles."""
    x = (np.arange(size, dtype=np.float32) + 0.5) / size
    edge = np.minimum(x, 1 - x) / max(feather, 1e-6)
    ramp = np.where(edge >= 1, 1.0, 0.5 - 0.5 * np.cos(np.pi * np.clip(edge, 0, 1))).astype(np.float32)
    return np.outer(ramp, ramp)


def even_frame(image: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """The photo as it will be the video's frame: shrunk so its longer side is at most ``max_side`` (area
    averaging), then trimmed to even sides. Returns (frame, the factor the photo was scaled by)."""
    h, w = image.shape[:2]
    factor = min(1.0, float(max_side) / max(h, w))
    if factor < 1.0:
        image = cv2.resize(image, (max(2, round(w * factor)), max(2, round(h * factor))), interpolation=cv2.INTER_AREA)
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h - h % 2, : w - w % 2]), factor


@dataclass
class PhotoCompositor:
    """Paste rendered faces back into one photo at its resolution (see the module docstring).

    Build it with :meth:`for_portrait` from the photo and the crop box that :func:`vasa_lab.pipeline.animate.align_portrait`
    chose; then :meth:`compose` turns each batch of renders into full frames.
    """

    frame: np.ndarray           # (H, W, 3) uint8: the photo as the video's frame (shrunk / trimmed)
    crop: torch.Tensor          # (1, 3, R, R) float in [0, 1]: the face crop at R px, cut from ``frame``
    matrix: np.ndarray          # (2, 3): frame pixels -> crop pixels
    mask: np.ndarray            # (H, W, 1) float32: where the drawn crop replaces the photo (0 outside the box)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the output frames."""
        return self.frame.shape[0], self.frame.shape[1]

    @property
    def crop_size(self) -> int:
        return int(self.crop.shape[-1])

    @classmethod
    def for_portrait(cls, image: np.ndarray, box: np.ndarray, max_side: int = MAX_SIDE,
                     max_crop: int = MAX_CROP, min_crop: int = 64) -> "PhotoCompositor":
        """``image``: the whole photo (H, W, 3) uint8 RGB; ``box``: the square crop (x0, y0, x1, y1) in its pixels."""
        from ..tracking.align import crop_matrix

        frame, factor = even_frame(image, max_side)
        box = np.asarray(box, np.float64) * factor
        r = int(np.clip(round(box[2] - box[0]), min_crop, max_crop))
        matrix = crop_matrix(box, r)                                          # frame pixels -> crop pixels
        crop = cv2.warpAffine(frame, matrix, (r, r), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(np.ones(frame.shape[:2], np.float32), matrix, (r, r), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # 1 where the crop is the photo's
        h, w = frame.shape[:2]
        mask = cv2.warpAffine(feather_mask(r) * inside, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        tensor = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
        return cls(frame=frame, crop=tensor, matrix=matrix, mask=mask[..., None])

    def draw_crops(self, painted: torch.Tensor, flow: torch.Tensor | None, image: torch.Tensor,
                   gate: torch.Tensor | None = None) -> torch.Tensor:
        """The face crops at R px, (B, 3, R, R) in [0, 1]: the high-resolution photo read along the upsampled flow
        (times the upsampled copy gate, if the model has one), plus the upsampled painted correction; without a flow
        (a model that only paints) the image, upsampled."""
        r = self.crop_size
        if flow is None:
            return F.interpolate(image, size=(r, r), mode="bicubic", align_corners=False).clamp(0, 1)
        grid = F.interpolate(flow.permute(0, 3, 1, 2), size=(r, r), mode="bilinear", align_corners=False)
        copied = F.grid_sample(self.crop.expand(flow.shape[0], -1, -1, -1), grid.permute(0, 2, 3, 1),
                               mode="bilinear", padding_mode="border", align_corners=False)
        correction = F.interpolate(painted, size=(r, r), mode="bilinear", align_corners=False)
        if gate is not None:
            copied = copied * F.interpolate(gate, size=(r, r), mode="bilinear", align_corners=False)
        return (copied + correction).clamp(0, 1)

    def paste(self, crops: torch.Tensor) -> np.ndarray:
        """(B, 3, R, R) crops in [0, 1] -> (B, H, W, 3) uint8 full frames."""
        h, w = self.size
        crops = (crops.clamp(0, 1) * 255).permute(0, 2, 3, 1).numpy().astype(np.float32)
        base = self.frame.astype(np.float32)
        out = np.empty((len(crops), h, w, 3), np.uint8)
        for i, crop in enumerate(crops):
            back = cv2.warpAffine(crop, self.matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            out[i] = np.clip(self.mask * back + (1 - self.mask) * base, 0, 255).round().astype(np.uint8)
        return out

    def compose(self, rendered) -> np.ndarray:
        """A :class:`vasa_lab.latent.model.Rendered` batch -> (B, H, W, 3) uint8 frames of the photo."""
        return self.paste(self.draw_crops(rendered.painted.cpu(), None if rendered.flow is None else
                                          rendered.flow.cpu(), rendered.image.cpu(),
                                          None if rendered.gate is None else rendered.gate.cpu()))


def render_parts(model, appearance, z_pose, z_dyn) -> object:
    """One batch of :meth:`FaceLatentModel.render_parts` without gradients, on the model's device."""
    dev = next(model.parameters()).device
    with torch.no_grad():
        return model.render_parts(appearance.to(dev), torch.as_tensor(z_pose, dtype=torch.float32, device=dev),
                                  torch.as_tensor(z_dyn, dtype=torch.float32, device=dev))
