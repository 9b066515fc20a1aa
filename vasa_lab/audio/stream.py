"""Audio features for a stream: samples arrive in small chunks, feature rows leave as soon as they can be computed.

:func:`vasa_lab.audio.audio_features` sees the whole recording; a microphone or a speech synthesizer gives 10-200 ms
at a time and nobody knows how long it will talk. :class:`StreamingFeatures` keeps just enough audio to compute the
next rows:

* row ``t`` (video frame ``t``, 40 ms at 25 fps) needs the samples up to ``(t + 1) * 640 + margin``, where the margin
  is what the analysis windows reach past the frame's end (176 samples = 11 ms for the log-mel features, 32 ms with
  the optional prosody columns; :func:`vasa_lab.audio.features.context_samples`). So a row leaves that long after
  its frame's audio has arrived;
* the loudness gain cannot be measured on the whole recording, because there is none yet. It is measured on the
  speech heard so far (the last ``gain_window`` seconds, the same two gates as :class:`LoudnessMeter`) and updated
  every quarter second; before any speech the gain is 1 (faint noise is never blown up). Give ``gain=`` a number to
  fix it: with the offline path's gain the streamed rows equal :func:`audio_features` exactly (a test checks it);
* any input rate is resampled on the fly (soxr's streaming resampler), stereo is averaged to mono.

Rows computed are never recomputed, so a streamed row depends only on the audio before it (plus the margin):
what the motion generator does with rows it has not seen yet is its own business (the lookahead, chapter 08).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from .config import AudioConfig
from .features import _rows, context_samples, n_video_frames
from .waveform import BLOCK_SECONDS, _as_float


class AudioStreamError(ValueError):
    """A chunk of a stream could not be used; the message says which and why."""


class RunningGain:
    """The loudness gain of the speech heard so far: the last ``window`` seconds of 25 ms blocks, two gates.

    Gate 1 drops blocks quieter than ``cfg.silence_db``; gate 2 those more than ``cfg.relative_gate_db`` below the
    mean of the rest (as :class:`vasa_lab.audio.LoudnessMeter` does for a whole file). Memory: ``window / 25 ms``
    numbers, whatever the stream's length."""

    def __init__(self, cfg: AudioConfig, window: float = 30.0, update_every: float = 0.25):
        self.cfg = cfg
        self.block = max(1, int(round(BLOCK_SECONDS * cfg.sample_rate)))
        self._ms: deque[float] = deque(maxlen=max(1, int(window / BLOCK_SECONDS)))
        self._peaks: deque[float] = deque(maxlen=self._ms.maxlen)
        self._rest = np.zeros(0, np.float32)
        self._every = max(1, int(update_every / BLOCK_SECONDS))
        self._since = 0
        self.value = 1.0

    def update(self, x: np.ndarray) -> float:
        buf = np.concatenate([self._rest, x]) if self._rest.size else x
        n = buf.size // self.block
        if n:
            blocks = buf[: n * self.block].reshape(n, self.block).astype(np.float64)
            self._ms.extend(np.mean(blocks * blocks, axis=1).tolist())
            self._peaks.extend(np.abs(blocks).max(axis=1).tolist())
            self._since += n
        self._rest = buf[n * self.block:].copy()
        if self._since >= self._every:
            self._since = 0
            self.value = self._gain()
        return self.value

    def _gain(self) -> float:
        ms = np.fromiter(self._ms, float)
        loud = ms[ms > 10.0 ** (self.cfg.silence_db / 10.0)]
        if loud.size == 0:
            return 1.0
        speech = loud[loud > loud.mean() * 10.0 ** (-self.cfg.relative_gate_db / 10.0)]
        level = 10.0 * np.log10(speech.mean())
        g = min(10.0 ** ((self.cfg.target_loudness_db - level) / 20.0), 10.0 ** (self.cfg.max_gain_db / 20.0))
        peak = max(self._peaks) if self._peaks else 0.0
        if peak * g > self.cfg.peak_limit:
            g = self.cfg.peak_limit / peak
        return float(g)


class StreamingFeatures:
    """Chunks of audio in (:meth:`push`), feature rows out, one per 25 fps frame; :meth:`finish` at the end.

    ``sample_rate``: the rate the chunks come at (any from 4 kHz to 384 kHz); ``gain``: "running" (measured on
    the speech so far) or a fixed number. ``raw`` keeps the stream's samples at ``cfg.sample_rate``, before the
    gain, for whoever needs each frame's own audio (:meth:`take_audio`)."""

    def __init__(self, cfg: AudioConfig | None = None, sample_rate: int | None = None, gain="running",
                 keep_audio: bool = False):
        self.cfg = cfg or AudioConfig()
        rate = int(sample_rate or self.cfg.sample_rate)
        if not 4_000 <= rate <= 384_000:
            raise AudioStreamError(f"the stream's sample rate must be between 4000 and 384000 Hz, got {rate}")
        self.sample_rate = rate
        self._resampler = None
        if rate != self.cfg.sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.cfg.sample_rate, 1, dtype="float32", quality="HQ")
        if isinstance(gain, str) and gain != "running":
            raise ValueError(f"gain must be 'running' or a number, got {gain!r}")
        self._running = RunningGain(self.cfg) if gain == "running" else None
        self._fixed = None if gain == "running" else float(gain)
        self.spf = self.cfg.samples_per_frame
        self.margin = context_samples(self.cfg)
        self._buf = np.zeros(0, np.float32)     # gained samples [self._offset, self._offset + buf.size)
        self._offset = 0
        self._audio = np.zeros(0, np.float32)   # raw samples [self._audio_offset, ...) not yet taken
        self._audio_offset = 0
        self.n_samples = 0                      # samples received so far (at cfg.sample_rate)
        self.n_rows = 0                         # rows given out so far
        self.finished = False
        self.keep_audio = bool(keep_audio)

    @property
    def gain(self) -> float:
        return self._fixed if self._fixed is not None else self._running.value

    @property
    def seconds(self) -> float:
        return self.n_samples / self.cfg.sample_rate

    def _check(self, chunk) -> np.ndarray:
        x = np.asarray(chunk)
        if x.ndim == 2:                                  # (samples, channels): a stream's layout, always
            if not 1 <= x.shape[1] <= 8:
                raise AudioStreamError(f"a chunk of audio must be (samples,) or (samples, channels) with at most 8 "
                                       f"channels, got shape {x.shape}")
            try:
                x = _as_float(x).mean(axis=1)
            except ValueError as err:
                raise AudioStreamError(f"a chunk of the stream: {err}") from None
        if x.ndim != 1:
            raise AudioStreamError(f"a chunk of audio must be (samples,) or (samples, channels), got shape {x.shape}")
        try:
            x = _as_float(x)
        except ValueError as err:
            raise AudioStreamError(f"a chunk of the stream: {err}") from None
        if not np.all(np.isfinite(x)):
            raise AudioStreamError("a chunk of the stream holds NaN or infinite samples")
        return x

    def push(self, chunk) -> np.ndarray:
        """Add samples (at the stream's rate) -> the feature rows that became computable, (n, D) (n may be 0)."""
        if self.finished:
            raise AudioStreamError("the stream was finished; start a new one")
        x = self._check(chunk)
        if self._resampler is not None and x.size:
            x = self._resampler.resample_chunk(np.ascontiguousarray(x, np.float32))
        return self._add(x.astype(np.float32, copy=False), last=False)

    def finish(self) -> np.ndarray:
        """The stream ended: the remaining rows (the audio after the end counts as zeros), (n, D)."""
        if self.finished:
            return np.zeros((0, self.cfg.feature_dim), np.float32)
        tail = np.zeros(0, np.float32)
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True).astype(np.float32)
        rows = self._add(tail, last=True)
        self.finished = True
        return rows

    def _add(self, x: np.ndarray, last: bool) -> np.ndarray:
        if x.size:
            if self.keep_audio:
                self._audio = np.concatenate([self._audio, x])
            g = self._fixed if self._fixed is not None else self._running.update(x)
            self._buf = np.concatenate([self._buf, x * np.float32(g)])
            self.n_samples += x.size
        if last:
            n_total = self.n_samples
            ready = n_video_frames(n_total, self.cfg.sample_rate, self.cfg.fps)
        else:
            n_total = None
            ready = max(0, (self.n_samples - self.margin) // self.spf)    # rows whose samples have all arrived
        f0, f1 = self.n_rows, max(self.n_rows, ready)
        if f1 == f0:
            return np.zeros((0, self.cfg.feature_dim), np.float32)
        total = n_total if n_total is not None else f1 * self.spf + self.margin
        rows = _rows(self._buf, f0, f1, self.cfg, self._offset, total, f1)
        self.n_rows = f1
        keep = max(f1 * self.spf - self.margin, 0)                        # the next rows need samples from here
        if keep > self._offset:
            self._buf = self._buf[keep - self._offset:].copy()
            self._offset = keep
        return rows

    def take_audio(self, n_frames: int) -> np.ndarray:
        """The raw samples of the next ``n_frames`` video frames (at ``cfg.sample_rate``, zeros past the end)."""
        n = n_frames * self.spf
        out = np.zeros(n, np.float32)
        have = min(n, self._audio.size)
        out[:have] = self._audio[:have]
        self._audio = self._audio[have:].copy() if have else self._audio
        self._audio_offset += n
        return out
