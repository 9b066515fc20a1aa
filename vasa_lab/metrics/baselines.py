"""The rows of chapter 10's table besides real video: baselines that bracket what a generator should do.

* :func:`static_clip` - the portrait (the clip's first frame) held still under the clip's audio: perfect identity
  and image quality per frame, no lip sync, no head motion. Any talking-head method must beat it on S_C, CAPP, dP.
* :func:`rerendered_clip` - the clip's own motion (encoded by chapter 03's motion encoders) drawn again from its
  first frame by the face latent model: what the *renderer* costs, with perfect motion.
* :func:`random_motion_clip` - the portrait driven by the motion of another person's clip: realistic motion
  that has nothing to do with this audio (lip sync and CAPP should drop to chance, dP and FVD stay plausible).
* :func:`generator_clip` - our VASA-1 reproduction (``vasa_lab.pipeline.animate``): portrait + audio -> video, with the
  default conditions and sampler, the motion started from the portrait's own code and the face pasted back into the
  first frame, as ``vasa-lab animate`` does; :func:`generator_status` says whether its trained weights are at hand.

Each returns an :class:`~.features.EvalClip` whose ``portrait`` is the clip's first frame, so identity similarity
compares against what the method was given.
"""
from __future__ import annotations

import numpy as np

from ..motion.config import JOIN_FRAMES
from .features import EvalClip


def static_clip(clip: EvalClip) -> EvalClip:
    """The first frame repeated for the clip's length, with the clip's audio."""
    first = clip.frames[0]
    return EvalClip(f"{clip.name}-static", np.repeat(first[None], clip.n_frames, axis=0), clip.audio,
                    portrait=first, meta=dict(clip.meta, method="static"))


def _loop(x: np.ndarray, n: int) -> np.ndarray:
    """The first n rows of x played forwards, then backwards, then forwards... (no jump at the turn)."""
    if len(x) >= n:
        return x[:n]
    period = 2 * len(x) - 2 if len(x) > 1 else 1
    idx = np.arange(n) % period
    return x[np.where(idx < len(x), idx, period - idx)]


def _render(model, portrait: np.ndarray, z_pose, z_dyn) -> np.ndarray:
    from ..latent.api import encode_appearance, render, to_uint8

    return to_uint8(render(model, encode_appearance(model, portrait), z_pose, z_dyn))


def rerendered_clip(model, clip: EvalClip) -> EvalClip:
    """The clip's own motion (z_pose, z_dyn from its frames) rendered from its first frame by the latent model."""
    from ..latent.api import encode_motion

    z_pose, z_dyn = encode_motion(model, clip.frames)
    frames = _render(model, clip.frames[0], z_pose, z_dyn)
    return EvalClip(f"{clip.name}-rerendered", frames, clip.audio, portrait=clip.frames[0],
                    pose=z_pose.numpy(), meta=dict(clip.meta, method="rerendered"))


def random_motion_clip(model, clip: EvalClip, donor: EvalClip) -> EvalClip:
    """The clip's first frame driven by ``donor``'s motion (looped back and forth to the clip's length)."""
    from ..latent.api import encode_motion

    z_pose, z_dyn = encode_motion(model, donor.frames)
    z_pose, z_dyn = _loop(z_pose.numpy(), clip.n_frames), _loop(z_dyn.numpy(), clip.n_frames)
    frames = _render(model, clip.frames[0], z_pose, z_dyn)
    return EvalClip(f"{clip.name}-random-{donor.name}", frames, clip.audio, portrait=clip.frames[0], pose=z_pose,
                    meta=dict(clip.meta, method="random motion", donor=donor.name))


def pick_donors(clips: list[EvalClip], seed: int) -> list[EvalClip]:
    """For each clip, a random other clip of another person (``meta['identity']`` when known)."""
    rng = np.random.default_rng([seed, 41])
    out = []
    for i, clip in enumerate(clips):
        others = [c for j, c in enumerate(clips) if j != i and c.meta.get("identity", j) != clip.meta.get("identity", i)]
        out.append(others[int(rng.integers(len(others)))])
    return out


def generator_status(profile: str | None = None) -> str | None:
    """None when our generator (vasa_lab.pipeline.animate + a trained motion model for ``profile``) is ready, else why not.

    A missing motion model is reported, not trained: training it is chapter 06's job (minutes even in tiny).
    """
    try:
        from ..pipeline.animate import Animator  # noqa: F401
        from ..motion import MotionConfig
    except ImportError as err:
        return f"the generator is not available yet ({err})"
    from ..artifacts import ArtifactStore

    cfg = MotionConfig.for_profile(profile)
    if not ArtifactStore().has("motion", cfg):
        return (f"the motion model for the {cfg.profile} profile is neither shipped nor in the store yet "
                f"(make it with: python -m vasa_lab.motion.train --profile {cfg.profile})")
    return None


def generator_motion(animator, clip: EvalClip, seed: int = 0, steps: int | None = None,
                     audio_scale: float | None = None, first_motion: np.ndarray | None = None,
                     keep_framing: bool = True, join_frames: float | None = JOIN_FRAMES,
                     eta: float = 0.0) -> np.ndarray:
    """Our generator's motion codes (T', 6 + dyn) for ``clip``'s audio: ``animator`` is a
    :class:`vasa_lab.pipeline.animate.Animator`. Default conditions (no gaze, distance or emotion given), DDIM with
    ``steps`` steps (None: the pipeline's for the profile), audio guidance ``audio_scale`` (None: the pipeline's
    default); ``first_motion`` the motion to start from (the pipeline's: the portrait's own code,
    ``animator.portrait_motion``), None for none;
    ``keep_framing``: keep its framing (the pipeline's; False: how it ran before, ``benchmarks/bench_identity.py``);
    ``join_frames``: the first frame's join to ``first_motion`` (None: as drawn, how it ran before,
    ``benchmarks/bench_first_step.py --capp``); ``eta``: DDIM's fresh noise per step (0, the pipeline's;
    ``benchmarks/bench_ddim_eta.py``). The first 6 numbers of a frame are its head pose."""
    from ..motion import MotionConditions

    chunks = animator.feature_chunks(clip.audio, 16_000)
    return np.concatenate(list(animator.motion_chunks(chunks, MotionConditions(), steps=steps, seed=seed,
                                                      audio_scale=audio_scale, first_motion=first_motion,
                                                      keep_framing=keep_framing, join_frames=join_frames,
                                                      eta=eta)))


def generator_clip(animator, clip: EvalClip, seed: int = 0, steps: int | None = None,
                   audio_scale: float | None = None, from_portrait: bool = True, pasted: bool = True,
                   join_frames: float | None = JOIN_FRAMES, eta: float = 0.0) -> EvalClip:
    """Our generator on (first frame, audio), as ``vasa-lab animate`` runs it: the motion of :func:`generator_motion`,
    started from the portrait's own motion code, drawn from the first frame and pasted back into it (the pipeline's
    ``frame="photo"``), so the video has the clip's framing, as the reference and the other rows do.

    ``from_portrait=False`` starts the motion with no context and ``pasted=False`` returns the model's square crop
    at the clip's size: how chapter 10 drew this row before (``benchmarks/bench_portrait_start.py`` compares them);
    ``join_frames`` and ``eta`` as in :func:`generator_motion`.
    """
    portrait = animator.portrait(clip.frames[0])
    motion = generator_motion(animator, clip, seed=seed, steps=steps, audio_scale=audio_scale,
                              first_motion=animator.portrait_motion(portrait) if from_portrait else None,
                              join_frames=join_frames, eta=eta)
    return drawn_clip(animator, clip, motion, portrait, pasted,
                      name=f"{clip.name}-generated-{seed}", meta=dict(clip.meta, method="generator", seed=seed))


def drawn_clip(animator, clip: EvalClip, motion: np.ndarray, portrait=None, pasted: bool = True,
               name: str | None = None, meta: dict | None = None) -> EvalClip:
    """``motion`` (T, 6 + dyn) drawn from ``clip``'s first frame by the animator's renderer, cut to the clip's length:
    pasted back into the first frame (``pasted``, the pipeline's ``frame="photo"``) or as the model's square crop
    scaled to the clip's size. ``portrait``: the first frame's :class:`~vasa_lab.tracking.align.Portrait` if
    already found."""
    from ..pipeline.photo import MAX_SIDE, PhotoCompositor

    portrait = animator.portrait(clip.frames[0]) if portrait is None else portrait
    appearance = animator.appearance(portrait)
    if pasted:
        compositor = PhotoCompositor.for_portrait(portrait.image, portrait.box, MAX_SIDE)
        batches = animator.render_batches(appearance, motion, compositor=compositor)
    else:
        batches = animator.render_batches(appearance, motion, size=clip.frames.shape[1])
    frames = np.concatenate(list(batches))
    n = min(len(frames), clip.n_frames)
    return EvalClip(name or f"{clip.name}-drawn", frames[:n], clip.audio, portrait=clip.frames[0],
                    pose=np.asarray(motion)[:n, :6], meta=dict(clip.meta) if meta is None else meta)
