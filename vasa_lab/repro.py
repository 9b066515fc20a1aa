"""Reproducibility: the same seed gives the same numbers, and a quiet Trainer under CI.

Call :func:`setup` at the top of a notebook or script::

    from vasa_lab.repro import setup
    setup(seed=0)          # seeds python/numpy/torch, deterministic algorithms, quiet logs

Training builds its Trainers with :mod:`vasa_lab.training`, which keeps them quiet under CI.
"""
from __future__ import annotations

import logging
import os
import random
import warnings

import numpy as np
import torch


def under_ci() -> bool:
    """True when running under continuous integration (``CI`` set to anything but 0/false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) from one integer: the one seeding call of the course.

    It also tells Lightning the seed (``PL_GLOBAL_SEED``, ``PL_SEED_WORKERS``), so data-loader workers are seeded
    from it the way ``lightning.seed_everything(seed, workers=True)`` does; the generators' states are the same.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    os.environ["PL_SEED_WORKERS"] = "1"
    return seed


def set_deterministic(enabled: bool = True) -> None:
    """Ask PyTorch for deterministic kernels (``warn_only`` so an op without one warns instead of failing)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = not enabled
        torch.backends.cudnn.deterministic = enabled


def quiet() -> None:
    """Lightning and friends log at warning level; their chatty one-time notices are silenced."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "numba", "matplotlib"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars


def setup(seed: int = 0, deterministic: bool = True, threads: int | None = None) -> int:
    """Everything a notebook or script wants first: seeds, deterministic algorithms, quiet logs."""
    if threads is not None:
        torch.set_num_threads(threads)
    seed_everything(seed)
    set_deterministic(deterministic)
    quiet()
    return seed
