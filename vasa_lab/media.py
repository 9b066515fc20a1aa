"""Reading and writing video, audio and images: PyAV for mp4 (H.264 + AAC), soundfile for wav, soxr for resampling.

* audio: :func:`load_audio`, :func:`resample`, :func:`write_wav`; :class:`OriginalAudio` streams a file's own audio
  (its rate and channels) into a video without decoding it whole;
* video: :func:`read_video`, :func:`video_info`, :func:`write_mp4` (a whole array) and :class:`Mp4Writer` (a batch of
  frames at a time, with audio muxed alongside: what every generated video goes through);
* images: :func:`read_portrait` (any file OpenCV reads, or an array -> RGB uint8, size-capped before decoding);
* paths: :func:`check_output_path` (a video's path, checked before any slow work).

Every function here turns a bad file into a :class:`MediaError` with one clear sentence, so a caller can report it
and move on to the next file instead of stopping on a traceback.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

FPS = 25.0              # every video here runs at 25 frames a second
SAMPLE_RATE = 16_000    # and every model hears 16 kHz mono
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


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


def read_video(path: str | Path | bytes, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video's frames -> ((T, H, W, 3) uint8 RGB, fps). ``path`` may also be the file's bytes (a clip
    inside a shard)."""
    import io

    import av

    if isinstance(path, (bytes, bytearray)):
        source, path = io.BytesIO(path), Path("a video in memory")
    else:
        path = Path(path)
        if not path.is_file():
            raise MediaError(f"{path}: no such video file")
        if path.stat().st_size == 0:
            raise MediaError(f"{path}: the file is empty")
        source = str(path)
    frames = []
    try:
        with av.open(source) as container:
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


# ---------------------------------------------------------------------------------------------------------------
# any frame rate -> 25 fps: the one resampling rule (by timestamp, nearest frame)
# ---------------------------------------------------------------------------------------------------------------
def resample_indices(times: np.ndarray, fps: float, duration: float | None = None) -> np.ndarray:
    """Which source frame each output frame shows: output frame n (time n / fps) takes the source frame with the
    nearest timestamp. ``times`` (N,) seconds from the first frame; ``duration`` defaults to the last time plus one
    median frame step. -> (round(duration * fps),) int64. (The reference for :func:`read_video_segments`.)"""
    times = np.asarray(times, np.float64)
    if duration is None:
        step = float(np.median(np.diff(times))) if times.size > 1 else 1.0 / fps
        duration = times[-1] + step
    n_out = int(np.ceil(duration * fps - 1e-6))
    midpoints = (times[1:] + times[:-1]) / 2          # frame k covers [mid_{k-1}, mid_k)
    return np.searchsorted(midpoints, np.arange(n_out) / fps + 1e-9, side="left").astype(np.int64)


def read_video_segments(path: str, fps: float, segment_frames: int, min_frames: int):
    """Decode a video, resample it to ``fps`` by timestamp and yield it in segments, never holding more than one
    segment (plus ``min_frames``) in memory.

    Yields (segment index, first output frame, frames (T, H, W, 3) uint8, source frame index (T,), cut) where
    ``cut`` says whether the video was cut into several segments. A segment is cut off once the buffer holds
    ``segment_frames + min_frames`` frames, so the last segment is never shorter than ``min_frames`` (unless the
    whole video is).
    """
    import av

    segment_frames = segment_frames if segment_frames > 0 else 1 << 60
    min_frames = max(1, min_frames)
    with av.open(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: the file has no video track")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        src_fps = float(rate) if rate else 0.0
        buffer, sources = [], []
        out_n, segment, emitted = 0, 0, 0
        prev, prev_arr, prev_t, t0, last_step, n_in = None, None, 0.0, None, 1.0 / fps, 0

        def push(until: float) -> None:
            nonlocal out_n, prev_arr
            while out_n / fps < until - 1e-9:
                if prev_arr is None:
                    prev_arr = prev.to_ndarray(format="rgb24")
                buffer.append(prev_arr)
                sources.append(n_in - 1)
                out_n += 1

        for frame in container.decode(stream):
            t = frame.time if frame.time is not None else n_in / (src_fps or fps)
            if t0 is None:
                t0 = t
            t = max(t - t0, prev_t)
            if prev is not None:
                if t > prev_t:
                    last_step = t - prev_t
                push((prev_t + t) / 2)
            prev, prev_arr, prev_t = frame, None, t
            n_in += 1
            if len(buffer) >= segment_frames + min_frames:
                yield segment, emitted, np.stack(buffer[:segment_frames]), np.array(sources[:segment_frames]), True
                emitted += segment_frames
                del buffer[:segment_frames], sources[:segment_frames]
                segment += 1
        if prev is None:
            raise MediaError(f"{path}: the video has no frames")
        push(prev_t + (1.0 / src_fps if src_fps else last_step))
        if buffer:
            yield segment, emitted, np.stack(buffer), np.array(sources), segment > 0


def to_fps(frames: np.ndarray, fps: float, target: float = FPS) -> np.ndarray:
    """Frames decoded at ``fps`` (constant rate) -> ``target`` fps by :func:`resample_indices` (no change when the
    rates agree)."""
    if abs(fps - target) < 0.01:
        return frames
    return frames[resample_indices(np.arange(len(frames)) / fps, target)]


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


# ---------------------------------------------------------------------------------------------------------------
# the output path: checked before any work
# ---------------------------------------------------------------------------------------------------------------
def check_output_path(out: str | Path) -> Path:
    """The video's path, made ready: its folder exists and a file can be created there; else a clear ValueError.

    Called first, so a typo in ``--out`` costs nothing (not after minutes of generation)."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise ValueError(f"the video's name must end in .mp4, got {out.name!r}")
    if out.is_dir():
        raise ValueError(f"cannot write the video to {out}: it is a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, FileExistsError) as err:
        raise ValueError(f"cannot write the video to {out}: cannot create the folder {out.parent} "
                         f"({err.strerror or err})") from None
    existed = out.exists()
    try:
        with open(out, "ab"):
            pass
    except OSError as err:
        raise ValueError(f"cannot write the video to {out} ({err.strerror or err})") from None
    if not existed:
        out.unlink(missing_ok=True)
    return out




# ---------------------------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------------------------
def _to_rgb8(img: np.ndarray, what: str) -> np.ndarray:
    """Any image array cv2 can give (gray, gray+alpha, 3 or 4 channels BGR(A); uint8/uint16/float) -> RGB uint8.

    Arrays passed in by a caller are taken as RGB(A); files read by cv2 are BGR(A) and flipped before this."""
    img = np.asarray(img)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif np.issubdtype(img.dtype, np.floating):
        if not np.all(np.isfinite(img)):
            raise ValueError(f"{what}: the image holds NaN or infinite values")
        img = (np.clip(img, 0.0, 1.0 if img.max() <= 1.0 else 255.0) * (255.0 if img.max() <= 1.0 else 1.0))
        img = img.round().astype(np.uint8)
    elif img.dtype == np.bool_:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        raise ValueError(f"{what}: unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{what}: expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {img.shape}")
    if img.shape[-1] in (2, 4):                  # with alpha: lay the picture on a light grey background
        alpha = img[..., -1:].astype(np.float32) / 255.0
        colour = img[..., :-1].astype(np.float32)
        img = (colour * alpha + 200.0 * (1 - alpha)).round().astype(np.uint8)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    if min(img.shape[:2]) < 32:
        raise ValueError(f"{what}: the image is {img.shape[1]}x{img.shape[0]} pixels; a face needs at least 32")
    return np.ascontiguousarray(img)


MAX_PORTRAIT_PIXELS = 40_000_000   # 40 megapixels (e.g. 8000 x 5000): decoded, that is 120 MB of RGB


def _check_pixel_count(width: int, height: int, what: str) -> None:
    if width * height > MAX_PORTRAIT_PIXELS:
        raise ValueError(f"{what}: the image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
                         f"the limit is {MAX_PORTRAIT_PIXELS / 1e6:.0f} megapixels, so shrink it first")


def read_portrait(image) -> np.ndarray:
    """A portrait as (H, W, 3) uint8 RGB, from a file path (anything OpenCV reads: png, jpg, bmp, tiff, webp, ...;
    gray, 16-bit and RGBA included; EXIF rotation applied) or an array (RGB, RGBA or gray)."""
    if isinstance(image, (str, Path)):
        import cv2

        path = Path(image)
        if path.is_dir():
            raise ValueError(f"{path}: is a folder, not an image file")
        if path.is_symlink() and not path.exists():
            raise ValueError(f"{path}: a symbolic link that leads nowhere (broken or looping)")
        if not path.is_file():
            raise ValueError(f"{path}: no such image file")
        try:                                               # the header alone: refuse a huge image before decoding it
            from PIL import Image

            with Image.open(path) as probe:
                _check_pixel_count(*probe.size, str(path))
        except ValueError:
            raise
        except Image.DecompressionBombError:           # PIL's own guard, above ~179 megapixels
            raise ValueError(f"{path}: the image is larger than {MAX_PORTRAIT_PIXELS / 1e6:.0f} megapixels; "
                             "shrink it first") from None
        except Exception:                                  # not a format PIL knows: OpenCV decides below
            pass
        data = np.fromfile(str(path), np.uint8)            # (np.fromfile + imdecode also handles non-ASCII paths)
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        if raw is None:
            raise ValueError(f"{path}: not a readable image (OpenCV cannot decode it)")
        if raw.ndim == 3 and raw.shape[-1] == 4:           # keep the alpha channel: BGRA -> RGBA
            raw = cv2.cvtColor(raw, cv2.COLOR_BGRA2RGBA)
        else:                                              # IMREAD_COLOR applies the EXIF orientation
            raw = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
        return _to_rgb8(raw, str(path))
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image_bytes(bytes(image))
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            _check_pixel_count(image.shape[1], image.shape[0], "portrait")
        return _to_rgb8(image, "portrait")
    raise ValueError(f"the portrait must be an image file path, its bytes or a numpy array, got {type(image).__name__}")


IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"RIFF": "webp", b"BM": "bmp"}


def decode_image_bytes(data: bytes, name: str = "the uploaded image", max_pixels: int | None = None) -> np.ndarray:
    """An image file's bytes (PNG, JPEG, WebP or BMP, recognised by their first bytes, not by a name or a declared
    type) -> (H, W, 3) uint8 RGB, refusing an image over ``max_pixels`` (default :data:`MAX_PORTRAIT_PIXELS`) from
    its header before decoding it. Nothing is written."""
    import io

    import cv2
    from PIL import Image

    kind = next((k for sig, k in IMAGE_SIGNATURES.items() if data.startswith(sig)), None)
    if kind == "webp" and data[8:12] != b"WEBP":
        kind = None
    if kind is None:
        raise ValueError(f"{name} is not a PNG, JPEG, WebP or BMP image")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
        if w * h > (max_pixels or MAX_PORTRAIT_PIXELS):
            raise ValueError(f"{name} is {w}x{h} pixels ({w * h / 1e6:.1f} megapixels); the limit is "
                             f"{(max_pixels or MAX_PORTRAIT_PIXELS) / 1e6:.0f} megapixels, so shrink it first")
    except ValueError:
        raise
    except Image.DecompressionBombError:
        raise ValueError(f"{name} is larger than {MAX_PORTRAIT_PIXELS / 1e6:.0f} megapixels; shrink it first") from None
    except Exception:
        raise ValueError(f"{name} is not a readable image (its header is damaged)") from None
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if raw is None:
        raise ValueError(f"{name} is not a readable image (it cannot be decoded)")
    return _to_rgb8(raw[..., ::-1], name)


# ---------------------------------------------------------------------------------------------------------------
# the original audio, decoded a piece at a time (for muxing)
# ---------------------------------------------------------------------------------------------------------------
class OriginalAudio:
    """The speech exactly as the user gave it (its own sample rate, mono or stereo), as a stream of PyAV audio
    frames for the video's AAC track; never decoded whole. ``source``: a file path, or a mono float array at
    ``sample_rate``. Raises MediaError for a file without a readable audio track."""

    def __init__(self, source, sample_rate: int = SAMPLE_RATE, chunk: int = 16_384):
        self.source, self.chunk = source, int(chunk)
        if isinstance(source, (str, Path)):
            import av

            path = Path(source)
            if not path.is_file():
                raise MediaError(f"{path}: no such audio file")
            if path.stat().st_size == 0:
                raise MediaError(f"{path}: the file is empty")
            try:
                with av.open(str(path)) as container:
                    if not container.streams.audio:
                        raise MediaError(f"{path}: the file has no audio track")
                    stream = container.streams.audio[0]
                    rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
                    seconds = (float(stream.duration * stream.time_base) if stream.duration else
                               float(container.duration / 1e6) if container.duration else None)
            except MediaError:
                raise
            except Exception as err:    # PyAV raises many error types for broken or unsupported files
                raise MediaError(f"{path}: not a readable audio file ({type(err).__name__}: {err})") from None
            self.in_rate = int(rate)
            self.layout = "stereo" if channels >= 2 else "mono"
            self.seconds = seconds
        else:
            audio = np.asarray(source, np.float32)
            if audio.ndim != 1:
                raise ValueError(f"audio arrays must be mono (samples,), got shape {audio.shape}")
            self.source = audio
            self.in_rate = int(sample_rate)
            self.layout = "mono"
            self.seconds = audio.size / sample_rate
        self.rate = self.in_rate if self.in_rate in AAC_RATES else 48_000

    def frames(self) -> Iterator:
        """PyAV AudioFrames (fltp, ``self.layout``, ``self.rate``) with their pts in samples, start to end."""
        import av

        pts = 0
        if isinstance(self.source, np.ndarray):
            resampler = None
            if self.rate != self.in_rate:
                resampler = av.AudioResampler(format="fltp", layout="mono", rate=self.rate)
            for start in range(0, self.source.size, self.chunk):
                piece = np.clip(self.source[start:start + self.chunk], -1, 1)[None]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(piece), format="fltp", layout="mono")
                frame.sample_rate = self.in_rate
                outs = resampler.resample(frame) if resampler else [frame]
                for out in outs:
                    out.pts, out.time_base = pts, Fraction(1, self.rate)
                    pts += out.samples
                    yield out
            if resampler:
                for out in resampler.resample(None):
                    out.pts, out.time_base = pts, Fraction(1, self.rate)
                    pts += out.samples
                    yield out
            return
        resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
        with av.open(str(self.source)) as container:
            stream = container.streams.audio[0]
            for decoded in container.decode(stream):
                decoded.pts = None
                for out in resampler.resample(decoded):
                    out.pts, out.time_base = pts, Fraction(1, self.rate)
                    pts += out.samples
                    yield out
            for out in resampler.resample(None):
                out.pts, out.time_base = pts, Fraction(1, self.rate)
                pts += out.samples
                yield out


# ---------------------------------------------------------------------------------------------------------------
# a streaming mp4 writer
# ---------------------------------------------------------------------------------------------------------------
class Mp4Writer:
    """Write an mp4 a batch of frames at a time (H.264, yuv420p), with an audio track muxed alongside.

    ``media.write_mp4`` takes the whole video as one array; an hour at 25 fps does not fit, so here frames arrive
    in batches (:meth:`write`) and go straight to the encoder. The audio (an :class:`OriginalAudio`) is encoded
    as the video advances, always up to ``lead`` seconds ahead of it, so the file is interleaved and neither
    stream is buffered whole. Use as a context manager; :meth:`close` flushes both encoders.

    For a stream, where the audio arrives with the frames, give ``audio_rate`` instead of ``audio`` and pass each
    batch's own samples (mono float32 at that rate) to :meth:`write` as ``audio=``.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float = FPS, audio: OriginalAudio | None = None,
                 crf: int = 18, lead: float = 1.0, audio_rate: int | None = None):
        import av

        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.pad = (self.height % 2, self.width % 2)    # H.264 in yuv420p needs even sizes: pad odd ones by a pixel
        self.fps = float(fps)
        self.lead = float(lead)
        self.n_frames = 0
        try:
            self.container = av.open(str(self.path), mode="w")
        except Exception as err:
            raise MediaError(f"{self.path}: cannot write the video ({err})") from None
        try:
            self._open_streams(audio, crf, audio_rate)
        except BaseException:
            self.container.close()
            raise

    def _open_streams(self, audio, crf: int, audio_rate: int | None) -> None:
        self.video = self.container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1000))
        self.video.width, self.video.height = self.width + self.pad[1], self.height + self.pad[0]
        self.video.pix_fmt = "yuv420p"
        self.video.options = {"crf": str(crf), "preset": "veryfast"}
        self.video.codec_context.thread_count = 1     # deterministic output
        self.audio = audio
        self.astream = None
        self._afr = None
        self.audio_seconds = 0.0
        if audio is not None:
            self.astream = self.container.add_stream("aac", rate=audio.rate)
            self.astream.layout = audio.layout
            self._afr = audio.frames()
        self.audio_rate = None
        if audio is None and audio_rate is not None:
            if int(audio_rate) not in AAC_RATES:
                raise MediaError(f"{self.path}: AAC cannot carry {audio_rate} Hz audio; use one of {AAC_RATES}")
            self.audio_rate = int(audio_rate)
            self.astream = self.container.add_stream("aac", rate=self.audio_rate)
            self.astream.layout = "mono"
            self._apts = 0

    def _mux_audio(self, until: float | None) -> None:
        """Encode audio until it reaches ``until`` seconds (None: to the end)."""
        if self._afr is None:
            return
        while until is None or self.audio_seconds < until:
            frame = next(self._afr, None)
            if frame is None:
                self._afr = None
                for packet in self.astream.encode(None):
                    self.container.mux(packet)
                return
            for packet in self.astream.encode(frame):
                self.container.mux(packet)
            self.audio_seconds = (frame.pts + frame.samples) / frame.sample_rate

    def write(self, frames: np.ndarray, audio: np.ndarray | None = None) -> None:
        """Append frames: (N, H, W, 3) uint8 RGB (or one (H, W, 3) frame); with ``audio_rate``, also their audio."""
        import av

        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3) or frames.dtype != np.uint8:
            raise MediaError(f"{self.path}: frames must be (N, {self.height}, {self.width}, 3) uint8, got "
                             f"{frames.shape} {frames.dtype}")
        if audio is not None:
            if self.audio_rate is None:
                raise MediaError(f"{self.path}: this writer was not opened for streamed audio (audio_rate=...)")
            samples = np.clip(np.asarray(audio, np.float32).reshape(1, -1), -1, 1)
            if samples.size:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="flt", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = self.audio_rate, self._apts, Fraction(1, self.audio_rate)
                self._apts += samples.shape[1]
                for packet in self.astream.encode(frame):
                    self.container.mux(packet)

        if any(self.pad):
            frames = np.pad(frames, ((0, 0), (0, self.pad[0]), (0, self.pad[1]), (0, 0)), mode="edge")
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = self.n_frames
            for packet in self.video.encode(frame):
                self.container.mux(packet)
            self.n_frames += 1
        self._mux_audio(self.n_frames / self.fps + self.lead)

    def close(self) -> None:
        if self.container is None:
            return
        try:
            for packet in self.video.encode(None):
                self.container.mux(packet)
            self._mux_audio(None)
            if self.audio_rate is not None:
                for packet in self.astream.encode(None):
                    self.container.mux(packet)
        finally:
            self.container.close()
            self.container = None

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
