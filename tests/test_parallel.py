"""Parallel work that never hangs (vasa_lab.parallel), and a synthetic world that is the same whoever makes it."""
from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from vasa_lab.parallel import WorkerDied, map_resilient


def _square_or_die(job):
    """Kill this process (SIGKILL, as the OOM killer would) for 'die' items; 'once' items die on the first try
    only (a marker file remembers it)."""
    value, mode, marker = job
    if mode == "die" or (mode == "once" and not Path(marker).exists()):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "raise":
        raise ValueError(f"bad item {value}")
    return value * value


@pytest.fixture
def alarm():
    """Fail instead of hanging forever if the pool ever waits on a dead worker."""
    def on_alarm(signum, frame):
        raise TimeoutError("map_resilient hung")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(240)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_a_killed_worker_is_retried_once_then_reported_by_name(tmp_path, alarm):
    jobs = [(i, "ok", str(tmp_path / f"m{i}")) for i in range(6)]
    jobs[2] = (2, "once", str(tmp_path / "m2"))     # dies once, then succeeds alone in a fresh process
    jobs[4] = (4, "die", str(tmp_path / "m4"))      # dies every time: reported, the rest carries on
    results = {job[0]: result for job, result in map_resilient(_square_or_die, jobs, workers=2)}
    assert sorted(results) == list(range(6))
    assert results[2] == 4
    assert isinstance(results[4], WorkerDied) and results[4].item[0] == 4
    assert all(results[i] == i * i for i in (0, 1, 3, 5))


def test_an_ordinary_exception_is_the_items_answer_not_a_retry(tmp_path):
    jobs = [(1, "ok", ""), (2, "raise", "")]
    with pytest.raises(ValueError, match="bad item 2"):
        list(map_resilient(_square_or_die, jobs, workers=1))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frames_digest(path: Path) -> str:
    from vasa_lab.media import read_video

    return hashlib.sha256(np.ascontiguousarray(read_video(path)[0]).tobytes()).hexdigest()


def test_a_clip_does_not_depend_on_what_its_process_made_before():
    """espeak-ng's noise generator was seeded from the clock and libc's rand() carried over between clips, so
    clip 2 of a world came out differently depending on the worker and the second it was made in."""
    from vasa_lab.world.clip import make_clip

    alone = make_clip(7, 2, seconds=1.0, size=64)
    make_clip(7, 0, seconds=1.0, size=64)
    after = make_clip(7, 2, seconds=1.0, size=64)
    assert alone.audio.tobytes() == after.audio.tobytes()
    assert alone.states.tobytes() == after.states.tobytes()
    assert alone.frames.tobytes() == after.frames.tobytes()


def test_the_same_world_with_1_2_and_4_workers_is_byte_identical(tmp_path, alarm):
    from vasa_lab.world.dataset import WorldSpec, synthesize_dataset

    spec = WorldSpec(clips=4, seconds=1.0, size=64, seed=7)
    digests = []
    for workers in (1, 2, 4):
        out = tmp_path / f"w{workers}"
        index = synthesize_dataset(out, spec, workers=workers, progress=False)
        assert len(index["clips"]) == 4 and not index["failed"]
        digests.append({f"{i:06d}": (_digest(out / f"{i:06d}.wav"), _digest(out / f"{i:06d}.npz"),
                                     _frames_digest(out / f"{i:06d}.mp4")) for i in range(4)})
    assert digests[0] == digests[1] == digests[2]


def test_the_world_made_in_another_order_is_the_same(tmp_path):
    """Clips made last-to-first in one process equal clips made first-to-last."""
    from vasa_lab.world.clip import make_clip

    forward = [make_clip(3, i, seconds=1.0, size=64).audio.tobytes() for i in range(3)]
    backward = [make_clip(3, i, seconds=1.0, size=64).audio.tobytes() for i in reversed(range(3))][::-1]
    assert forward == backward
