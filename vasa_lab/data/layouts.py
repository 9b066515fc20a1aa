"""Finding the videos in an input folder and telling who speaks in each: the dataset *layouts*.

Splits are by person (a face seen in training must never be tested on), so preparation has to know which clips
share a speaker. Each public talking-head dataset says so in its own way:

==============  ==========================================  ===============================================
layout          what the folder looks like                  the speaker
==============  ==========================================  ===============================================
``synthetic``   ``index.json`` from vasa_lab.world.dataset  the synthetic identity index (ground truth too)
``voxceleb2``   ``id00012/21Uxsk56VDQ/00001.mp4``           the ``id*`` folder
``hdtf``        ``WRA_KimSchrier_000.mp4`` (flat)           the name without the trailing ``_000``
``celebvhq``    ``-0AUWlH1ErE_0.mp4`` (flat)                the 11-character YouTube id before ``_N``
``folder``      anything else, flat or nested               the file's own name (one speaker per file)
==============  ==========================================  ===============================================

``auto`` picks the layout from the names: a synthetic index wins; VoxCeleb2 if most videos sit two folders below
an ``id<digits>`` folder; HDTF or CelebV-HQ only if *every* file name fits that pattern; else ``folder``.

Each video gets a **key**: its path below the input folder without the extension, ``/`` turned into ``__`` and
every character other than letters, digits, ``-`` and ``_`` into ``_``. WebDataset groups a sample's files by the
part of the name before the first dot, so a key never holds a dot.

The search is recursive (symbolic links to folders are followed once each); hidden files and folders (names that
start with a dot, such as macOS ``._clip.mp4`` shadows) are ignored; a folder that cannot be listed becomes a
skipped entry with the reason ``unreadable folder``, so it shows up in the report instead of vanishing.
"""
from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi")
LAYOUTS = ("auto", "synthetic", "voxceleb2", "hdtf", "celebvhq", "folder")

_VOX_ID = re.compile(r"^id\d+$")
_HDTF = re.compile(r"^(?:WDA|WRA|RD)_.+_(\d+)$")
_CELEBV = re.compile(r"^([A-Za-z0-9_-]{11})_(\d+)$")
_NOT_KEY = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Source:
    """One input video (or one problem found while looking for videos)."""

    key: str                  # unique, WebDataset-safe name of the clip (no dots)
    path: str                 # absolute path of the video ("" for an unreadable folder)
    rel: str                  # path below the input folder, for the report
    speaker: str              # who speaks (see the layout table)
    identity: int             # a stable integer for the speaker: the split is a pure function of it
    layout: str
    truth: str | None = None  # synthetic world: the clip's ground-truth .npz
    problem: str | None = None  # found already while searching (an unreadable folder)


def speaker_identity(speaker: str) -> int:
    """A stable non-negative integer for a speaker name (CRC-32), so ``identity_split`` puts a person in the same
    split on every machine and however the dataset grows."""
    return zlib.crc32(speaker.encode("utf-8")) & 0x7FFFFFFF


def make_key(rel: str) -> str:
    """'id00012/21Uxsk56VDQ/00001.mp4' -> 'id00012__21Uxsk56VDQ__00001'."""
    stem = rel.rsplit(".", 1)[0] if "." in Path(rel).name else rel
    return "__".join(_NOT_KEY.sub("_", part) for part in stem.split("/"))


def is_synthetic(folder: Path) -> bool:
    """Does ``folder`` hold a dataset made by :func:`vasa_lab.world.dataset.synthesize_dataset`?"""
    index = folder / "index.json"
    if not index.is_file():
        return False
    try:
        made_by = json.loads(index.read_text()).get("made_by", "")
    except (OSError, ValueError):
        return False
    return str(made_by).startswith("vasa_lab.world")


def find_videos(root: Path, exclude: Path | None = None) -> tuple[list[str], list[str]]:
    """Every video file below ``root`` (relative paths, sorted) and every folder that could not be listed.

    Broken symbolic links named like videos are returned too: the caller reports them as unreadable files.
    """
    root = Path(root)
    videos, unreadable = [], []
    seen: set[str] = set()
    skip = os.path.realpath(exclude) if exclude is not None else None

    def on_error(err: OSError) -> None:
        rel = os.path.relpath(err.filename, root) if err.filename else "?"
        unreadable.append(rel)

    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen or (skip is not None and real == skip):
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or not name.lower().endswith(VIDEO_EXTENSIONS):
                continue
            videos.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return sorted(videos), sorted(set(unreadable))


def _vox_speaker(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[-3] if len(parts) >= 3 and _VOX_ID.match(parts[-3]) else None


def detect_layout(root: Path, videos: list[str]) -> str:
    """The layout of a folder from its file names (see the module docstring)."""
    if is_synthetic(root):
        return "synthetic"
    if not videos:
        return "folder"
    stems = [Path(v).stem for v in videos]
    if sum(_vox_speaker(v) is not None for v in videos) > len(videos) / 2:
        return "voxceleb2"
    flat = all("/" not in v for v in videos)
    if flat and all(_HDTF.match(s) for s in stems):
        return "hdtf"
    if flat and all(_CELEBV.match(s) for s in stems):
        return "celebvhq"
    return "folder"


def speaker_of(rel: str, layout: str) -> str:
    """Who speaks in the video at ``rel`` under ``layout`` (a file that does not fit it: its own name)."""
    stem = Path(rel).stem
    if layout == "voxceleb2":
        return _vox_speaker(rel) or make_key(rel)
    if layout == "hdtf" and (m := _HDTF.match(stem)):
        return stem[: m.start(1) - 1]
    if layout == "celebvhq" and (m := _CELEBV.match(stem)):
        return m.group(1)
    return make_key(rel)


def _unique_keys(rels: list[str]) -> dict[str, str]:
    """Key per relative path; names that clash after cleaning get a short hash of their path appended."""
    keys = {rel: make_key(rel) for rel in rels}
    count: dict[str, int] = {}
    for k in keys.values():
        count[k] = count.get(k, 0) + 1
    return {rel: k if count[k] == 1 else f"{k}-{zlib.crc32(rel.encode()):08x}" for rel, k in keys.items()}


def _synthetic_sources(root: Path) -> list[Source]:
    index = json.loads((root / "index.json").read_text())
    sources = []
    for entry in index.get("clips", []):
        stem = entry["stem"]
        identity = int(entry["identity"])
        sources.append(Source(key=stem, path=str((root / f"{stem}.mp4").absolute()), rel=f"{stem}.mp4",
                              speaker=f"synthetic-{identity:05d}", identity=identity, layout="synthetic",
                              truth=str((root / f"{stem}.npz").absolute())))
    return sources


def discover(root: str | Path, layout: str = "auto", exclude: str | Path | None = None) -> tuple[list[Source], str]:
    """All clips to prepare under ``root`` -> (sources sorted by key, the layout used).

    Raises ValueError with one sentence when ``root`` is not a readable folder or ``layout`` is unknown.
    """
    root = Path(root)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not root.exists():
        raise ValueError(f"--input {root} does not exist")
    if not root.is_dir():
        raise ValueError(f"--input must be a folder of videos, but {root} is a file")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ValueError(f"--input {root} cannot be read (permission denied)")
    if layout == "synthetic" or (layout == "auto" and is_synthetic(root)):
        if not is_synthetic(root):
            raise ValueError(f"--layout synthetic needs an index.json from `vasa-lab synth` in {root}")
        return _synthetic_sources(root), "synthetic"
    videos, unreadable = find_videos(root, exclude=Path(exclude) if exclude is not None else None)
    if layout == "auto":
        layout = detect_layout(root, videos)
    keys = _unique_keys(videos)
    sources = []
    for rel in videos:
        speaker = speaker_of(rel, layout)
        sources.append(Source(key=keys[rel], path=str((root / rel).absolute()), rel=rel, speaker=speaker,
                              identity=speaker_identity(speaker), layout=layout))
    for rel in unreadable:
        key = "unreadable__" + make_key(rel)
        sources.append(Source(key=key, path="", rel=rel + "/", speaker="", identity=0, layout=layout,
                              problem="unreadable folder"))
    return sorted(sources, key=lambda s: s.key), layout
