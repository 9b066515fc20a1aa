"""The main job: one portrait + one speech clip -> a talking-face video (``vasa-lab animate``).

Every earlier chapter built one stage; this module joins them, in the order VASA-1 runs them at inference:

    portrait --(02 tracker: 68 landmarks)--> aligned crop --(03 appearance encoder, ONCE)--> V_app, z_id
    speech   --(05 audio features, in chunks)--> A (T, D) at 25 fps
    A + controls (gaze g, distance d, emotion e) --(06 diffusion transformer, sliding windows)--> X = [z_pose, z_dyn]
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

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from .media import MediaError
from .tracking.tracker import NoFaceError

FPS = 25.0
SAMPLE_RATE = 16_000

# Where the face sits in a synthetic world frame at the neutral pose (yaw = pitch = roll = 0, scale 1), as
# fractions of the frame: the centre (x, y) and side of face_square(landmarks, scale=1). Measured with
# ``reference_framing()`` below on 12 unseen identities at 256 px: the true landmarks give (0.498, 0.430, 0.677),
# chapter 02's tracker on the same renders (0.499, 0.433, 0.682); people differ by 0.011 in y and 0.023 in side.
REFERENCE_FRAMING = (0.498, 0.431, 0.678)

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)

__all__ = ["AnimateResult", "Animator", "Mp4Writer", "NoFaceError", "OriginalAudio", "align_portrait", "animate",
           "check_output_path", "read_portrait", "reference_framing"]


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
# the portrait
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
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            _check_pixel_count(image.shape[1], image.shape[0], "portrait")
        return _to_rgb8(image, "portrait")
    raise ValueError(f"the portrait must be an image file path or a numpy array, got {type(image).__name__}")


def reference_framing(n_people: int = 12, size: int = 256, seed: int = 0) -> tuple[float, float, float]:
    """Measure :data:`REFERENCE_FRAMING`: the mean face square of neutral synthetic faces, as fractions of the frame
    (people ``1000 ..`` of world ``seed``, which no profile trains on)."""
    from .tracking.align import face_square
    from .world.clip import person
    from .world.render import render_frame
    from .world.state import FaceState

    squares = []
    for i in range(n_people):
        _, landmarks = render_frame(person(seed, 1000 + i).identity, FaceState(), size)
        squares.append(face_square(np.asarray(landmarks), scale=1.0) / size)
    cx, cy, side = np.mean(squares, axis=0)
    return float(cx), float(cy), float(side)


def framing_box(landmarks: np.ndarray, framing: tuple[float, float, float] = REFERENCE_FRAMING) -> np.ndarray:
    """(68, 2) landmarks -> the square crop (x0, y0, x1, y1) that puts this face where the world's faces sit.

    With the face square (cx, cy, s) and the reference (fx, fy, fs) as fractions of the frame, the crop side is
    S = s / fs and the crop's corner is (cx - fx S, cy - fy S): the face square then covers the same fraction of
    the crop, at the same place, as in a training frame."""
    from .tracking.align import face_square

    cx, cy, s = face_square(np.asarray(landmarks, np.float64), scale=1.0)
    fx, fy, fs = framing
    side = s / fs
    x0, y0 = cx - fx * side, cy - fy * side
    return np.array([x0, y0, x0 + side, y0 + side])


def crop_square(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Cut the square ``box`` out of ``image`` (edges replicated where it leaves the image) at ``size`` pixels.

    The warp goes to at most 4x the target first and is then shrunk with area averaging, so a big photo does not
    alias when it becomes a 64-pixel face."""
    from .tracking.align import crop_matrix

    side_px = float(box[2] - box[0])
    inter = int(np.clip(round(side_px), size, 4 * size))
    crop = cv2.warpAffine(image, crop_matrix(box, inter), (inter, inter), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    if inter != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return crop


@dataclass
class Portrait:
    """A portrait made ready for the appearance encoder."""

    crop: np.ndarray            # (size, size, 3) uint8 RGB, aligned like the training frames
    box: np.ndarray             # (4,) the crop in the original image's pixels
    landmarks: np.ndarray       # (68, 2) in the original image's pixels
    image_size: tuple[int, int]  # (height, width) of the original image
    backend: str                # which tracker backend found the face
    faces: int                  # how many faces it found (the largest, best one is used)
    image: np.ndarray | None = None   # (H, W, 3) uint8 the whole photo (for drawing the video at its resolution)


def align_portrait(image, size: int, tracker=None) -> Portrait:
    """Find the face in a portrait (chapter 02's tracker) and crop it the way the training frames are framed.

    Raises :class:`NoFaceError` when there is no face, ValueError when the image cannot be read."""
    from .tracking import FaceTracker

    img = read_portrait(image)
    tracker = tracker or FaceTracker("auto", smoothing=None)
    dets = tracker.detect(img)
    if not dets:
        name = image if isinstance(image, (str, Path)) else "the portrait"
        raise NoFaceError(f"no face found in {name} ({img.shape[1]}x{img.shape[0]} pixels); use a photo in which "
                          "one face is clearly visible, roughly frontal and at least ~40 pixels wide")
    det = dets[0]
    if det.landmarks is not None and np.all(np.isfinite(det.landmarks)):
        landmarks = np.asarray(det.landmarks, np.float64)
        box = framing_box(landmarks)
    else:                                   # a detector-only backend: frame the box like chapter 02's crops do
        from .tracking.align import box_square

        cx, cy, side = box_square(det.box, scale=1.0)
        side = side / REFERENCE_FRAMING[2]
        landmarks = np.full((68, 2), np.nan)
        box = np.array([cx - REFERENCE_FRAMING[0] * side, cy - REFERENCE_FRAMING[1] * side,
                        cx + (1 - REFERENCE_FRAMING[0]) * side, cy + (1 - REFERENCE_FRAMING[1]) * side])
    crop = crop_square(img, box, size)
    return Portrait(crop=crop, box=box, landmarks=landmarks, image_size=img.shape[:2],
                    backend=str(getattr(tracker, "name", "")), faces=len(dets), image=img)


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
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float = FPS, audio: OriginalAudio | None = None,
                 crf: int = 18, lead: float = 1.0):
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

    def write(self, frames: np.ndarray) -> None:
        """Append frames: (N, H, W, 3) uint8 RGB (or one (H, W, 3) frame)."""
        import av

        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3) or frames.dtype != np.uint8:
            raise MediaError(f"{self.path}: frames must be (N, {self.height}, {self.width}, 3) uint8, got "
                             f"{frames.shape} {frames.dtype}")
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
        finally:
            self.container.close()
            self.container = None

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


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
                                                  # features, motion, render, write, total
    portrait: Portrait | None = None
    silent: bool = False                 # the audio held no sound above the silence threshold
    frame_size: tuple[int, int] | None = None   # (height, width) of the video's frames
    whole_photo: bool = False            # the frames are the whole photo (True) or the face crop (False)

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

    from .artifacts import ArtifactStore

    if ArtifactStore().find(name, config) is None:
        print(f"vasa_lab: no trained {config.profile} {name} model for these settings yet; training it now (once, "
              f"then cached). To train it yourself: {command} --profile {config.profile}", file=sys.stderr)


class Animator:
    """The trained models of one profile, loaded once, ready to animate any number of portraits and clips.

    ``latent`` / ``motion``: models to use instead of the profile's (e.g. ones a notebook just trained);
    ``device``: "cpu", "cuda" or None (a GPU when there is one). ``chunk_seconds``: audio per chunk (memory);
    ``render_batch``: frames per decoder call.
    """

    def __init__(self, profile: str | None = None, latent=None, motion=None, device: str | None = None,
                 chunk_seconds: float = 30.0, render_batch: int = 64):
        import torch

        from .config import resolve_profile

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
            from .latent.api import load_latent_model
            from .latent.config import LatentConfig

            _say_if_training("latent", LatentConfig.for_profile(self.profile), "python -m vasa_lab.latent.train")
            self._latent = load_latent_model(self.profile)
        return self._latent.to(self.device).eval()

    @property
    def motion(self):
        if self._motion is None:
            from .motion import MotionConfig, load_motion_model

            _say_if_training("motion", MotionConfig.for_profile(self.profile), "python -m vasa_lab.motion.train")
            self._motion = load_motion_model(self.profile)
        return self._motion.to(self.device).eval()

    @property
    def image_size(self) -> int:
        if self._latent is not None:
            return int(self._latent.config.image_size)
        from .latent.config import LatentConfig

        return int(LatentConfig.for_profile(self.profile).image_size)

    @property
    def tracker(self):
        if self._tracker is None:
            from .tracking import FaceTracker

            self._tracker = FaceTracker("auto", smoothing=None)
        return self._tracker

    # -- the stages --------------------------------------------------------------------------------------------
    def portrait(self, image) -> Portrait:
        """Read, find the face, crop it like the training frames (see the module docstring)."""
        return align_portrait(image, self.image_size, self.tracker)

    def appearance(self, portrait: Portrait):
        """Encode the portrait ONCE: its canonical appearance volume V_app and identity code z_id."""
        from .latent.api import encode_appearance

        return encode_appearance(self.latent, portrait.crop)

    def feature_chunks(self, audio, sample_rate: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(start_frame, features (t, D)) chunks of the audio (a path, or an array at ``sample_rate``)."""
        from .audio import iter_audio_features

        cfg = self.motion.config.audio
        if isinstance(audio, (str, Path)):
            return iter_audio_features(audio, cfg, self.chunk_seconds)
        return iter_audio_features(np.asarray(audio, np.float32), cfg, self.chunk_seconds,
                                   sample_rate=sample_rate or SAMPLE_RATE)

    def motion_chunks(self, chunks: Iterable[tuple[int, np.ndarray]], cond, steps: int = 10, sampler: str = "ddim",
                      audio_scale: float = 0.5, gaze_scale: float = 1.0, seed: int = 0,
                      timings: dict | None = None) -> Iterator[np.ndarray]:
        """Motion (t, 6 + dyn_dim) for each feature chunk. Each chunk continues the last one: the last K frames of
        motion generated so far, and their audio, are the first window's context X_pre, A_pre
        (``generate_motion(first_motion=..., first_audio=...)``), so a chunk join is one more window join, and the
        sliding windows run on as if the audio had come in one piece."""
        from .motion import generate_motion

        model = self.motion
        k = model.config.context
        tail, tail_audio = None, None
        for i, (_, feats) in enumerate(chunks):
            started = time.perf_counter()
            x = generate_motion(model, feats, cond, steps=steps, sampler=sampler, audio_scale=audio_scale,
                                gaze_scale=gaze_scale, seed=seed + 7919 * i, first_motion=tail,
                                first_audio=tail_audio)
            if not np.all(np.isfinite(x)):
                raise FloatingPointError(f"the motion generator produced NaN or infinite values in audio chunk {i} "
                                         "(damaged weights?): stopped rather than write a broken video")
            tail = x[-k:] if tail is None or len(x) >= k else np.concatenate([tail, x])[-k:]
            tail_audio = feats[-k:] if tail_audio is None or len(feats) >= k else np.concatenate([tail_audio, feats])[-k:]
            if timings is not None:
                timings["motion"] = timings.get("motion", 0.0) + time.perf_counter() - started
            yield x

    def render_batches(self, appearance, motion: np.ndarray, size: int | None = None,
                       compositor=None) -> Iterator[np.ndarray]:
        """Decode motion (t, 6 + dyn_dim) into (n, H, W, 3) uint8 frames, ``render_batch`` at a time: the model's
        square crop (resized to ``size``), or with a :class:`vasa_lab.photo.PhotoCompositor` the whole photo at its
        own resolution with the animated face pasted in."""
        from .latent.api import render, to_uint8

        model = self.latent
        for start in range(0, len(motion), self.render_batch):
            x = motion[start:start + self.render_batch]
            if compositor is not None:
                from .photo import render_parts

                yield compositor.compose(render_parts(model, appearance, x[:, :6], x[:, 6:]))
                continue
            frames = to_uint8(render(model, appearance, x[:, :6], x[:, 6:], batch_size=self.render_batch))
            if size is not None and size != frames.shape[1]:
                frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in frames])
            yield frames

    # -- the whole job -----------------------------------------------------------------------------------------
    def animate(self, image, audio, out, gaze=None, distance=None, emotion=None, audio_scale: float = 0.5,
                steps: int = 10, seed: int = 0, progress: bool = True, sampler: str = "ddim",
                gaze_scale: float = 1.0, size: int | None = None, sample_rate: int | None = None,
                frame: str = "photo", max_side: int | None = None) -> AnimateResult:
        """Portrait + speech -> an mp4 at 25 fps with the original audio, as long as the audio.

        ``image``: a path or an RGB array; ``audio``: a path (any format; muxed as it is) or a mono float array at
        ``sample_rate`` (default 16 kHz); ``gaze`` (yaw, pitch) degrees or "THETA,PHI"; ``distance`` (1 = average);
        ``emotion`` a name (neutral, happy, angry, surprised, sad); ``audio_scale`` the audio guidance l_audio;
        ``steps`` sampler steps per window. ``frame``: "photo" (default) draws the whole photo at its own
        resolution with the animated face pasted back (longest side capped at ``max_side``, default
        :data:`vasa_lab.photo.MAX_SIDE`); "crop" gives the model's square face crop, resized to ``size`` if given
        (a ``size`` implies "crop").
        """
        from .motion import MotionConditions

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
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or not 1 <= steps <= 1000:
            raise ValueError(f"steps must be a whole number from 1 to 1000, got {steps!r}")
        if not (np.isfinite(audio_scale) and 0 <= audio_scale <= 10):
            raise ValueError(f"audio_scale must be between 0 and 10, got {audio_scale!r}")
        if size is not None and not 16 <= int(size) <= 2048:
            raise ValueError(f"size must be between 16 and 2048 pixels, got {size}")
        if frame not in ("photo", "crop"):
            raise ValueError(f"frame must be 'photo' (the whole photo) or 'crop' (the face square), not {frame!r}")
        if max_side is not None and not 64 <= int(max_side) <= 4096:
            raise ValueError(f"max_side must be between 64 and 4096 pixels, got {max_side}")
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
        # written under a temporary name and renamed when complete: a run killed midway (even by SIGKILL) never
        # leaves a file under the asked name that looks like a finished video
        partial = out.with_name(f".{out.stem}.partial{out.suffix}")
        try:
            import warnings

            from .audio import SilentAudioWarning

            with warnings.catch_warnings(record=True) as caught, Mp4Writer(partial, width, height, FPS, track) as writer:
                warnings.simplefilter("always", SilentAudioWarning)
                features = self._timed(self.feature_chunks(audio, sample_rate), timings, "features")
                for motion in self.motion_chunks(features, cond, steps=steps, sampler=sampler,
                                                 audio_scale=audio_scale, gaze_scale=gaze_scale, seed=seed,
                                                 timings=timings):
                    for frames in self._timed(self.render_batches(appearance, motion, size, **render_options),
                                              timings, "render"):
                        t0 = time.perf_counter()
                        writer.write(frames)
                        timings["write"] = timings.get("write", 0.0) + time.perf_counter() - t0
                        n_frames += len(frames)
                        if bar is not None:
                            bar.update(len(frames))
                if n_frames == 0:
                    raise ValueError("the audio is shorter than half a video frame (20 ms): there is nothing to "
                                     "animate")
                t0 = time.perf_counter()
            timings["write"] = timings.get("write", 0.0) + time.perf_counter() - t0    # flushing the encoders
            silent = any(issubclass(w.category, SilentAudioWarning) for w in caught)
            for w in caught:
                if not issubclass(w.category, SilentAudioWarning):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            partial.replace(out)
        except BaseException:
            partial.unlink(missing_ok=True)      # never leave half a video behind
            raise
        finally:
            if bar is not None:
                bar.close()
        timings["total"] = time.perf_counter() - started
        return AnimateResult(path=out, n_frames=n_frames, seconds=n_frames / FPS, timings=timings,
                             portrait=portrait, silent=silent, frame_size=(height, width),
                             whole_photo=compositor is not None)

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


def animate(image, audio, out, gaze=None, distance=None, emotion=None, audio_scale: float = 0.5, steps: int = 10,
            seed: int = 0, progress: bool = True, profile: str | None = None, **kwargs) -> AnimateResult:
    """Portrait + speech -> talking-face video (the main job; see :class:`Animator` for the details and options).

    ::

        from vasa_lab.animate import animate
        result = animate("me.jpg", "hello.wav", "outputs/me.mp4", emotion="happy")
        print(result.path, result.n_frames, result.timings)
    """
    options = {k: kwargs.pop(k) for k in ("device", "chunk_seconds", "render_batch", "latent", "motion")
               if k in kwargs}
    return Animator(profile, **options).animate(image, audio, out, gaze=gaze, distance=distance, emotion=emotion,
                                                audio_scale=audio_scale, steps=steps, seed=seed, progress=progress,
                                                **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# the demo (``make demo``)
# ---------------------------------------------------------------------------------------------------------------
DEMO_PORTRAIT = Path(__file__).parent / "assets" / "portrait.png"
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
    from .world.clip import person
    from .world.render import render_frame
    from .world.state import FaceState

    image, _ = render_frame(person(*DEMO_PERSON).identity, FaceState(), size)
    return image


def demo_speech(language: str = "en", text: str | None = None) -> np.ndarray:
    """The demo's sentence, spoken now by espeak-ng (offline, ~50 ms): (N,) float32 at 16 kHz."""
    from .world.speech import synthesize

    if language not in DEMO_TEXT:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(DEMO_TEXT)}")
    return synthesize(text or DEMO_TEXT[language], language=language, variant="f2", rate=160,
                      sample_rate=SAMPLE_RATE).audio
