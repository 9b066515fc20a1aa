"""Chapter 07 (controls and guidance): multi-condition classifier-free guidance; the angle between two gazes."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _toy_model():
    """A stand-in for the transformer H(X_t, t, C) whose output depends on which conditions are kept."""
    import torch

    def model(x_t, t, cond):
        out = 0.5 * x_t + 0.01 * t.to(x_t.dtype).reshape(-1, 1, 1)
        out = out + 1.0 * cond.audio_keep.to(x_t.dtype)[:, :, None] * cond.audio.mean(-1, keepdim=True)
        out = out + 0.7 * cond.gaze_keep.to(x_t.dtype)[:, None, None] * cond.gaze[:, :1, None]
        out = out - 0.3 * cond.distance_keep.to(x_t.dtype)[:, None, None] * cond.distance[:, None, None]
        out = out + 0.2 * cond.emotion_keep.to(x_t.dtype)[:, None, None] * cond.emotion[:, :1, None]
        return out + torch.zeros_like(x_t)
    return model


def _conditioning(g, B=2, W=6, K=2, M=4, A=5, E=5):
    import torch

    from vasa_lab.motion.model import Conditioning

    ones = lambda *s: torch.ones(*s, dtype=torch.bool)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    return Conditioning(context=r(B, K, M), context_keep=ones(B), context_audio=r(B, K, A),
                        context_audio_keep=ones(B, K), audio=r(B, W, A), audio_keep=ones(B, W), gaze=r(B, 2) * 10,
                        gaze_keep=ones(B), distance=1 + 0.1 * r(B), distance_keep=ones(B), emotion=r(B, E),
                        emotion_keep=ones(B))


def _guidance_cases():
    import torch

    from vasa_lab.motion.diffusion import guided_x0

    g = torch.Generator().manual_seed(8)
    model, cond = _toy_model(), _conditioning(g)
    x_t, t = torch.randn(2, 6, 4, generator=g, dtype=torch.float64), torch.tensor([700, 300])
    h_all = model(x_t, t, cond)
    h_without = {c: model(x_t, t, cond.without(c)) for c in ("audio", "gaze", "distance", "emotion")}
    out = []
    for scales in ({"audio": 0.5}, {"audio": 0.5, "gaze": 1.0}, {"audio": 1.0, "gaze": 0.5, "distance": 0.5,
                                                                  "emotion": 2.0}, {"audio": 0.0, "gaze": 0.0}):
        out.append(Case("scales " + ", ".join(f"{k}={v:g}" for k, v in scales.items()),
                        (h_all, h_without, scales), guided_x0(model, x_t, t, cond, scales)))
    return out


def _wrong_guidance(h_all, h_without, scales):
    x = h_all
    for c, s in scales.items():                                        # pushes away from the condition, not towards
        x = x + s * (h_without[c] - h_all)
    return x


register(Exercise(
    key="07.1", title="guidance over several conditions", answer="my_guided_x0",
    reference="vasa_lab.motion.diffusion.guided_x0", cases=_guidance_cases, wrong=_wrong_guidance,
    hint="X0_hat = (1 + Σ_c l_c) H(C) - Σ_c l_c H(C | c = ∅): each term moves the prediction AWAY from the "
         "prediction without that condition; a scale of 0 adds nothing", rtol=1e-9, atol=1e-12))


def _angle_cases():
    from vasa_lab.tracking.gaze import angular_error

    rng = np.random.default_rng(9)
    ya, pa, yb, pb = (rng.uniform(-40, 40, 20) for _ in range(4))
    rows = [("the same direction", (10.0, -5.0, 10.0, -5.0)), ("yaw only: 0° vs 30°", (0.0, 0.0, 30.0, 0.0)),
            ("far from straight ahead: (40, 30) vs (10, 30)", (40.0, 30.0, 10.0, 30.0)),
            ("20 random pairs at once", (ya, pa, yb, pb))]
    return [Case(label, args, angular_error(*args)) for label, args in rows]


def _wrong_angle(yaw_a, pitch_a, yaw_b, pitch_b):
    return np.hypot(np.asarray(yaw_a) - yaw_b, np.asarray(pitch_a) - pitch_b)


register(Exercise(
    key="07.2", title="the angle between two gaze directions", answer="my_angular_error",
    reference="vasa_lab.tracking.gaze.angular_error", cases=_angle_cases, wrong=_wrong_angle,
    hint="turn each (yaw, pitch) into a unit vector, rotation_matrix(yaw, pitch, 0) @ (0, 0, -1) "
         "(vasa_lab.world.face), then take the arccos of their dot product, in degrees; subtracting the angles "
         "is only right near straight ahead", rtol=1e-6, atol=1e-6))
