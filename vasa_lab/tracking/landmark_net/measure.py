"""How good is the landmark network? Its error on held-out people, normalised by the eye distance."""
from __future__ import annotations

import numpy as np

from ...geometry import N_LANDMARKS, OUTER_EYE_CORNERS
from .backend import predict
from .config import EVAL_TAG
from .model import LandmarkNet
from .data import render_examples


def landmark_nme(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Normalised mean error per frame: mean_k |p_k - t_k| / |t_36 - t_45| (inter-ocular distance, outer eye
    corners). pred, truth: (N, 68, 2) -> (N,)."""
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    iod = np.linalg.norm(truth[:, OUTER_EYE_CORNERS[0]] - truth[:, OUTER_EYE_CORNERS[1]], axis=-1)
    return np.linalg.norm(pred - truth, axis=-1).mean(axis=-1) / np.maximum(iod, 1e-6)


def evaluate_landmark_net(net: LandmarkNet, n: int = 300, size: int | None = None, tag: str = EVAL_TAG) -> dict:
    """Error on ``n`` frames of held-out identities (from ``tag``'s generator) in random states.

    Returns nme (mean), nme_median, iris_px (mean iris-centre error in pixels) and score (mean confidence).
    ``size`` renders the frames at another size than the network's input (they are resized by :func:`predict`).
    """
    size = size or net.config.image_size
    images, truth = render_examples(tag, n, size, frames_per_identity=1)
    pts, scores = predict(net, images)
    nme = landmark_nme(pts[:, :N_LANDMARKS], truth[:, :N_LANDMARKS])
    iris = np.linalg.norm(pts[:, N_LANDMARKS:] - truth[:, N_LANDMARKS:], axis=-1)
    return dict(nme=float(nme.mean()), nme_median=float(np.median(nme)), iris_px=float(iris.mean()),
                score=float(scores.mean()))
