"""Helpers for the chapters: long first-use work that says what it is doing and how long it will take.

A chapter that needs the profile's synthetic world calls :func:`world` instead of ``default_world``: when the world
is cached (the usual case) it returns at once and prints nothing; when it must be made, it prints one line with
an estimate and shows a progress bar while it works (a plain line, no bar, when ``CI`` is set).

``python -m vasa_lab.course [--profile tiny]`` (``make caches``) makes what the chapters share before anyone needs
it: the world (chapters 03, 04, 10) and its clips encoded into motion codes (chapters 06, 08). An instructor runs it
on each laptop before a workshop; ``make test`` runs it in the background, at the lowest CPU priority, on the CPU the
unit tests leave idle. A chapter that asks while it is still working waits for it (the store's locks), then
finds the result.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# measured on a 2-core laptop CPU: the tiny world (500 clips of 4 s at 64 px) takes about 4 minutes with 2 workers
SECONDS_PER_CLIP_SECOND_64PX = 0.24


def world_estimate_s(spec, workers: int) -> float:
    """About how long making the world ``spec`` takes, in seconds (pixels scale the rendering cost)."""
    return spec.clips * spec.seconds * SECONDS_PER_CLIP_SECOND_64PX * (spec.size / 64) ** 2 / max(workers, 1)


def world(profile: str | None = None, workers: int | None = None, **overrides) -> Path:
    """The profile's synthetic world (see :func:`vasa_lab.world.dataset.default_world`), announced when it is made."""
    from .artifacts import ExclusiveLock, config_key, default_home
    from .world.dataset import INDEX_NAME, default_world, spec_for_profile, world_lock

    spec = spec_for_profile(profile, **overrides)
    index = default_home() / "data" / f"synthetic-{config_key(spec)}" / INDEX_NAME
    if index.exists():
        done = json.loads(index.read_text())
        if len(done["clips"]) + len(done["failed"]) >= spec.clips:
            return default_world(profile, workers=workers, progress=False, **overrides)
    n_workers = workers or os.cpu_count() or 1
    minutes = world_estimate_s(spec, n_workers) / 60
    how_long = "under a minute" if minutes < 1 else f"about {minutes:.0f} min"
    ci = bool(os.environ.get("CI"))
    if ExclusiveLock(world_lock(index.parent)).held_elsewhere():
        print(f"Another process is making the synthetic world ({spec.clips} clips of {spec.seconds:g} s at "
              f"{spec.size} px; from scratch {how_long} on a 2-core laptop): waiting for it.", flush=True)
    else:
        print(f"Making the synthetic world once ({spec.clips} clips of {spec.seconds:g} s at {spec.size} px, "
              f"{n_workers} workers): {how_long} on a 2-core laptop, then cached for every chapter.",
              flush=True)
    started = time.perf_counter()
    folder = default_world(profile, workers=workers, progress=not ci, **overrides)
    print(f"World ready in {(time.perf_counter() - started) / 60:.1f} min.", flush=True)
    return folder


def make_caches(profile: str | None = None, **world_overrides) -> dict[str, Path]:
    """Make the profile's world and its motion-code cache now (each only if missing); returns where they are.
    ``world_overrides`` change the world as in :func:`world` (tests use a few short clips)."""
    from .motion.config import MotionConfig
    from .motion.data import cache_path, motion_clips

    config = MotionConfig.for_profile(profile)
    folder = Path(config.data).expanduser() if config.data else world(profile, **world_overrides)
    started = time.perf_counter()
    motion_clips(config, folder)
    print(f"Motion codes ready in {(time.perf_counter() - started) / 60:.1f} min.", flush=True)
    return {"world": folder, "motion codes": cache_path(config, folder)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vasa_lab.course",
                                     description="make the world and the motion codes the chapters share, once")
    parser.add_argument("--profile", default=None, help="tiny, small or full (default: $VASA_LAB_PROFILE or tiny)")
    args = parser.parse_args(argv)
    for what, path in make_caches(args.profile).items():
        print(f"{what}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
