"""Where frames go: an mp4 file (written under a temporary name, renamed when complete), or a live consumer.

A sink takes frames as they are made and never holds the video whole. :class:`Mp4Sink` is the file every command
writes: killed midway (even by SIGKILL) it leaves no file under the asked name that looks like a finished video,
only a hidden ``.NAME.partial.mp4`` that the next run replaces.

Every video we make says so (chapter 11): its frames arrive marked with the invisible watermark (by the
:class:`~vasa_lab.pipeline.Avatar` or the offline :class:`~vasa_lab.pipeline.animate.Animator`), and the sink signs the
finished file with content credentials (C2PA) before it gets its name, so a file under the asked name is always
complete and signed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..media import FPS, Mp4Writer, OriginalAudio, check_output_path


class Mp4Sink:
    """An mp4 (H.264 + AAC at 25 fps) written a batch at a time; the finished file appears only on :meth:`close`.

    ``audio``: an :class:`~vasa_lab.media.OriginalAudio` (the user's file, muxed as it is: offline) or None;
    ``audio_rate``: instead, the rate of the samples passed with each batch (streaming).
    ``credentials``: the settings to sign into the file's C2PA manifest on :meth:`close` (None: unsigned), with ``key`` (a PEM file
    with a private key and its certificate chain; None: the local TEST certificate)."""

    def __init__(self, path, width: int, height: int, audio: OriginalAudio | None = None,
                 audio_rate: int | None = None, fps: float = FPS, credentials: dict | None = None, key=None):
        self.path = check_output_path(path)
        self.credentials, self.key = credentials, key
        self.signed = False
        self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.writer = Mp4Writer(self.partial, width, height, fps, audio, audio_rate=audio_rate)
        self.n_frames = 0
        self.closed = False

    def write(self, frames: np.ndarray, audio: np.ndarray | None = None) -> None:
        self.writer.write(frames, audio)
        self.n_frames += 1 if np.asarray(frames).ndim == 3 else len(frames)

    def close(self) -> Path:
        """Flush, sign (if asked), and give the file its name. A file that cannot be signed is kept unsigned, with
        a :class:`~vasa_lab.provenance.CredentialsWarning` saying why (its frames still carry the watermark)."""
        if not self.closed:
            self.closed = True
            try:
                self.writer.close()
                if self.credentials is not None:
                    from ..provenance import CredentialsError, CredentialsWarning, attach_credentials

                    try:
                        attach_credentials(self.partial, self.credentials, self.key)
                        self.signed = True
                    except CredentialsError as err:
                        import warnings

                        warnings.warn(f"the video is not signed: {err}", CredentialsWarning, stacklevel=2)
                self.partial.replace(self.path)
            except BaseException:
                self.partial.unlink(missing_ok=True)
                raise
        return self.path

    def abort(self) -> None:
        """Stop without a file (the partial one is deleted)."""
        if not self.closed:
            self.closed = True
            try:
                self.writer.close()
            finally:
                self.partial.unlink(missing_ok=True)

    def __enter__(self) -> "Mp4Sink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
