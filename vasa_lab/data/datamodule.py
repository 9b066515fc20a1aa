"""Serving clips to training: windows of frames, audio and ground truth, split by identity.

Every later stage trains on *windows*: ``window_frames`` consecutive frames of one clip, the audio under them and
their ground truth. A clip of T frames gives windows starting at 0, stride, 2 * stride, ...

The split is by **identity**, never by clip or frame (:mod:`vasa_lab.data.splits`): a person seen in training never
appears in validation or test.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..config import DataConfig
from ..media import read_video
from ..world.clip import load_truth
from ..world.dataset import read_index
from .splits import SPLITS, split_entries


@dataclass(frozen=True)
class WindowRef:
    clip: int    # position in the dataset's clip list
    start: int   # first frame


class ClipWindowDataset(Dataset):
    """Windows of synthetic clips from a dataset folder.

    Each item is a dict of tensors::

        frames     (T, 3, H, W) float32 in [0, 1]   the decoded video
        audio      (T * samples_per_frame,) float32 the speech under those frames (16 kHz)
        states     (T, 17) float32                  the FaceState of every frame (see vasa_lab.world.state)
        landmarks  (T, 68, 2) float32               pixel coordinates
        viseme_ids (T,) int64
        identity, emotion, clip, start              int64 scalars

    Decoded frames are cached as ``.frames.npy`` beside each mp4 on first use and memory-mapped after that, so
    H.264 is decoded once per clip, not once per window.
    """

    def __init__(self, folder: str | Path, split: str | None = None, window_frames: int = 25, window_stride: int = 12,
                 config: DataConfig | None = None, with_frames: bool = True):
        self.folder = Path(folder)
        index = read_index(self.folder)
        cfg = config or DataConfig(window_frames=window_frames, window_stride=window_stride)
        self.window_frames, self.window_stride = cfg.window_frames, cfg.window_stride
        entries = index["clips"]
        if split is not None:
            entries = split_entries(entries, split, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
        self.entries = entries
        self.spec = index["spec"]
        self.samples_per_frame = int(round(self.spec["sample_rate"] / self.spec["fps"]))
        self.with_frames = with_frames
        self.windows = [WindowRef(c, s) for c, e in enumerate(entries)
                        for s in range(0, e["n_frames"] - self.window_frames + 1, self.window_stride)]
        self._truth: dict[int, object] = {}
        self._audio: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def identities(self) -> list[int]:
        return sorted({e["identity"] for e in self.entries})

    def _path(self, clip: int, suffix: str) -> Path:
        return self.folder / f"{self.entries[clip]['stem']}{suffix}"

    def frames_of(self, clip: int) -> np.ndarray:
        """(T, H, W, 3) uint8 frames of a clip, decoded once and cached as .frames.npy (memory-mapped)."""
        cache = self._path(clip, ".frames.npy")
        if not cache.exists():
            frames, _ = read_video(self._path(clip, ".mp4"))
            tmp = cache.with_suffix(f".tmp{os.getpid()}-{id(self)}.npy")   # unique to this process
            np.save(tmp, frames)
            tmp.replace(cache)
        return np.load(cache, mmap_mode="r")

    def truth_of(self, clip: int):
        if clip not in self._truth:
            self._truth[clip] = load_truth(self._path(clip, ".npz"))
        return self._truth[clip]

    def audio_of(self, clip: int) -> np.ndarray:
        if clip not in self._audio:
            import soundfile as sf

            audio, _ = sf.read(str(self._path(clip, ".wav")), dtype="float32")
            self._audio[clip] = audio
        return self._audio[clip]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ref = self.windows[i]
        t0, t1 = ref.start, ref.start + self.window_frames
        truth = self.truth_of(ref.clip)
        audio = self.audio_of(ref.clip)
        a0, a1 = t0 * self.samples_per_frame, t1 * self.samples_per_frame
        clip_audio = np.zeros(a1 - a0, np.float32)
        piece = audio[a0:a1]
        clip_audio[: piece.size] = piece
        entry = self.entries[ref.clip]
        item = dict(
            audio=torch.from_numpy(clip_audio),
            states=torch.from_numpy(np.ascontiguousarray(truth.states[t0:t1], dtype=np.float32)),
            landmarks=torch.from_numpy(np.ascontiguousarray(truth.landmarks[t0:t1], dtype=np.float32)),
            viseme_ids=torch.from_numpy(np.ascontiguousarray(truth.viseme_ids[t0:t1], dtype=np.int64)),
            identity=torch.tensor(entry["identity"]),
            emotion=torch.tensor(truth.meta["emotion_id"]),
            clip=torch.tensor(entry["index"]),
            start=torch.tensor(t0),
        )
        if self.with_frames:
            frames = np.array(self.frames_of(ref.clip)[t0:t1])  # a copy: the cache is a read-only memmap
            item["frames"] = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)
        return item


class SplitDataModule(L.LightningDataModule):
    """The part every DataModule of the course shares: three window datasets (train/val/test, split by identity)
    and their loaders. A subclass says how to build one split's dataset in :meth:`make_dataset`."""

    def __init__(self, config: DataConfig | None = None):
        super().__init__()
        self.config = config or DataConfig.for_profile()
        self.datasets: dict[str, Dataset] = {}

    def make_dataset(self, split: str) -> Dataset:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.datasets:
                self.datasets[split] = self.make_dataset(split)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.config.split_seed)
        return DataLoader(self.datasets[split], batch_size=self.config.batch_size, shuffle=shuffle,
                          num_workers=self.config.num_workers, generator=generator,
                          persistent_workers=self.config.num_workers > 0, drop_last=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


class TalkingHeadDataModule(SplitDataModule):
    """Train/val/test windows of a synthetic dataset folder, split by identity.

    With ``world_spec``, ``prepare_data`` makes the synthetic dataset if the folder has none (in the tiny profile
    this takes a few minutes on 2 cores); ``setup`` builds the three window datasets.
    """

    def __init__(self, folder: str | Path, config: DataConfig | None = None, world_spec=None, with_frames: bool = True):
        super().__init__(config)
        self.folder = Path(folder)
        self.world_spec = world_spec
        self.with_frames = with_frames

    def prepare_data(self) -> None:
        if self.world_spec is not None:
            from ..world.dataset import synthesize_dataset

            synthesize_dataset(self.folder, self.world_spec)

    def make_dataset(self, split: str) -> ClipWindowDataset:
        return ClipWindowDataset(self.folder, split, config=self.config, with_frames=self.with_frames)
