"""Parallel work over processes that never hangs: a dead worker costs one retry, then one named failure.

``multiprocessing.Pool.map`` waits forever when a worker dies (a segfault in a C extension, the OOM killer, a
``kill -9``): the pool starts a replacement and the lost item's result never comes. ``concurrent.futures``'
:class:`~concurrent.futures.ProcessPoolExecutor` notices a dead worker instead, but then the whole pool is
broken, and every item still in it fails with it. :func:`map_resilient` builds on that:

1. at most ``workers`` items are in flight at once, so when the pool breaks we know which items were running;
2. each of those is run again **alone, in a fresh process** (the retry);
3. an item that kills its process a second time is reported as failed, by name, and the rest carries on in a
   new pool.

An item that raises an ordinary Python exception is not retried: the exception is the answer (the caller's
function usually turns it into a report entry itself).

Shared JIT caches: workers are *spawned* (clean interpreters, no inherited locks or C state). Two fresh
processes compiling and caching the same numba functions at once (librosa's ``yin``) have crashed with a
segmentation fault, so callers pass ``warmup``: a function run once in the parent before any worker starts,
which compiles and caches what the workers will load. :func:`warm_numba_caches` does it for librosa.
"""
from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkerDied:
    """The result for an item whose process died twice (once in the pool, once alone)."""

    item: Any
    message: str


def warm_numba_caches() -> None:
    """Compile librosa's numba functions (``yin``'s gufuncs, and the ones its utilities compile on import) once in
    this process, so spawned workers load them from the cache instead of compiling them concurrently. ``make setup``
    runs it once after installing, so parallel test workers and chapters only ever read the cache."""
    import numpy as np
    import librosa

    wave = 1e-3 * np.sin(np.arange(4096, dtype=np.float32))
    librosa.yin(wave, fmin=65, fmax=400, sr=16_000, frame_length=1024)
    librosa.power_to_db(librosa.feature.melspectrogram(y=wave, sr=16_000, n_fft=512, hop_length=160, n_mels=40))


def _retry_alone(fn: Callable, item: Any, initializer: Callable | None, context) -> Any:
    """Run one item in a fresh single-worker pool; WorkerDied if that process dies too."""
    with ProcessPoolExecutor(1, mp_context=context, initializer=initializer) as pool:
        try:
            return pool.submit(fn, item).result()
        except BrokenProcessPool:
            return WorkerDied(item, "its worker process died twice (crashed or was killed)")


def map_resilient(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1, *,
                  initializer: Callable | None = None, warmup: Callable[[], None] | None = None,
                  start_method: str = "spawn") -> Iterator[tuple[Any, Any]]:
    """Yield ``(item, fn(item))`` for every item, in completion order, over ``workers`` processes.

    A worker that dies has its items retried once, each alone in a fresh process; an item whose process dies
    again yields ``(item, WorkerDied(...))``. Nothing waits forever on a dead process. ``workers == 1`` runs
    in this process (no pool, no worker ``initializer``; a crash there is a crash of the caller). ``fn`` and
    the items must pickle.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield item, fn(item)
        return
    if warmup is not None:
        warmup()
    context = mp.get_context(start_method)
    pending = list(reversed(items))          # pop() takes them in the given order
    while pending:
        suspects: list[Any] = []
        with ProcessPoolExecutor(workers, mp_context=context, initializer=initializer) as pool:
            running: dict = {}
            try:
                while pending or running:
                    while pending and len(running) < workers:
                        # submit first, pop after: if the pool broke meanwhile, the item stays for the next pool
                        running[pool.submit(fn, pending[-1])] = pending[-1]
                        pending.pop()
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        item = running.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            suspects.append(item)
                            continue
                        yield item, result
            except BrokenProcessPool:       # submit() on a pool that broke meanwhile
                pass
            suspects.extend(running.values())   # everything still in flight when the pool broke
            running.clear()
        for item in suspects:
            yield item, _retry_alone(fn, item, initializer, context)
