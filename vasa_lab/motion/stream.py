"""Sliding windows, as a stream: audio feature rows in as they arrive, motion codes out as soon as they are decided.

This is the ONE implementation of VASA-1's sliding windows in the package; :func:`vasa_lab.motion.generate_motion`
(offline, all the audio at once) is a :class:`MotionStream` fed everything and finished.

The transformer draws W frames at a time, conditioned on the last K frames already drawn (X_pre) and their audio
(A_pre). Offline, window i covers frames [iW, (i + 1)W) and waits for all of their audio. A live stream cannot wait a
whole window (1 s at W = 25) for every frame, so the stream has two settings:

* ``lookahead`` L (frames): a window starts at the first frame not yet drawn, keeps its first S frames, and sees
  exactly S + L rows of audio: its kept frames and L frames after them. The rows after those are marked "no audio",
  exactly the truncated tails VASA-1 trains with (``MotionConfig.p_cut_audio_tail``); the frames drawn past the
  kept ones are thrown away and drawn again by the next window, with more audio. So every frame is drawn having
  heard L frames (40 L ms) of what comes after it, no more, no less. ``None`` (the default) waits for whole
  windows: the offline result, frame for frame;
* ``stride`` S (frames): how many frames a window keeps (the first window keeps one, so the first frame leaves as
  early as it can). A window costs the same whatever it keeps, so S trades compute (W / S windows per W frames)
  against latency (a frame waits up to S - 1 frames for the window that draws it).

When the audio ends, the remaining frames are drawn in whole windows that see all the rest.

The first frame's join: the network draws a window knowing the K frames before it, but where its first frame lands
is mostly its starting noise's doing: the head stepped into the first drawn frame about 1.6x as far as it steps
inside a window (tiny; ``benchmarks/bench_first_step.py``). So the first window's head pose, when it continues from
``first_motion`` (the pipeline's portrait), is tied to the frame before it while it is drawn (``join_frames``;
:meth:`MotionStream._joins` says why later windows are not). The mouth and the rest of z_dyn stay free: joined too,
a stream lost most of its lip sync.

Randomness: one ``torch.Generator`` seeded once; each window draws its starting noise from it in turn. Because a
window's place, length and audio are fixed by (rows, L, S) alone, a stream fed the same rows gives the same motion
however the rows were cut into pushes (a test checks it).

Conditions and guidance scales can change mid-stream (:meth:`MotionStream.set_conditions`): they take effect from
the next window, so within ``stride`` frames while streaming.
"""
from __future__ import annotations

import time
from array import array

import numpy as np
import torch

from ..geometry import POSE_NAMES
from .config import JOIN_FRAMES, SAMPLERS, default_audio_guidance
from .diffusion import check_eta, sample_window
from .model import Conditioning, MotionDiT


_KEEP = object()        # set_conditions(): "leave the conditions as they are"
REVERT_SECONDS = 5.0    # drift control's time constant (MotionStream._revert); None turns it off. 10 s let
                        # offline ten-minute runs wander past the drift tolerance on some seeds (README, Long audio)
LEVEL_FRAMES = 50       # the running average it corrects: 2 s at 25 fps
REVERTED = POSE_NAMES.index("scale")   # ... of the first 5 motion numbers only: the head's turn and place (yaw,
                        # pitch, roll, tx, ty). Not its scale, where the distance condition lives, nor the face, where
                        # gaze and emotion do: pulled back too, a condition held for two minutes lost 17-31 % of its
                        # effect at 5 s (9-19 % at 10 s; benchmarks/bench_held_conditions.py; README, Long audio)
BOUND = 3.0             # the soft bound's width when one is asked for (bound=BOUND), in the data's standard
                        # deviations. Off by default: it made blinks shallower and the mouth narrower, and a model
                        # trained on a noised context (MotionConfig.context_noise) does not need it to stay home
CONTEXT_BOUND = 4.0     # the soft bound on the context the network SEES (its frames are given out as drawn); see
                        # MotionStream._context. None: the context as drawn


def soft_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``bound * tanh(x / bound)``: close to x near the mean (3.5 % less at one standard deviation, with bound 3),
    never beyond ``bound``; a gentle pull back that grows with the distance (x - B tanh(x/B) ~ x^3 / 3B^2)."""
    return bound * torch.tanh(x / bound)


def _as_rows(rows, dim: int, what: str = "audio_features") -> torch.Tensor:
    a = rows if isinstance(rows, torch.Tensor) else torch.as_tensor(np.asarray(rows))
    if a.dim() != 2 or a.shape[1] != dim:
        raise ValueError(f"{what} must be (T, {dim}) (one row per 25 fps frame, from vasa_lab.audio.audio_features "
                         f"with the model's AudioConfig), got {tuple(a.shape)}")
    a = a.float()
    if not torch.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return a.cpu()


class MotionStream:
    """Stateful motion generation: :meth:`push` audio feature rows, get back the motion codes now decided.

    ``model``: a trained :class:`MotionDiT`; ``cond``: :class:`~vasa_lab.motion.MotionConditions` (or None);
    ``steps``/``sampler``: per window; ``eta``: DDIM's fresh noise per step (0: none, the default); ``*_scale``:
    classifier-free guidance per condition (audio: by default
    :func:`~vasa_lab.motion.config.default_audio_guidance`, the profile's for whole windows, 1 for a stream with a
    lookahead; VASA-1 uses 0.5; gaze 1.0); ``seed``; ``join_frames``: the first window's head pose (the first
    ``pose_dim`` numbers) continues from ``first_motion``'s last frame, the join fading over that many frames
    (:func:`~vasa_lab.motion.diffusion.join_to`; None: as drawn); ``context_bound``: how far from the data's mean
    the context the network sees may go (:meth:`_context`; None: unbounded);
    ``lookahead``/``stride`` in frames (module docstring); ``first_motion`` (n, M) and optionally ``first_audio``
    (n, A): motion to continue from (the first window's context); ``origin`` (M,): where the codes are drawn from,
    zero unless given. The model sees ``first_motion - origin`` and every frame comes out plus ``origin``: the
    pipeline puts there the part of a portrait's code that is its crop's framing, not its motion
    (:func:`vasa_lab.pipeline.source_expression.framing_origin`), so the head keeps the portrait's framing.

    Every call returns (n, pose_dim + dyn_dim) float32 [z_pose, z_dyn] for the next n frames (n may be 0), in order.
    """

    def __init__(self, model: MotionDiT, cond=None, steps: int = 10, sampler: str = "ddim",
                 audio_scale: float | None = None, gaze_scale: float = 1.0, distance_scale: float = 0.0,
                 emotion_scale: float = 0.0, seed: int = 0, lookahead: int | None = None, stride: int = 4,
                 first_motion=None, first_audio=None, revert_seconds: float | None = REVERT_SECONDS,
                 bound: float | None = None, origin=None, join_frames: float | None = JOIN_FRAMES,
                 context_bound: float | None = CONTEXT_BOUND, eta: float = 0.0, reverted: int | None = REVERTED):
        cfg = model.config
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        check_eta(eta, sampler)
        if lookahead is not None and (not isinstance(lookahead, (int, np.integer)) or lookahead < 0):
            raise ValueError(f"lookahead must be a whole number of frames >= 0, or None for whole windows; got "
                             f"{lookahead!r}")
        if not isinstance(stride, (int, np.integer)) or not 1 <= stride <= cfg.window:
            raise ValueError(f"stride must be a whole number of frames from 1 to the window ({cfg.window}), got "
                             f"{stride!r}")
        self.model = model.eval()
        self.config = cfg
        self.device = next(model.parameters()).device
        self.steps, self.sampler, self.seed, self.eta = steps, sampler, int(seed), float(eta)
        self.lookahead = None if lookahead is None else int(lookahead)
        self.stride = int(stride)
        self.generator = torch.Generator().manual_seed(self.seed)
        if revert_seconds is not None and not (np.isfinite(revert_seconds) and revert_seconds > 0):
            raise ValueError(f"revert_seconds must be a positive number of seconds or None, got {revert_seconds!r}")
        self.revert_frames = None if revert_seconds is None else float(revert_seconds) * cfg.audio.fps
        if reverted is not None and (isinstance(reverted, bool) or not isinstance(reverted, (int, np.integer))
                                     or not 1 <= reverted <= cfg.motion_dim):
            raise ValueError(f"reverted must be how many of the first motion numbers the drift control pulls, 1 to "
                             f"{cfg.motion_dim}, or None for all of them; got {reverted!r}")
        self.reverted = cfg.motion_dim if reverted is None else int(reverted)
        if bound is not None and not (np.isfinite(bound) and bound > 0):
            raise ValueError(f"bound must be a positive number of standard deviations or None, got {bound!r}")
        self.bound = None if bound is None else float(bound)
        if join_frames is not None and not (np.isfinite(join_frames) and join_frames > 0):
            raise ValueError(f"join_frames must be a positive number of frames or None, got {join_frames!r}")
        self.join_frames = None if join_frames is None else float(join_frames)
        if context_bound is not None and not (np.isfinite(context_bound) and context_bound > 0):
            raise ValueError(f"context_bound must be a positive number of standard deviations or None, got "
                             f"{context_bound!r}")
        self.context_bound = None if context_bound is None else float(context_bound)
        if lookahead is not None and lookahead + stride > cfg.window:
            raise ValueError(f"lookahead + stride must fit in one window ({cfg.window} frames): a window cannot hear "
                             f"more than its own audio; got lookahead {lookahead} + stride {stride}")
        self.cond = None
        audio_scale = default_audio_guidance(cfg.profile, lookahead) if audio_scale is None else audio_scale
        self.set_conditions(cond, audio=audio_scale, gaze=gaze_scale, distance=distance_scale, emotion=emotion_scale)

        K, M, A = cfg.context, cfg.motion_dim, cfg.audio_dim
        self._pending = torch.zeros(0, A)         # audio rows of frames not yet drawn (frames n_done, n_done + 1, ..)
        self.n_done = 0                           # frames drawn and given out
        self.n_rows = 0                           # audio rows received
        self.windows = 0                          # windows drawn so far
        self.window_starts = array("q")            # the first frame each of them kept (8 bytes a window)
        self.seconds = 0.0                        # time spent drawing them
        self.finished = False
        # the motion so far (normalised), its audio and whether that audio is known: the next window's context
        self._history = torch.zeros(0, M)
        self._history_audio = torch.zeros(0, A)
        self._history_audio_keep = torch.zeros(0, dtype=torch.bool)
        self.level = torch.zeros(M)               # slow average of the motion drawn so far (normalised units)
        self.origin = np.zeros(M, np.float32)
        if origin is not None:
            self.origin = np.asarray(origin, np.float32).reshape(-1)
            if self.origin.shape != (M,) or not np.all(np.isfinite(self.origin)):
                raise ValueError(f"origin must be {M} finite numbers (one motion code), got shape "
                                 f"{np.shape(origin)}")
        if first_motion is not None:
            first = torch.as_tensor(np.asarray(first_motion), dtype=torch.float32)
            first = first[None] if first.dim() == 1 else first
            if first.dim() != 2 or first.shape[1] != M or first.shape[0] < 1 or not torch.isfinite(first).all():
                raise ValueError(f"first_motion must be finite motion codes shaped (n, {M}), got {tuple(first.shape)}")
            first = first - torch.from_numpy(self.origin)
            self._history = model.normalize_motion(first.to(self.device)).cpu()[-K:]
            self._history_audio = torch.zeros(len(self._history), A)
            self._history_audio_keep = torch.zeros(len(self._history), dtype=torch.bool)
            if first_audio is not None:
                fa = _as_rows(first_audio, A, "first_audio")
                if len(fa) != len(first):
                    raise ValueError(f"first_audio must have one row per first_motion frame: {len(fa)} rows for "
                                     f"{len(first)} frames")
                self._history_audio, self._history_audio_keep = fa[-K:], torch.ones(len(self._history), dtype=torch.bool)
        elif first_audio is not None:
            raise ValueError("first_audio needs first_motion: the audio of which frames?")

    # -- controls --------------------------------------------------------------------------------------------------
    def set_conditions(self, cond=_KEEP, **scales) -> None:
        """New conditions (a MotionConditions, or None = unconditioned; left out = unchanged) and/or guidance scales
        (audio=, gaze=, distance=, emotion=), used from the next window on. Everything is checked first: a call that
        raises changes nothing. Safe to call from another thread (the window reads one consistent pair)."""
        from .generate import MotionConditions, condition_tensors

        if cond is _KEEP:
            cond = self.cond
        if cond is not None and not isinstance(cond, MotionConditions):
            raise ValueError(f"cond must be a MotionConditions or None, got {type(cond).__name__}")
        old = getattr(self, "scales", dict(audio=default_audio_guidance(self.config.profile, self.lookahead), gaze=1.0,
                                           distance=0.0, emotion=0.0))
        unknown = set(scales) - set(old)
        if unknown:
            raise ValueError(f"unknown guidance scale(s) {sorted(unknown)}; choose from {', '.join(old)}")
        for name, value in scales.items():
            if not (np.isfinite(value) and 0 <= value <= 10):
                raise ValueError(f"the {name} guidance scale must be between 0 and 10, got {value!r}")
        conds = condition_tensors(self.model, cond)
        scales = {**old, **{k: float(v) for k, v in scales.items()}}
        self._controls = (conds, scales)            # one assignment: a window never sees half a change
        self.scales, self.cond = scales, cond

    # -- the stream ------------------------------------------------------------------------------------------------
    def push(self, rows) -> np.ndarray:
        """Add audio feature rows (t, A) for the next t frames -> the motion decided now, (n, M)."""
        if self.finished:
            raise ValueError("this motion stream was finished; start a new one")
        rows = _as_rows(rows, self.config.audio_dim)
        if len(rows):
            self._pending = torch.cat([self._pending, rows])
            self.n_rows += len(rows)
        return self._drain(final=False)

    def finish(self) -> np.ndarray:
        """The audio ended: draw every remaining frame (the last window's missing audio is "no audio")."""
        if self.finished:
            return np.zeros((0, self.config.motion_dim), np.float32)
        out = self._drain(final=True)
        self.finished = True
        return out

    def _next_window(self, final: bool) -> tuple[int, int]:
        """(frames the next window keeps, audio rows it sees) if it can be drawn now, else (0, 0)."""
        W = self.config.window
        avail = self.n_rows - self.n_done
        if avail <= 0:
            return 0, 0
        if final:                                       # the audio is complete: whole windows, all of it seen
            return min(W, avail), min(W, avail)
        if self.lookahead is None:
            return (W, W) if avail >= W else (0, 0)
        keep = 1 if self.n_done == 0 else min(self.stride, W)
        seen = min(W, keep + self.lookahead)            # exactly the lookahead, even when more audio is waiting
        return (keep, seen) if avail >= keep + self.lookahead else (0, 0)

    def _drain(self, final: bool) -> np.ndarray:
        out = []
        while True:
            keep, seen = self._next_window(final)
            if keep == 0:
                break
            out.append(self._window(keep, seen))
        if not out:
            return np.zeros((0, self.config.motion_dim), np.float32)
        return np.concatenate(out)

    def _revert(self, x: torch.Tensor) -> torch.Tensor:
        """Drift control: pull the slow average of the head's turn and place back towards the data's mean (0).

        Each window continues from the last one, so a small bias in what the network predicts adds up: measured
        on the tiny model trained on the clean context, the head's yaw walked 50 degrees away within 30 s of
        speech (the shipped models train on a noised context and stay home without it; this is a safety net for
        hours of audio). The remedy here is a mean-reverting force on the slow part of the head's turn and place
        only (the first ``reverted`` numbers, :data:`REVERTED` by default: yaw, pitch, roll, tx, ty; the scale and
        the face carry the distance, gaze and emotion conditions, which a pull to the data's mean would undo; None
        pulls every number, as before): ``level`` is a 2 s running average of what was drawn, and those numbers of
        the j-th of a window's ``keep`` kept frames are shifted by ``-level * (j + 1) / keep * keep / revert_frames``:
        a ramp across the window, so no step appears at the join (a window that keeps one frame takes its whole,
        small, shift on that frame). Fast motion (nods, the mouth) is untouched; a deviation that lasts decays over
        roughly ``revert_seconds`` (the pull acts on a lagging 2 s average: at 5 s a continuous model of the two
        overshoots by about 2 % on the way back). Before it, the soft bound (:func:`soft_bound`) where one is asked
        for."""
        if self.bound is not None:                      # no frame leaves the data's range
            x = soft_bound(x, self.bound)
        if self.revert_frames is None:
            return x
        keep = x.shape[0]
        ramp = torch.arange(1, keep + 1, dtype=x.dtype)[:, None] / keep
        pull = torch.zeros_like(self.level)
        pull[:self.reverted] = self.level[:self.reverted] * min(1.0, keep / self.revert_frames)
        x = x - ramp * pull[None]
        a = 1.0 - (1.0 - 1.0 / LEVEL_FRAMES) ** keep
        self.level = self.level + a * (x.mean(0) - self.level)
        return x

    def _context(self, frames: torch.Tensor) -> torch.Tensor:
        """The frames before a window as the network sees them: through :func:`soft_bound` at ``context_bound``
        (4 data std: 1 std reads 0.98, 2 reads 1.85). The frames themselves go out as drawn; only what the next
        window is conditioned on is bounded. The network learned contexts inside the data's range. Far outside
        it, each window drew its frames further out than the context it was given, and the motion ran away:
        tiny, ten minutes of speech (``benchmarks/bench_long_audio.py``), every code past 10 std from 311 s on
        offline at audio guidance 1.5 (seeds 0 and 1), and from minute 6 streamed at 1, with the drift control
        on (its mean reversion, then 10 s, was too slow for it). With the context bounded, none of them did."""
        return frames if self.context_bound is None else soft_bound(frames, self.context_bound)

    def _joins(self, has_context: bool) -> bool:
        """Whether the next window's head is joined to the frame before it: only the first window, continuing from
        ``first_motion``. Where its first frame lands is the starting noise's doing, not the audio's. At a later
        join the network's step is partly its own: it hears the new window's audio, and it steps back from where a
        drifted context put the head. Joined there too, tiny's CAPP fell (chapter 10's clips, the first 8 frames
        left out: 0.426 -> 0.411 over 6 seeds) and streams without the drift control leant further (one of chapter
        08's passed 2 std); see the README's "The first frame's join"."""
        return self.join_frames is not None and has_context and self.windows == 0

    @torch.no_grad()
    def _window(self, keep: int, have: int) -> np.ndarray:
        started = time.perf_counter()
        cfg, model = self.config, self.model
        W, K, M, A = cfg.window, cfg.context, cfg.motion_dim, cfg.audio_dim
        audio = torch.zeros(W, A)
        audio[:have] = self._pending[:have]
        present = torch.arange(W) < have
        hist = self._history
        conds, scales = self._controls
        # the last K frames so far; fewer than K (a short first_motion, a stream's first windows): the oldest one
        # repeated, as a head held still before it, but with no audio: a sound held for K frames is nothing speech
        # does (with it, chapter 08's stream from a wild first frame ran away at audio guidance 1; see "A wild start")
        pos = torch.arange(len(hist) - K, len(hist))
        idx = torch.clamp(pos, min=0)
        has_context = len(hist) > 0
        c = Conditioning(
            context=(self._context(hist[idx]) if has_context else torch.zeros(K, M))[None],
            context_keep=torch.tensor([has_context]),
            context_audio=(self._history_audio[idx] if has_context else torch.zeros(K, A))[None],
            context_audio_keep=(self._history_audio_keep[idx] & (pos >= 0) if has_context
                                else torch.zeros(K, dtype=torch.bool))[None],
            audio=audio[None], audio_keep=present[None], **conds).to(self.device)
        join_last = hist[-1:, :cfg.pose_dim] if self._joins(has_context) else None
        x0 = sample_window(model, c, cfg, steps=self.steps, sampler=self.sampler, scales=scales,
                           generator=self.generator, join_last=join_last, join_frames=self.join_frames,
                           eta=self.eta)[0].cpu()
        x0 = self._revert(x0[:keep])
        self._history = torch.cat([hist, x0])[-K:]
        self._history_audio = torch.cat([self._history_audio, audio[:keep]])[-K:]
        self._history_audio_keep = torch.cat([self._history_audio_keep, present[:keep]])[-K:]
        self._pending = self._pending[keep:]
        self.window_starts.append(self.n_done)
        self.n_done += keep
        self.windows += 1
        motion = model.denormalize_motion(x0.to(self.device)).cpu().numpy().astype(np.float32) + self.origin
        if not np.all(np.isfinite(motion)):
            raise FloatingPointError(f"the motion generator produced NaN or infinite values in window {self.windows} "
                                     "(damaged weights?): stopped rather than write a broken video")
        self.seconds += time.perf_counter() - started
        return motion


def windows_drawn(n_rows: int, lookahead: int | None, stride: int, window: int) -> int:
    """How many windows a :class:`MotionStream` draws for ``n_rows`` audio rows pushed one at a time, before
    ``finish()``: the first keeps 1 frame once 1 + L rows are in, then one per S frames while S + L more are in
    (None: whole windows only)."""
    if lookahead is None:
        return n_rows // window
    if n_rows < 1 + lookahead:
        return 0
    return 1 + (n_rows - 1 - lookahead) // min(stride, window)
