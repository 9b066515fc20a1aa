"""Measuring generated motion against the synthetic world's ground truth (held-out people and sentences).

* **Lip sync through a jaw probe.** ``z_dyn`` is learned, so nothing in it is called "mouth opening". A ridge
  regression fitted on *training* clips, from the encoded z_dyn to the world's true ``jaw_open``, reads it out
  (:class:`JawProbe`). On a held-out clip we read the probe on the motion generated from the clip's audio and
  compare it with the clip's true, phoneme-driven jaw opening: Pearson correlation (does the mouth open when it
  should?) and RMSE. Two baselines bound it from below: a **frozen** face (the clip's first code repeated: no
  lip motion at all) and motion generated for **another clip's audio** (moving, but not with this sound). The
  clip's own encoded codes give the probe's ceiling.
* **Head motion.** ``dP``: the mean absolute change of the pose angles (yaw, pitch, roll of z_pose) between
  adjacent frames, in degrees per frame, as in VASA-1's table; against the same number on the real clips.
  **Audio-pose correlation**: the correlation between the head's speed and the loudness of the speech (the mean of
  a frame's log-mel features), at the best lag of 0-10 frames (heads nod just after a stress): a crude, training-
  free stand-in for VASA-1's CAPP score.
* **Join jumps** (:func:`vasa_lab.motion.generate.join_jumps`): the step across window joins over the step inside.
* **Drift** (:func:`largest_lean`): how far a long or streamed head strays from home, the largest block mean of a
  pose number in the training data's standard deviations.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..latent.probes import ridge_fit
from ..motion.data import JAW, MotionClips
from ..world.state import STATE_NAMES

ANGLES = slice(0, 3)   # yaw, pitch, roll in z_pose


@dataclass
class StateProbe:
    """A ridge regression state ~ w . standardise(z_dyn) + b, fitted on training codes, for one FaceState field."""

    mean: np.ndarray    # (dyn_dim,)
    std: np.ndarray     # (dyn_dim,)
    weight: np.ndarray  # (dyn_dim,)
    bias: float
    pose_dim: int = 6

    @classmethod
    def fit(cls, clips: MotionClips, split: str = "train", alpha: float = 1.0, pose_dim: int = 6,
            state: str = "jaw_open"):
        """w = (Z^T Z + alpha I)^-1 Z^T (y - mean y) on standardised z_dyn rows Z of ``split``, y = ``state``."""
        rows = np.concatenate([np.arange(clips.offsets[i], clips.offsets[i + 1]) for i in clips.indices(split)])
        z = clips.motion[rows, pose_dim:].astype(np.float64)
        y = clips.states[rows, STATE_NAMES.index(state)].astype(np.float64)
        if not np.isfinite(y).all():
            raise ValueError(f"the {state} probe needs the ground truth (the synthetic world)")
        mean, std, w, bias = ridge_fit(z, y, alpha / len(z))     # chapter 04's probe; it scales alpha by n
        return cls(mean, std, w, float(bias), pose_dim)

    def __call__(self, motion: np.ndarray) -> np.ndarray:
        """Motion (T, pose_dim + dyn_dim) -> the state it shows, (T,)."""
        z = np.asarray(motion, np.float64)[:, self.pose_dim:]
        return ((z - self.mean) / self.std) @ self.weight + self.bias


class JawProbe(StateProbe):
    """The jaw opening read from z_dyn: the lip-sync measure of this module."""

    @classmethod
    def fit(cls, clips: MotionClips, split: str = "train", alpha: float = 1.0, pose_dim: int = 6) -> "JawProbe":
        return super().fit(clips, split, alpha, pose_dim, state=STATE_NAMES[JAW])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either side does not move at all (a frozen face tracks nothing)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def lip_sync(probe: JawProbe, motion: np.ndarray, true_jaw: np.ndarray) -> dict[str, float]:
    """Correlation and RMSE of the probe's jaw opening on ``motion`` against the true jaw opening."""
    jaw = probe(motion)
    n = min(len(jaw), len(true_jaw))
    return dict(corr=correlation(jaw[:n], true_jaw[:n]), rmse=float(np.sqrt(np.mean((jaw[:n] - true_jaw[:n]) ** 2))))


def blinks_per_second(eyelid: np.ndarray, fps: float = 25.0, threshold: float = 0.5) -> float:
    """How often an eyelid track (0 open .. 1 shut, per frame) crosses ``threshold`` on its way down: blinks/s."""
    x = np.asarray(eyelid, np.float64)
    return float(((x[1:] > threshold) & (x[:-1] <= threshold)).sum() / (len(x) / fps))


def blink_depths(eyelid: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """How far each blink closes: the peak of every excursion of an eyelid track (0 open .. 1 shut) above
    ``threshold``, in time order. A blink drawn half-shut crosses a 0.5 count just as a full one does; this tells
    them apart (the world's own blinks peak at 1)."""
    x = np.asarray(eyelid, np.float64)
    above = np.concatenate([[False], x > threshold, [False]])
    starts, ends = np.flatnonzero(~above[:-1] & above[1:]), np.flatnonzero(above[:-1] & ~above[1:])
    return np.array([x[a:b].max() for a, b in zip(starts, ends)])


def speed_by_window_position(motion: np.ndarray, window: int) -> np.ndarray:
    """Mean head speed |d angles / frame| at each frame position of the generator's windows, (window,); position 0
    is a window's first frame (the step into it from the previous window). Real motion knows nothing of windows,
    so its profile is flat up to noise."""
    speed = np.linalg.norm(np.diff(np.asarray(motion, np.float64)[:, ANGLES], axis=0), axis=1)   # step into t
    position = np.arange(1, len(speed) + 1) % window
    return np.array([speed[position == k].mean() if (position == k).any() else np.nan for k in range(window)])


def head_dp(motion: np.ndarray) -> float:
    """dP: mean |angle(t) - angle(t - 1)| over yaw, pitch, roll, in degrees per frame."""
    return float(np.abs(np.diff(np.asarray(motion)[:, ANGLES], axis=0)).mean())


def audio_pose_correlation(motion: np.ndarray, audio: np.ndarray, max_lag: int = 10) -> float:
    """Correlation of head speed |d angles / dt| with speech loudness, at the best lag in 0..max_lag frames."""
    speed = np.linalg.norm(np.diff(np.asarray(motion, np.float64)[:, ANGLES], axis=0), axis=1)   # (T - 1,)
    loud = np.asarray(audio, np.float64).mean(1)[1:]                                              # (T - 1,)
    best = -1.0
    for lag in range(0, min(max_lag, len(speed) - 3) + 1):
        best = max(best, correlation(loud[: len(loud) - lag], speed[lag:]))
    return best


def evaluate_clips(model, clips: MotionClips, split: str = "test", n_clips: int | None = None, steps: int = 10,
                   sampler: str = "ddim", seed: int = 0, probe: JawProbe | None = None, **guidance) -> dict:
    """Generate motion for the audio of ``split``'s clips and measure it (see the module docstring).

    Conditions are the clips' own labels (gaze, distance, emotion). Returns means over clips::

        lip_corr, lip_rmse            generated motion vs true jaw
        frozen_corr, frozen_rmse      baseline: the first frame's code held still
        other_corr, other_rmse        baseline: motion generated for another clip's audio
        real_corr, real_rmse          the clip's own encoded codes (the probe's ceiling)
        dP, dP_real, dP_truth         head motion, deg/frame: generated, the clip's encoded codes, its true pose
        audio_pose, audio_pose_real   audio-pose correlation
        join_ratio                    step at window joins / step inside windows (1 = seamless)
    """
    from ..motion.generate import MotionConditions, generate_motion, join_jumps

    probe = probe or JawProbe.fit(clips, "train", pose_dim=model.config.pose_dim)
    index = clips.indices(split)[: n_clips or None]
    if index.size < 2:
        raise ValueError(f"the {split!r} split needs at least 2 clips to evaluate (the other-clip baseline)")
    generated = {}
    for i in index:
        c = clips.clip(int(i))
        emo = None
        if np.isfinite(c["emotion"]).all():
            from ..world.behaviour import EMOTIONS

            emo = EMOTIONS[int(np.argmax(c["emotion"]))]
        cond = MotionConditions(gaze=tuple(c["gaze"]), distance=c["distance"], emotion=emo)
        generated[int(i)] = generate_motion(model, c["audio"], cond, steps=steps, sampler=sampler, seed=seed + int(i),
                                            **guidance)
    rows = []
    std = model.motion_std.detach().cpu().numpy()
    joins, inners = [], []
    for k, i in enumerate(index):
        c = clips.clip(int(i))
        true_jaw = c["states"][:, JAW]
        gen = generated[int(i)]
        other = generated[int(index[(k + 1) % len(index)])]
        frozen = np.repeat(c["motion"][:1], len(c["motion"]), axis=0)
        r = dict(**{f"lip_{m}": v for m, v in lip_sync(probe, gen, true_jaw).items()},
                 **{f"frozen_{m}": v for m, v in lip_sync(probe, frozen, true_jaw).items()},
                 **{f"other_{m}": v for m, v in lip_sync(probe, other, true_jaw).items()},
                 **{f"real_{m}": v for m, v in lip_sync(probe, c["motion"], true_jaw).items()},
                 dP=head_dp(gen), dP_real=head_dp(c["motion"]), dP_truth=head_dp(c["states"]),
                 audio_pose=audio_pose_correlation(gen, c["audio"]),
                 audio_pose_real=audio_pose_correlation(c["motion"], c["audio"]))
        rows.append(r)
        j = join_jumps(gen, model.config.window, std)
        if j["n_joins"]:
            joins.append(j["join"])
            inners.append(j["inner"])
    out = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    out["join_ratio"] = float(np.mean(joins) / np.mean(inners)) if joins else float("nan")
    out["n_clips"] = int(index.size)
    return out


# ---------------------------------------------------------------------------------------------------------------
# streaming: what the lookahead costs
# ---------------------------------------------------------------------------------------------------------------
def streamed_motion(model, features: np.ndarray, cond=None, lookahead: int | None = 2, stride: int = 4,
                    steps: int = 10, seed: int = 0, **guidance) -> tuple[np.ndarray, np.ndarray]:
    """Motion for ``features`` as a live stream makes it: rows pushed one frame (40 ms) at a time into a
    :class:`~vasa_lab.motion.stream.MotionStream`. Returns (motion (T, M), the first frame each window kept)."""
    from ..motion.stream import MotionStream

    stream = MotionStream(model, cond, steps=steps, seed=seed, lookahead=lookahead, stride=stride, **guidance)
    out = [stream.push(features[t:t + 1]) for t in range(len(features))] + [stream.finish()]
    return np.concatenate(out), np.array(stream.window_starts)


def largest_lean(model, motion: np.ndarray, seconds: float = 10.0, fps: float = 25.0) -> float:
    """How far a generated head strayed from home: the largest mean, over any whole block of ``seconds``, of any of
    the six pose numbers, in the training data's standard deviations from its mean. Real heads stay well under 1;
    chapter 08 calls a stream past 2 a runaway. Leftover frames after the last whole block are not read."""
    import torch

    P = model.config.pose_dim
    block = int(round(seconds * fps))
    if len(motion) < block:
        raise ValueError(f"largest_lean needs at least one {seconds:g}-s block ({block} frames), got {len(motion)}")
    z = model.normalize_motion(torch.from_numpy(np.asarray(motion, np.float32)))[:, :P].numpy()
    n = len(z) // block * block
    return float(np.abs(z[:n].reshape(-1, block, P).mean(1)).max())


def step_jumps(motion: np.ndarray, starts: np.ndarray, scale: np.ndarray | None = None) -> dict[str, float]:
    """The step into each window's first frame (a join) against the typical step elsewhere (1 = seamless)."""
    x = np.asarray(motion, np.float64)
    s = np.ones(x.shape[1]) if scale is None else np.asarray(scale, np.float64)
    steps = np.linalg.norm(np.diff(x, axis=0) / s, axis=1)          # steps[t - 1] = the step into frame t
    joins = np.zeros(len(steps), bool)
    idx = np.asarray(starts)[np.asarray(starts) > 0] - 1
    joins[idx[idx < len(steps)]] = True
    join = float(steps[joins].mean()) if joins.any() else float("nan")
    inner = float(steps[~joins].mean()) if (~joins).any() else float("nan")
    return dict(join=join, inner=inner, ratio=join / inner if inner > 0 else float("nan"), n_joins=int(joins.sum()))


def lookahead_sweep(model, clips: MotionClips, lookaheads=(0, 1, 2, 4, 8, None), split: str = "test",
                    n_clips: int = 8, stride: int = 4, steps: int = 10, seed: int = 0, probe: JawProbe | None = None,
                    pixels=None, sync: bool = False, **guidance) -> list[dict]:
    """Lip sync against the lookahead, on held-out clips: for each lookahead (frames; None = offline, whole
    windows) the jaw read by the probe from the streamed codes against the clip's true jaw (``code_jaw``), the step
    at window joins (``join_ratio``) and, with ``pixels=(latent_model, world_folder)``, the mouth read by chapter
    02's tracker from the rendered frames against the true jaw (``pixel_jaw``), and with ``sync=True`` too,
    chapter 10's SyncNet confidence and distance on those frames and the clip's own sound (``S_C``, ``S_D``). Same
    features, conditions and seed for every lookahead: only what the stream knew when it drew each frame differs.
    ``guidance``: the stream's guidance scales (``audio_scale=1.5``; default: :class:`MotionStream`'s)."""
    from .pixel_motion import clip_frames, conditions_of, render_codes
    from .expression import correlation as corr, read_pixels

    probe = probe or JawProbe.fit(clips, "train", pose_dim=model.config.pose_dim)
    std = model.motion_std.detach().cpu().numpy()
    index = clips.indices(split)[:n_clips]
    rows = []
    evaluator = None
    if sync and pixels is not None:
        from .paper_table import Evaluator

        evaluator = Evaluator(model.config.profile)
    for look in lookaheads:
        code, pix, ratios, shown_clips = [], [], [], []
        for i in index:
            c = clips.clip(int(i))
            motion, starts = streamed_motion(model, c["audio"], conditions_of(c), lookahead=look, stride=stride,
                                             steps=steps, seed=seed + int(i), **guidance)
            true_jaw = c["states"][:, JAW]
            code.append(correlation(probe(motion), true_jaw))
            ratios.append(step_jumps(motion, starts, std)["ratio"])
            if pixels is not None:
                latent_model, folder = pixels
                frames = clip_frames(folder, c["stem"])
                t = min(len(frames), len(motion))
                drawn = render_codes(latent_model, frames[0], motion[:t])
                shown = read_pixels(drawn)
                pix.append(corr(shown.mouth, true_jaw[:t]))
                if evaluator is not None:
                    import soundfile as sf

                    from .features import EvalClip

                    audio, _ = sf.read(str(Path(folder) / f"{c['stem']}.wav"), dtype="float32")
                    shown_clips.append(EvalClip(c["stem"], drawn, audio[: t * 640]))
        extra = {}
        if shown_clips:
            m = evaluator.measure(shown_clips, fvd=False)
            extra = dict(S_C=float(m["S_C"]), S_D=float(m["S_D"]))
        rows.append(dict(lookahead=look, lookahead_ms=None if look is None else 40 * look,
                         code_jaw=float(np.mean(code)), join_ratio=float(np.nanmean(ratios)),
                         pixel_jaw=float(np.nanmean(pix)) if pix else None, n_clips=int(index.size), **extra))
    return rows
