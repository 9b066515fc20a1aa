"""The clips of a dataset folder, for the stages that train on single frames and pairs (latent space, identity
network, metric networks), and which folder a config trains on.

* :func:`dataset_folder` - a config's ``data`` folder, or the profile's synthetic world (made on first use).
* :class:`ClipFrames` - random access to the frames, head poses, landmarks and face parameters of one split of a
  dataset folder: the synthetic world (:mod:`vasa_lab.world`; the truth) or a folder made by
  :mod:`vasa_lab.data.prepare` from real video (the tracker's readings). Frames are memory-mapped.
* :func:`heldout_clips` - a few clips of a held-out split made on the spot, without building the whole world.

Splits are by identity (:func:`vasa_lab.data.splits.split_entries`), the same rule everywhere.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..world.clip import make_clip
from ..world.dataset import default_world, spec_for_profile
from ..world.state import STATE_NAMES
from .splits import split_entries


def dataset_folder(config, progress: bool = False) -> Path:
    """The dataset a config trains on: its ``data`` folder, or its profile's synthetic world (made on first use).

    ``config``: any stage's config (they all have ``data`` and ``profile``)."""
    if config.data:
        return Path(config.data).expanduser()
    return default_world(config.profile, progress=progress)


def is_prepared(folder: str | Path) -> bool:
    """True for a folder written by vasa_lab.data.prepare (shards), False for a synthetic world folder."""
    return (Path(folder) / "shards").is_dir()


class ClipFrames:
    """Frames, poses and people of one split of a dataset folder (synthetic world or prepared real video)."""

    def __init__(self, folder: str | Path, split: str | None = "train", data_config: DataConfig | None = None):
        cfg = data_config or DataConfig(window_frames=1, window_stride=1)
        self.folder = Path(folder)
        self.prepared = is_prepared(folder)
        if self.prepared:
            from .shards import PreparedClipDataset

            self.source = PreparedClipDataset(folder, split, window_frames=1, window_stride=1, config=cfg)
        else:
            from .datamodule import ClipWindowDataset

            self.source = ClipWindowDataset(folder, split, window_frames=1, window_stride=1, config=cfg)
        self.entries = self.source.entries
        if not self.entries:
            raise ValueError(f"{folder} has no clips in the {split!r} split")
        self.identity = [int(e["identity"]) for e in self.entries]
        self.n_frames = [int(e["n_frames"]) for e in self.entries]
        self.clips_of: dict[int, list[int]] = defaultdict(list)
        for c, person in enumerate(self.identity):
            self.clips_of[person].append(c)
        self.people = sorted(self.clips_of)
        self._pose: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._frames: dict[int, np.ndarray] = {}
        self._expression: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def frames(self, clip: int) -> np.ndarray:
        """(T, H, W, 3) uint8, memory-mapped (opened once per clip)."""
        if clip not in self._frames:
            self._frames[clip] = self.source.frames_of(clip)
        return self._frames[clip]

    def image_size(self) -> int:
        return int(self.frames(0).shape[1])

    def states(self, clip: int) -> np.ndarray | None:
        """(T, 17) ground truth FaceStates (synthetic world only; None for real video)."""
        if self.prepared:
            tracks = self.source.tracks_of(clip)
            return tracks.get("states")
        return self.source.truth_of(clip).states

    def landmarks(self, clip: int) -> np.ndarray | None:
        """(T, 68, 2) landmarks in pixels: the truth in the synthetic world, the tracker's for real video."""
        if self.prepared:
            return np.asarray(self.source.tracks_of(clip)["landmarks"], np.float32)
        return self.source.truth_of(clip).landmarks

    def expression(self, clip: int, names: tuple[str, ...], units: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The face parameters ``names`` (world state names) of a clip, divided by ``units``: (T, K), and where each
        is known (T, K) bool. Every value in the synthetic world (its truth); for real video what the tracker reads
        (mouth opening in the jaw_open slot, eye closure in the blink slot, gaze), where the face was found."""
        names = tuple(names)
        if (clip, names) not in self._expression:
            unit = np.asarray(units, np.float32)
            k = len(names)
            if self.prepared:
                tracks = self.source.tracks_of(clip)
                t = len(tracks["pose"])
                values, ok = np.zeros((t, k), np.float32), np.zeros((t, k), bool)
                detected = np.asarray(tracks.get("detected", np.ones(t, bool)), bool)
                for name, column in (("jaw_open", tracks.get("mouth_open")),
                                     ("blink", None if "eye_openness" not in tracks else 1 - np.asarray(
                                         tracks["eye_openness"], np.float32)),
                                     ("gaze_yaw", None if "gaze" not in tracks else np.asarray(tracks["gaze"])[:, 0]),
                                     ("gaze_pitch", None if "gaze" not in tracks else np.asarray(tracks["gaze"])[:, 1])):
                    if column is not None:
                        j = names.index(name)
                        column = np.asarray(column, np.float32)
                        values[:, j] = np.nan_to_num(column) / unit[j]
                        ok[:, j] = detected & np.isfinite(column)
            else:
                states = self.source.truth_of(clip).states
                values = np.stack([states[:, STATE_NAMES.index(n)] for n in names], 1) / unit
                ok = np.ones(values.shape, bool)
            self._expression[clip, names] = (values.astype(np.float32), ok)
        return self._expression[clip, names]

    def pose(self, clip: int) -> tuple[np.ndarray, np.ndarray]:
        """The given head pose (T, 6) and where it can be trusted (T,) bool: truth, or the tracker's pose."""
        if clip not in self._pose:
            if self.prepared:
                tracks = self.source.tracks_of(clip)
                pose = np.asarray(tracks["pose"], np.float32)
                ok = np.asarray(tracks.get("detected", np.ones(len(pose), bool)), bool) & np.isfinite(pose).all(1)
                pose = np.nan_to_num(pose, nan=0.0)
            else:
                pose = np.asarray(self.source.truth_of(clip).states[:, :6], np.float32)
                ok = np.ones(len(pose), bool)
            self._pose[clip] = (pose, ok)
        return self._pose[clip]


def heldout_clip_indices(profile: str | None = None, split: str = "test") -> list[int]:
    """Which clips of the profile's world belong to ``split`` (by identity, as every DataModule splits them),
    computed without the world's folder: a chapter can make a few held-out clips on the spot instead of
    building the whole world."""
    spec = spec_for_profile(profile)
    data = DataConfig.for_profile(profile)
    entries = [dict(index=i, identity=i // spec.clips_per_identity) for i in range(spec.clips)]
    chosen = split_entries(entries, split, data.val_fraction, data.test_fraction, data.split_seed)
    return [e["index"] for e in chosen]


def heldout_clips(profile: str | None = None, split: str = "test", n: int = 4):
    """The first ``n`` clips of ``split`` in the profile's world, made now (the same bytes as in the world's folder;
    ~0.5 s each at 128 px)."""
    spec = spec_for_profile(profile)
    return [make_clip(spec.seed, i, seconds=spec.seconds, size=spec.size, language=spec.language, fps=spec.fps,
                      sample_rate=spec.sample_rate, clips_per_identity=spec.clips_per_identity)
            for i in heldout_clip_indices(profile, split)[:n]]
