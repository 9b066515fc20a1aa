"""Profiles: one place that decides how big everything is.

Three sizes of the same code:

==========  =====================  =====================================================
profile     where it runs          what it means
==========  =====================  =====================================================
``tiny``    a laptop CPU, CI       64 px frames, short clips, small models, minutes a chapter
``small``   CPU or a modest GPU    128 px, longer clips, mid-sized models
``full``    one 24 GB GPU (or DDP) 512 px, paper-sized models (DiT 8 layers x 512 x 8 heads)
==========  =====================  =====================================================

The profile is chosen by an argument where a function takes one, otherwise by the ``VASA_LAB_PROFILE``
environment variable, otherwise ``tiny``. Nothing else in the package reads the environment for it, and no code
is edited to change it. Each stage keeps its own config dataclass with a ``for_profile`` constructor.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

PROFILES = ("tiny", "small", "full")
PROFILE_ENV = "VASA_LAB_PROFILE"


def resolve_profile(profile: str | None = None) -> str:
    """The profile to use: the argument if given, else ``$VASA_LAB_PROFILE``, else ``"tiny"``."""
    name = profile if profile is not None else os.environ.get(PROFILE_ENV, "tiny")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return name


@dataclass(frozen=True)
class WorldConfig:
    """How the synthetic world is generated for a profile (see ``vasa_lab.world``)."""

    image_size: int = 64          # rendered frame size in pixels (square)
    fps: float = 25.0             # video frame rate; VASA-1 works at 25 fps
    sample_rate: int = 16_000     # audio sample rate for the models
    clip_seconds: float = 4.0     # length of one clip
    n_clips: int = 500            # clips in the default training world
    clips_per_identity: int = 2   # clips spoken by each person (identity-level splits need > 1)
    languages: tuple[str, ...] = ("en",)  # training languages; fr and zh are kept for out-of-distribution tests
    seed: int = 0

    @classmethod
    def for_profile(cls, profile: str | None = None) -> "WorldConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            return cls()
        if name == "small":
            # 800 clips of 4 s (400 people): 80,000 frames, made in ~4 minutes on 2 cores, 3.9 GB as frames
            return cls(image_size=128, n_clips=800)
        return cls(image_size=512, clip_seconds=8.0, n_clips=10_000)


@dataclass(frozen=True)
class DataConfig:
    """How clips are served to training (see ``vasa_lab.data``)."""

    window_frames: int = 25       # frames per training window (1 s at 25 fps)
    window_stride: int = 12       # frames between window starts
    batch_size: int = 16
    num_workers: int = 0          # 0 keeps CI and notebooks simple; raise it on a real machine
    val_fraction: float = 0.1     # share of identities held out for validation
    test_fraction: float = 0.1    # share of identities held out for testing
    split_seed: int = 0

    @classmethod
    def for_profile(cls, profile: str | None = None) -> "DataConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            return cls()
        if name == "small":
            return cls(window_frames=50, window_stride=25, batch_size=16, num_workers=2)
        return cls(window_frames=100, window_stride=50, batch_size=8, num_workers=8)
