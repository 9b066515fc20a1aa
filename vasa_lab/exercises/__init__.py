"""Self-checking exercises for every chapter: ``check_NAME(your_function)`` compares it with the package.

Each chapter's exercises live in ``chNN.py`` (found automatically); ``docs/EXERCISES.md`` says how to add one.
Importing this package is cheap: the cases are built only when a checker runs.
"""
from __future__ import annotations

import importlib
import pkgutil

from .core import REGISTRY, Case, Exercise, compare, exercises_of, make_checker, register, run_check

for _m in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")):
    importlib.import_module(f"{__name__}.{_m}")

for _ex in REGISTRY.values():
    globals()[f"check_{_ex.answer}"] = make_checker(_ex)


def check(key: str, fn):
    """``check("02.1", one_euro)``: the same as that exercise's ``check_NAME(fn)``."""
    if key not in REGISTRY:
        raise KeyError(f"no exercise {key!r}; there are {', '.join(sorted(REGISTRY))}")
    return run_check(REGISTRY[key], fn)


__all__ = ["REGISTRY", "Case", "Exercise", "check", "compare", "exercises_of", "register", "run_check"] + sorted(
    f"check_{e.answer}" for e in REGISTRY.values())
