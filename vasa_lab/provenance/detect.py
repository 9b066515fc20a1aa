"""``detect_video(path)``: is this video (or image) one of ours? The watermark, and the content credentials.

Reading is defensive: every way a file can be wrong (missing, empty, not a video, no video stream, no frames,
truncated mid-stream, huge) ends in a :class:`DetectionResult` whose ``error`` says so in one line, never in a
traceback. Frames are shrunk to the detector's working size as they are decoded, so a 4K or hour-long video costs
no more memory than a small one (the first ``MAX_SECONDS`` are read).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .credentials import Credentials, read_credentials
from .watermark import GRID, P_THRESHOLD, detect_frames

MAX_SECONDS = 10.0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
WORK = 2 * GRID          # frames are kept at this size (the detector never needs more)


class UnreadableVideo(Exception):
    """The file cannot be read as a video or image; the message is one line."""


@dataclass
class DetectionResult:
    path: str
    found: bool = False                 # the watermark (p below the threshold)
    p_value: float = 1.0
    statistic: float = 0.0
    payload: str | None = None          # what the watermark says (only when found)
    bits: list | None = None
    n_frames: int = 0
    credentials: Credentials = field(default_factory=lambda: Credentials("none"))
    error: str | None = None            # the file could not be read
    notes: list = field(default_factory=list)

    @property
    def anything_found(self) -> bool:
        return self.found or self.credentials.present

    @property
    def exit_code(self) -> int:
        return 2 if self.error else (1 if self.anything_found else 0)

    def summary(self) -> str:
        if self.error:
            return f"{self.path}: unreadable: {self.error}"
        if self.found:
            mark = f"watermark FOUND (p = {self.p_value:.1e}, T = {self.statistic:.1f}): {self.payload}"
        else:
            mark = f"no watermark (p = {min(self.p_value, 1.0):.2g}, T = {self.statistic:.1f})"
        notes = f" [{'; '.join(self.notes)}]" if self.notes else ""
        return f"{self.path}: {mark}; {self.credentials.summary()}{notes}"


def _shrink(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 with the longer side at most ``WORK`` (the detector's needs)."""
    h, w = rgb.shape[:2]
    if max(h, w) <= WORK:
        return rgb
    s = WORK / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _reason(err: Exception) -> str:
    """PyAV's error text without the errno and the file name (the caller names the file)."""
    text = getattr(err, "strerror", None) or str(err)
    return " ".join(str(text).split())[:100] or type(err).__name__


def read_frames(path: str | Path, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, list]:
    """Decode up to ``max_seconds`` of video (or one image) -> ((N, h, w, 3) uint8 RGB at working size, notes).

    Raises :class:`UnreadableVideo` with one line when there is nothing to read."""
    path = Path(path)
    if not path.exists():
        raise UnreadableVideo("no such file")
    if path.is_dir():
        raise UnreadableVideo("is a folder, not a video")
    if path.stat().st_size == 0:
        raise UnreadableVideo("empty file")
    notes = []
    if path.suffix.lower() in IMAGE_SUFFIXES:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise UnreadableVideo("not a readable image")
        notes.append("a still image: read as a one-frame video")
        return _shrink(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))[None], notes
    import av

    frames = []
    try:
        container = av.open(str(path))
    except Exception as err:
        with open(path, "rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp":        # an mp4/mov that starts right but has no index: cut short
            raise UnreadableVideo("an mp4 without its index (cut short while being written or copied?)") from None
        raise UnreadableVideo(f"not a video ({_reason(err)})") from None
    try:
        if not container.streams.video:
            raise UnreadableVideo("no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        limit = max(1, int(round(max_seconds * rate)))
        try:
            for frame in container.decode(stream):
                frames.append(_shrink(frame.to_ndarray(format="rgb24")))
                if len(frames) >= limit:
                    break
        except Exception as err:          # truncated or corrupt mid-stream: keep what decoded
            notes.append(f"stream broken after {len(frames)} frames ({_reason(err)})")
    finally:
        container.close()
    if not frames:
        raise UnreadableVideo("no video frames could be decoded" + (f" ({notes[-1]})" if notes else ""))
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:                   # a stream whose size changes: bring every frame to the first's size
        h, w = frames[0].shape[:2]
        frames = [f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
    return np.stack(frames), notes


def detect_video(path: str | Path) -> DetectionResult:
    """Look for our watermark and content credentials in ``path`` (a video or an image file)."""
    result = DetectionResult(path=str(path))
    try:
        frames, notes = read_frames(path)
    except UnreadableVideo as err:
        result.error = str(err)
        return result
    result.notes += notes
    if min(frames.shape[1:3]) < 16:
        result.notes.append(f"frames of {frames.shape[2]}x{frames.shape[1]} px are too small to carry the mark")
    else:
        det = detect_frames(frames)
        result.p_value, result.statistic, result.n_frames = det.p_value, det.statistic, det.n_frames
        result.found = det.p_value < P_THRESHOLD
        if result.found:
            result.payload = str(det.payload)
            result.bits = det.bits.tolist()
    result.credentials = read_credentials(path)
    return result
