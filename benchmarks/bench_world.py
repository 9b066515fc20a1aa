"""Benchmark the synthetic world: renderer frames/s per size and end-to-end clips/s.

    python benchmarks/bench_world.py            # or: make bench

Prints numbers; asserts nothing (speed depends on the machine). The aim for the tiny profile is a 500-clip
training set (4 s, 64 px) in under 5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def bench_render(sizes=(64, 128, 256, 512), frames=100) -> None:
    import cv2

    from vasa_lab.world.clip import make_clip, person

    cv2.setNumThreads(1)
    from vasa_lab.world.render import render_frames

    clip = make_clip(0, 0, seconds=frames / 25, size=64)
    who = person(0, 0)
    print("renderer, one core:")
    for size in sizes:
        render_frames(who.identity, clip.states[:5], size)  # warm the per-identity cache
        t = time.perf_counter()
        render_frames(who.identity, clip.states, size)
        dt = time.perf_counter() - t
        print(f"  {size:>4} px: {frames / dt:8.1f} frames/s")


def bench_clip(seconds=4.0, size=64, n=4) -> None:
    from vasa_lab.world.clip import make_clip, save_clip

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            save_clip(make_clip(0, i, seconds=seconds, size=size), tmp, f"{i:06d}")
    dt = (time.perf_counter() - t) / n
    fps = seconds * 25 / dt
    print(f"one clip end to end ({seconds:.0f} s, {size} px, speech + motion + render + mp4/wav/npz), one process: "
          f"{dt:.2f} s/clip = {fps:.0f} frames/s")


def bench_dataset(clips=40, workers=None) -> None:
    from vasa_lab.world.dataset import WorldSpec, synthesize_dataset

    workers = workers or os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        synthesize_dataset(tmp, WorldSpec(clips=clips, seconds=4.0, size=64), workers=workers, progress=False)
        dt = time.perf_counter() - t
    print(f"dataset: {clips} clips (4 s, 64 px) with {workers} workers in {dt:.1f} s "
          f"-> 500 clips would take ~{dt / clips * 500 / 60:.1f} min")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=40)
    args = parser.parse_args()
    np.set_printoptions(precision=3)
    bench_render()
    bench_clip()
    bench_clip(size=256, n=1)
    bench_dataset(args.clips)
