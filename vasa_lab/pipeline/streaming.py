"""The pieces of a stream: audio chunks in (from a file at its natural pace, or a live queue), frames out with their
times, and a latency report.

Times are ``time.perf_counter()`` seconds. For every frame the stream notes when its own audio had fully arrived
(``heard``), when its motion code was drawn (``decided``) and when the frame left the stream (``shown``):
``latency = shown - heard``. A source that plays a file "as if it were a microphone" stamps each chunk with the
moment a microphone would have delivered it, so a consumer that falls behind is charged for it, not hidden.

Policies (each has a test):

* **pull-driven**: the stream reads the next chunk only after its consumer has taken every frame decided so far,
  so it never holds more than one window of frames. With a file or a generator, a slow consumer slows the stream
  and nothing is lost;
* **late frames**: with ``realtime=True`` a frame whose latency would exceed the budget when it comes up for
  drawing is *dropped*: its motion is still drawn (so the next frames continue smoothly) but it is not rendered,
  and it leaves with ``image=None`` and ``dropped=True``. Memory stays flat however slow the consumer is;
* **live audio** (:class:`LiveAudio`): a bounded queue (``max_seconds`` of audio); when full, the oldest chunk is
  dropped and counted. With ``fill_silence_after`` a pause longer than that is filled with silence, so the face
  keeps moving (listening, mouth closed) instead of freezing; without it the stream simply waits;
* **bad chunks**: a chunk at another rate than announced, NaN samples, a wrong shape: one :class:`StreamError`
  sentence, raised where the chunk is read; the frames before it were already delivered.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..audio.stream import AudioStreamError


class StreamError(AudioStreamError):
    """A stream could not go on; the message says why in one sentence."""


@dataclass
class AudioChunk:
    """A piece of audio: ``samples`` (n,) or (n, channels); ``rate`` in Hz (None: the stream's announced rate);
    ``arrived``: when it arrived (perf_counter seconds; None: when the stream reads it); ``tag``: anything the
    producer wants to find again (a web page's own clock, say); the stream ignores it."""

    samples: np.ndarray
    rate: int | None = None
    arrived: float | None = None
    tag: object = None


@dataclass
class StreamFrame:
    """One frame of a stream, with the audio it shows and when things happened."""

    index: int                       # frame number, from 0
    image: np.ndarray | None         # (H, W, 3) uint8; None when dropped (late, ``realtime=True``)
    audio: np.ndarray                # this frame's 40 ms of audio (16 kHz mono float32, as it came in)
    motion: np.ndarray               # its motion code [z_pose, z_dyn]
    heard: float                     # when its own audio had fully arrived
    decided: float                   # when its motion code was drawn
    shown: float                     # when it left the stream
    dropped: bool = False
    fps: float = 25.0

    @property
    def time(self) -> float:
        """Its place in the video, seconds from the start (``index / fps``)."""
        return self.index / self.fps

    @property
    def latency(self) -> float:
        """Seconds from its audio having arrived to the frame leaving."""
        return self.shown - self.heard


# ---------------------------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------------------------
def file_chunks(path, chunk_ms: float = 20.0, realtime: bool = False) -> Iterator[AudioChunk]:
    """A file's audio as chunks of ``chunk_ms`` at the file's own rate (mono), decoded a piece at a time.

    ``realtime=True`` releases each chunk when a microphone would have (the first one at once, then at the audio's
    pace) and stamps it with that moment, so a stream behind schedule shows its true latency."""
    from ..audio.waveform import _blocks_av, _blocks_soundfile, _check_file

    if not 1 <= chunk_ms <= 1000:
        raise ValueError(f"chunk_ms must be between 1 and 1000 ms, got {chunk_ms}")
    path = Path(path)
    _check_file(path)
    blocks = _blocks_soundfile(path) or _blocks_av(path)
    pending, rate, sent, start = np.zeros(0, np.float32), None, 0, None
    for block, r in blocks:
        rate = int(r)
        pending = np.concatenate([pending, block.astype(np.float32)])
        n = max(1, int(round(rate * chunk_ms / 1000)))
        while pending.size >= n:
            piece, pending = pending[:n], pending[n:]
            start = _pace(start, sent, rate, realtime)
            yield AudioChunk(piece, rate, _stamp(start, sent, rate, realtime))
            sent += n
    if pending.size and rate is not None:
        start = _pace(start, sent, rate, realtime)
        yield AudioChunk(pending, rate, _stamp(start, sent, rate, realtime))


def array_chunks(audio: np.ndarray, sample_rate: int, chunk_ms: float = 20.0, realtime: bool = False
                 ) -> Iterator[AudioChunk]:
    """An array as chunks of ``chunk_ms`` (``realtime``: at its natural pace, as :func:`file_chunks`)."""
    audio = np.asarray(audio)
    n = max(1, int(round(sample_rate * chunk_ms / 1000)))
    start = None
    for sent in range(0, len(audio), n):
        start = _pace(start, sent, sample_rate, realtime)
        yield AudioChunk(audio[sent:sent + n], sample_rate, _stamp(start, sent, sample_rate, realtime))


def _pace(start: float | None, sent: int, rate: int, realtime: bool) -> float:
    """Sleep until the chunk that begins at sample ``sent`` would have finished arriving from a microphone."""
    now = time.perf_counter()
    if start is None:
        return now
    if realtime:
        due = start + sent / rate
        if due > now:
            time.sleep(due - now)
    return start


def _stamp(start: float, sent: int, rate: int, realtime: bool) -> float | None:
    return start + sent / rate if realtime else None


class LiveAudio:
    """Audio pushed from another thread (a microphone callback, a web socket), read by a stream.

    ``put(samples)`` from any thread (at ``sample_rate``), ``close()`` at the end. At most ``max_seconds`` wait in
    the queue (older chunks are dropped and counted in ``dropped_seconds``). ``fill_silence_after``: after this many
    seconds without audio, the reader gets that much silence (the face keeps listening) instead of waiting."""

    def __init__(self, sample_rate: int = 16_000, max_seconds: float = 10.0, fill_silence_after: float | None = None):
        if fill_silence_after is not None and not (np.isfinite(fill_silence_after) and fill_silence_after >= 0.01):
            raise StreamError(f"fill_silence_after must be at least 0.01 s (or None), got {fill_silence_after!r}")
        if not (np.isfinite(max_seconds) and max_seconds > 0):
            raise StreamError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
        self.sample_rate = int(sample_rate)
        self.max_samples = max(1, int(max_seconds * sample_rate))
        self.fill_silence_after = fill_silence_after
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._queued = 0
        self.dropped_seconds = 0.0
        self.closed = False

    def put(self, samples, tag=None) -> None:
        """Add (n,) or (n, channels) samples at ``sample_rate`` (channels are averaged), with an optional ``tag``
        that the chunk carries (:attr:`AudioChunk.tag`)."""
        x = np.asarray(samples, np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if x.ndim != 1:
            raise StreamError(f"live audio must be (samples,) or (samples, channels), got shape {x.shape}")
        with self._lock:
            if self.closed:
                raise StreamError("this live audio stream was closed; start a new one")
            if x.size > self.max_samples:                   # one piece longer than the queue: keep its newest part
                self.dropped_seconds += (x.size - self.max_samples) / self.sample_rate
                x = x[-self.max_samples:]
            self._queue.put(AudioChunk(x, self.sample_rate, time.perf_counter(), tag))
            self._queued += x.size
            while self._queued > self.max_samples:          # bounded: the oldest audio goes first
                old = self._queue.get_nowait()
                self._queued -= old.samples.size
                self.dropped_seconds += old.samples.size / self.sample_rate

    def close(self) -> None:
        """The end of the stream: what is queued is still read, then the reader stops."""
        with self._lock:
            if not self.closed:
                self.closed = True
                self._queue.put(None)

    def __iter__(self) -> Iterator[AudioChunk]:
        while True:
            try:
                chunk = self._queue.get(timeout=self.fill_silence_after)
            except queue.Empty:                             # a pause: silence, so the face keeps moving
                n = int(self.fill_silence_after * self.sample_rate)
                yield AudioChunk(np.zeros(n, np.float32), self.sample_rate, time.perf_counter())
                continue
            if chunk is None:
                return
            with self._lock:
                self._queued -= chunk.samples.size
            yield chunk


# ---------------------------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------------------------
class Tally:
    """Running counts of a stream's frames: 8 bytes a frame (an hour: 0.7 MB), no images kept."""

    def __init__(self, started: float | None = None, fps: float = 25.0):
        from array import array

        self.started, self.fps = started, fps
        self.n = self.dropped = 0
        self.first_shown = self.last_shown = self.first_latency = float("nan")
        self.latencies = array("d")

    def add(self, frame: StreamFrame) -> None:
        if self.n == 0:
            self.first_shown, self.first_latency = frame.shown, frame.latency
        self.n += 1
        self.dropped += frame.dropped
        self.last_shown = frame.shown
        self.latencies.append(frame.latency)


@dataclass
class StreamReport:
    """What a stream did, from its frames' times (all in milliseconds unless named otherwise)."""

    frames: int
    dropped: int
    late: int                        # frames whose latency exceeded the budget (dropped ones included)
    budget_ms: float
    first_frame_ms: float            # first chunk in -> first frame out
    first_frame_compute_ms: float    # the first frame's own audio complete -> first frame out
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    fps: float                       # frames out per second of wall time, first to last
    seconds: float                   # the video's length
    wall_seconds: float
    stages: dict = field(default_factory=dict)   # seconds spent per stage: features, motion, render, mark, sink
    signed: bool = False                         # written to a file that carries content credentials (C2PA)

    @classmethod
    def from_tally(cls, tally: "Tally", budget: float, stages: dict | None = None) -> "StreamReport":
        nan = float("nan")
        if tally.n == 0:
            return cls(0, 0, 0, budget * 1e3, nan, nan, nan, nan, nan, nan, 0.0, 0.0, dict(stages or {}))
        lat = np.frombuffer(tally.latencies, dtype=np.float64) * 1e3
        wall = tally.last_shown - tally.first_shown
        return cls(frames=tally.n, dropped=tally.dropped, late=int((lat > budget * 1e3).sum()), budget_ms=budget * 1e3,
                   first_frame_ms=(tally.first_shown - tally.started) * 1e3,
                   first_frame_compute_ms=tally.first_latency * 1e3,
                   latency_p50_ms=float(np.percentile(lat, 50)), latency_p95_ms=float(np.percentile(lat, 95)),
                   latency_max_ms=float(lat.max()), fps=(tally.n - 1) / wall if wall > 0 else nan,
                   seconds=tally.n / tally.fps, wall_seconds=tally.last_shown - tally.started,
                   stages=dict(stages or {}))

    def summary(self) -> str:
        return (f"{self.frames} frames ({self.seconds:.1f} s of video) in {self.wall_seconds:.1f} s: first frame "
                f"{self.first_frame_ms:.0f} ms after the first audio ({self.first_frame_compute_ms:.0f} ms after its "
                f"own audio), latency p50 {self.latency_p50_ms:.0f} ms / p95 {self.latency_p95_ms:.0f} ms, "
                f"{self.fps:.1f} frames/s, {self.late} late (> {self.budget_ms:.0f} ms), {self.dropped} dropped")

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def chunks_of(source: Iterable, announced_rate: int) -> Iterator[AudioChunk]:
    """Normalise what a caller streams: arrays (at the announced rate), (samples, rate) pairs or AudioChunks."""
    for item in source:
        if isinstance(item, AudioChunk):
            chunk = item
        elif isinstance(item, tuple) and len(item) == 2:
            chunk = AudioChunk(item[0], int(item[1]))
        else:
            chunk = AudioChunk(item)
        if chunk.rate is not None and int(chunk.rate) != announced_rate:
            raise StreamError(f"a chunk came at {chunk.rate} Hz but the stream was announced at {announced_rate} Hz; "
                              "resample it, or start the stream with sample_rate=" + str(chunk.rate))
        yield chunk


def frame_cost_ms(features_ms: float, window_ms: float, stride: int, render_ms: float, encode_ms: float = 0.0
                  ) -> float:
    """What one streamed frame costs: its features, a 1/stride share of a motion window (a window is drawn every
    ``stride`` frames), its render and its encode (chapter 09's budget)."""
    return features_ms + window_ms / stride + render_ms + encode_ms


def batch_rates(batch: int, batch_ms: float) -> tuple[float, float]:
    """A render batch of ``batch`` frames that takes ``batch_ms``: (frames per second, ms until its first frame
    leaves). Batching raises the first and, live, the second (chapter 09)."""
    return 1000.0 * batch / batch_ms, float(batch_ms)
