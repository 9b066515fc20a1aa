"""A dataset of synthetic clips on disk: a folder of clips plus ``index.json``.

Layout::

    DIR/
      index.json          what was asked for (seed, seconds, size, language) and one entry per clip
      000000.mp4 .wav .npz
      000001.mp4 .wav .npz
      ...

Making one is parallel over processes and resumable: a clip whose ``.npz`` exists is not made again, so an
interrupted run picks up where it stopped. A clip that fails is reported and skipped; the others are still made.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..parallel import WorkerDied, map_resilient, warm_numba_caches
from .clip import make_clip, save_clip
from .speech import LANGUAGES

INDEX_NAME = "index.json"


def clip_stem(index: int) -> str:
    return f"{index:06d}"


@dataclass(frozen=True)
class WorldSpec:
    """What a synthetic dataset folder holds; written into its index so a re-run can check it matches."""

    clips: int = 500
    seconds: float = 4.0
    size: int = 64
    seed: int = 0
    language: str = "en"
    fps: float = 25.0
    sample_rate: int = 16_000
    clips_per_identity: int = 2

    def check(self) -> None:
        """Raise ValueError with one clear sentence for a bad setting."""
        if self.clips < 1:
            raise ValueError(f"--clips must be at least 1, got {self.clips}")
        if not 0.2 <= self.seconds <= 600:
            raise ValueError(f"--seconds must be between 0.2 and 600, got {self.seconds}")
        if not 64 <= self.size <= 512:
            raise ValueError(f"--size must be between 64 and 512 pixels, got {self.size}")
        if self.seed < 0:
            raise ValueError(f"--seed must be non-negative, got {self.seed}")
        if self.language not in LANGUAGES:
            raise ValueError(f"unknown language {self.language!r}; choose one of {', '.join(LANGUAGES)}")
        if self.clips_per_identity < 1:
            raise ValueError(f"clips per identity must be at least 1, got {self.clips_per_identity}")


def _make_one(args: tuple[WorldSpec, int, str]) -> dict:
    spec, index, folder = args
    try:
        clip = make_clip(spec.seed, index, seconds=spec.seconds, size=spec.size, language=spec.language,
                         fps=spec.fps, sample_rate=spec.sample_rate, clips_per_identity=spec.clips_per_identity)
        save_clip(clip, folder, clip_stem(index))
        m = clip.meta
        return dict(index=index, stem=clip_stem(index), identity=m["identity_index"], language=m["language"],
                    emotion=m["emotion"], n_frames=m["n_frames"], seconds=m["seconds"],
                    text=" / ".join(m["sentences"]), ok=True)
    except Exception as err:  # one bad clip must not stop the other 499
        return dict(index=index, stem=clip_stem(index), ok=False, error=f"{type(err).__name__}: {err}")


def _entry_from_truth(folder: Path, index: int) -> dict | None:
    from .clip import load_truth

    try:
        m = load_truth(folder / f"{clip_stem(index)}.npz").meta
    except Exception:
        return None
    return dict(index=index, stem=clip_stem(index), identity=m["identity_index"], language=m["language"],
                emotion=m["emotion"], n_frames=m["n_frames"], seconds=m["seconds"],
                text=" / ".join(m["sentences"]), ok=True)


def synthesize_dataset(out: str | Path, spec: WorldSpec, workers: int | None = None, progress: bool = True) -> dict:
    """Make (or finish) the dataset ``spec`` in folder ``out``; returns the index (also written to index.json)."""
    spec.check()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"cannot write to {out}: {err.strerror or err}") from None
    index_path = out / INDEX_NAME
    if index_path.exists():
        old = json.loads(index_path.read_text())
        if {k: v for k, v in old.get("spec", {}).items() if k != "clips"} != \
                {k: v for k, v in spec.__dict__.items() if k != "clips"}:
            raise ValueError(f"{out} already holds a dataset made with other settings ({old.get('spec')}); "
                             "use another folder")

    for leftover in out.glob("*.tmp.npz"):                 # a clip a killed run was writing: made again below
        leftover.unlink(missing_ok=True)
    done, todo = [], []
    for i in range(spec.clips):
        entry = _entry_from_truth(out, i) if (out / f"{clip_stem(i)}.npz").exists() and \
            (out / f"{clip_stem(i)}.mp4").exists() else None
        (done if entry else todo).append(entry or i)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    started = time.perf_counter()
    results = list(done)
    jobs = [(spec, i, str(out)) for i in todo]
    bar = tqdm(total=len(jobs), desc="synthesizing clips", unit="clip", disable=not progress or not jobs)
    # spawned workers start clean (espeak-ng is global C state); a worker that dies is retried once, alone,
    # then its clip is reported failed; librosa's JIT is compiled here first (see vasa_lab.parallel)
    for job, result in map_resilient(_make_one, jobs, workers, warmup=warm_numba_caches):
        if isinstance(result, WorkerDied):
            result = dict(index=job[1], stem=clip_stem(job[1]), ok=False, error=result.message)
        results.append(result)
        bar.update()
    bar.close()
    results.sort(key=lambda r: r["index"])
    failed = [r for r in results if not r["ok"]]
    index = dict(
        spec=spec.__dict__, made_by="vasa_lab.world.dataset.synthesize_dataset",
        clips=[r for r in results if r["ok"]], failed=failed,
        seconds_made=round(time.perf_counter() - started, 2), reused=len(done),
    )
    tmp = index_path.with_name(index_path.name + ".tmp")      # atomically: a kill never leaves half an index
    tmp.write_text(json.dumps(index, indent=1, ensure_ascii=False))
    tmp.replace(index_path)
    return index


def read_index(folder: str | Path) -> dict:
    """The index of a dataset folder, with a clear error when there is none."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {INDEX_NAME}: make it with `vasa-lab synth --out {folder}`")
    return json.loads(path.read_text())


def spec_for_profile(profile: str | None = None, **overrides) -> WorldSpec:
    """The synthetic world a profile trains on (``vasa_lab.config.WorldConfig``); keyword arguments override it."""
    from ..config import WorldConfig

    cfg = WorldConfig.for_profile(profile)
    spec = dict(clips=cfg.n_clips, seconds=cfg.clip_seconds, size=cfg.image_size, seed=cfg.seed,
                language=cfg.languages[0], fps=cfg.fps, sample_rate=cfg.sample_rate,
                clips_per_identity=cfg.clips_per_identity)
    spec.update({k: v for k, v in overrides.items() if v is not None})
    return WorldSpec(**spec)


def grown_world(profile: str | None, clips: int, workers: int | None = None, progress: bool = True) -> Path:
    """The profile's synthetic world grown to ``clips`` clips: the clips it already has are linked, not made again
    (clip ``i`` depends only on the world's seed and ``i``), the rest made as :func:`default_world` makes a world.
    People past the profile's own are new, split by identity as always, so its validation and test people stay out
    of training. small's world grown to 2000 clips: 1200 new ones, about 8 minutes and 4.8 GB on 2 cores."""
    from ..artifacts import config_key, default_home

    own = default_world(profile, workers=workers, progress=progress)
    folder = default_home() / "data" / f"synthetic-{config_key(spec_for_profile(profile, clips=clips))}"
    folder.mkdir(parents=True, exist_ok=True)
    for f in own.iterdir():
        if f.name != INDEX_NAME and not (folder / f.name).exists():
            (folder / f.name).symlink_to(f)
    return default_world(profile, workers=workers, progress=progress, clips=clips)


def world_lock(folder: Path) -> Path:
    """The lock file that lets one process make the world in ``folder`` while others wait for it."""
    return folder.with_name(folder.name + ".lock")


def default_world(profile: str | None = None, workers: int | None = None, progress: bool = True,
                  **overrides) -> Path:
    """The folder of the profile's synthetic world, made on first use and reused after that.

    It lives in the artifact store's folder (``$VASA_LAB_HOME/data/``), keyed by its settings, so every chapter that
    asks for the same world shares one copy. Made by :func:`synthesize_dataset`, which resumes if interrupted.
    """
    from ..artifacts import ExclusiveLock, config_key, default_home

    spec = spec_for_profile(profile, **overrides)
    folder = default_home() / "data" / f"synthetic-{config_key(spec)}"
    index_path = folder / INDEX_NAME

    def complete() -> bool:
        if not index_path.exists():
            return False
        index = json.loads(index_path.read_text())
        return len(index["clips"]) + len(index["failed"]) >= spec.clips

    if complete():
        return folder
    with ExclusiveLock(world_lock(folder)):             # two chapters at once: one makes it, one waits
        if not complete():
            synthesize_dataset(folder, spec, workers=workers, progress=progress)
    return folder
