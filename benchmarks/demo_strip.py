"""The README's frame strip: frames of `make demo`'s video at real size, chosen by what the tracker reads.

    python benchmarks/demo_strip.py [--video outputs/demo.mp4] [--out docs/demo_strip.png]

Reads the demo video (making it first if it is missing), tracks every frame with chapter 02's tracker and picks,
in time order, the frames where the mouth is most closed and most open and the frame with the eyes most closed,
plus evenly spaced ones; writes them side by side at the video's own size, and prints what was read from each.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", default="outputs/demo.mp4")
    p.add_argument("--out", default="docs/demo_strip.png")
    p.add_argument("--frames", type=int, default=6)
    args = p.parse_args(argv)
    video = Path(args.video)
    if not video.exists():
        subprocess.run([sys.executable, "-m", "vasa_lab.cli", "demo", "--out", str(video), "--quiet"], check=True)

    from PIL import Image

    from vasa_lab.media import read_video
    from vasa_lab.metrics.expression import read_pixels

    frames, _ = read_video(video)
    r = read_pixels(frames)
    mouth = np.nan_to_num(r.mouth, nan=0.0)
    eyes = np.nan_to_num(r.eyes, nan=np.nanmax(r.eyes))
    chosen = {int(np.argmin(mouth)), int(np.argmax(mouth)), int(np.argmin(eyes))}
    for t in np.linspace(0, len(frames) - 1, args.frames + 2)[1:-1].astype(int):
        if len(chosen) >= args.frames:
            break
        chosen.add(int(t))
    order = sorted(chosen)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    gap = np.full((frames.shape[1], 4, 3), 255, np.uint8)
    strip = np.concatenate([x for t in order for x in (frames[t], gap)][:-1], axis=1)
    Image.fromarray(strip).save(args.out)
    for t in order:
        print(f"frame {t:3d} ({t / 25:.2f} s): mouth opening {mouth[t]:.3f}, eye openness {eyes[t]:.3f}")
    print(f"mouth opening over the video: min {mouth.min():.3f}, max {mouth.max():.3f}, std {mouth.std():.3f}; "
          f"blinks read on {int(r.blink.sum())} frames; written {args.out} ({strip.shape[1]}x{strip.shape[0]})")


if __name__ == "__main__":
    main()
