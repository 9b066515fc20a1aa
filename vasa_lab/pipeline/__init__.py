"""The whole pipeline, as parts a student can name (chapters 08 and 09); one engine for offline video and live audio.

* ``avatar``    - :class:`Avatar`: the trained models and ONE portrait's appearance, encoded once;
  :meth:`Avatar.stream` turns audio chunks into frames as they arrive;
* the motion stream lives with the motion generator: :class:`vasa_lab.motion.stream.MotionStream` (sliding windows
  with their context ``X_pre, A_pre``, the lookahead and the stride), and the audio's with the audio features:
  :class:`vasa_lab.audio.stream.StreamingFeatures`;
* ``renderer``  - :class:`FrameRenderer`: motion codes -> frames, batched or one at a time; device and precision;
* ``sinks``     - :class:`Mp4Sink`: an mp4 written as frames come (atomic: complete, or not there);
* ``streaming`` - audio sources (:func:`file_chunks`, :func:`array_chunks` at real-time pace or not,
  :class:`LiveAudio` for a microphone), :class:`StreamFrame` (a frame with its audio and times),
  :class:`StreamReport` (latency, frames/s, late and dropped frames);
* ``player``    - :class:`LivePlayer`: the avatar talking inside a JupyterLab cell, with sliders (ipywidgets).

Offline, ``vasa-lab animate`` is :class:`vasa_lab.pipeline.animate.Animator`: the same MotionStream with whole windows, the
same FrameRenderer and an Mp4Sink, with the user's original audio muxed in.
"""
from .avatar import Avatar, default_budget, stream_to_mp4
from .renderer import FrameRenderer
from .sinks import Mp4Sink
from .streaming import (AudioChunk, LiveAudio, StreamError, StreamFrame, StreamReport, array_chunks, chunks_of,
                        file_chunks)

__all__ = ["AudioChunk", "Avatar", "FrameRenderer", "LiveAudio", "Mp4Sink", "StreamError", "StreamFrame",
           "StreamReport", "array_chunks", "chunks_of", "default_budget", "file_chunks", "stream_to_mp4"]


def __getattr__(name):          # the player needs ipywidgets: imported when asked for
    if name == "LivePlayer":
        from .player import LivePlayer

        return LivePlayer
    raise AttributeError(name)
