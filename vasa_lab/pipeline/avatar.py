"""An Avatar: the trained models and ONE portrait's appearance, encoded once, ready to talk.

::

    from vasa_lab.pipeline import Avatar, file_chunks

    avatar = Avatar.from_image("me.jpg", profile="tiny")
    for frame in avatar.stream(file_chunks("hello.wav", chunk_ms=20, realtime=True), sample_rate=16_000,
                               lookahead=2):
        show(frame.image, frame.audio)            # 40 ms of video and the 40 ms of audio it shows
    print(avatar.last_report.summary())           # first-frame latency, p50/p95 latency, frames/s, late frames

The stream joins three stateful stages, each taking what the last one has ready:

    audio chunks --StreamingFeatures--> feature rows --MotionStream--> motion codes --FrameRenderer--> frames

and nothing else: the offline ``vasa-lab animate`` (:class:`vasa_lab.pipeline.animate.Animator`) runs the same
:class:`~vasa_lab.motion.stream.MotionStream` with whole windows, so offline and streamed motion differ only by
what the stream did not know yet (the lookahead, chapter 08).
"""
from __future__ import annotations

import time
from collections import deque
from typing import Iterable, Iterator

import numpy as np

from ..media import FPS, SAMPLE_RATE
from ..motion.config import LIVE_STEPS
from .renderer import FrameRenderer
from .streaming import AudioChunk, StreamError, StreamFrame, StreamReport, Tally, chunks_of


def default_budget(lookahead: int | None, stride: int, window: int, fps: float = FPS) -> float:
    """The latency a frame may have before it counts as late: its lookahead and stride in frames, plus 120 ms."""
    frames = (window if lookahead is None else lookahead) + stride
    return frames / fps + 0.12


class Avatar:
    """The models of a profile and one portrait's appearance (V_app, z_id), encoded once.

    ``latent``/``motion``: trained models (``Avatar.from_image`` loads a profile's); ``portrait``: a
    :class:`~vasa_lab.tracking.align.Portrait` (aligned) or an image; ``frame``: "crop" (the model's square face,
    resized to ``size``) or "photo" (the whole photo at its resolution, longest side <= ``max_side``);
    ``source_expression``: "tracked" (default) or "encoded", as for :class:`~vasa_lab.pipeline.animate.Animator`
    (``expression``: a :class:`~vasa_lab.pipeline.source_expression.TrackedExpression` already calibrated for
    ``latent``, else one is made);
    ``render_batch``, ``precision``, ``compile``: the renderer's (see :class:`FrameRenderer`).
    ``model_id``: the models' short name (a profile, or a checkpoint's hash) that the watermark carries;
    ``watermark``: True (default) marks every frame the avatar makes with the invisible watermark of chapter 11
    (:class:`~vasa_lab.provenance.Watermarker`), False leaves them unmarked (for research on the frames
    themselves; never for videos you share).
    """

    def __init__(self, latent, motion, portrait, frame: str = "crop", size: int | None = None,
                 max_side: int | None = None, render_batch: int = 64, precision: str = "32", compile: bool = False,
                 tracker=None, model_id: str = "custom", watermark: bool = True, source_expression: str = "tracked",
                 expression=None):
        from ..tracking.align import Portrait, align_portrait
        from .source_expression import (TrackedExpression, check_source_expression, framing_origin, has_landmarks,
                                        portrait_appearance, portrait_motion)

        if frame not in ("photo", "crop"):
            raise ValueError(f"frame must be 'photo' (the whole photo) or 'crop' (the face square), not {frame!r}")
        check_source_expression(source_expression)
        if not isinstance(portrait, Portrait):
            portrait = align_portrait(portrait, int(latent.config.image_size), tracker)
        self.latent, self.motion, self.portrait = latent, motion, portrait
        if source_expression == "tracked" and has_landmarks(portrait):
            expression = expression or TrackedExpression.calibrate(latent, tracker)
        else:
            expression = None                 # the encoder's own reading (asked for, or no landmarks to read)
        self.appearance = portrait_appearance(latent, portrait, expression)
        self.portrait_motion = portrait_motion(latent, portrait, expression)   # every stream starts from it
        self.framing_origin = framing_origin(motion, self.portrait_motion)      # and keeps its framing
        compositor = None
        if frame == "photo" and size is None and portrait.image is not None:
            from .photo import MAX_SIDE, PhotoCompositor

            compositor = PhotoCompositor.for_portrait(portrait.image, portrait.box, max_side or MAX_SIDE)
        self.renderer = FrameRenderer(latent, self.appearance, batch=render_batch, size=size, compositor=compositor,
                                      precision=precision, compile=compile)
        self.model_id = str(model_id)
        self.watermark = None
        if watermark:
            from ..provenance import Watermarker

            self.watermark = Watermarker.default(self.model_id)
        self._motion_stream = None
        self.last_report: StreamReport | None = None

    @classmethod
    def from_image(cls, image, profile: str | None = None, device: str | None = None, **options) -> "Avatar":
        """Load a profile's models (shipped weights) and encode ``image``'s face once."""
        from .animate import Animator

        return Animator(profile, device=device).avatar(image, **options)

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.renderer.frame_size

    def warm_up(self) -> "Avatar":
        """Run 0.4 s of silence through every stage once, so that the first real frame pays for no first-use costs
        (imports, the STFT's and the decoder's first allocations). Returns self."""
        for _ in self.stream([np.zeros(6400, np.float32)], SAMPLE_RATE, lookahead=0, stride=1):
            pass
        self.last_report = None
        return self

    # -- controls, while a stream runs -----------------------------------------------------------------------------
    def set_conditions(self, cond=None, **scales) -> None:
        """Change gaze / distance / emotion (a :class:`~vasa_lab.motion.MotionConditions`) or guidance scales
        (audio=, gaze=, ...) of the running stream: they take effect from its next window."""
        stream = self._motion_stream                 # one read: the stream may end in another thread meanwhile
        if stream is None:
            raise StreamError("no stream is running; pass the conditions to stream()")
        if cond is None:
            stream.set_conditions(**scales)
        else:
            stream.set_conditions(cond, **scales)

    # -- the stream ------------------------------------------------------------------------------------------------
    def stream(self, chunks: Iterable, sample_rate: int = SAMPLE_RATE, lookahead: int | None = 2, stride: int = 4,
               cond=None, steps: int = LIVE_STEPS, sampler: str = "ddim", audio_scale: float | None = None,
               gaze_scale: float = 1.0, seed: int = 0, gain="running", realtime: bool = False, budget: float | None = None
               ) -> Iterator[StreamFrame]:
        """Audio chunks in (arrays at ``sample_rate``, (samples, rate) pairs or :class:`AudioChunk`), frames out.

        ``lookahead``: frames of audio after a frame that must have arrived before it is drawn (None: whole
        windows, the offline result); ``stride``: the frames each window keeps; ``cond`` and the guidance
        scales as for :func:`vasa_lab.motion.generate_motion` (``audio_scale`` None: the default for the lookahead,
        :func:`vasa_lab.motion.config.default_audio_guidance`); ``gain``: "running" or a fixed loudness gain;
        ``realtime``: drop frames that would be later than ``budget`` seconds after their audio (default
        :func:`default_budget`). When the generator ends or is closed, ``self.last_report`` says how it went.
        """
        from ..audio.stream import StreamingFeatures
        from ..motion.stream import MotionStream

        self.last_report = None
        features = StreamingFeatures(self.motion.config.audio, sample_rate, gain, keep_audio=True)
        motion = MotionStream(self.motion, cond, steps=steps, sampler=sampler, audio_scale=audio_scale,
                              gaze_scale=gaze_scale, seed=seed, lookahead=lookahead, stride=stride,
                              first_motion=self.portrait_motion, origin=self.framing_origin)
        self._motion_stream = motion
        budget = default_budget(lookahead, stride, self.motion.config.window) if budget is None else float(budget)
        stages = dict(features=0.0, motion=0.0, render=0.0, mark=0.0)
        spf = features.spf
        arrivals: deque[tuple[float, float]] = deque()     # (end of the audio so far at 16 kHz, when it arrived)
        received, emitted = 0, 0
        tally = Tally(fps=FPS)
        source = chunks_of(chunks, int(sample_rate))
        try:
            while True:
                chunk: AudioChunk | None = next(source, None)
                now = time.perf_counter()
                t0 = now
                if chunk is not None:
                    arrived = chunk.arrived if chunk.arrived is not None else now
                    if tally.started is None:
                        tally.started = arrived
                    rows = features.push(chunk.samples)
                    received += len(np.asarray(chunk.samples))
                    arrivals.append((received * features.cfg.sample_rate / sample_rate, arrived))
                else:
                    rows = features.finish()
                t1 = time.perf_counter()
                stages["features"] += t1 - t0
                codes = motion.push(rows) if len(rows) else np.zeros((0, motion.config.motion_dim), np.float32)
                if chunk is None:
                    codes = np.concatenate([codes, motion.finish()])
                decided = time.perf_counter()
                stages["motion"] += decided - t1
                if len(codes):
                    heard = []
                    for t in range(emitted, emitted + len(codes)):
                        need = (t + 1) * spf
                        while len(arrivals) > 1 and arrivals[0][0] < need:
                            arrivals.popleft()
                        heard.append(arrivals[0][1] if arrivals else decided)
                    keep = np.ones(len(codes), bool)
                    if realtime:                      # too late: not drawn (the very first frame always is)
                        keep = np.array([decided - h <= budget or emitted + i == 0 for i, h in enumerate(heard)])
                    t2 = time.perf_counter()
                    images = self.renderer.render(codes[keep]) if keep.any() else None
                    t3 = time.perf_counter()
                    stages["render"] += t3 - t2
                    if images is not None and self.watermark is not None:
                        images = self.watermark.mark(images)
                        stages["mark"] += time.perf_counter() - t3
                    k = 0
                    for i, code in enumerate(codes):
                        image = None
                        if keep[i]:
                            image, k = images[k], k + 1
                        frame = StreamFrame(index=emitted, image=image, audio=features.take_audio(1), motion=code,
                                            heard=heard[i], decided=decided, shown=time.perf_counter(),
                                            dropped=not keep[i], fps=FPS)
                        tally.add(frame)
                        emitted += 1
                        yield frame
                if chunk is None:
                    break
        finally:
            self._motion_stream = None
            stages["windows"] = motion.windows
            self.last_report = StreamReport.from_tally(tally, budget, stages)
            close = getattr(chunks, "close", None)
            if callable(close):
                close()


def stream_to_mp4(avatar: Avatar, chunks: Iterable, out, sample_rate: int = SAMPLE_RATE, sign: bool = True,
                  key=None, **options) -> StreamReport:
    """Run :meth:`Avatar.stream` into an mp4 (the frames and the audio each one shows, 16 kHz) and return its
    report. A dropped frame (``realtime=True``, too late) is written as the frame before it, so the video keeps its
    length and stays in sync with its audio. The frames carry the avatar's watermark; ``sign``: the finished file
    also gets content credentials (C2PA) naming the model and the stream's settings, signed with ``key`` (a PEM
    file; None: the local TEST certificate)."""
    from .sinks import Mp4Sink

    h, w = avatar.frame_size
    last = np.zeros((h, w, 3), np.uint8)
    written = 0.0
    credentials = None
    if sign:
        from ..provenance import check_signing_key

        check_signing_key(key)
        credentials = dict(mode="stream", model=avatar.model_id,
                           watermark=str(avatar.watermark.payload) if avatar.watermark is not None else None,
                           **{k: v for k, v in options.items() if k != "cond"})
        if options.get("cond") is not None:
            credentials["conditions"] = str(options["cond"])
    with Mp4Sink(out, w, h, audio_rate=avatar.motion.config.audio.sample_rate, credentials=credentials,
                 key=key) as sink:
        for frame in avatar.stream(chunks, sample_rate, **options):
            last = frame.image if frame.image is not None else last
            t0 = time.perf_counter()
            sink.write(last, frame.audio)
            written += time.perf_counter() - t0
        if sink.n_frames == 0:
            raise ValueError("the audio is shorter than half a video frame (20 ms): there is nothing to animate")
    report = avatar.last_report
    report.stages["sink"] = written
    report.signed = sink.signed
    return report
