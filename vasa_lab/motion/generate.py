"""Generating motion for audio of any length: sliding windows, each conditioned on the one before.

::

    from vasa_lab.motion import MotionConditions, load_motion_model, generate_motion

    model = load_motion_model("tiny")                        # shipped weights, else the store, else trains
    cond = MotionConditions(gaze=(10, -5), distance=1.1, emotion="happy")   # any of them None = not given
    motion = generate_motion(model, features, cond, steps=10)  # features (T, A) -> motion (T, 6 + dyn_dim)
    z_pose, z_dyn = motion[:, :6], motion[:, 6:]             # -> vasa_lab.latent.api.render(...)

The transformer makes W frames at a time. Audio of T frames is cut into windows 0..n-1 of W frames (the last one
padded with "no audio", which training taught it through the dropped audio tails); window i is generated with the
last K frames of motion *already generated* (and their audio) as its context X_pre, A_pre. The first window has no
context (dropped, as in half the training windows) unless ``first_motion`` gives one, e.g. the portrait's own code
so the video starts from the portrait's pose and expression. The network's memory is one window whatever T is;
for a stream, call it chunk by chunk with the previous chunk's tail as ``first_motion`` (and ``first_audio``).

Is the join seamless? :func:`join_jumps` compares the motion's step across each join (last frame of window i to
first frame of window i + 1) with the typical frame-to-frame step inside windows: a ratio near 1 means no seam.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from ..artifacts import ArtifactStore
from .config import MotionConfig
from .model import MotionDiT


@dataclass(frozen=True)
class MotionConditions:
    """VASA-1's optional control signals; None means "not given" (the condition's null token: unconditioned).

    * ``gaze``: the main eye-gaze direction (yaw, pitch) in degrees, relative to the head, the world's signs
      (positive yaw looks to the image right, positive pitch looks down); (0, 0) looks into the camera.
    * ``distance``: head-to-camera proximity, 1.0 = the average distance, 1.2 = 20 % closer (a larger face).
    * ``emotion``: a name from ``vasa_lab.world.behaviour.EMOTIONS``, or a mapping name -> weight for a blend.
    """

    gaze: tuple[float, float] | None = None
    distance: float | None = None
    emotion: str | Mapping[str, float] | None = None

    def __post_init__(self):
        if self.gaze is not None:
            g = np.asarray(self.gaze, dtype=np.float64).reshape(-1)
            if g.size != 2 or not np.isfinite(g).all():
                raise ValueError(f"gaze must be two finite angles (yaw, pitch) in degrees, got {self.gaze!r}")
            object.__setattr__(self, "gaze", (float(g[0]), float(g[1])))
        if self.distance is not None:
            d = float(self.distance)
            if not (math.isfinite(d) and 0.3 <= d <= 3.0):
                raise ValueError(f"distance must be a number between 0.3 and 3 (1 = average), got {self.distance!r}")
            object.__setattr__(self, "distance", d)
        self.emotion_scores()  # validates the name(s)

    def emotion_scores(self) -> np.ndarray | None:
        """(E,) float32 scores over EMOTIONS (one-hot for a name), or None; unknown names raise ValueError."""
        from ..world.behaviour import EMOTIONS

        if self.emotion is None:
            return None
        weights = {self.emotion: 1.0} if isinstance(self.emotion, str) else dict(self.emotion)
        scores = np.zeros(len(EMOTIONS), np.float32)
        for name, w in weights.items():
            if name not in EMOTIONS:
                raise ValueError(f"unknown emotion {name!r}; choose one of {', '.join(EMOTIONS)}")
            scores[EMOTIONS.index(name)] = float(w)
        return scores


def load_motion_model(profile: str | None = None, config: MotionConfig | None = None,
                      store: ArtifactStore | None = None, **overrides) -> MotionDiT:
    """The trained motion transformer of a profile: shipped weights, else the artifact store, else trained now.

    Training is cheap only in ``tiny`` (a few minutes on one CPU core, and its weights ship with the package); for
    ``small`` and ``full`` a missing model is an error under CI (run ``python -m vasa_lab.motion.train``).
    """
    from .module import train_motion

    cfg = config or MotionConfig.for_profile(profile, **overrides)
    store = store or ArtifactStore()
    return store.get_or_train("motion", cfg, build=lambda: MotionDiT(cfg),
                              train=lambda model: train_motion(model, store=store),
                              expensive=cfg.profile != "tiny",
                              how_to_make=f"python -m vasa_lab.motion.train --profile {cfg.profile}")


def load_motion_model_for_codes(profile: str, latent_key: str, store: ArtifactStore | None = None) -> MotionDiT:
    """The profile's motion transformer for the codes of the face latent model whose artifact key is ``latent_key``:
    the profile's own model for its own latent model's codes; for an earlier training phase's codes (the benchmarks'
    ``--new-faces 0``, ``--pose-steps 0``, ``--people-steps 0``) the model shipped for those: with the profile's
    settings where one was trained (the pose phase's codes), else the one trained before ``blink_windows`` existed."""
    from .config import latent_key_for

    store = store or ArtifactStore()
    if latent_key == latent_key_for(profile):
        return load_motion_model(profile, store=store)
    own_settings = MotionConfig.for_profile(profile, latent_key=latent_key)
    if store.has("motion", own_settings):
        return load_motion_model(config=own_settings, store=store)
    return load_motion_model(profile, store=store, latent_key=latent_key, blink_windows=0.0)


def _as_features(audio_features, dim: int) -> torch.Tensor:
    a = torch.as_tensor(np.asarray(audio_features) if not isinstance(audio_features, torch.Tensor) else audio_features)
    if a.dim() != 2 or a.shape[1] != dim:
        raise ValueError(f"audio_features must be (T, {dim}) (one row per 25 fps frame, from "
                         f"vasa_lab.audio.audio_features with the model's AudioConfig), got {tuple(a.shape)}")
    if a.shape[0] < 1:
        raise ValueError("audio_features is empty: give at least one frame of audio")
    a = a.float()
    if not torch.isfinite(a).all():
        raise ValueError("audio_features contains NaN or infinite values")
    return a


def condition_tensors(model: MotionDiT, cond: MotionConditions | None, batch: int = 1) -> dict[str, torch.Tensor]:
    """The g, d, e parts of a :class:`Conditioning` for ``cond`` (None parts -> not kept)."""
    cond = cond or MotionConditions()
    E = model.config.n_emotions
    scores = cond.emotion_scores()
    out = dict(
        gaze=torch.tensor([cond.gaze or (0.0, 0.0)], dtype=torch.float32),
        gaze_keep=torch.tensor([cond.gaze is not None]),
        distance=torch.tensor([cond.distance if cond.distance is not None else 1.0], dtype=torch.float32),
        distance_keep=torch.tensor([cond.distance is not None]),
        emotion=torch.from_numpy(scores if scores is not None else np.zeros(E, np.float32))[None],
        emotion_keep=torch.tensor([scores is not None]),
    )
    return {k: v.expand(batch, *v.shape[1:]).clone() for k, v in out.items()}


def generate_motion(model: MotionDiT, audio_features, cond: MotionConditions | None = None, steps: int = 10,
                    sampler: str = "ddim", audio_scale: float | None = None, gaze_scale: float = 1.0,
                    distance_scale: float = 0.0, emotion_scale: float = 0.0, seed: int = 0, progress: bool = False,
                    first_motion=None, first_audio=None, origin=None, eta: float = 0.0,
                    **drift_control) -> np.ndarray:
    """Motion codes for audio of any length: (T, A) features -> (T, pose_dim + dyn_dim) float32, [z_pose, z_dyn].

    ``steps`` sampler steps per window with ``sampler`` ("ddim", "dpm++" or "ddpm"; ``eta``: DDIM's fresh noise per
    step, 0 by default); per-condition guidance scales
    (audio: the profile's :data:`~vasa_lab.motion.config.AUDIO_GUIDANCE` when None; VASA-1 uses 0.5; gaze 1.0);
    ``seed`` makes it reproducible; ``first_motion`` (n, M) is motion to continue from (its last K frames become the
    first window's context) and ``first_audio`` (n, A) optionally the audio features of those frames; ``origin``
    (M,) where the codes are drawn from (the model sees ``first_motion - origin``, every frame comes out plus it;
    the pipeline's :func:`~vasa_lab.pipeline.source_expression.framing_origin` keeps a portrait's framing);
    ``progress`` shows a bar over windows; ``revert_seconds=`` and ``bound=`` set the drift control,
    ``context_bound=`` how far out the context the network sees may go, and ``join_frames=`` the head's join from
    ``first_motion`` into the first window (:class:`~vasa_lab.motion.stream.MotionStream`; ``None`` turns any of
    them off); ``reverted=`` how many of the first motion numbers the drift control pulls (None: all of them).

    This is a :class:`vasa_lab.motion.stream.MotionStream` given all the audio at once, with whole windows: the
    streaming path with ``lookahead=None`` gives the same motion, frame for frame.
    """
    from .stream import MotionStream

    audio = _as_features(audio_features, model.config.audio_dim)
    stream = MotionStream(model, cond, steps=steps, sampler=sampler, audio_scale=audio_scale, gaze_scale=gaze_scale,
                          distance_scale=distance_scale, emotion_scale=emotion_scale, seed=seed, lookahead=None,
                          first_motion=first_motion, first_audio=first_audio, origin=origin, eta=eta,
                          **drift_control)
    W = model.config.window
    starts = range(0, len(audio), W)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="motion", unit="window")
    out = [stream.push(audio[s:s + W]) for s in starts]
    out.append(stream.finish())
    return np.concatenate(out).astype(np.float32)


def join_jumps(motion: np.ndarray, window: int, scale: np.ndarray | None = None) -> dict[str, float]:
    """How big the step across window joins is, against the typical step inside windows.

    step_t = || (x_t - x_{t-1}) / scale ||  (scale: per-dimension std, e.g. ``model.motion_std``). A join is t = W,
    2W, ... ; ``ratio`` = mean step at joins / mean step elsewhere (1 = seamless; NaN when there is no join).
    """
    x = np.asarray(motion, np.float64)
    s = np.ones(x.shape[1]) if scale is None else np.asarray(scale, np.float64)
    steps = np.linalg.norm(np.diff(x, axis=0) / s, axis=1)              # steps[t - 1] = step into frame t
    is_join = np.zeros(len(steps), bool)
    is_join[np.arange(window, len(x), window) - 1] = True
    join = float(steps[is_join].mean()) if is_join.any() else float("nan")
    inner = float(steps[~is_join].mean()) if (~is_join).any() else float("nan")
    return dict(join=join, inner=inner, ratio=join / inner if inner > 0 else float("nan"), n_joins=int(is_join.sum()))
