"""What happens to a video after it leaves us: re-encoding, resizing, cropping, colour changes, cutting.

Each attack maps (N, H, W, 3) uint8 RGB frames to frames; :data:`ATTACKS` names the set the chapter and
``benchmarks/bench_watermark.py`` measure. H.264 goes through PyAV's libx264 in memory, the same encoder a
platform would use.
"""
from __future__ import annotations

import io

import cv2
import numpy as np


def h264(frames: np.ndarray, crf: int, fps: int = 25, preset: str = "medium") -> np.ndarray:
    """Encode to H.264 (yuv420p) at quality ``crf`` and decode again."""
    import av

    n, h, w, _ = frames.shape
    ph, pw = h % 2, w % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": str(crf), "preset": preset}
        s.codec_context.thread_count = 1
        for img in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    buf.seek(0)
    with av.open(buf) as c:
        out = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    return out[:, :h, :w]


def resize(frames: np.ndarray, factor: float) -> np.ndarray:
    h, w = frames.shape[1:3]
    size = (max(2, int(round(w * factor))), max(2, int(round(h * factor))))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, size, interpolation=interp) for f in frames])


def crop(frames: np.ndarray, fraction: float = 0.1, where: str = "center") -> np.ndarray:
    """Cut ``fraction`` of the width and of the height away (centre: half on each side; corner: all at the
    bottom right)."""
    h, w = frames.shape[1:3]
    dh, dw = int(round(h * fraction)), int(round(w * fraction))
    if where == "center":
        return frames[:, dh // 2: h - (dh - dh // 2), dw // 2: w - (dw - dw // 2)]
    return frames[:, : h - dh, : w - dw]


def brightness_contrast(frames: np.ndarray, brightness: float = 20, contrast: float = 1.2) -> np.ndarray:
    """y = contrast * (x - 128) + 128 + brightness, clipped."""
    f = frames.astype(np.float32)
    return np.clip(contrast * (f - 128) + 128 + brightness, 0, 255).astype(np.uint8)


def cut(frames: np.ndarray, seconds: float = 1.0, fps: int = 25, start: int | None = None) -> np.ndarray:
    n = max(1, int(round(seconds * fps)))
    s = (len(frames) - n) // 2 if start is None else start
    return frames[max(0, s): max(0, s) + n]


ATTACKS = {
    "none": lambda f: f,
    "h264 crf 23": lambda f: h264(f, 23),
    "h264 crf 28": lambda f: h264(f, 28),
    "h264 crf 35": lambda f: h264(f, 35),
    "half size": lambda f: resize(f, 0.5),
    "crop 10%": lambda f: crop(f, 0.1),
    "crop 10% corner": lambda f: crop(f, 0.1, "corner"),
    "brightness/contrast": lambda f: brightness_contrast(f, 20, 1.2),
    "cut to 1 s": lambda f: cut(f, 1.0),
    "half size + crf 28": lambda f: h264(resize(f, 0.5), 28),
}
