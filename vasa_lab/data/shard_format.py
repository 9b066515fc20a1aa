"""The files of a prepared folder (``vasa_lab.data.prepare`` writes them, :mod:`vasa_lab.data.shards` serves them).

A prepared folder holds ``index.json`` and ``shards/shard-NNNNNN.tar``; each shard holds clips as WebDataset-style
samples, files grouped by key: ``KEY.mp4``, ``KEY.wav``, ``KEY.npz`` and ``KEY.json`` (see :mod:`vasa_lab.data.shards`
for what each holds). This module needs no torch and no Lightning, so the preparing command and its worker processes
start in a second, not in the ten that importing Lightning takes.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np

from ..media import MediaError, read_video

INDEX_NAME = "index.json"
FORMAT = "vasa_lab.prepared/1"          # written into index.json and every clip's meta by the writer, checked here
CLIP_FILES = ("mp4", "wav", "npz", "json")   # a clip's members in a shard: KEY.mp4, KEY.wav, KEY.npz, KEY.json
TRACK_FIELDS = ("pose", "gaze", "landmarks", "mouth_open", "eye_openness", "blink", "detected")


# ---------------------------------------------------------------------------------------------------------------
# writing (vasa_lab.data.prepare packs its staged clips with these)
# ---------------------------------------------------------------------------------------------------------------
def shard_name(number: int) -> str:
    """The path of shard ``number`` inside a prepared folder."""
    return f"shards/shard-{number:06d}.tar"


def write_shard(path: str | Path, entries: list[dict], member_bytes) -> None:
    """Write a tar shard of clips: for each index entry, its files ``KEY.ext`` for ext in :data:`CLIP_FILES`
    (``member_bytes(key, ext)`` gives each one's bytes; the ``.json`` member is the entry itself). Members carry no
    clock or owner, so the same clips give the same bytes each time."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            for ext in CLIP_FILES:
                data = (json.dumps(entry, ensure_ascii=False).encode() if ext == "json"
                        else member_bytes(entry["key"], ext))
                info = tarfile.TarInfo(f"{entry['key']}.{ext}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------


def read_prepared_index(folder: str | Path) -> dict:
    """The index of a prepared folder, with a clear error when there is none."""
    folder = Path(folder)
    path = folder / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {INDEX_NAME}: make it with "
                                f"`vasa-lab prepare --input VIDEOS --out {folder}`")
    index = json.loads(path.read_text())
    if index.get("format") != FORMAT:
        raise ValueError(f"{path} is not a prepared-clips index (format {index.get('format')!r}, expected {FORMAT})")
    return index


def shard_members(shard: str | Path) -> dict[str, tuple[int, int]]:
    """name -> (byte offset of the data, size) for every file in a tar shard (reads the headers only)."""
    with tarfile.open(shard, "r") as tar:
        return {m.name: (m.offset_data, m.size) for m in tar.getmembers() if m.isfile()}


def decode_mp4(data: bytes) -> np.ndarray:
    """mp4 bytes -> (T, H, W, 3) uint8 RGB frames."""
    try:
        return read_video(data)[0]
    except MediaError as err:
        raise MediaError(f"a prepared clip's video cannot be decoded ({err})") from None


def load_tracks(source: bytes | str | Path) -> dict:
    """A clip's ``.npz`` (bytes from a shard, or a path) -> dict of arrays plus ``meta`` (a dict). No pickle."""
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else Path(source)
    with np.load(handle, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    out["meta"] = json.loads(str(out["meta"]))
    return out
