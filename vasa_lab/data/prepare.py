"""Real-video preparation: any folder of talking-head videos -> tracked, aligned, 25 fps clips in tar shards.

    python -m vasa_lab.data.prepare --input DIR --out DIR [--size 512] [--workers N] [--backend auto]
                                [--min-seconds S] [--min-face PX] [--min-sharpness V] ...
    vasa-lab prepare ...   (the same flags)

What happens to each video (one process per worker; each worker makes its own face tracker):

1. **find it**: every .mp4/.mov/.mkv/.avi below ``--input``, recursively; the speaker comes from the dataset's
   layout (VoxCeleb2's ``id*`` folder, HDTF's name, CelebV-HQ's YouTube id, else the file; see
   :mod:`vasa_lab.data.layouts`), so splits can be made by person. A folder made by ``vasa-lab synth`` is read through
   its ``index.json`` and each clip's ground truth travels along.
2. **check the file**: missing/broken link, zero bytes, not decodable, no audio track, shorter than
   ``--min-seconds`` -> skipped with that reason.
3. **decode at 25 fps**: frames are resampled *by timestamp*: output frame n (time n / 25) is the source frame whose
   time is nearest, so 30 fps drops every sixth frame, 24 fps repeats one frame a second, and a variable frame
   rate is handled the same way. Audio of any rate and channel count -> 16 kHz mono (``vasa_lab.media.load_audio``),
   exactly 640 samples per video frame (padded with silence if the audio track is shorter). A long video is cut
   into segments of about ``--segment-seconds`` (memory stays bounded; each segment is a clip ``KEY-000``, ...).
4. **track** (``vasa_lab.tracking.FaceTracker``): boxes, 68 landmarks, head pose, gaze, eye openness, blinks, mouth.
   Quality filters, each with its reason: ``no face`` (more than ``--max-no-face`` of the frames without a face),
   ``several faces`` (more than ``--max-multi-face`` of the frames with a second face), ``face too small`` (median
   box side below ``--min-face`` pixels), ``too blurry`` (see :func:`face_sharpness`).
5. **crop and align** (``crop_align``) to ``--size`` pixels; landmarks are mapped into crop coordinates; frames where
   the face was lost are filled by linear interpolation from their neighbours (``detected`` says which were seen).
6. **label**: the clip's main gaze direction (VASA-1's condition g, ``main_gaze``) and normalised head distance
   (condition d, ``head_distance``).
7. **write**: the clip's files go to a staging folder; finished clips are packed into tar shards.

The output folder::

    OUT/
      index.json               every packed clip: key, shard, speaker, identity, n_frames, labels, stats
      report.json              every input clip, kept or skipped and why, plus this run's throughput
      shards/shard-000000.tar  WebDataset convention: files KEY.mp4, KEY.wav, KEY.npz, KEY.json, grouped by KEY
      shards/shard-000000.json the shard's listing: the index entries of its clips
      done/SOURCE.json         one marker per finished input video (what became of it): makes re-runs resume
      work/                    staging for clips not yet packed (empty after a finished run)

Per clip in a shard (written with Python's ``tarfile``; readable by ``webdataset.WebDataset`` as samples with
keys ``mp4``, ``wav``, ``npz``, ``json``):

* ``KEY.mp4``: the aligned crops, H.264 (crf 18) at 25 fps, with the 16 kHz audio as AAC;
* ``KEY.wav``: the audio, 16 kHz mono 16-bit PCM, ``n_frames * 640`` samples;
* ``KEY.npz``: the tracks, one row per output frame (read with :func:`vasa_lab.data.shard_format.load_tracks`)::

      detected (T,) bool         boxes (T, 4) source pixels     landmarks (T, 68, 2) crop pixels
      pose (T, 6) yaw, pitch, roll (deg), tx, ty, scale        gaze (T, 2) deg     eye_openness (T,)
      blink (T,) bool            mouth_open (T,)                crop_transform (T, 2, 3) source -> crop pixels
      source_frame (T,) int64    gaze_main (2,) deg             head_distance () normalised
      meta                       JSON string: the index entry, the options, the tracker, the source's fps and size
      synthetic input only:      true_states (T, 17), state_names, true_landmarks (T, 68, 2) crop pixels,
                                 viseme_ids (T,), phoneme_symbols, phoneme_times (seconds from the clip's start)

* ``KEY.json``: the clip's index entry.

**Resumable and safe to kill**: a worker stages a clip's files under temporary names, renames them, then writes the
video's ``done/`` marker last; the main process packs every ``--shard-clips`` staged clips into a shard: the tar as
``.tmp``, then its listing (atomically), then the tar renamed, then the staged files deleted. A shard counts once its
tar and listing both exist. A re-run first cleans up whatever a killed run left between those steps (temporary
files, a listing without its tar, staged files already packed, staged files of a video without a marker), rebuilds
``index.json`` from the listings, then skips every video that has a marker. Skipped videos stay skipped on a re-run
unless ``--retry-skipped``.

Exit status: 0 when every clip was kept, 1 when some were skipped (the report says which and why), 2 for a bad
argument or an unusable input/output folder (one line on stderr).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..media import read_video_segments
from .layouts import LAYOUTS, VIDEO_EXTENSIONS, Source, discover
from .shard_format import CLIP_FILES, FORMAT, shard_name, write_shard
from ..parallel import WorkerDied, map_resilient


# the reasons a clip is skipped (the first word of every skipped row in the report)
UNREADABLE_FOLDER = "unreadable folder"
UNREADABLE_FILE = "unreadable file"
ZERO_LENGTH = "zero-length file"
CORRUPT = "corrupt video"
NO_AUDIO = "no audio track"
TOO_SHORT = "too short"
NO_FACE = "no face"
SEVERAL_FACES = "several faces"
FACE_TOO_SMALL = "face too small"
WORKER_DIED = "worker died"
TOO_BLURRY = "too blurry"
ERROR = "error"
REASONS = (UNREADABLE_FOLDER, UNREADABLE_FILE, ZERO_LENGTH, CORRUPT, NO_AUDIO, TOO_SHORT, NO_FACE, SEVERAL_FACES,
           FACE_TOO_SMALL, TOO_BLURRY, WORKER_DIED, ERROR)


@dataclass(frozen=True)
class PrepareOptions:
    """Everything that decides what preparation produces."""

    size: int = 512                 # output crop size in pixels (square)
    scale: float = 1.6              # crop side / face size (margin around the face)
    fps: float = 25.0               # output frame rate (VASA-1 works at 25 fps)
    sample_rate: int = 16_000       # output audio rate
    backend: str = "auto"           # tracker backend: auto, mediapipe, haar or net
    smoothing: str = "one_euro"     # tracker smoothing
    layout: str = "auto"            # input layout (vasa_lab.data.layouts)
    min_seconds: float = 1.0        # shorter clips are skipped
    min_face: float = 64.0          # median face box side in source pixels
    min_sharpness: float = 20.0     # variance of the Laplacian of the face (see sharpness())
    max_no_face: float = 0.2        # largest share of frames without a face
    max_multi_face: float = 0.2     # largest share of frames with more than one face
    segment_seconds: float = 20.0   # long videos are cut into clips of about this length (0: never)
    shard_clips: int = 100          # clips per shard
    crf: int = 18                   # H.264 quality of the crops (18: visually lossless)

    def check(self) -> None:
        """Raise ValueError with one sentence for a bad setting."""
        if not 32 <= self.size <= 1024:
            raise ValueError(f"--size must be between 32 and 1024 pixels, got {self.size}")
        if not 1.0 <= self.scale <= 4.0:
            raise ValueError(f"--scale must be between 1 and 4, got {self.scale}")
        if self.min_seconds < 0:
            raise ValueError(f"--min-seconds must be non-negative, got {self.min_seconds}")
        if self.min_face < 0:
            raise ValueError(f"--min-face must be non-negative, got {self.min_face}")
        if self.min_sharpness < 0:
            raise ValueError(f"--min-sharpness must be non-negative, got {self.min_sharpness}")
        for name in ("max_no_face", "max_multi_face"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a fraction between 0 and 1, "
                                 f"got {getattr(self, name)}")
        if self.segment_seconds < 0 or 0 < self.segment_seconds < max(2 * self.min_seconds, 1.0):
            raise ValueError(f"--segment-seconds must be 0 (never cut) or at least twice --min-seconds and 1 s, "
                             f"got {self.segment_seconds}")
        if self.shard_clips < 1:
            raise ValueError(f"--shard-clips must be at least 1, got {self.shard_clips}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"--crf must be between 0 and 51, got {self.crf}")
        if self.backend not in ("auto", "mediapipe", "haar", "net"):
            raise ValueError(f"unknown --backend {self.backend!r}; choose one of auto, mediapipe, haar, net")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown --layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}")

    def output_settings(self) -> dict:
        """The settings that change the *format* of the output: a folder holds clips made with one set of them."""
        return dict(size=self.size, scale=self.scale, fps=self.fps, sample_rate=self.sample_rate,
                    backend=self.backend, smoothing=self.smoothing, segment_seconds=self.segment_seconds,
                    crf=self.crf)


class ClipSkipped(Exception):
    """A clip fails a check; ``reason`` is one of REASONS, ``detail`` a sentence for the report."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# ---------------------------------------------------------------------------------------------------------------
# the tracker (one per worker process)
# ---------------------------------------------------------------------------------------------------------------
def tracking_api():
    """The tracking functions: FaceTracker, crop_align, main_gaze, head_distance (``vasa_lab.tracking``)."""
    import vasa_lab.tracking as api

    return api


_TRACKER = None


def _tracker(options: PrepareOptions):
    """This process's tracker, made on first use (mediapipe objects cannot cross processes)."""
    global _TRACKER
    if _TRACKER is None:
        _TRACKER = tracking_api().FaceTracker(backend=options.backend, smoothing=options.smoothing)
    return _TRACKER


def _init_worker() -> None:
    """Pool initialiser: one thread per library, so N workers use N cores rather than N x cores."""
    os.environ["OMP_NUM_THREADS"] = "1"   # read by torch and numpy's BLAS when (if) they load
    import cv2

    cv2.setNumThreads(1)


def crop_with_transforms(frames: np.ndarray, track, size: int, scale: float):
    """Aligned crops, the per-frame affine maps that made them and the square crop boxes in source pixels:
    -> ((T, size, size, 3) uint8, (T, 2, 3) float32, (T, 4) float32).

    A source pixel p = (x, y) lands at ``M[:2, :2] @ p + M[:2, 2]`` in the crop (``vasa_lab.tracking.align``: the
    steady square boxes from ``crop_boxes``, each mapped onto the crop by ``crop_matrix``)."""
    from vasa_lab.tracking.align import crop_boxes, crop_matrix

    boxes = crop_boxes(track, scale)                                          # (T, 4) square, smoothed in time
    crops = tracking_api().crop_align(frames, track, size=size, scale=scale, boxes=boxes)
    transforms = np.stack([crop_matrix(box, size) for box in boxes]).astype(np.float32)   # (T, 2, 3)
    return crops, transforms, boxes


def to_crop(points: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Map pixel points (T, N, 2) through per-frame affines (T, 2, 3): p' = A p + b."""
    return (np.einsum("tij,tnj->tni", transforms[:, :, :2], points) + transforms[:, None, :, 2]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------------------------
def sharpness(faces: np.ndarray) -> float:
    """How sharp a stack of face images (N, h, w, 3) is: the median over images of the variance of the Laplacian.

    var(L) with L = d2I/dx2 + d2I/dy2 on the grey image. Blur removes high frequencies, so a blurry face has a
    small Laplacian everywhere and a small variance. The number depends on the pixel scale, so compare faces at
    one scale (:func:`face_sharpness` does)."""
    import cv2

    values = [float(cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F).var())
              for f in faces]
    return float(np.median(values)) if values else 0.0


def face_sharpness(frames: np.ndarray, boxes: np.ndarray, every: int = 5, analysis_size: int = 96) -> float:
    """:func:`sharpness` of the face at a fixed scale, from the *source* frames (so it does not depend on --size):
    every ``every``-th frame's crop box (T, 4) is resampled so that its central half, the face, is
    ``analysis_size`` pixels. For scale: a sharp real face (skimage's astronaut, matplotlib's Grace Hopper) scores
    300-4000 with a face of 50-180 px; a synthetic face ~190; the same blurred by a Gaussian of sigma 1 source pixel
    ~20-250 (synthetic ~17), of sigma 2 ~6-80. The default threshold, 20, drops clearly blurred faces."""
    import cv2

    from vasa_lab.tracking.align import crop_matrix

    n = 2 * analysis_size
    faces = []
    for t in range(0, frames.shape[0], max(1, every)):
        crop = cv2.warpAffine(frames[t], crop_matrix(boxes[t], n), (n, n), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REPLICATE)
        faces.append(crop[n // 4: n - n // 4, n // 4: n - n // 4])
    return sharpness(np.stack(faces))


def fill_gaps(values: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Frames where the face was not seen (rows of NaN) -> linear interpolation in time from the seen frames;
    before the first / after the last seen frame the nearest seen value is held. (T, ...) -> (T, ...)."""
    values = np.array(values, dtype=np.float32, copy=True)
    t = np.arange(values.shape[0])
    flat = values.reshape(values.shape[0], -1)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        good = seen & np.isfinite(col)
        if good.any() and not good.all():
            col[~good] = np.interp(t[~good], t[good], col[good])
    return flat.reshape(values.shape)


def _finite(value, digits: int) -> float | None:
    """A number for JSON: rounded, or None where it is NaN (e.g. no gaze from a box-only backend)."""
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def _count(frames_value) -> int:
    """``meta['frames_multi_face']`` as a number, whether the tracker gave a count or a list of frames."""
    if frames_value is None:
        return 0
    if np.ndim(frames_value) == 0:
        return int(frames_value)
    arr = np.asarray(frames_value)
    return int(arr.sum()) if arr.dtype == bool else int(arr.size)


# ---------------------------------------------------------------------------------------------------------------
# decoding at 25 fps
# ---------------------------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------------------------
# one input video (runs in a worker)
# ---------------------------------------------------------------------------------------------------------------
def _check_file(source: Source, options: PrepareOptions) -> dict:
    """The checks that need no decoding -> video_info. Raises ClipSkipped."""
    from vasa_lab.media import MediaError, video_info

    path = Path(source.path)
    if source.problem:
        raise ClipSkipped(source.problem, f"{source.rel} could not be listed (permission denied or gone)")
    if not path.exists():
        what = "a broken symbolic link" if path.is_symlink() else "missing"
        raise ClipSkipped(UNREADABLE_FILE, f"{source.rel} is {what}")
    if not os.access(path, os.R_OK):
        raise ClipSkipped(UNREADABLE_FILE, f"{source.rel} cannot be read (permission denied)")
    if path.stat().st_size == 0:
        raise ClipSkipped(ZERO_LENGTH, f"{source.rel} is empty (0 bytes)")
    try:
        info = video_info(path)
    except MediaError as err:
        raise ClipSkipped(CORRUPT, str(err).replace(str(path), source.rel)) from None
    if not info.get("has_video"):
        raise ClipSkipped(CORRUPT, f"{source.rel} has no video track")
    if not info.get("has_audio"):
        raise ClipSkipped(NO_AUDIO, f"{source.rel} has no audio track")
    seconds = info.get("seconds")
    if seconds is not None and seconds < options.min_seconds:
        raise ClipSkipped(TOO_SHORT, f"{seconds:.2f} s, below --min-seconds {options.min_seconds:g}")
    return info


def _prepare_segment(source: Source, key: str, segment: int, start: int, frames: np.ndarray, src_index: np.ndarray,
                     audio: np.ndarray, truth, info: dict, options: PrepareOptions, work: Path) -> dict:
    """Track, filter, crop, label and stage one segment -> its index entry. Raises ClipSkipped."""
    from vasa_lab.media import write_mp4, write_wav

    api = tracking_api()
    n = int(frames.shape[0])
    spf = int(round(options.sample_rate / options.fps))   # audio samples per video frame (640)
    if n < max(1, int(round(options.min_seconds * options.fps))):
        raise ClipSkipped(TOO_SHORT, f"{n / options.fps:.2f} s, below --min-seconds {options.min_seconds:g}")

    track = _tracker(options).track(frames, options.fps)
    seen = np.asarray(track.detected, bool)
    no_face = 1.0 - float(seen.mean())
    if no_face > options.max_no_face:
        raise ClipSkipped(NO_FACE, f"no face in {no_face:.0%} of the frames (limit {options.max_no_face:.0%})")
    multi = _count(track.meta.get("frames_multi_face")) / n
    if multi > options.max_multi_face:
        raise ClipSkipped(SEVERAL_FACES, f"more than one face in {multi:.0%} of the frames "
                                         f"(limit {options.max_multi_face:.0%})")
    boxes = np.asarray(track.boxes, np.float32)
    sides = ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1]))[seen] / 2
    face_px = float(np.median(sides))
    if face_px < options.min_face:
        raise ClipSkipped(FACE_TOO_SMALL, f"median face size {face_px:.0f} px, below --min-face {options.min_face:g}")

    gaze_main = np.asarray(api.main_gaze(track), np.float32).reshape(2)       # condition g (degrees)
    distance = np.float32(api.head_distance(track))                          # condition d (normalised)
    crops, transforms, crop_boxes = crop_with_transforms(frames, track, options.size, options.scale)
    sharp = face_sharpness(frames, crop_boxes)
    if sharp < options.min_sharpness:
        raise ClipSkipped(TOO_BLURRY, f"sharpness {sharp:.1f}, below --min-sharpness {options.min_sharpness:g}")

    # audio under exactly these frames: 640 samples per frame, silence where the audio track is short
    clip_audio = np.zeros(n * spf, np.float32)
    piece = audio[start * spf: (start + n) * spf]
    clip_audio[: piece.size] = piece
    seconds = n / options.fps

    entry = dict(
        key=key, source=source.rel, source_key=source.key, segment=segment, start_frame=start, n_frames=n,
        seconds=round(seconds, 3), speaker=source.speaker, identity=source.identity, layout=source.layout,
        has_truth=truth is not None,
        labels=dict(gaze_main=[_finite(v, 3) for v in gaze_main], head_distance=_finite(distance, 4)),
        stats=dict(no_face=round(no_face, 4), multi_face=round(multi, 4), face_px=round(face_px, 1),
                   sharpness=round(sharp, 1), source_fps=info.get("fps"),
                   source_size=[info.get("height"), info.get("width")],
                   audio_padded_seconds=round((clip_audio.size - piece.size) / options.sample_rate, 3),
                   backend=getattr(track, "backend", options.backend)),
    )
    arrays = dict(
        detected=seen,
        boxes=fill_gaps(boxes, seen),
        landmarks=to_crop(fill_gaps(track.landmarks, seen), transforms),
        pose=fill_gaps(track.pose, seen),
        pose_names=np.array(["yaw", "pitch", "roll", "tx", "ty", "scale"]),
        gaze=fill_gaps(track.gaze, seen),
        eye_openness=fill_gaps(track.eye_openness, seen),
        blink=np.asarray(track.blink, bool),
        mouth_open=fill_gaps(track.mouth_open, seen),
        crop_transform=transforms,
        source_frame=src_index.astype(np.int64),
        gaze_main=gaze_main,
        head_distance=distance,
    )
    meta = dict(entry, format=FORMAT, fps=options.fps, sample_rate=options.sample_rate, size=options.size,
                options=options.output_settings())
    if truth is not None:
        t0, t1 = start / options.fps, (start + n) / options.fps
        keep = [(s, a, b) for s, a, b in truth_phonemes(truth) if b > t0 and a < t1]
        arrays.update(
            true_states=truth.states[src_index].astype(np.float32),
            state_names=np.array(truth.state_names),
            true_landmarks=to_crop(truth.landmarks[src_index].astype(np.float32), transforms),
            viseme_ids=truth.viseme_ids[src_index].astype(np.int64),
            phoneme_symbols=np.array([s for s, _, _ in keep]),
            phoneme_times=np.array([[max(a, t0) - t0, min(b, t1) - t0] for _, a, b in keep], np.float64).reshape(-1, 2),
        )
        meta["truth"] = truth.meta
        entry["emotion"] = truth.meta.get("emotion_id")
    arrays["meta"] = np.array(json.dumps(meta))

    # stage: temporary names first, renamed when complete; the entry .json last
    tmp = {ext: work / f"{key}.tmp.{ext}" for ext in CLIP_FILES}
    write_mp4(tmp["mp4"], crops, options.fps, clip_audio, options.sample_rate, crf=options.crf)
    write_wav(tmp["wav"], clip_audio, options.sample_rate)
    np.savez_compressed(tmp["npz"], **arrays)
    tmp["json"].write_text(json.dumps(entry))
    for ext in CLIP_FILES:
        tmp[ext].replace(work / f"{key}.{ext}")
    return entry


def truth_phonemes(truth) -> list[tuple[str, float, float]]:
    return [(p.symbol, float(p.start), float(p.end)) for p in truth.phonemes]


def prepare_source(source: Source, options: PrepareOptions, out: str | Path) -> dict:
    """Prepare one input video into staged clips; write and return its done-record (never raises for bad input).

    The record: key, source, speaker, identity, status, clip_keys (the kept segments, staged in work/) and rows (one
    per clip: key, status kept/skipped, reason, detail, seconds)."""
    from vasa_lab.media import MediaError, load_audio

    out = Path(out)
    work = out / "work"
    started = time.perf_counter()
    clips, rows, seconds_in = [], [], 0.0

    def skip(key: str, err: ClipSkipped, seconds: float | None = None) -> None:
        rows.append(dict(key=key, source=source.rel, speaker=source.speaker, status="skipped", reason=err.reason,
                         detail=err.detail, seconds=None if seconds is None else round(seconds, 3)))

    try:
        info = _check_file(source, options)
        try:
            audio = load_audio(source.path, options.sample_rate)
        except MediaError as err:
            reason = NO_AUDIO if "no audio" in str(err) else CORRUPT
            raise ClipSkipped(reason, str(err)) from None
        truth = None
        if source.truth:
            from vasa_lab.world.clip import load_truth

            truth = load_truth(source.truth)
        segment_frames = int(round(options.segment_seconds * options.fps))
        min_frames = int(round(options.min_seconds * options.fps))
        try:
            for segment, start, frames, src_index, cut in read_video_segments(source.path, options.fps, segment_frames,
                                                                              min_frames):
                key = f"{source.key}-{segment:03d}" if cut else source.key
                seconds_in += frames.shape[0] / options.fps
                try:
                    entry = _prepare_segment(source, key, segment, start, frames, src_index, audio, truth, info,
                                             options, work)
                except ClipSkipped as err:
                    skip(key, err, frames.shape[0] / options.fps)
                    continue
                clips.append(entry)
                rows.append(dict(key=key, source=source.rel, speaker=source.speaker, status="kept", reason="",
                                 detail="", seconds=entry["seconds"]))
        except ClipSkipped:
            raise
        except MediaError as err:
            raise ClipSkipped(CORRUPT, str(err)) from None
        except Exception as err:
            if type(err).__module__.startswith("av"):   # PyAV's decoding errors: a broken file
                raise ClipSkipped(CORRUPT, f"{source.rel}: decoding failed ({type(err).__name__}: {err})") from None
            raise
    except ClipSkipped as err:
        skip(source.key, err)
    except Exception as err:  # one bad video must never stop the other thousands
        skip(source.key, ClipSkipped(ERROR, f"{type(err).__name__}: {err}"))

    record = dict(key=source.key, source=source.rel, speaker=source.speaker, identity=source.identity,
                  status="kept" if clips else "skipped", clip_keys=[c["key"] for c in clips], rows=rows,
                  seconds_of_video=round(seconds_in, 3), wall_seconds=round(time.perf_counter() - started, 3))
    _write_json_atomic(out / "done" / f"{source.key}.json", record)
    return record


def _work(job: tuple[Source, PrepareOptions, str]) -> dict:
    return prepare_source(*job)


def _died_record(source: Source, out: Path, message: str) -> dict:
    """The done-record of a video whose worker process died twice: skipped, with the reason named."""
    row = dict(key=source.key, source=source.rel, speaker=source.speaker, status="skipped", reason=WORKER_DIED,
               detail=f"{source.rel}: {message}", seconds=None)
    record = dict(key=source.key, source=source.rel, speaker=source.speaker, identity=source.identity,
                  status="skipped", clip_keys=[], rows=[row], seconds_of_video=0.0, wall_seconds=0.0)
    _write_json_atomic(out / "done" / f"{source.key}.json", record)
    return record


# ---------------------------------------------------------------------------------------------------------------
# the output folder: done markers, staging, shards, index
# ---------------------------------------------------------------------------------------------------------------
def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False))
    tmp.replace(path)


class OutputFolder:
    """The prepared folder on disk (see the module docstring for its layout and its crash-safety steps).

    The truth about what is packed is the shards themselves: ``shards/shard-N.tar`` with its listing
    ``shards/shard-N.json`` (the clips' index entries). ``index.json`` is assembled from the listings when a run
    starts and ends, so it is never rewritten per shard (a million clips would make that quadratic)."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.work, self.done, self.shards = self.out / "work", self.out / "done", self.out / "shards"
        self.index_path = self.out / "index.json"
        self.index: dict = {}

    def open(self, options: PrepareOptions, input_dir: Path, layout: str) -> None:
        try:
            for d in (self.out, self.work, self.done, self.shards):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.out / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise ValueError(f"cannot write to {self.out}: {err.strerror or err}") from None
        settings = dict(format=FORMAT, input=str(Path(input_dir).resolve()), layout=layout,
                        options=options.output_settings())
        if self.index_path.exists():
            old = json.loads(self.index_path.read_text())
            old = {k: old.get(k) for k in settings}
            if old != settings:
                changed = [k for k in settings if settings[k] != old[k]]
                raise ValueError(f"{self.out} already holds clips prepared with other settings ({', '.join(changed)}"
                                 f": {', '.join(str(old[k]) for k in changed)}); use another --out folder")
        self.index = dict(settings, made_by="vasa_lab.data.prepare", shards=[], clips=[], speakers=[])
        self.recover()
        self.write_index()

    def recover(self) -> None:
        """Undo what a killed run left half done, and read what is packed (see the module docstring)."""
        for pattern, folder in (("*.tmp.*", self.work), ("*.tmp", self.shards), ("*.tmp", self.done)):
            for p in folder.glob(pattern):
                p.unlink()
        for listing in sorted(self.shards.glob("shard-*.json")):
            tar = listing.with_suffix(".tar")
            if not tar.exists():                 # killed between the two renames: the clips are still staged
                listing.unlink()
                continue
            entries = json.loads(listing.read_text())
            self.index["shards"].append(dict(file=f"shards/{tar.name}", clips=len(entries), bytes=tar.stat().st_size))
            self.index["clips"].extend(entries)
        for tar in self.shards.glob("shard-*.tar"):
            if not tar.with_suffix(".json").exists():
                tar.unlink()
        packed = {c["key"] for c in self.index["clips"]}
        staged_ok = set()
        for key, record in self.records().items():
            waiting = [k for k in record["clip_keys"] if k not in packed]
            if all((self.work / f"{k}.{ext}").exists() for k in waiting for ext in CLIP_FILES):
                staged_ok.update(waiting)
            else:   # its staged files are gone: do the video again
                (self.done / f"{key}.json").unlink()
        for p in self.work.iterdir():
            if p.name.split(".")[0] not in staged_ok:   # packed already, or never finished
                p.unlink()

    def write_index(self) -> None:
        self.index["clips"].sort(key=lambda c: c["key"])
        self.index["speakers"] = sorted({c["speaker"] for c in self.index["clips"]})
        _write_json_atomic(self.index_path, self.index)

    def records(self) -> dict[str, dict]:
        """Every finished input video's done-record, by source key."""
        out = {}
        for p in sorted(self.done.glob("*.json")):
            try:
                record = json.loads(p.read_text())
            except ValueError:   # cannot happen with atomic writes, but a hand-edited file should not stop a run
                p.unlink()
                continue
            out[record["key"]] = record
        return out

    def staged(self) -> list[dict]:
        """Index entries of clips staged in work/ and not yet packed (sorted by key)."""
        packed = {c["key"] for c in self.index["clips"]}
        entries = [json.loads(p.read_text()) for p in sorted(self.work.glob("*.json"))]
        return [e for e in entries if e["key"] not in packed]

    def pack(self, entries: list[dict]) -> None:
        """Write ``entries`` (staged clips) into a new shard and its listing, then delete their staged files."""
        if not entries:
            return
        numbers = [int(Path(s["file"]).stem.split("-")[1]) for s in self.index["shards"]]
        name = shard_name(max(numbers) + 1 if numbers else 0)
        final = self.out / name
        entries = [dict(e, shard=name) for e in entries]
        tmp = final.with_name(final.name + ".tmp")
        write_shard(tmp, entries, lambda key, ext: (self.work / f"{key}.{ext}").read_bytes())
        _write_json_atomic(final.with_suffix(".json"), entries)   # the listing first, then the shard: a shard
        tmp.replace(final)                                         # without its listing never exists
        self.index["clips"].extend(entries)
        self.index["shards"].append(dict(file=name, clips=len(entries), bytes=final.stat().st_size))
        for entry in entries:
            for ext in CLIP_FILES:
                (self.work / f"{entry['key']}.{ext}").unlink(missing_ok=True)

    def pack_full(self, shard_clips: int, everything: bool = False) -> None:
        """Pack staged clips in shards of ``shard_clips``; the remainder too when ``everything``."""
        staged = self.staged()
        while len(staged) >= shard_clips or (everything and staged):
            self.pack(staged[:shard_clips])
            staged = staged[shard_clips:]


# ---------------------------------------------------------------------------------------------------------------
# the whole run
# ---------------------------------------------------------------------------------------------------------------
def prepare(input_dir: str | Path, out: str | Path, options: PrepareOptions | None = None,
            workers: int | None = 1, progress: bool = True, retry_skipped: bool = False) -> dict:
    """Prepare every video below ``input_dir`` into ``out``; returns the report (also written to report.json).

    Raises ValueError (one sentence) for bad options or an unusable input or output folder; a bad *video* never
    raises: it is a skipped row in the report.
    """
    from tqdm import tqdm

    options = options or PrepareOptions()
    options.check()
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    input_dir, out = Path(input_dir), Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    sources, layout = discover(input_dir, options.layout, exclude=out)
    if not sources:
        raise ValueError(f"no videos in {input_dir} (looked for {', '.join(VIDEO_EXTENSIONS)} in every subfolder)")
    folder = OutputFolder(out)
    folder.open(options, input_dir, layout)
    records = folder.records()
    todo = [s for s in sources
            if s.key not in records or (retry_skipped and records[s.key]["status"] == "skipped")]
    for s in todo:
        records.pop(s.key, None)
        (folder.done / f"{s.key}.json").unlink(missing_ok=True)

    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    started = time.perf_counter()
    bar = tqdm(total=len(todo), desc="preparing videos", unit="video", disable=not progress or not todo)
    jobs = [(s, options, str(out)) for s in todo]
    fresh: list[dict] = []

    def collect(record: dict) -> None:
        records[record["key"]] = record
        fresh.append(record)
        bar.update()
        folder.pack_full(options.shard_clips)

    try:
        # spawn: every worker starts clean and makes its own tracker (mediapipe graphs do not survive fork);
        # a worker that dies (a crash, the OOM killer) is retried once alone, then its video is reported skipped
        for (source, _, _), record in map_resilient(_work, jobs, workers, initializer=_init_worker):
            if isinstance(record, WorkerDied):
                record = _died_record(source, out, record.message)
            collect(record)
        folder.pack_full(options.shard_clips, everything=True)
    finally:   # even when interrupted: the index lists every shard written so far
        bar.close()
        folder.write_index()
    wall = time.perf_counter() - started

    shard_of = {c["key"]: c["shard"] for c in folder.index["clips"]}
    fresh_keys = {r["key"] for r in fresh}
    rows = []
    for record in records.values():
        for row in record["rows"]:
            rows.append(dict(row, shard=shard_of.get(row["key"]), this_run=record["key"] in fresh_keys))
    rows.sort(key=lambda r: r["key"])
    kept = [r for r in rows if r["status"] == "kept"]
    skipped = [r for r in rows if r["status"] == "skipped"]
    by_reason: dict[str, int] = {}
    for r in skipped:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    video_seconds = sum(r["seconds_of_video"] for r in fresh)
    report = dict(
        format=FORMAT, input=str(input_dir.resolve()), out=str(out.resolve()), layout=layout,
        options=asdict(options), kept=len(kept), skipped=len(skipped),
        seconds_kept=round(sum(r["seconds"] or 0 for r in kept), 3), skipped_by_reason=by_reason,
        shards=len(folder.index["shards"]), speakers=len(folder.index["speakers"]),
        this_run=dict(videos=len(fresh), already_done=len(sources) - len(todo), workers=workers,
                      seconds_of_video=round(video_seconds, 3), wall_seconds=round(wall, 3),
                      video_seconds_per_second=round(video_seconds / wall, 3) if fresh and wall > 0 else None),
        clips=rows,
    )
    _write_json_atomic(out / "report.json", report)
    return report


def summary_table(report: dict, max_rows: int = 40) -> str:
    """The printed report: one row per clip (the skipped ones first when there are many), then the totals."""
    rows = report["clips"]
    if len(rows) > max_rows:
        rows = [r for r in rows if r["status"] == "skipped"][:max_rows]
    width = max([len("clip")] + [len(r["key"]) for r in rows])
    lines = [f"{'clip':<{width}}  {'status':<7}  {'reason':<16}  {'seconds':>7}  detail"]
    for r in rows:
        seconds = f"{r['seconds']:.1f}" if r.get("seconds") is not None else "-"
        lines.append(f"{r['key']:<{width}}  {r['status']:<7}  {r['reason'] or '':<16}  {seconds:>7}  {r['detail']}")
    if len(report["clips"]) > len(rows):
        lines.append(f"... ({len(report['clips']) - len(rows)} more rows in report.json)")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(report["skipped_by_reason"].items()))
    lines.append(f"kept {report['kept']} clips ({report['seconds_kept']:.1f} s of video, {report['speakers']} "
                 f"speakers, {report['shards']} shards); skipped {report['skipped']}"
                 + (f" ({reasons})" if reasons else ""))
    run = report["this_run"]
    if run["videos"]:
        lines.append(f"this run: {run['videos']} videos, {run['seconds_of_video']:.1f} s of video in "
                     f"{run['wall_seconds']:.1f} s with {run['workers']} worker{'s' if run['workers'] > 1 else ''} "
                     f"({run['video_seconds_per_second']:.2f} s of video per second)"
                     + (f"; {run['already_done']} already done" if run["already_done"] else ""))
    else:
        lines.append(f"nothing to do: all {run['already_done']} videos were already done")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# command line (shared with `vasa-lab prepare`)
# ---------------------------------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    d = PrepareOptions()
    p.add_argument("--input", required=True,
                   help="folder of videos (searched recursively) or a `vasa-lab synth` folder")
    p.add_argument("--out", required=True, help="folder for shards/, index.json and report.json")
    p.add_argument("--size", type=int, default=d.size, help=f"output crop size in pixels (default {d.size})")
    p.add_argument("--scale", type=float, default=d.scale, help=f"crop side / face size (default {d.scale})")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--backend", default=d.backend, help="tracker: auto, mediapipe, haar or net (default auto)")
    p.add_argument("--layout", default=d.layout, help=f"input layout: {', '.join(LAYOUTS)} (default auto)")
    p.add_argument("--min-seconds", type=float, default=d.min_seconds,
                   help=f"skip shorter clips (default {d.min_seconds})")
    p.add_argument("--min-face", type=float, default=d.min_face,
                   help=f"skip clips whose median face box side is smaller, in source pixels (default {d.min_face:g})")
    p.add_argument("--min-sharpness", "--max-blur", dest="min_sharpness", type=float, default=d.min_sharpness,
                   help="skip clips whose face is blurrier: variance of the Laplacian of the face at 96 px below "
                        f"this (default {d.min_sharpness:g})")
    p.add_argument("--max-no-face", type=float, default=d.max_no_face,
                   help=f"skip clips with more frames without a face than this share (default {d.max_no_face})")
    p.add_argument("--max-multi-face", type=float, default=d.max_multi_face,
                   help=f"skip clips with more frames with several faces than this share (default {d.max_multi_face})")
    p.add_argument("--segment-seconds", type=float, default=d.segment_seconds,
                   help=f"cut longer videos into clips of about this length, 0 never (default {d.segment_seconds:g})")
    p.add_argument("--shard-clips", type=int, default=d.shard_clips, help=f"clips per shard (default {d.shard_clips})")
    p.add_argument("--retry-skipped", action="store_true", help="try again the videos a previous run skipped")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def options_from_args(args: argparse.Namespace) -> PrepareOptions:
    names = {f.name for f in fields(PrepareOptions)}
    return PrepareOptions(**{k: v for k, v in vars(args).items() if k in names})


def run_from_args(args: argparse.Namespace) -> int:
    """Run from parsed arguments; print the table. -> exit status 0 (all kept) or 1 (some skipped).
    Raises ValueError for a bad argument or folder (the caller prints it and exits with 2)."""
    report = prepare(args.input, args.out, options_from_args(args), workers=args.workers, progress=not args.quiet,
                     retry_skipped=args.retry_skipped)
    print(summary_table(report))
    print(f"index: {Path(args.out) / 'index.json'}   report: {Path(args.out) / 'report.json'}")
    return 1 if report["skipped"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vasa_lab.data.prepare",
                                     description="prepare a folder of talking-head videos for training")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"prepare: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (run again to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
