"""One page's live stream: audio in, frames out, on a thread of its own.

A :class:`LiveSession` owns an :class:`~vasa_lab.pipeline.Avatar` (the chosen portrait), a bounded
:class:`~vasa_lab.pipeline.LiveAudio` queue and a thread that runs ``avatar.stream(..., realtime=True)`` over it,
JPEG-encodes each frame and hands it to ``send`` (which blocks while the socket is busy: a slow page slows its own
stream, whose late frames are then dropped, never queued without bound).

Two ways to feed it:

* ``mode="mic"``: the page's microphone, pushed with :meth:`push_audio` (each chunk tagged with the page's clock, so
  every frame can say when the audio it shows was captured). If the microphone goes quiet for a quarter of a second,
  silence is filled in and the face keeps listening;
* ``mode="text"``: sentences given to :meth:`say` are spoken by espeak-ng and fed at their natural pace by a pacer
  thread, with silence between them; each frame then carries its 40 ms of audio back, for the page to play.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Callable

import cv2
import numpy as np

from ..pipeline.streaming import LiveAudio
from .protocol import pack_frame

SILENCE_AFTER = 0.25          # seconds without microphone audio before silence is filled in
QUEUE_SECONDS = 2.0           # at most this much audio waits; older audio is dropped (and counted)
MAX_SENTENCES = 8             # typed sentences waiting to be spoken
MAX_SENTENCE_CHARS = 300


class LiveSession:
    def __init__(self, avatar, send: Callable[[bytes], None], mode: str = "mic", rate: int = 16_000,
                 lookahead: int = 2, stride: int = 4, jpeg_quality: int = 80, on_end: Callable | None = None):
        if mode not in ("mic", "text"):
            raise ValueError(f"mode must be 'mic' or 'text', not {mode!r}")
        self.avatar, self.send, self.mode = avatar, send, mode
        self.rate = int(rate) if mode == "mic" else 16_000
        self.lookahead, self.stride, self.jpeg_quality = lookahead, stride, jpeg_quality
        self.audio = LiveAudio(self.rate, max_seconds=QUEUE_SECONDS,
                               fill_silence_after=SILENCE_AFTER if mode == "mic" else None)
        self._clock: deque[tuple[int, float]] = deque()      # (samples into the stream at the chunk's end, page ms)
        self._clock_lock = threading.Lock()
        self._streamed = 0
        self._pending = None                      # (cond, scales) that arrived before the stream started
        self._sentences: queue.Queue = queue.Queue(MAX_SENTENCES)
        self._stop = threading.Event()
        self.on_end = on_end
        self.frames = self.dropped = 0
        self.error: str | None = None
        self.ended = threading.Event()
        self._threads = [threading.Thread(target=self._run, name="vasa-stream", daemon=True)]
        if mode == "text":
            self._threads.append(threading.Thread(target=self._pace, name="vasa-pacer", daemon=True))

    # -- inputs ----------------------------------------------------------------------------------------------------
    def start(self) -> "LiveSession":
        for t in self._threads:
            t.start()
        return self

    def push_audio(self, page_ms: float, samples: np.ndarray) -> None:
        """Microphone samples at ``self.rate``, captured at ``page_ms`` on the page's clock."""
        if self.mode != "mic":
            raise ValueError("this stream speaks typed sentences; start one with mode 'mic' to send audio")
        self.audio.put(samples, tag=float(page_ms))

    def say(self, text: str) -> float:
        """Queue a sentence (spoken now by espeak-ng, ~50 ms); returns its length in seconds."""
        from ..world.speech import synthesize

        if self.mode != "text":
            raise ValueError("this stream listens to the microphone; start one with mode 'text' to type")
        text = " ".join(str(text).split())
        if not text:
            raise ValueError("type a sentence first")
        if len(text) > MAX_SENTENCE_CHARS:
            raise ValueError(f"a sentence may be at most {MAX_SENTENCE_CHARS} characters")
        speech = synthesize(text, sample_rate=16_000).audio.astype(np.float32)
        try:
            self._sentences.put_nowait(speech)
        except queue.Full:
            raise ValueError(f"{MAX_SENTENCES} sentences are already waiting; let the avatar finish") from None
        return len(speech) / 16_000

    def set_controls(self, cond, **scales) -> None:
        """New gaze / distance / emotion and guidance scales, from the next window (or the first, if the stream has
        not drawn one yet). A bad value raises ValueError and changes nothing."""
        from ..pipeline.streaming import StreamError

        with self._clock_lock:
            try:
                self.avatar.set_conditions(cond, **scales)
            except StreamError:                    # not running yet: the stream takes them when it starts
                for name, value in scales.items():
                    if name not in ("audio", "gaze", "distance", "emotion") or not 0 <= float(value) <= 10:
                        raise ValueError(f"the {name} guidance scale must be between 0 and 10, got {value!r}") from None
                self._pending = (cond, scales)

    def stop(self, wait: float = 5.0) -> None:
        """End the stream and free it (idempotent; returns once the threads ended, or after ``wait`` seconds)."""
        self._stop.set()
        self.audio.close()
        for t in self._threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join(wait)

    # -- the threads -----------------------------------------------------------------------------------------------
    def _pace(self) -> None:
        """Text mode: 20 ms of audio every 20 ms, from the sentences or silence, like a microphone would."""
        step = self.rate // 50
        pending = np.zeros(0, np.float32)
        started, n = time.perf_counter(), 0
        while not self._stop.is_set():
            if pending.size == 0:
                try:
                    pending = self._sentences.get_nowait()
                except queue.Empty:
                    pending = np.zeros(step, np.float32)
            chunk, pending = pending[:step], pending[step:]
            try:
                self.audio.put(chunk)
            except Exception:                      # closed: the stream ended
                return
            n += 1
            delay = started + n * 0.02 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:                     # fell a second behind (a busy machine): do not burst to catch up
                started, n = time.perf_counter(), 0

    def _tagged(self):
        """The queue's chunks, noting where each page-stamped one ends in the stream."""
        for chunk in self.audio:
            if self._stop.is_set():
                return
            with self._clock_lock:
                if self._pending is not None:      # controls sent before the stream started
                    cond, scales = self._pending
                    self._pending = None
                    self.avatar.set_conditions(cond, **scales)
            self._streamed += len(chunk.samples)
            if chunk.tag is not None:
                with self._clock_lock:
                    self._clock.append((self._streamed, chunk.tag))
            yield chunk

    def _page_clock(self, index: int) -> float | None:
        """The page's clock when the audio of frame ``index`` (its 40 ms) had all been captured."""
        need = (index + 1) * self.rate / 25
        with self._clock_lock:
            while len(self._clock) > 1 and self._clock[0][0] < need:
                self._clock.popleft()
            return self._clock[0][1] if self._clock and self._clock[0][0] >= need else None

    def _run(self) -> None:
        stream = self.avatar.stream(self._tagged(), self.rate, lookahead=self.lookahead, stride=self.stride,
                                    realtime=True)
        try:
            for frame in stream:
                if self._stop.is_set():
                    break
                header = dict(type="frame", index=frame.index, dropped=bool(frame.dropped),
                              sent=self._page_clock(frame.index), server_ms=round(frame.latency * 1e3, 1))
                jpeg = b""
                if frame.image is not None:
                    ok, buf = cv2.imencode(".jpg", frame.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
                    jpeg = buf.tobytes() if ok else b""
                self.frames += 1
                self.dropped += bool(frame.dropped)
                self.send(pack_frame(header, jpeg, frame.audio if self.mode == "text" else None))
        except Exception as err:                    # the socket went away, or the stream failed: end quietly
            if not self._stop.is_set():
                self.error = " ".join(str(err).split()) or type(err).__name__
        finally:
            stream.close()
            self._stop.set()
            self.audio.close()
            self.ended.set()
            if self.on_end is not None:
                self.on_end(self)
