"""Chapter 02 (face tracking): the One Euro filter by hand; jitter and error of a tracked signal."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _signals(seed: int = 2):
    rng = np.random.default_rng(seed)
    t = np.arange(100) / 25.0
    truth = 12 * np.sin(2 * np.pi * 0.4 * t)
    steps = np.where(t < 2.0, 0.0, 20.0) + rng.normal(0, 0.8, t.size)
    return rng, t, truth, truth + rng.normal(0, 1.0, t.size), steps


def _one_euro_cases():
    from vasa_lab.tracking.smoothing import OneEuroFilter

    rng, t, truth, noisy, steps = _signals()
    both = np.stack([noisy, steps], axis=1)                           # (T, 2): two signals, filtered element-wise
    rows = [("a noisy sine, the defaults", noisy, dict()),
            ("a step, beta=2 (fast response)", steps, dict(beta=2.0)),
            ("beta=0: a plain low-pass at 0.5 Hz", noisy, dict(min_cutoff=0.5, beta=0.0)),
            ("two signals at once, (T, 2)", both, dict(min_cutoff=2.0, beta=0.1, d_cutoff=2.0))]
    return [Case(label, (x,), OneEuroFilter(**kw).filter(x), kw) for label, x, kw in rows]


def _wrong_one_euro(x, min_cutoff=1.0, beta=0.5, d_cutoff=1.0, fps=25.0):
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    out[0] = x[0]
    for i in range(1, len(x)):                                        # a fixed 0.5 smoothing: no cutoff, no speed
        out[i] = 0.5 * x[i] + 0.5 * out[i - 1]
    return out


register(Exercise(
    key="02.1", title="the One Euro filter, by hand", answer="one_euro",
    reference="vasa_lab.tracking.smoothing.OneEuroFilter", cases=_one_euro_cases, wrong=_wrong_one_euro,
    hint="the first sample passes through (derivative 0); then dx = (x_t - x̂_{t-1}) * fps, "
         "dx̂ = a(d_cutoff) dx + (1 - a(d_cutoff)) dx̂, f_c = min_cutoff + beta |dx̂|, "
         "x̂ = a(f_c) x_t + (1 - a(f_c)) x̂_{t-1}, with a(f) = 1 / (1 + fps / (2 pi f))"))


def _jitter_cases():
    from vasa_lab.tracking.smoothing import jitter_and_lag

    rng, t, truth, noisy, steps = _signals(5)
    with_gaps = noisy.copy()
    with_gaps[[10, 11, 40]] = np.nan
    out = []
    for label, x in (("a noisy sine", noisy), ("a smoothed sine", np.convolve(noisy, np.ones(5) / 5, "same")),
                     ("three frames lost (NaN)", with_gaps)):
        m = jitter_and_lag(x, truth)
        out.append(Case(label, (x, truth), (m["jitter"], m["rmse"])))
    return out


register(Exercise(
    key="02.2", title="jitter and error of a tracked signal", answer="jitter_and_rmse",
    reference="vasa_lab.tracking.smoothing.jitter_and_lag", cases=_jitter_cases,
    wrong=lambda x, truth: (float(np.nanstd(np.diff(x))), float(np.sqrt(np.nanmean((x - truth) ** 2)))),
    hint="jitter is the standard deviation of the SECOND difference x_{t+1} - 2 x_t + x_{t-1} (leave out the "
         "NaN ones); the RMSE is over the frames where both signals are finite"))
