"""Inference: frames of any size -> points and a confidence, and the tracking backend around it."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from ...geometry import N_LANDMARKS
from ..types import Detection
from .config import N_POINTS, LandmarkNetConfig
from .model import LandmarkNet, peak_mass, to_tensor


@torch.no_grad()
def predict(net: LandmarkNet, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Frames (N, H, W, 3) uint8 RGB of any size -> points (N, 70, 2) in the frames' pixels, scores (N,) in [0, 1].

    Each frame is resized as a whole to the network's input (the synthetic face is roughly centred) and the
    points are mapped back: x_frame = (x_net + 0.5) * W / S - 0.5 (pixel centres at integers in both).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"frames must be (N, H, W, 3) uint8 RGB, got {images.shape} {images.dtype}")
    n, h, w, _ = images.shape
    if n == 0:
        return np.zeros((0, N_POINTS, 2), np.float32), np.zeros((0,), np.float32)
    if h < 8 or w < 8:
        raise ValueError(f"frames must be at least 8 x 8 pixels, got {h} x {w}")
    c = net.config
    s = c.image_size
    if (h, w) != (s, s):
        interp = cv2.INTER_AREA if min(h, w) > s else cv2.INTER_LINEAR
        images = np.stack([cv2.resize(im, (s, s), interpolation=interp) for im in images])
    was_training = net.training
    net.eval()
    points, scores = [], []
    for start in range(0, n, batch_size):
        x = to_tensor(images[start:start + batch_size])
        p, log_p = net(x)                                              # (B, 70, 2), (B, 70, h, w)
        mass = peak_mass(log_p, p, c.stride, c.score_radius)          # (B, 70)
        points.append(p)
        scores.append(mass.mean(dim=1))
    net.train(was_training)
    pts = torch.cat(points).numpy()
    pts[..., 0] = (pts[..., 0] + 0.5) * (w / s) - 0.5
    pts[..., 1] = (pts[..., 1] + 0.5) * (h / s) - 0.5
    return pts.astype(np.float32), torch.cat(scores).numpy().astype(np.float32)


class NetBackend:
    """A tracking backend around a trained :class:`LandmarkNet`: one face per frame, 68 landmarks + 2 iris centres.

    ``score`` is the heatmaps' peakiness: the mean share of probability mass within ``score_radius`` cells of each
    predicted point (about 0.8 on a clear synthetic face, lower on a blurred or unfamiliar image). The network
    always predicts a face; deciding "no face" is a threshold on the score, which the tracker owns.
    """

    name = "net"

    def __init__(self, model: LandmarkNet | None = None, config: LandmarkNetConfig | None = None,
                 box_padding: float = 0.1):
        if model is None:
            from .training import load_landmark_net   # Lightning, only when the net must come from the store

            model = load_landmark_net(config)
        self.model = model.eval()
        self.box_padding = box_padding

    def _detection(self, pts: np.ndarray, score: float, h: int, w: int) -> Detection:
        lm = pts[:N_LANDMARKS]
        lo, hi = lm.min(axis=0), lm.max(axis=0)
        pad = self.box_padding * (hi - lo)
        box = np.array([max(lo[0] - pad[0], 0.0), max(lo[1] - pad[1], 0.0),
                        min(hi[0] + pad[0], w - 1.0), min(hi[1] + pad[1], h - 1.0)], np.float32)
        return Detection(box=box, score=float(np.clip(score, 0.0, 1.0)), landmarks=lm.astype(np.float32),
                         iris=pts[N_LANDMARKS:].astype(np.float32))

    def detect(self, image: np.ndarray) -> list[Detection]:
        """image (H, W, 3) uint8 RGB -> [one Detection]."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        return self.detect_batch(image[None])[0]

    def detect_batch(self, images: np.ndarray) -> list[list[Detection]]:
        """images (N, H, W, 3) uint8 RGB -> one [Detection] per frame (batched through the network)."""
        images = np.asarray(images)
        pts, scores = predict(self.model, images)
        h, w = images.shape[1:3]
        return [[self._detection(p, s, h, w)] for p, s in zip(pts, scores)]
