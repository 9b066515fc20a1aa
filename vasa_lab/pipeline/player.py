"""The avatar talking inside a JupyterLab cell, with sliders (ipywidgets).

::

    player = LivePlayer(avatar)
    player                                         # shows the face, the sliders and the live numbers
    player.play(file_chunks("speech.wav", realtime=True))     # returns at once; the stream runs in a thread
    player.wait()                                  # (only where a cell must block, e.g. in a test)

The stream runs in a background thread so that the notebook's kernel stays free to hear the sliders: moving one
calls :meth:`Avatar.set_conditions`, which the motion stream applies from its next window (``stride`` frames
later: 160 ms by default). Each frame is JPEG-encoded and sent to the browser as the widget's new value; the
label shows the frame number, the latency of the last frame and the frame rate. The sound is not played by the
widget (a browser plays audio from a notebook only through its own player); the same stream written with
:func:`vasa_lab.pipeline.avatar.stream_to_mp4` has it.
"""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from ..media import SAMPLE_RATE
from ..motion.config import LIVE_AUDIO_GUIDANCE


class LivePlayer:
    """A face that updates as frames arrive, and controls for gaze, head distance, emotion and audio guidance."""

    def __init__(self, avatar, display_size: int = 256):
        import ipywidgets as w

        from ..world.behaviour import EMOTIONS

        self.avatar = avatar
        self.display_size = int(display_size)
        h, wd = avatar.frame_size
        scale = self.display_size / max(h, wd)
        self._size = (max(1, round(wd * scale)), max(1, round(h * scale)))
        self.image = w.Image(format="jpeg", value=self._jpeg(np.full((h, wd, 3), 235, np.uint8)),
                             width=self._size[0], height=self._size[1])
        style = dict(description_width="110px")
        self.use_gaze = w.Checkbox(value=False, description="steer the gaze")
        self.gaze_yaw = w.FloatSlider(value=0, min=-30, max=30, step=1, description="gaze yaw (deg)", style=style)
        self.gaze_pitch = w.FloatSlider(value=0, min=-20, max=20, step=1, description="gaze pitch (deg)", style=style)
        self.distance = w.FloatSlider(value=1.0, min=0.8, max=1.25, step=0.05, description="distance", style=style)
        self.emotion = w.Dropdown(options=["(none)", *EMOTIONS], value="(none)", description="emotion", style=style)
        self.audio_scale = w.FloatSlider(value=LIVE_AUDIO_GUIDANCE, min=0, max=2, step=0.1,
                                         description="audio guidance", style=style)
        self.stats = w.HTML(value="<code>ready</code>")
        for control in (self.use_gaze, self.gaze_yaw, self.gaze_pitch, self.distance, self.emotion,
                        self.audio_scale):
            control.observe(self._apply, names="value")
        self.widget = w.HBox([self.image, w.VBox([self.use_gaze, self.gaze_yaw, self.gaze_pitch, self.distance,
                                                  self.emotion, self.audio_scale, self.stats])])
        self.frames_shown = 0
        self.changes_applied = 0
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # -- controls --------------------------------------------------------------------------------------------------
    def conditions(self):
        """The sliders as :class:`~vasa_lab.motion.MotionConditions`."""
        from ..motion import MotionConditions

        emotion = None if self.emotion.value == "(none)" else self.emotion.value
        gaze = (self.gaze_yaw.value, self.gaze_pitch.value) if self.use_gaze.value else None
        return MotionConditions(gaze=gaze, distance=self.distance.value, emotion=emotion)

    def _apply(self, _change=None) -> None:
        if self._thread is not None and self._thread.is_alive() and self.avatar._motion_stream is not None:
            self.avatar.set_conditions(self.conditions(), audio=self.audio_scale.value)
            self.changes_applied += 1

    # -- playing ---------------------------------------------------------------------------------------------------
    def _jpeg(self, frame: np.ndarray) -> bytes:
        big = cv2.resize(frame, self._size, interpolation=cv2.INTER_CUBIC) if frame.shape[1] != self._size[0] else frame
        ok, data = cv2.imencode(".jpg", big[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        return data.tobytes()

    def play(self, chunks, sample_rate: int = SAMPLE_RATE, **options) -> "LivePlayer":
        """Start streaming ``chunks`` (see :meth:`Avatar.stream`; ``realtime=True`` by default) in a thread."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the player is already playing; call stop() first")
        options.setdefault("realtime", True)
        options.setdefault("cond", self.conditions())
        options.setdefault("audio_scale", self.audio_scale.value)
        self._stop.clear()
        self.error = None
        self._chunks = chunks
        self._thread = threading.Thread(target=self._run, args=(chunks, sample_rate, options), daemon=True)
        self._thread.start()
        return self

    def _run(self, chunks, sample_rate: int, options: dict) -> None:
        started = time.perf_counter()
        stream = self.avatar.stream(chunks, sample_rate, **options)
        try:
            for frame in stream:
                if self._stop.is_set():
                    break
                if frame.image is not None:
                    self.image.value = self._jpeg(frame.image)
                self.frames_shown += 1
                wall = time.perf_counter() - started
                self.stats.value = (f"<code>frame {frame.index} ({frame.time:.1f} s)<br>latency "
                                    f"{frame.latency * 1e3:.0f} ms<br>{self.frames_shown / max(wall, 1e-6):.1f} "
                                    f"frames/s</code>")
        except BaseException as err:                      # shown on the label, kept for whoever waits
            self.error = err
            self.stats.value = f"<code>stopped: {type(err).__name__}: {err}</code>"
        finally:
            stream.close()
            report = self.avatar.last_report
            if report is not None and self.error is None:
                self.stats.value = (f"<code>{report.frames} frames, latency p50 {report.latency_p50_ms:.0f} ms / "
                                    f"p95 {report.latency_p95_ms:.0f} ms<br>{report.fps:.1f} frames/s, "
                                    f"{report.late} late</code>")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the stream (its resources are freed by the thread). A source waiting for audio (a quiet
        microphone) is closed, so the thread wakes up and ends."""
        self._stop.set()
        close = getattr(getattr(self, "_chunks", None), "close", None)
        if callable(close):
            try:
                close()
            except Exception:                           # a generator already running in the thread: it ends anyway
                pass
        self.wait(timeout)

    def wait(self, timeout: float | None = None):
        """Block until the stream has ended; returns its :class:`~vasa_lab.pipeline.StreamReport`."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.avatar.last_report
