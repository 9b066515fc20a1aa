"""Reading and writing video and audio: PyAV for mp4 (H.264 + AAC), soundfile for wav, soxr for resampling.

Every function here turns a bad file into a :class:`MediaError` with one clear sentence, so a caller can report it
and move on to the next file instead of stopping on a traceback.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


class MediaError(ValueError):
    """A media file could not be read or written; the message says which file and why."""


# ---------------------------------------------------------------------------------------------------------------
# audio
# ---------------------------------------------------------------------------------------------------------------
def to_mono(audio: np.ndarray) -> np.ndarray:
    """(samples,) or (samples, channels) -> (samples,) by averaging the channels."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality). Mono (samples,) float32 in and out."""
    if rate_in == rate_out:
        return np.asarray(audio, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(audio, dtype=np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write mono float audio in [-1, 1] as 16-bit PCM wav."""
    import soundfile as sf

    path = Path(path)
    sf.write(str(path), np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), sample_rate, subtype="PCM_16")
    return path


def load_audio(path: str | Path, sample_rate: int = 16_000, max_seconds: float | None = None) -> np.ndarray:
    """Any audio file (wav, flac, ogg, mp3, m4a, or the audio track of a video) -> mono float32 at ``sample_rate``.

    Stereo is averaged to mono and any input rate is resampled. ``max_seconds`` stops reading after that much
    audio, so a one-hour file never has to sit whole in memory when only its start is needed.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty")
    import soundfile as sf

    try:
        info = sf.info(str(path))
        frames = -1 if max_seconds is None else int(max_seconds * info.samplerate)
        audio, rate = sf.read(str(path), frames=frames, dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError):
        audio, rate = _decode_audio_with_av(path, max_seconds)
    audio = to_mono(audio)
    if audio.size == 0:
        raise MediaError(f"{path}: the file holds no audio samples")
    return resample(audio, int(rate), sample_rate)


def _decode_audio_with_av(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path}: the file has no audio track")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.codec_context.sample_rate)
            rate = stream.codec_context.sample_rate
            chunks, total = [], 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if max_seconds is not None and total >= max_seconds * rate:
                    break
    except MediaError:
        raise
    except Exception as err:  # PyAV raises many error types for broken or unsupported files
        raise MediaError(f"{path}: not a readable audio file ({type(err).__name__}: {err})") from None
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if max_seconds is not None:
        audio = audio[: int(max_seconds * rate)]
    return audio.astype(np.float32), rate


# ---------------------------------------------------------------------------------------------------------------
# video
# ---------------------------------------------------------------------------------------------------------------
def write_mp4(path: str | Path, frames: np.ndarray, fps: float = 25.0, audio: np.ndarray | None = None,
              sample_rate: int = 16_000, crf: int = 18) -> Path:
    """Write frames (T, H, W, 3) uint8 RGB as H.264 (yuv420p) with optional mono audio as AAC.

    H.264 in yuv420p needs even sizes; odd sizes are padded by one pixel. ``crf`` 18 is visually lossless.
    """
    import av

    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise MediaError(f"{path}: frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    t, h, w, _ = frames.shape
    pad_h, pad_w = h % 2, w % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    rate = Fraction(fps).limit_denominator(1000)
    try:
        with av.open(str(path), mode="w") as container:
            video = container.add_stream("libx264", rate=rate)
            video.width, video.height = w + pad_w, h + pad_h
            video.pix_fmt = "yuv420p"
            video.options = {"crf": str(crf), "preset": "veryfast"}
            # deterministic output: no threads racing, no wall-clock metadata
            video.codec_context.thread_count = 1
            astream = None
            if audio is not None:
                astream = container.add_stream("aac", rate=sample_rate)
                astream.layout = "mono"
            for i in range(t):
                frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
                frame.pts = i
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
            if astream is not None:
                samples = np.clip(np.asarray(audio, dtype=np.float32), -1, 1).reshape(1, -1)
                step = 1024 * 16
                for start in range(0, samples.shape[1], step):
                    chunk = np.ascontiguousarray(samples[:, start:start + step])
                    aframe = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                    aframe.sample_rate = sample_rate
                    aframe.pts = start
                    for packet in astream.encode(aframe):
                        container.mux(packet)
                for packet in astream.encode():
                    container.mux(packet)
    except OSError as err:
        raise MediaError(f"{path}: cannot write the video ({err})") from None
    return path


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video's frames -> ((T, H, W, 3) uint8 RGB, fps)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty")
    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: the file has no video track")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25.0)
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except MediaError:
        raise
    except Exception as err:
        raise MediaError(f"{path}: not a readable video ({type(err).__name__}: {err})") from None
    if not frames:
        raise MediaError(f"{path}: the video has no frames")
    return np.stack(frames), fps


def video_info(path: str | Path) -> dict:
    """Duration, frame rate, size and whether there is audio, without decoding the frames."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            info = {"has_audio": bool(container.streams.audio), "has_video": bool(container.streams.video)}
            if container.streams.video:
                s = container.streams.video[0]
                info.update(width=s.codec_context.width, height=s.codec_context.height,
                            fps=float(s.average_rate or s.guessed_rate or 0), frames=s.frames)
            info["seconds"] = float(container.duration / 1e6) if container.duration else None
            return info
    except Exception as err:
        raise MediaError(f"{path}: not a readable media file ({type(err).__name__}: {err})") from None
