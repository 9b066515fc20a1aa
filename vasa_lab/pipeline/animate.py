"""The main job: one portrait + one speech clip -> a talking-face video (``vasa-lab animate``).

Every earlier chapter built one stage; this module joins them, in the order VASA-1 runs them at inference:

    portrait --(02 tracker: 68 landmarks)--> aligned crop --(03 appearance encoder, ONCE)--> V_app, z_id
    speech   --(05 audio features, in chunks)--> A (T, D) at 25 fps
    aligned crop --(03 motion encoder; 02 tracker for the expression)--> the portrait's own code [z_pose, z_dyn]
    A + controls (gaze g, distance d, emotion e) --(06 diffusion transformer, sliding windows, the first one
        continuing the portrait's own code, so the video starts where the portrait is)--> X = [z_pose, z_dyn]
    V_app + X --(03 decoder, batched)--> frames --> mp4 (H.264, 25 fps) with the ORIGINAL audio muxed in

Three things make it work for audio of any length, which is what people ask the open peers for (VASA1.md, "What
people ask", items 1 and 5):

* **the portrait is encoded once.** The appearance volume is the expensive, per-person part; every frame reuses it,
  and the renderer only warps it by each frame's motion code;
* **nothing grows with the audio.** The audio is read and turned into features a chunk at a time (default 30 s),
  each chunk's motion continues the previous chunk's (the diffusion transformer's own previous-window context
  ``X_pre, A_pre`` carries across the join), each chunk is rendered in batches and every batch goes straight into
  the video file. Memory is set by the chunk and batch sizes, so an hour of speech needs what a minute needs;
* **the frames are written as they come** (:class:`Mp4Writer`), and the original audio is copied into the same
  file a little ahead of the video, so the two stay interleaved without either being held whole.

Aligning a portrait
-------------------
The face latent space learned from the synthetic world's frames, where the face sits in a known place. A user's
photo must be cropped so that its face sits in the same place, or the appearance encoder sees something it never
saw. We measure the face the way chapter 02's crops do (:func:`vasa_lab.tracking.align.face_square`: centre
between eyes and mouth, size from the inter-ocular and eye-to-mouth distances) and choose the crop so that this
square lands where it lands in a neutral synthetic frame (:data:`REFERENCE_FRAMING`, measured below). Any size,
grayscale, 16-bit and RGBA images work (RGBA is laid on a light grey background).

Bad input gets one clear sentence, and always BEFORE the slow part: an output path that cannot be written, an image
that is not an image or has no face (:class:`NoFaceError`), audio that cannot be read or is shorter than one video
frame, an unknown emotion name (the message lists the valid ones), a gaze or distance out of range.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

# What used to live here and moved to the stage it belongs to (names kept importable from here):
from ..media import (AAC_RATES, FPS, SAMPLE_RATE, MAX_PORTRAIT_PIXELS, MediaError, Mp4Writer,  # noqa: F401
                    OriginalAudio, check_output_path, read_portrait)
from ..tracking.align import (REFERENCE_FRAMING, Portrait, align_portrait, crop_square, framing_box,  # noqa: F401
                             reference_framing)
from ..motion.config import JOIN_FRAMES, default_audio_guidance, default_steps
from ..tracking.tracker import NoFaceError

__all__ = ["AnimateResult", "Animator", "Mp4Writer", "NoFaceError", "OriginalAudio", "align_portrait", "animate",
           "check_output_path", "read_portrait", "reference_framing"]


# ---------------------------------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class AnimateResult:
    """What :func:`animate` made: the video's path, its length, and where the time went."""

    path: Path
    n_frames: int
    seconds: float                       # the video's duration, n_frames / 25
    timings: dict = field(default_factory=dict)   # seconds per stage: check, portrait, models, appearance,
                                                  # features, motion, render, mark, write, total
    portrait: Portrait | None = None
    silent: bool = False                 # the audio held no sound above the silence threshold
    frame_size: tuple[int, int] | None = None   # (height, width) of the video's frames
    whole_photo: bool = False            # the frames are the whole photo (True) or the face crop (False)
    watermark: str | None = None         # the payload every frame carries (None: not marked)
    signed: bool = False                 # the file carries content credentials (C2PA)

    @property
    def frames_per_second(self) -> dict:
        """Throughput of each per-frame stage (frames per second of wall-clock time)."""
        return {k: self.n_frames / v for k, v in self.timings.items() if k in ("motion", "render", "write") and v > 0}

    def summary(self) -> str:
        t = self.timings
        fps = self.frames_per_second
        return (f"{self.n_frames} frames ({self.seconds:.1f} s) in {t.get('total', 0):.1f} s: motion "
                f"{fps.get('motion', 0):.0f} frames/s, render {fps.get('render', 0):.0f} frames/s")


def parse_gaze(text: str) -> tuple[float, float]:
    """``"THETA,PHI"`` (degrees: gaze yaw, pitch) -> (yaw, pitch), with a clear error for anything else."""
    parts = [p.strip() for p in str(text).replace(" ", ",").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 2 or not all(np.isfinite(values)):
        raise ValueError(f"gaze must be two angles in degrees written THETA,PHI (yaw, pitch), e.g. 10,-5; got {text!r}")
    return values[0], values[1]


def _say_if_training(name: str, config, command: str) -> None:
    """Tell the user, before it starts, that a model is missing and is about to be trained (never a silent wait).

    The tiny profile's weights ship with the package (``vasa_lab/weights/``), so this happens only after a change of
    a model's settings, or for the small and full profiles (where the artifact store refuses under CI)."""
    import sys

    from ..artifacts import ArtifactStore

    if ArtifactStore().find(name, config) is None:
        print(f"vasa_lab: no trained {config.profile} {name} model for these settings yet; training it now (once, "
              f"then cached). To train it yourself: {command} --profile {config.profile}", file=sys.stderr)


class Animator:
    """The trained models of one profile, loaded once, ready to animate any number of portraits and clips.

    ``latent`` / ``motion``: models to use instead of the profile's (e.g. ones a notebook just trained);
    ``device``: "cpu", "cuda" or None (a GPU when there is one). ``chunk_seconds``: audio per chunk (memory);
    ``render_batch``: frames per decoder call. ``source_expression``: how the portrait's own expression, which the
    face model un-expresses it from, is read: "tracked" (default: the tracker reads its mouth and eyes, see
    :mod:`vasa_lab.pipeline.source_expression`) or "encoded" (the motion encoder's reading, as in training).
    """

    def __init__(self, profile: str | None = None, latent=None, motion=None, device: str | None = None,
                 chunk_seconds: float = 30.0, render_batch: int = 64, source_expression: str = "tracked"):
        import torch

        from ..config import resolve_profile
        from .source_expression import check_source_expression

        self.source_expression = check_source_expression(source_expression)
        self._expression = None                 # (the latent model it was calibrated for, its TrackedExpression)
        self._expression_lock = threading.Lock()
        self.profile = resolve_profile(profile)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self._latent, self._motion = latent, motion
        self.chunk_seconds = float(chunk_seconds)
        self.render_batch = int(render_batch)
        self._tracker = None

    # -- the models, loaded when first needed ------------------------------------------------------------------
    @property
    def latent(self):
        if self._latent is None:
            from ..latent.api import load_latent_model
            from ..latent.config import LatentConfig

            _say_if_training("latent", LatentConfig.for_profile(self.profile), "python -m vasa_lab.latent.train")
            self._latent = load_latent_model(self.profile)
        return self._latent.to(self.device).eval()

    @property
    def motion(self):
        if self._motion is None:
            from ..motion import MotionConfig, load_motion_model

            _say_if_training("motion", MotionConfig.for_profile(self.profile), "python -m vasa_lab.motion.train")
            self._motion = load_motion_model(self.profile)
        return self._motion.to(self.device).eval()

    @property
    def image_size(self) -> int:
        if self._latent is not None:
            return int(self._latent.config.image_size)
        from ..latent.config import LatentConfig

        return int(LatentConfig.for_profile(self.profile).image_size)

    @property
    def tracker(self):
        if self._tracker is None:
            from ..tracking import FaceTracker

            self._tracker = FaceTracker("auto", smoothing=None)
        return self._tracker

    # -- the stages --------------------------------------------------------------------------------------------
    def portrait(self, image) -> Portrait:
        """Read, find the face, crop it like the training frames (see the module docstring)."""
        return align_portrait(image, self.image_size, self.tracker)

    def tracked_expression(self):
        """The :class:`~vasa_lab.pipeline.source_expression.TrackedExpression` of these models (calibrated on first
        use, a few seconds; again when ``latent`` is replaced, not when its weights are changed in place), or None
        with ``source_expression="encoded"``. Safe to call from several threads (one calibrates, the others wait)."""
        return self._calibrated() if self.source_expression == "tracked" else None

    def _calibrated(self):
        from .source_expression import TrackedExpression

        with self._expression_lock:
            if self._expression is None or self._expression[0] is not self.latent:
                self._expression = (self.latent, TrackedExpression.calibrate(self.latent, self.tracker))
            return self._expression[1]

    def appearance(self, portrait: Portrait):
        """Encode the portrait ONCE: its canonical appearance volume V_app and identity code z_id, un-expressed from
        the expression ``source_expression`` reads (the encoder's own when the tracker gave no landmarks)."""
        from .source_expression import has_landmarks, portrait_appearance

        expression = self.tracked_expression() if has_landmarks(portrait) else None
        return portrait_appearance(self.latent, portrait, expression)

    def portrait_motion(self, portrait: Portrait) -> np.ndarray:
        """The portrait's own motion code (1, 6 + dyn_dim), where the generated motion starts
        (:func:`~vasa_lab.pipeline.source_expression.portrait_motion`)."""
        from .source_expression import has_landmarks, portrait_motion

        expression = self.tracked_expression() if has_landmarks(portrait) else None
        return portrait_motion(self.latent, portrait, expression)

    def feature_chunks(self, audio, sample_rate: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(start_frame, features (t, D)) chunks of the audio (a path, or an array at ``sample_rate``)."""
        from ..audio import iter_audio_features

        cfg = self.motion.config.audio
        if isinstance(audio, (str, Path)):
            return iter_audio_features(audio, cfg, self.chunk_seconds)
        return iter_audio_features(np.asarray(audio, np.float32), cfg, self.chunk_seconds,
                                   sample_rate=sample_rate or SAMPLE_RATE)

    def motion_chunks(self, chunks: Iterable[tuple[int, np.ndarray]], cond, steps: int | None = None,
                      sampler: str = "ddim",
                      audio_scale: float | None = None, gaze_scale: float = 1.0, seed: int = 0,
                      timings: dict | None = None, first_motion: np.ndarray | None = None,
                      keep_framing: bool = True, join_frames: float | None = JOIN_FRAMES,
                      eta: float = 0.0) -> Iterator[np.ndarray]:
        """Motion (t, 6 + dyn_dim) for each feature chunk: ONE :class:`~vasa_lab.motion.stream.MotionStream` with
        whole windows is fed chunk after chunk, so the sliding windows run on across chunk joins as if the audio had
        come in one piece (how it is cut changes nothing), and every frame is drawn once its window is complete.
        ``first_motion``: the motion to start from (the first window's context), e.g. :meth:`portrait_motion`;
        None starts with no context. ``keep_framing``: its framing (tx, ty, scale) is the crop's, kept in every
        frame (:func:`~vasa_lab.pipeline.source_expression.framing_origin`); False lets the generator move it.
        ``join_frames``: the first frame's join to ``first_motion`` and ``eta`` DDIM's fresh noise per step
        (:class:`~vasa_lab.motion.stream.MotionStream`); ``steps`` per window, None: the profile's for a whole clip
        (:func:`~vasa_lab.motion.config.default_steps`)."""
        from ..motion.stream import MotionStream
        from .source_expression import framing_origin

        origin = framing_origin(self.motion, first_motion) if first_motion is not None and keep_framing else None
        steps = default_steps(self.profile) if steps is None else steps
        stream = MotionStream(self.motion, cond, steps=steps, sampler=sampler, audio_scale=audio_scale,
                              gaze_scale=gaze_scale, seed=seed, lookahead=None, first_motion=first_motion,
                              origin=origin, join_frames=join_frames, eta=eta)
        for _, feats in chunks:
            started = time.perf_counter()
            x = stream.push(feats)
            if timings is not None:
                timings["motion"] = timings.get("motion", 0.0) + time.perf_counter() - started
            if len(x):
                yield x
        started = time.perf_counter()
        x = stream.finish()
        if timings is not None:
            timings["motion"] = timings.get("motion", 0.0) + time.perf_counter() - started
        if len(x):
            yield x

    def renderer(self, appearance, size: int | None = None, compositor=None):
        """The :class:`~vasa_lab.pipeline.FrameRenderer` for one portrait's appearance."""
        from .renderer import FrameRenderer

        return FrameRenderer(self.latent, appearance, batch=self.render_batch, size=size, compositor=compositor)

    def render_batches(self, appearance, motion: np.ndarray, size: int | None = None,
                       compositor=None) -> Iterator[np.ndarray]:
        """Decode motion (t, 6 + dyn_dim) into (n, H, W, 3) uint8 frames, ``render_batch`` at a time: the model's
        square crop (resized to ``size``), or with a :class:`vasa_lab.pipeline.photo.PhotoCompositor` the whole photo at its
        own resolution with the animated face pasted in."""
        return self.renderer(appearance, size, compositor).batches(motion)

    def avatar(self, image, **options):
        """A :class:`~vasa_lab.pipeline.Avatar` (these models + ``image``'s appearance, encoded once) for streaming."""
        from .avatar import Avatar

        options.setdefault("model_id", self.profile)
        from .source_expression import has_landmarks

        options.setdefault("source_expression", self.source_expression)
        portrait = self.portrait(image)
        if options["source_expression"] == "tracked" and has_landmarks(portrait) and "expression" not in options:
            options["expression"] = self._calibrated()       # once, even when this Animator itself is "encoded"
        return Avatar(self.latent, self.motion, portrait, **options)

    # -- the whole job -----------------------------------------------------------------------------------------
    def animate(self, image, audio, out, gaze=None, distance=None, emotion=None, audio_scale: float | None = None,
                steps: int | None = None, seed: int = 0, progress: bool = True, sampler: str = "ddim",
                gaze_scale: float = 1.0, size: int | None = None, sample_rate: int | None = None,
                frame: str = "photo", max_side: int | None = None, watermark: bool = True, sign: bool = True,
                key=None) -> AnimateResult:
        """Portrait + speech -> an mp4 at 25 fps with the original audio, as long as the audio.

        ``image``: a path or an RGB array; ``audio``: a path (any format; muxed as it is) or a mono float array at
        ``sample_rate`` (default 16 kHz); ``gaze`` (yaw, pitch) degrees or "THETA,PHI"; ``distance`` (1 = average);
        ``emotion`` a name (neutral, happy, angry, surprised, sad); ``audio_scale`` the audio guidance l_audio (None:
        the profile's, :func:`vasa_lab.motion.config.default_audio_guidance`);
        ``steps`` sampler steps per window (None: the profile's, :func:`vasa_lab.motion.config.default_steps`:
        tiny 10, small 25). ``frame``: "photo" (default) draws the whole photo at its own
        resolution with the animated face pasted back (longest side capped at ``max_side``, default
        :data:`vasa_lab.pipeline.photo.MAX_SIDE`); "crop" gives the model's square face crop, resized to ``size`` if given
        (a ``size`` implies "crop").

        Provenance (chapter 11): ``watermark`` marks every frame with the invisible watermark naming the model;
        ``sign`` signs the finished file with content credentials (C2PA) naming the model and these settings, with
        ``key`` (a PEM file holding a private key and its certificate chain; None: a local TEST certificate).
        Both are on by default; turn them off only for research on the frames themselves.
        """
        from ..motion import MotionConditions

        timings: dict[str, float] = {}
        started = clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[name] = timings.get(name, 0.0) + now - clock
            clock = now

        # 1. everything the user can get wrong, before any slow work
        out = check_output_path(out)
        if isinstance(gaze, str):
            gaze = parse_gaze(gaze)
        cond = MotionConditions(gaze=gaze, distance=distance, emotion=emotion)     # unknown emotion -> ValueError
        if steps is None:
            steps = default_steps(self.profile)
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or not 1 <= steps <= 1000:
            raise ValueError(f"steps must be a whole number from 1 to 1000, got {steps!r}")
        if audio_scale is None:
            audio_scale = default_audio_guidance(self.profile)   # not self.motion's: bad input first, models later
        if not (np.isfinite(audio_scale) and 0 <= audio_scale <= 10):
            raise ValueError(f"audio_scale must be between 0 and 10, got {audio_scale!r}")
        if size is not None and not 16 <= int(size) <= 2048:
            raise ValueError(f"size must be between 16 and 2048 pixels, got {size}")
        if frame not in ("photo", "crop"):
            raise ValueError(f"frame must be 'photo' (the whole photo) or 'crop' (the face square), not {frame!r}")
        if max_side is not None and not 64 <= int(max_side) <= 4096:
            raise ValueError(f"max_side must be between 64 and 4096 pixels, got {max_side}")
        if sign:
            from ..provenance import check_signing_key

            check_signing_key(key)                                                   # a bad key -> one line
        track = OriginalAudio(audio, sample_rate or SAMPLE_RATE)                    # unreadable audio -> MediaError
        if track.seconds is not None and track.seconds * FPS < 0.5:
            raise ValueError(f"the audio is {track.seconds * 1000:.0f} ms long, shorter than half a video frame "
                             f"({500 / FPS:.0f} ms): there is nothing to animate")
        lap("check")
        portrait = self.portrait(image)                                              # no face -> NoFaceError
        lap("portrait")

        # 2. the models, and the portrait's appearance: encoded once for the whole video
        self.latent, self.motion                        # loaded here (from the store, or shipped), timed
        lap("models")
        appearance = self.appearance(portrait)
        start = self.portrait_motion(portrait)          # the motion starts where the portrait is
        lap("appearance")

        # 3. audio -> features -> motion -> frames -> the file, one chunk at a time
        compositor = None
        if frame == "photo" and size is None and portrait.image is not None:
            from .photo import MAX_SIDE, PhotoCompositor

            compositor = PhotoCompositor.for_portrait(portrait.image, portrait.box, max_side or MAX_SIDE)
        side = int(size) if size is not None else self.image_size
        height, width = compositor.size if compositor is not None else (side, side)
        render_options = dict(compositor=compositor) if compositor is not None else {}
        estimate = int(round((track.seconds or 0) * FPS)) or None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=estimate, unit="frame", desc="animate", disable=None, dynamic_ncols=True)
        n_frames, silent = 0, False
        sink = None
        try:
            import warnings

            from ..audio import SilentAudioWarning
            from .sinks import Mp4Sink

            with warnings.catch_warnings(record=True) as caught:
                # written under a temporary name and renamed when complete: a run killed midway (even by SIGKILL)
                # never leaves a file under the asked name that looks like a finished video
                marker = None
                if watermark:
                    from ..provenance import Watermarker

                    marker = Watermarker.default(self.profile)
                credentials = None
                if sign:
                    credentials = dict(mode="offline", model=self.profile, watermark=str(marker.payload) if marker
                                       else None, steps=steps, sampler=sampler, seed=seed, audio_scale=audio_scale,
                                       gaze_scale=gaze_scale, conditions=str(cond), frame=frame)
                sink = Mp4Sink(out, width, height, audio=track, credentials=credentials, key=key)
                warnings.simplefilter("always", SilentAudioWarning)
                features = self._timed(self.feature_chunks(audio, sample_rate), timings, "features")
                for motion in self.motion_chunks(features, cond, steps=steps, sampler=sampler,
                                                 audio_scale=audio_scale, gaze_scale=gaze_scale, seed=seed,
                                                 timings=timings, first_motion=start):
                    for frames in self._timed(self.render_batches(appearance, motion, size, **render_options),
                                              timings, "render"):
                        if marker is not None:
                            t0 = time.perf_counter()
                            frames = marker.mark(frames)       # the invisible watermark (chapter 11)
                            timings["mark"] = timings.get("mark", 0.0) + time.perf_counter() - t0
                        t0 = time.perf_counter()
                        sink.write(frames)
                        timings["write"] = timings.get("write", 0.0) + time.perf_counter() - t0
                        n_frames += len(frames)
                        if bar is not None:
                            bar.update(len(frames))
                if n_frames == 0:
                    raise ValueError("the audio is shorter than half a video frame (20 ms): there is nothing to "
                                     "animate")
                t0 = time.perf_counter()
                sink.close()                                     # flushing the encoders, then the rename
                timings["write"] = timings.get("write", 0.0) + time.perf_counter() - t0
            silent = any(issubclass(w.category, SilentAudioWarning) for w in caught)
            for w in caught:
                if not issubclass(w.category, SilentAudioWarning):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        except BaseException:
            if sink is not None:
                sink.abort()                                     # never leave half a video behind
            raise
        finally:
            if bar is not None:
                bar.close()
        timings["total"] = time.perf_counter() - started
        return AnimateResult(path=out, n_frames=n_frames, seconds=n_frames / FPS, timings=timings,
                             portrait=portrait, silent=silent, frame_size=(height, width),
                             whole_photo=compositor is not None,
                             watermark=str(marker.payload) if marker is not None else None, signed=sink.signed)

    @staticmethod
    def _timed(iterator: Iterable, timings: dict, name: str) -> Iterator:
        """Yield from ``iterator``, adding the time spent producing each item to ``timings[name]``."""
        it = iter(iterator)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
                return
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
            yield item


def animate(image, audio, out, gaze=None, distance=None, emotion=None, audio_scale: float | None = None,
            steps: int | None = None, seed: int = 0, progress: bool = True, profile: str | None = None,
            **kwargs) -> AnimateResult:
    """Portrait + speech -> talking-face video (the main job; see :class:`Animator` for the details and options).

    ::

        from vasa_lab.pipeline.animate import animate
        result = animate("me.jpg", "hello.wav", "outputs/me.mp4", emotion="happy")
        print(result.path, result.n_frames, result.timings)
    """
    options = {k: kwargs.pop(k) for k in ("device", "chunk_seconds", "render_batch", "latent", "motion",
                                          "source_expression") if k in kwargs}
    return Animator(profile, **options).animate(image, audio, out, gaze=gaze, distance=distance, emotion=emotion,
                                                audio_scale=audio_scale, steps=steps, seed=seed, progress=progress,
                                                **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# the demo (``make demo``)
# ---------------------------------------------------------------------------------------------------------------
DEMO_PORTRAIT = Path(__file__).parent.parent / "assets" / "portrait.png"
DEMO_PROFILE = "small"         # the best profile that stays quick on a CPU (its weights ship with the package)
DEMO_PERSON = (0, 1001)        # (world seed, identity index): a person no profile trains on (they use 0 .. ~5000)
DEMO_TEXT = {                  # sentences that are not in the world's training sentences
    "en": "Hello! I am a synthetic person, and every frame of this video was made from one picture and this sentence.",
    "fr": "Bonjour ! Je suis une personne de synthèse, et chaque image de cette vidéo vient d'une seule photo.",
    "zh": "你好！我是一个合成的人，这段视频的每一帧都来自一张照片和这句话。",
}


def demo_portrait_image(size: int = 256) -> np.ndarray:
    """The bundled portrait, made again from the synthetic world: person ``DEMO_PERSON`` at the neutral pose,
    (size, size, 3) uint8 RGB. ``vasa_lab/assets/portrait.png`` is this at 256 px (a test checks they agree)."""
    from ..world.clip import person
    from ..world.render import render_frame
    from ..world.state import FaceState

    image, _ = render_frame(person(*DEMO_PERSON).identity, FaceState(), size)
    return image


def demo_speech(language: str = "en", text: str | None = None) -> np.ndarray:
    """The demo's sentence, spoken now by espeak-ng (offline, ~50 ms): (N,) float32 at 16 kHz."""
    from ..world.speech import synthesize

    if language not in DEMO_TEXT:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(DEMO_TEXT)}")
    return synthesize(text or DEMO_TEXT[language], language=language, variant="f2", rate=160,
                      sample_rate=SAMPLE_RATE).audio
