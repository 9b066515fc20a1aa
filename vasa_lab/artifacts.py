"""The artifact store: "load the cached model, or train it deterministically and cache it".

A chapter that needs an earlier chapter's model asks the store for it by name and config::

    store = ArtifactStore()
    model = store.get_or_train("latent", config, build=lambda: FaceLatentModel(config), train=train_latent)

* ``build()`` makes the (untrained) ``nn.Module``; ``train(model)`` trains it in place and may return a dict of
  metrics. The store keys the result by ``name`` and a hash of ``config`` (any dataclass or JSON-able dict), so
  changing a config trains a new artifact instead of loading a stale one.
* Weights are written as **safetensors** (no pickle, nothing executes on load) beside a ``meta.json`` that records
  the config, the metrics and the package version.
* The store lives in ``$VASA_LAB_HOME`` (default: the user's cache folder, e.g. ``~/.cache/vasa_lab``). Weights
  shipped inside the package (``vasa_lab/weights/``) are looked up first, read-only.
* Under CI a missing artifact whose training is marked ``expensive`` is an error with the command that makes it,
  never a silent hour of training.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from . import __version__
from .repro import under_ci

HOME_ENV = "VASA_LAB_HOME"
PACKAGED_WEIGHTS = Path(__file__).parent / "weights"


class ArtifactMissing(RuntimeError):
    """An artifact is not cached and may not be trained here (e.g. an expensive one under CI)."""


class ArtifactCorrupt(RuntimeError):
    """A stored artifact cannot be trusted: its weights are cut short, do not match their checksum, hold NaN/Inf,
    or its meta.json is unreadable."""


class ArtifactUnwritable(RuntimeError):
    """The store's folder cannot be written (read-only, disk full, no permission)."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ExclusiveLock:
    """An exclusive lock between processes (``fcntl.flock`` on the file ``path``): two processes asking for the same
    model, world or cache do not both make it; the second waits, then finds the first one's result. Released by the
    OS if the holder dies. Without a writable folder (a read-only store) there is nothing to protect and no lock."""

    def __init__(self, path: Path):
        self.path, self.handle = path, None

    def __enter__(self):
        try:
            import fcntl

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.path, "a")
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        except (ImportError, OSError):
            self.handle = None
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            import fcntl

            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()

    def held_elsewhere(self) -> bool:
        """True while another process holds this lock (asked without waiting; False where there is no lock)."""
        try:
            import fcntl

            with open(self.path, "a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(handle, fcntl.LOCK_UN)
        except (ImportError, OSError):
            pass
        return False


def default_home() -> Path:
    """``$VASA_LAB_HOME`` if set, else ``$XDG_CACHE_HOME/vasa_lab``, else ``~/.cache/vasa_lab``."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "vasa_lab"


ADDED_LATER = {"added_later": True}
"""Field metadata for a setting added after artifacts were shipped: it enters the key only when it is set away from
its default, so every artifact trained before it existed keeps its key (and stays valid: the default is what the
code did before). Use as ``dataclasses.field(default=..., metadata=ADDED_LATER)``."""


def _plain(value: Any) -> Any:
    """dataclasses.asdict, but leaving out (at every depth) settings added later that still have their default."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("added_later") and getattr(value, f.name) == f.default)}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def config_to_dict(config: Any) -> dict:
    if dataclasses.is_dataclass(config):
        return _plain(config)
    if isinstance(config, dict):
        return config
    raise TypeError(f"config must be a dataclass or a dict, not {type(config).__name__}")


def config_key(config: Any) -> str:
    """A short stable hash of a config: the same settings always give the same key."""
    text = json.dumps(config_to_dict(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a user's local weights file: ``.safetensors``, or a torch file (``.pt``/``.pth``/...) read
    with ``weights_only=True``, so no pickled code runs. A checkpoint's ``state_dict`` entry is unwrapped. The one
    loader for outside weights (VGG19, ArcFace, SyncNet ...); the store's own artifacts go through :meth:`verify`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    return state


@dataclasses.dataclass
class ArtifactInfo:
    name: str
    key: str
    path: Path
    meta: dict

    @property
    def size_mb(self) -> float:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file()) / 1e6


class ArtifactStore:
    def __init__(self, root: str | Path | None = None, packaged: str | Path | None = PACKAGED_WEIGHTS):
        self.root = Path(root).expanduser() if root is not None else default_home()
        self.packaged = Path(packaged) if packaged is not None else None

    # -- where things are ----------------------------------------------------------------------------------------
    def folder(self, name: str, config: Any) -> Path:
        """The folder this artifact is (or would be) cached in."""
        return self.root / name / config_key(config)

    def find(self, name: str, config: Any) -> Path | None:
        """The folder holding ``name`` for ``config``: shipped weights first, then the cache; None if absent."""
        key = config_key(config)
        for base in ([self.packaged] if self.packaged else []) + [self.root]:
            folder = base / name / key
            if (folder / "model.safetensors").is_file():
                return folder
        return None

    def has(self, name: str, config: Any) -> bool:
        return self.find(name, config) is not None

    # -- saving and loading --------------------------------------------------------------------------------------
    def save(self, name: str, config: Any, module: torch.nn.Module, metrics: dict | None = None) -> Path:
        """Write ``module``'s weights (safetensors) and a meta.json (with the weights' sha256) into a temporary
        folder, flush both to disk, then rename the folder into place: a crash or a full disk leaves no half
        artifact that looks complete. Raises ArtifactUnwritable naming the folder when it cannot be written."""
        folder = self.folder(name, config)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise ValueError(f"refusing to save {name!r}: its weights hold NaN or Inf (in {bad[0]}); training diverged")
        try:
            tmp.mkdir(parents=True, exist_ok=True)
            save_file(state, str(tmp / "model.safetensors"))
            meta = dict(name=name, key=folder.name, config=config_to_dict(config), metrics=metrics or {},
                        vasa_lab_version=__version__, created=time.strftime("%Y-%m-%d %H:%M:%S"),
                        sha256=file_sha256(tmp / "model.safetensors"))
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
            for f in tmp.iterdir():
                with open(f, "rb+") as handle:
                    os.fsync(handle.fileno())
            if folder.exists():
                shutil.rmtree(folder)
            tmp.rename(folder)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ArtifactUnwritable(f"cannot write the {name!r} model to {folder.parent} "
                                     f"({err.strerror or err}); set $VASA_LAB_HOME to a writable folder") from None
        return folder

    def verify(self, folder: Path) -> dict[str, torch.Tensor]:
        """The weights in ``folder``, checked: meta.json parses, the file matches its recorded sha256 (artifacts
        saved before checksums were recorded skip that), safetensors reads it whole, every value is finite.
        Raises ArtifactCorrupt with one sentence naming the file."""
        weights = folder / "model.safetensors"
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            raise ArtifactCorrupt(f"{folder / 'meta.json'} is unreadable ({err}); the artifact cannot be trusted") \
                from None
        if meta.get("sha256") and file_sha256(weights) != meta["sha256"]:
            raise ArtifactCorrupt(f"{weights} does not match its recorded checksum (cut short or changed on disk)")
        try:
            state = load_file(str(weights))
        except Exception as err:
            raise ArtifactCorrupt(f"{weights} is not a readable safetensors file ({type(err).__name__}: {err})") \
                from None
        bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise ArtifactCorrupt(f"{weights} holds NaN or Inf values (in {bad[0]})")
        return state

    def load_into(self, module: torch.nn.Module, folder: Path) -> torch.nn.Module:
        module.load_state_dict(self.verify(folder))
        return module

    def quarantine(self, folder: Path) -> Path:
        """Move a corrupt cached artifact aside (``KEY.corrupt-TIME``) so it is retrained, and kept for a look."""
        target = folder.with_name(f"{folder.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        folder.rename(target)
        return target

    def get_or_train(
        self,
        name: str,
        config: Any,
        build: Callable[[], torch.nn.Module],
        train: Callable[[torch.nn.Module], dict | None],
        expensive: bool = False,
        how_to_make: str = "",
    ) -> torch.nn.Module:
        """Load ``name`` for ``config`` if cached or shipped; otherwise train it with ``train`` and cache it.

        A corrupt cached artifact is reported in one line, moved aside and trained again; a corrupt *shipped* one
        is an error (reinstall the package). Two processes asking at once: one trains, the other waits for it and
        loads the result (a lock per artifact)."""
        module = build()
        with ExclusiveLock(self.root / name / f"{config_key(config)}.lock"):
            folder = self.find(name, config)
            if folder is not None:
                try:
                    return self.load_into(module, folder).eval()
                except ArtifactCorrupt as err:
                    if self.packaged is not None and folder.is_relative_to(self.packaged):
                        raise ArtifactCorrupt(f"{err}; the package's shipped weights are damaged: reinstall "
                                              "vasa_lab") from None
                    import sys

                    moved = self.quarantine(folder)
                    print(f"vasa_lab: {err}; moved it to {moved.name} and training it again", file=sys.stderr)
                    module = build()
            if expensive and under_ci():
                raise ArtifactMissing(
                    f"artifact {name!r} (config {config_key(config)}) is not cached and takes long to train; "
                    f"make it first{': ' + how_to_make if how_to_make else ''} (store: {self.root})")
            metrics = train(module)
            self.save(name, config, module, metrics)
        return module.eval()

    def meta(self, name: str, config: Any) -> dict:
        folder = self.find(name, config)
        if folder is None:
            raise ArtifactMissing(f"artifact {name!r} for config {config_key(config)} is not in {self.root}")
        return json.loads((folder / "meta.json").read_text())

    def list(self) -> list[ArtifactInfo]:
        """Every artifact in the cache and the shipped weights."""
        found = []
        for base in [b for b in (self.packaged, self.root) if b is not None and b.is_dir()]:
            for meta_file in sorted(base.glob("*/*/meta.json")):
                try:
                    meta = json.loads(meta_file.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                found.append(ArtifactInfo(meta_file.parent.parent.name, meta_file.parent.name, meta_file.parent, meta))
        return found

    def remove(self, name: str, config: Any) -> bool:
        folder = self.folder(name, config)
        if folder.exists():
            shutil.rmtree(folder)
            return True
        return False
