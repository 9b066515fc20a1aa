"""Chapter 04 (disentanglement): the ridge probe and its R²."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _ridge_cases():
    from vasa_lab.latent.probes import ridge_fit, ridge_predict

    rng = np.random.default_rng(4)
    out = []
    for n, d, k, alpha, label in ((200, 6, 1, 1e-2, "200 codes of 6 numbers, one target"),
                                  (300, 10, 3, 1e-2, "three targets at once"),
                                  (60, 20, 2, 1.0, "few samples, strong ridge (alpha=1)")):
        w = rng.normal(size=(d, k))
        x = rng.normal(size=(n, d)) * rng.uniform(0.1, 5, d) + rng.normal(size=d)   # unequal scales and offsets
        y = x @ w + 2.0 + rng.normal(0, 0.5, (n, k))
        x_test = rng.normal(size=(50, d)) * 2
        out.append(Case(label, (x, y, x_test), ridge_predict(ridge_fit(x, y, alpha), x_test), dict(alpha=alpha)))
    return out


def _wrong_ridge(x_train, y_train, x_test, alpha=1e-2):
    w, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)              # no intercept, no standardising, no ridge
    return x_test @ w


register(Exercise(
    key="04.1", title="the ridge probe: fit on codes, predict held-out ones", answer="ridge_probe",
    reference="vasa_lab.latent.probes.ridge_fit / ridge_predict", cases=_ridge_cases, wrong=_wrong_ridge,
    hint="standardise each input column with the TRAINING mean and std (+ 1e-6), centre y, "
         "solve (XᵀX + alpha n I) W = Xᵀ(y - ȳ), predict ((x_test - mean) / std) W + ȳ", rtol=1e-5, atol=1e-6))


def _r2_cases():
    from vasa_lab.latent.probes import r2_score

    rng = np.random.default_rng(5)
    y = rng.normal(size=(100, 3)) * [1, 5, 0.2]
    rows = [("a perfect prediction", y, y.copy()),
            ("predicting the mean", y, np.repeat(y.mean(0, keepdims=True), 100, 0)),
            ("a noisy prediction", y, y + rng.normal(0, 0.5, y.shape)),
            ("right shape, wrong offset (+1)", y, y + 1.0),
            ("worse than the mean", y, -y)]
    return [Case(label, (a, b), r2_score(a, b)) for label, a, b in rows]


def _wrong_r2(y, y_hat):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.array([np.corrcoef(y[:, j], y_hat[:, j])[0, 1] ** 2 for j in range(y.shape[1])])


register(Exercise(
    key="04.2", title="R², per column", answer="my_r2",
    reference="vasa_lab.latent.probes.r2_score", cases=_r2_cases, wrong=_wrong_r2,
    hint="R² = 1 - Σ(y - ŷ)² / Σ(y - ȳ)² for each column; it is not the squared correlation: a prediction "
         "with the right shape and a wrong offset is penalised, and a prediction worse than the mean is negative"))
