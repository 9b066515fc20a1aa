"""Self-checking exercises: the student's function against the package's own computation.

An exercise is a set of *cases*: inputs made by the checker (small, seeded, fast) and the answer the package
computes for them. ``check_NAME(fn)`` calls the student's ``fn`` on every case and prints, case by case, whether it
agrees with the package, in the spirit of checking a gradient derived by hand against autograd:

    >>> from vasa_lab.exercises import check_my_rms
    >>> check_my_rms(my_rms)
    Exercise 01.1 · loudness per video frame, by hand
      ✓ speech-like noise, 16 kHz at 25 fps   largest difference 0.0e+00
      ...
      all 3 cases agree with vasa_lab.world.behaviour.frame_rms: correct

It returns True (every case agrees), False (a case disagrees or the function raised) or None (not attempted:
``fn`` is None, returns None, or raises NotImplementedError, as the stubs of the workshop copies do), so a
notebook whose exercise cells are left empty still runs top to bottom.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np


@dataclass
class Case:
    """One input of an exercise and the package's answer for it."""

    label: str                       # what the case is, printed beside its verdict
    args: tuple                      # positional arguments for the student's function
    expected: Any                    # the package's answer: a number, an array, or a tuple of them
    kwargs: dict = field(default_factory=dict)


@dataclass
class Exercise:
    key: str                          # "02.1": chapter . number
    title: str                        # one line, printed as the heading
    answer: str                       # the name of the function the student writes
    reference: str                    # the package function the answer is compared with
    cases: Callable[[], list[Case]]   # builds the cases (called at check time, so importing stays cheap)
    wrong: Callable                   # an obvious wrong answer: the tests require the checker to reject it
    hint: str = ""                    # printed when a case fails
    rtol: float = 1e-5
    atol: float = 1e-6

    @property
    def chapter(self) -> str:
        return self.key.split(".")[0]

    def check(self, fn: Callable | None, verbose: bool = True) -> bool | None:
        return run_check(self, fn, verbose=verbose)


REGISTRY: dict[str, Exercise] = {}


def register(ex: Exercise) -> Exercise:
    if ex.key in REGISTRY:
        raise ValueError(f"exercise {ex.key} is registered twice")
    if any(e.answer == ex.answer for e in REGISTRY.values()):
        raise ValueError(f"the answer name {ex.answer!r} is used by two exercises")
    REGISTRY[ex.key] = ex
    return ex


def exercises_of(chapter: str) -> list[Exercise]:
    """The exercises of chapter ``"02"``, in order."""
    return sorted((e for e in REGISTRY.values() if e.chapter == chapter), key=lambda e: int(e.key.split(".")[1]))


# ---------------------------------------------------------------------------------------------------------------
# comparing an answer with the package's
# ---------------------------------------------------------------------------------------------------------------
def _as_plain(x: Any) -> Any:
    """torch tensors -> numpy, dataclasses -> tuples of their fields, lists -> tuples (recursively)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return tuple(_as_plain(getattr(x, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, (list, tuple)):
        return tuple(_as_plain(v) for v in x)
    return x


def compare(got: Any, expected: Any, rtol: float, atol: float) -> tuple[bool, str]:
    """(agrees, what to print): shapes first, then values with np.allclose."""
    got, expected = _as_plain(got), _as_plain(expected)
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            n = len(got) if isinstance(got, tuple) else 1
            return False, f"expected {len(expected)} values, got {n}"
        worst = 0.0
        for i, (g, e) in enumerate(zip(got, expected)):
            ok, msg = compare(g, e, rtol, atol)
            if not ok:
                return False, f"value {i + 1} of {len(expected)}: {msg}"
            worst = max(worst, _largest_difference(g, e))
        return True, f"largest difference {worst:.1e}"
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False, f"expected numbers, got {type(got).__name__}"
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        if g.size == e.size and g.size > 1:
            return False, f"shape {g.shape}, expected {e.shape} (same numbers in another layout?)"
        return False, f"shape {g.shape}, expected {e.shape}"
    if not np.all(np.isfinite(g) == np.isfinite(e)):
        return False, "NaN or infinity where the package has a number (or the other way round)"
    if np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        return True, f"largest difference {_largest_difference(g, e):.1e}"
    diff = np.abs(np.nan_to_num(g - e))
    where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    at = f" at index {tuple(int(i) for i in where)}" if where else ""
    return False, (f"largest difference {diff.max():.3g}{at} "
                   f"(yours {np.ravel(g)[np.argmax(diff)]:.4g}, package {np.ravel(e)[np.argmax(diff)]:.4g})")


def _largest_difference(g, e) -> float:
    d = np.abs(np.nan_to_num(np.asarray(g, np.float64) - np.asarray(e, np.float64)))
    return float(d.max()) if d.size else 0.0


class _NotAttempted(Exception):
    pass


def _call(fn: Callable, case: Case):
    try:
        out = fn(*case.args, **case.kwargs)
    except NotImplementedError as exc:
        raise _NotAttempted from exc
    if out is None:
        raise _NotAttempted
    return out


def run_check(ex: Exercise, fn: Callable | None, verbose: bool = True) -> bool | None:
    say = print if verbose else (lambda *a, **k: None)
    head = f"Exercise {ex.key} · {ex.title}"
    if fn is None:
        say(f"{head}\n  not attempted yet: write {ex.answer} above, then run this cell again")
        return None
    if not callable(fn):
        say(f"{head}\n  ✗ {ex.answer} must be a function, got {type(fn).__name__}")
        return False
    cases = ex.cases()
    width = max(len(c.label) for c in cases)
    lines, n_ok = [], 0
    for case in cases:
        try:
            got = _call(fn, case)
        except _NotAttempted:
            say(f"{head}\n  not attempted yet: {ex.answer} still returns None or raises NotImplementedError")
            return None
        except Exception as exc:                                       # the student's code failed: say how
            lines.append(f"  ✗ {case.label:<{width}}   your function raised {type(exc).__name__}: {exc}")
            continue
        ok, msg = compare(got, case.expected, ex.rtol, ex.atol)
        n_ok += ok
        lines.append(f"  {'✓' if ok else '✗'} {case.label:<{width}}   {msg}")
    say(head)
    for line in lines:
        say(line)
    if n_ok == len(cases):
        say(f"  all {len(cases)} cases agree with {ex.reference}: correct")
        return True
    say(f"  {n_ok} of {len(cases)} cases agree with {ex.reference}: not yet")
    if ex.hint:
        say(f"  hint: {ex.hint}")
    return False


def make_checker(ex: Exercise) -> Callable[[Callable | None], bool | None]:
    def checker(fn: Callable | None, verbose: bool = True) -> bool | None:
        return run_check(ex, fn, verbose=verbose)

    checker.__name__ = checker.__qualname__ = f"check_{ex.answer}"
    checker.__doc__ = (f"Exercise {ex.key}: {ex.title}.\n\nCalls your ``{ex.answer}`` on the checker's cases and "
                       f"compares it with ``{ex.reference}``. Returns True (correct), False (wrong) or None "
                       "(not attempted yet).")
    return checker


def signature_of(fn: Callable) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


def seeded(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def as_list(x: Iterable) -> list:
    return list(x)
