"""Helpers for the chapters: long first-use work that says what it is doing and how long it will take.

A chapter that needs the profile's synthetic world calls :func:`world` instead of ``default_world``: when the world
is cached (the usual case) it returns at once and prints nothing; when it must be made, it prints one line with
an estimate and shows a progress bar while it works (a plain line, no bar, when ``CI`` is set).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

# measured on a 2-core laptop CPU: the tiny world (500 clips of 4 s at 64 px) takes about 4 minutes with 2 workers
SECONDS_PER_CLIP_SECOND_64PX = 0.24


def world_estimate_s(spec, workers: int) -> float:
    """About how long making the world ``spec`` takes, in seconds (pixels scale the rendering cost)."""
    return spec.clips * spec.seconds * SECONDS_PER_CLIP_SECOND_64PX * (spec.size / 64) ** 2 / max(workers, 1)


def world(profile: str | None = None, workers: int | None = None, **overrides) -> Path:
    """The profile's synthetic world (see :func:`vasa_lab.world.dataset.default_world`), announced when it is made."""
    from .artifacts import config_key, default_home
    from .world.dataset import INDEX_NAME, default_world, spec_for_profile

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
    print(f"Making the synthetic world once ({spec.clips} clips of {spec.seconds:g} s at {spec.size} px, "
          f"{n_workers} workers): {how_long} on a 2-core laptop, then cached for every chapter.",
          flush=True)
    started = time.perf_counter()
    folder = default_world(profile, workers=workers, progress=not ci, **overrides)
    print(f"World ready in {(time.perf_counter() - started) / 60:.1f} min.", flush=True)
    return folder
