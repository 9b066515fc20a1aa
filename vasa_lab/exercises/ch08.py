"""Chapter 08 (long audio and streaming): how many windows a stream draws; the soft bound of the drift control."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _window_cases():
    from vasa_lab.motion.stream import windows_drawn

    rows = [("the demo sentence, lookahead 2, stride 4", (169, 2, 4)),
            ("320 ms of lookahead, stride 4", (100, 8, 4)),
            ("400 ms of lookahead, stride 5", (30, 10, 5)),
            ("a stride as long as the window", (100, 3, 25)),
            ("audio shorter than the lookahead", (2, 4, 4))]
    return [Case(label, args, windows_drawn(*args, window=25)) for label, args in rows]


register(Exercise(
    key="08.1", title="how many windows a stream draws", answer="my_windows_drawn",
    reference="vasa_lab.motion.stream.windows_drawn (window 25)", cases=_window_cases,
    wrong=lambda n_rows, lookahead, stride: n_rows // stride,
    hint="the first window keeps 1 frame once 1 + L rows are in; every later one keeps S frames and needs S + L "
         "rows beyond what is drawn; none at all before 1 + L rows", rtol=0, atol=0))


def _bound_cases():
    import torch

    from vasa_lab.motion.stream import soft_bound

    rng = np.random.default_rng(8)
    out = []
    for label, x, b in (("codes near the mean", rng.standard_normal(50) * 0.5, 3.0),
                        ("a head that wandered off", np.linspace(-20, 20, 41), 3.0),
                        ("a tighter bound, a batch of frames", rng.standard_normal((4, 22)) * 2, 2.0)):
        x = x.astype(np.float32)
        out.append(Case(label, (x, b), soft_bound(torch.from_numpy(x), b).numpy()))
    return out


register(Exercise(
    key="08.2", title="the soft bound, by hand", answer="my_soft_bound",
    reference="vasa_lab.motion.stream.soft_bound", cases=_bound_cases,
    wrong=lambda x, bound: np.clip(x, -bound, bound),
    hint="B tanh(x / B): nearly x close to 0, never beyond B", rtol=1e-5, atol=1e-5))
