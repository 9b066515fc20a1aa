"""Serving prepared clips (``vasa_lab.data.prepare``) to training: windows from tar shards, split by speaker.

A prepared folder holds ``index.json`` and ``shards/shard-NNNNNN.tar``; each shard holds clips as WebDataset-style
samples, files grouped by key: ``KEY.mp4`` (aligned face crops, 25 fps, with AAC audio), ``KEY.wav`` (16 kHz mono),
``KEY.npz`` (tracks, labels, and for the synthetic world the ground truth) and ``KEY.json`` (the index entry).

:class:`PreparedClipDataset` gives the same windows as :class:`vasa_lab.data.datamodule.ClipWindowDataset` (so a
chapter can train on the synthetic world or on real video without changing a line), plus the tracked signals::

    frames        (T, 3, H, W) float32 in [0, 1]    the aligned crops
    audio         (T * 640,) float32                16 kHz speech under those frames
    pose          (T, 6) float32                    tracked yaw, pitch, roll (deg), tx, ty, scale
    gaze          (T, 2) float32                    tracked gaze yaw, pitch (deg, relative to the head)
    landmarks     (T, 68, 2) float32                tracked iBUG-68 landmarks in crop pixels
    mouth_open, eye_openness, blink (T,) float32    blink is 0/1
    detected      (T,) bool                         False where the face was lost (tracks interpolated there)
    gaze_main     (2,) float32                      the clip's main gaze direction (VASA-1's condition g)
    head_distance () float32                        the clip's normalised head distance (condition d)
    identity      int64   the speaker's stable id (synthetic: the identity index; real: CRC-32 of the speaker name)
    speaker       int64   the speaker's position in the folder's sorted speaker list (0 .. S-1, for embeddings)
    clip, start   int64   the clip's position in index.json, the window's first frame
    synthetic input only (ground truth, as in ClipWindowDataset):
    states (T, 17), true_landmarks (T, 68, 2) crop pixels, viseme_ids (T,), emotion ()

The split is by speaker with the same rule as the synthetic world (:func:`~vasa_lab.data.splits.split_entries`
on each entry's ``identity``), so nobody is in two splits.

**Reading, small scale (tiny, small)**: the index says which shard holds a clip; the shard's member table is read
once, then a clip's files are read by seeking to them. The mp4 is decoded once per clip and cached as
``cache/KEY.frames.npy`` (memory-mapped after that), exactly like ClipWindowDataset; random access, shuffling and
identity splits are then trivial.

**Streaming at scale (full)**: 10^5 clips at 512 px do not fit a frame cache. There the same shards are read
sequentially with the ``webdataset`` package, which needs no change to the files::

    urls = [str(folder / s["file"]) for s in index["shards"] if <shard in the train split>]
    ds = (wds.WebDataset(urls, shardshuffle=True, nodesplitter=wds.split_by_node,
                         workersplitter=wds.split_by_worker)
          .shuffle(1000)                                  # a buffer of clips
          .map(decode_sample)                              # mp4 bytes -> frames, npz bytes -> tracks
          .compose(random_windows(window_frames)))         # a few windows per clip
    loader = wds.WebLoader(ds, batch_size=None, num_workers=8).batched(8)

Under Lightning's DDP each rank gets a disjoint set of shards (``split_by_node``) and each DataLoader worker a
disjoint subset of those (``split_by_worker``); give every rank the same number of shards (``--shard-clips`` so that
shards outnumber ranks x workers) and set ``with_epoch`` so all ranks run the same number of steps. For a split by
speaker, prepare each split into its own folder, or pick the shards whose clips fall in the split (the index lists
each clip's shard and speaker).
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import DataConfig
from .datamodule import SplitDataModule
from .splits import split_entries
from .shard_format import decode_mp4, load_tracks, read_prepared_index, shard_members


@dataclass(frozen=True)
class WindowRef:
    clip: int    # position in the dataset's entry list
    start: int   # first frame


class PreparedClipDataset(Dataset):
    """Windows of prepared clips (see the module docstring for the item's fields)."""

    def __init__(self, folder: str | Path, split: str | None = None, window_frames: int = 25, window_stride: int = 12,
                 config: DataConfig | None = None, with_frames: bool = True, cache_dir: str | Path | None = None):
        self.folder = Path(folder)
        self.index = read_prepared_index(self.folder)
        cfg = config or DataConfig(window_frames=window_frames, window_stride=window_stride)
        if cfg.window_frames < 1 or cfg.window_stride < 1:
            raise ValueError(f"window_frames and window_stride must be at least 1, got {cfg.window_frames}, "
                             f"{cfg.window_stride}")
        self.window_frames, self.window_stride = cfg.window_frames, cfg.window_stride
        all_entries = self.index["clips"]
        self.position = {e["key"]: i for i, e in enumerate(all_entries)}
        self.speaker_names = sorted({e["speaker"] for e in all_entries})
        self.speaker_index = {s: i for i, s in enumerate(self.speaker_names)}
        entries = all_entries
        if split is not None:
            entries = split_entries(all_entries, split, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
        self.entries = entries
        self.fps = float(self.index["options"]["fps"])
        self.sample_rate = int(self.index["options"]["sample_rate"])
        self.samples_per_frame = int(round(self.sample_rate / self.fps))
        self.with_frames = with_frames
        self.has_truth = bool(entries) and all(e.get("has_truth") for e in entries)
        self.windows = [WindowRef(c, s) for c, e in enumerate(entries)
                        for s in range(0, e["n_frames"] - self.window_frames + 1, self.window_stride)]
        self.cache_dir = self._cache_folder(cache_dir)
        self._members: dict[str, dict[str, tuple[int, int]]] = {}
        self._tracks: dict[int, dict] = {}
        self._audio: dict[int, np.ndarray] = {}

    def _cache_folder(self, cache_dir) -> Path:
        """``cache_dir``, else ``FOLDER/cache``, else (a read-only dataset) a folder in the system's temp dir."""
        for candidate in ([Path(cache_dir)] if cache_dir is not None else
                          [self.folder / "cache", Path(tempfile.gettempdir()) / "vasa_lab_cache" /
                           hashlib.sha1(str(self.folder.resolve()).encode()).hexdigest()[:12]]):
            try:
                candidate.mkdir(parents=True, exist_ok=True)
                return candidate
            except OSError:
                continue
        raise ValueError(f"cannot create a frame cache folder (tried {cache_dir or self.folder / 'cache'})")

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def identities(self) -> list[int]:
        return sorted({e["identity"] for e in self.entries})

    @property
    def speakers(self) -> list[str]:
        return sorted({e["speaker"] for e in self.entries})

    def read_file(self, clip: int, ext: str) -> bytes:
        """The bytes of one of a clip's files (``mp4``, ``wav``, ``npz`` or ``json``) from its shard."""
        entry = self.entries[clip]
        shard = entry["shard"]
        if shard not in self._members:
            self._members[shard] = shard_members(self.folder / shard)
        name = f"{entry['key']}.{ext}"
        if name not in self._members[shard]:
            raise ValueError(f"{self.folder / shard} has no {name}: the folder is damaged; prepare it again")
        offset, size = self._members[shard][name]
        with open(self.folder / shard, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def frames_of(self, clip: int) -> np.ndarray:
        """(T, H, W, 3) uint8 crops of a clip, decoded once and cached as .frames.npy (memory-mapped)."""
        cache = self.cache_dir / f"{self.entries[clip]['key']}.frames.npy"
        if not cache.exists():
            frames = decode_mp4(self.read_file(clip, "mp4"))
            tmp = cache.with_suffix(f".tmp{os.getpid()}-{id(self)}.npy")   # unique to this process
            np.save(tmp, frames)
            tmp.replace(cache)
        return np.load(cache, mmap_mode="r")

    def tracks_of(self, clip: int) -> dict:
        if clip not in self._tracks:
            self._tracks[clip] = load_tracks(self.read_file(clip, "npz"))
        return self._tracks[clip]

    def audio_of(self, clip: int) -> np.ndarray:
        if clip not in self._audio:
            import soundfile as sf

            audio, _ = sf.read(io.BytesIO(self.read_file(clip, "wav")), dtype="float32")
            self._audio[clip] = audio
        return self._audio[clip]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ref = self.windows[i]
        t0, t1 = ref.start, ref.start + self.window_frames
        entry = self.entries[ref.clip]
        tracks = self.tracks_of(ref.clip)
        audio = self.audio_of(ref.clip)
        a0, a1 = t0 * self.samples_per_frame, t1 * self.samples_per_frame
        window_audio = np.zeros(a1 - a0, np.float32)
        piece = audio[a0:a1]
        window_audio[: piece.size] = piece

        def part(name: str, dtype=np.float32) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(tracks[name][t0:t1], dtype=dtype))

        item = dict(
            audio=torch.from_numpy(window_audio),
            pose=part("pose"), gaze=part("gaze"), landmarks=part("landmarks"), mouth_open=part("mouth_open"),
            eye_openness=part("eye_openness"), blink=part("blink"), detected=part("detected", bool),
            gaze_main=torch.from_numpy(np.asarray(tracks["gaze_main"], np.float32)),
            head_distance=torch.tensor(float(tracks["head_distance"]), dtype=torch.float32),
            identity=torch.tensor(int(entry["identity"])),
            speaker=torch.tensor(self.speaker_index[entry["speaker"]]),
            clip=torch.tensor(self.position[entry["key"]]),
            start=torch.tensor(t0),
        )
        if self.has_truth:
            item.update(states=part("true_states"), true_landmarks=part("true_landmarks"),
                        viseme_ids=part("viseme_ids", np.int64),
                        emotion=torch.tensor(int(tracks["meta"]["truth"].get("emotion_id", 0))))
        if self.with_frames:
            frames = np.array(self.frames_of(ref.clip)[t0:t1])  # a copy: the cache is a read-only memmap
            item["frames"] = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)
        return item


class PreparedDataModule(SplitDataModule):
    """Train/val/test windows of a prepared folder, split by speaker (the real-video twin of
    :class:`vasa_lab.data.datamodule.TalkingHeadDataModule`)."""

    def __init__(self, folder: str | Path, config: DataConfig | None = None, with_frames: bool = True,
                 cache_dir: str | Path | None = None):
        super().__init__(config)
        self.folder = Path(folder)
        self.with_frames = with_frames
        self.cache_dir = cache_dir

    def prepare_data(self) -> None:
        read_prepared_index(self.folder)   # fail early, with the command that makes the folder

    def make_dataset(self, split: str) -> PreparedClipDataset:
        return PreparedClipDataset(self.folder, split, config=self.config, with_frames=self.with_frames,
                                   cache_dir=self.cache_dir)
