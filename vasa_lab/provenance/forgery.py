"""A passive forgery detector: tell our generator's clips from real ones by looking at them, no watermark needed.

What it looks at (per clip, on luma at 64 px):

* how the picture's energy spreads over spatial frequencies (a decoder that renders through a low-resolution
  volume leaves too little fine detail, or a tell-tale excess at its own upsampling frequencies): the log power in
  eight radial bands of the 2-D spectrum, averaged over frames;
* how the picture changes over time: the log mean absolute frame difference, in the middle of the frame (the face)
  and outside it, and how much of the change happens at high spatial frequencies.

A logistic regression on those 12 numbers is the whole classifier. It is trained on one kind of real clip and one
generator setting, and it learns *those*: the chapter shows it scoring well on held-out people and then failing when
the clips are re-encoded, made with another setting, or come from a real photo. A watermark says "made by this
generator" with a stated false-positive rate; a passive detector only says "looks like what I was trained on".
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 64
N_BANDS = 8


def _bands(size: int = SIZE) -> np.ndarray:
    fy = np.fft.fftfreq(size) * size
    f = np.hypot(*np.meshgrid(fy, fy, indexing="ij"))
    edges = np.geomspace(1, size / 2 * 1.42, N_BANDS + 1)
    return np.stack([(f >= lo) & (f < hi) for lo, hi in zip(edges[:-1], edges[1:])])


def clip_features(frames: np.ndarray, max_frames: int = 32) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (12,) float32 features."""
    frames = np.asarray(frames)[:max_frames]
    y = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
                  for f in frames]).astype(np.float32) / 255.0
    spec = np.abs(np.fft.fft2(y - y.mean(axis=(1, 2), keepdims=True))) ** 2           # (T, S, S)
    bands = _bands()
    power = np.log10(np.stack([spec[:, b].mean(1) for b in bands], 1).mean(0) + 1e-9)   # (8,)
    if len(y) > 1:
        d = np.abs(np.diff(y, axis=0))
        c = slice(SIZE // 4, 3 * SIZE // 4)
        inner = d[:, c, c].mean()
        outer = (d.sum(axis=(1, 2)) - d[:, c, c].sum(axis=(1, 2))).mean() / (SIZE * SIZE * 0.75)
        hp = np.abs(np.diff(y - np.stack([cv2.GaussianBlur(im, (0, 0), 1.5) for im in y]), axis=0)).mean()
        motion = [np.log10(inner + 1e-5), np.log10(outer + 1e-5), np.log10(hp + 1e-5), np.log10(hp + 1e-5)
                  - np.log10(d.mean() + 1e-5)]
    else:
        motion = [-5.0, -5.0, -5.0, 0.0]
    return np.concatenate([power, motion]).astype(np.float32)


@dataclass
class ForgeryDetector:
    """Standardise, then logistic regression. ``score`` > 0 leans generated."""
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    @classmethod
    def fit(cls, real: np.ndarray, generated: np.ndarray, l2: float = 1e-2, steps: int = 2000) -> "ForgeryDetector":
        """``real``, ``generated``: (n, 12) feature rows. Gradient descent on the L2-regularised logistic loss
        (a dozen weights: no library needed)."""
        x = np.concatenate([real, generated]).astype(np.float64)
        t = np.concatenate([np.zeros(len(real)), np.ones(len(generated))])
        mean, std = x.mean(0), x.std(0) + 1e-6
        z = (x - mean) / std
        w, b = np.zeros(z.shape[1]), 0.0
        for _ in range(steps):
            p = 1 / (1 + np.exp(-(z @ w + b)))
            w -= 0.5 * (z.T @ (p - t) / len(t) + l2 * w)
            b -= 0.5 * float(np.mean(p - t))
        return cls(mean, std, w, b)

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((np.atleast_2d(features) - self.mean) / self.std) @ self.weights + self.bias


def auc(real_scores: np.ndarray, generated_scores: np.ndarray) -> float:
    """Area under the ROC curve = P(a generated clip scores above a real one) (ties count half)."""
    r, g = np.asarray(real_scores)[:, None], np.asarray(generated_scores)[None, :]
    return float(np.mean((g > r) + 0.5 * (g == r)))


def roc(real_scores: np.ndarray, generated_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) over every threshold."""
    thr = np.sort(np.concatenate([real_scores, generated_scores]))[::-1]
    fpr = np.array([0.0] + [np.mean(real_scores >= t) for t in thr])
    tpr = np.array([0.0] + [np.mean(generated_scores >= t) for t in thr])
    return fpr, tpr
