"""Chapter 10 (evaluation): SyncNet's scores from a distance matrix; the Fréchet distance; CAPP's InfoNCE."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _sync_cases():
    from vasa_lab.metrics.syncnet import sync_scores

    rng = np.random.default_rng(10)
    out = []
    for label, shift in (("synced: a valley at k = 0", 0), ("audio 3 frames late", 3), ("no valley at all", None)):
        d = rng.uniform(8, 12, (40, 31))
        if shift is not None:
            d[:, 15 + shift] -= 4 + rng.uniform(0, 1, 40)
        r = sync_scores(d)
        out.append(Case(label, (d,), (r.distance, r.confidence, r.offset)))
    return out


def _wrong_sync(dists):
    d = np.asarray(dists)
    curve = d.mean(0)
    return float(curve.min()), float(curve.mean() - curve.min()), int(np.argmin(curve) - 15)   # mean, sign flipped


register(Exercise(
    key="10.1", title="S_D, S_C and the offset from SyncNet's distances", answer="my_sync_scores",
    reference="vasa_lab.metrics.syncnet.sync_scores", cases=_sync_cases, wrong=_wrong_sync,
    hint="D(k) = mean over windows of d_t(k); S_D = min_k D(k); S_C = median_k D(k) - S_D; "
         "offset = K - argmin_k D(k) with K = (number of offsets - 1) / 2. Return (S_D, S_C, offset)"))


def _frechet_cases():
    from vasa_lab.metrics.fvd import frechet_distance, gaussian_of

    rng = np.random.default_rng(11)
    a = rng.normal(size=(200, 8))
    b = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8)) * 0.5 + 0.3
    rows = [("the same Gaussian", gaussian_of(a) + gaussian_of(a)),
            ("means apart, same covariance", (np.zeros(3), np.eye(3), np.ones(3), np.eye(3))),
            ("one dimension: N(0, 1) vs N(0, 4)", (np.zeros(1), np.eye(1), np.zeros(1), 4 * np.eye(1))),
            ("two 8-D feature clouds", gaussian_of(a) + gaussian_of(b))]
    return [Case(label, args, frechet_distance(*args)) for label, args in rows]


register(Exercise(
    key="10.2", title="the Fréchet distance between two Gaussians (the heart of FVD)", answer="my_frechet",
    reference="vasa_lab.metrics.fvd.frechet_distance", cases=_frechet_cases,
    wrong=lambda mu1, s1, mu2, s2: float(((np.asarray(mu1) - mu2) ** 2).sum()),
    hint="|mu1 - mu2|² + Tr(S1 + S2 - 2 (S1 S2)^(1/2)); scipy.linalg.sqrtm gives the matrix square root (keep "
         "its real part)", rtol=1e-5, atol=1e-6))


def _nce_cases():
    import torch
    import torch.nn.functional as F

    from vasa_lab.metrics.capp import info_nce

    g = torch.Generator().manual_seed(12)
    out = []
    for label, b, d, scale, aligned in (("8 random pairs", 8, 16, 10.0, False),
                                        ("16 pairs that match", 16, 32, 20.0, True),
                                        ("scale 1", 8, 16, 1.0, True)):
        a = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=-1)
        p = F.normalize((a if aligned else 0) + 0.5 * torch.randn(b, d, generator=g, dtype=torch.float64), dim=-1)
        out.append(Case(label, (a, p, scale), info_nce(a, p, scale)))
    return out


def _wrong_nce(a, p, scale):
    import torch
    import torch.nn.functional as F

    return F.cross_entropy(scale * a @ p.T, torch.arange(a.shape[0]))    # one direction only


register(Exercise(
    key="10.3", title="CAPP's symmetric InfoNCE loss", answer="my_info_nce",
    reference="vasa_lab.metrics.capp.info_nce", cases=_nce_cases, wrong=_wrong_nce,
    hint="logits = scale a pᵀ (B x B), the matching pairs on the diagonal; the loss is the mean of the "
         "cross-entropy of the rows (audio -> pose) and of the columns (pose -> audio)", rtol=1e-6, atol=1e-8))
