"""Random faces with their truth: the training and calibration data of every network that learns from world renders.

The landmark network (chapter 02), the 478 -> 68 landmark table and the tracker's pose and gaze calibration all
need the same thing: many different people, each in some face state, rendered, with what the world knows about
each frame (68 landmarks, the two iris centres, the state). :func:`render_faces` renders any list of (person,
state) pairs and returns them together; the callers decide *which* people and states (each draws its own
distribution, from its own seed, so its data never overlaps another's).

* :func:`tagged_rng`, :func:`identity_seeds`: generators keyed by a text tag, so "landmark-net-train" and
  "landmark-net-eval" never share a person;
* :func:`random_state`: a state over the world's ranges, wider than a clip's typical values (the extremes too).
"""
from __future__ import annotations

import hashlib

import numpy as np

from .person import Identity
from .render import render_frame
from .state import FaceState


def tagged_rng(tag: str, seed: int = 0) -> np.random.Generator:
    """A generator keyed by a text tag (and a seed): the same tag always gives the same numbers, on any machine."""
    digest = hashlib.sha256(f"{tag}/{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def identity_seeds(tag: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` identity seeds for ``sample_identity``, drawn from the generator for ``tag``."""
    return tagged_rng(tag, seed).integers(0, 2**32, size=n, dtype=np.uint64).astype(np.int64)


def random_state(rng: np.random.Generator) -> FaceState:
    """A random :class:`FaceState` inside the world's ranges (see :mod:`vasa_lab.world.behaviour`), wider than a
    clip's typical values so a network sees the extremes: pose and translation from clipped normals, the rest
    uniform."""
    def normal(sd, lim):
        return float(np.clip(rng.normal(0.0, sd), -lim, lim))

    return FaceState(
        yaw=normal(18, 35), pitch=normal(12, 25), roll=normal(10, 20),
        tx=normal(0.12, 0.3), ty=normal(0.12, 0.3), scale=float(rng.uniform(0.75, 1.25)),
        jaw_open=float(rng.uniform(0, 1) ** 1.5), lip_width=float(rng.uniform(-1, 1)),
        lip_round=float(rng.uniform(0, 1)), lip_press=float(rng.uniform(0, 1) * (rng.random() < 0.3)),
        blink=float(rng.uniform(0, 1) if rng.random() < 0.4 else 0.0),
        gaze_yaw=normal(15, 30), gaze_pitch=normal(10, 20),
        brow_raise=float(rng.uniform(-1, 1)), brow_furrow=float(rng.uniform(0, 1) * (rng.random() < 0.5)),
        smile=float(rng.uniform(-1, 1)), eye_wide=float(rng.uniform(-1, 1)),
    )


def _render(job):
    person, state, size = job
    return render_frame(person, state, size, return_extras=True)


def _render_numbered(numbered_job):
    return _render(numbered_job[1])


def render_faces(people: list[Identity], states, size: int, workers: int = 1) -> dict[str, np.ndarray]:
    """Render person ``people[i]`` in state ``states[i]`` (a FaceState or a (17,) array) for every i.

    Returns a dict: ``images`` (n, size, size, 3) uint8 RGB, ``landmarks`` (n, 68, 2) float32 pixels, ``iris``
    (n, 2, 2) float32 pixels (image-left eye first), ``states`` (n, 17) float32 in STATE_NAMES order.
    ``workers`` > 1 renders in that many spawned processes (a script that calls this needs the usual
    ``if __name__ == "__main__":`` guard); the frames are the same either way.
    """
    if len(people) != len(states):
        raise ValueError(f"one state per person: got {len(people)} people and {len(states)} states")
    n = len(people)
    if n == 0:
        raise ValueError("nothing to render: no people were given")
    size = int(size)
    jobs = [(people[i], states[i], size) for i in range(n)]
    if workers > 1 and n >= 100:
        from ..parallel import WorkerDied, map_resilient

        results = [None] * n
        for (i, _), result in map_resilient(_render_numbered, list(enumerate(jobs)), workers):
            if isinstance(result, WorkerDied):
                raise RuntimeError(f"rendering face {i} failed: {result.message}")
            results[i] = result
    else:
        results = [_render(job) for job in jobs]
    images = np.zeros((n, size, size, 3), np.uint8)
    landmarks, iris = np.zeros((n, 68, 2), np.float32), np.zeros((n, 2, 2), np.float32)
    for i, (image, marks, extras) in enumerate(results):
        images[i], landmarks[i], iris[i] = image, marks, extras["iris_centres"]
    as_rows = [s.to_array() if isinstance(s, FaceState) else np.asarray(s, np.float32) for s in states]
    return dict(images=images, landmarks=landmarks, iris=iris, states=np.stack(as_rows).astype(np.float32))
