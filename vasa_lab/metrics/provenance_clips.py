"""Clips to measure provenance on: our generator's output, the synthetic world's real clips, and real photos.

* :func:`generated_clips` - the tiny profile's generator (shipped weights, nothing trains): the first frame of a
  synthetic person's clip as the portrait, that clip's speech as the audio, the motion transformer, the renderer.
  These are the videos the watermark must survive on. (They keep the model's square crop and start the motion with
  no context, as the pipeline did before it started from the portrait's own code; chapter 11's detectors were
  trained and measured on them as they are.)
* :func:`world_clips` - the synthetic world's own ("real") clips, never through the generator.
* :func:`photo_clips` - real photographs that ship inside scikit-image and matplotlib, turned into short clips by a
  slow random pan and zoom (a camera over a still photo), encoded with H.264.
"""
from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

WORLD_SEED = 4242          # a world seed no shipped model trained on


def world_clips(n: int, seconds: float = 2.0, size: int = 64, seed: int = WORLD_SEED, start: int = 0,
                ) -> Iterator[np.ndarray]:
    from ..world.clip import make_clip

    for i in range(start, start + n):
        yield make_clip(seed, i, seconds=seconds, size=size).frames


def generated_clips(n: int, seconds: float = 2.0, size: int | None = None, seed: int = WORLD_SEED, start: int = 0,
                    steps: int = 5, profile: str = "tiny") -> Iterator[np.ndarray]:
    """(T, S, S, 3) uint8 clips from the generator: person i's first frame animated by person i's speech."""
    import torch

    from ..pipeline.animate import Animator
    from ..latent.api import encode_appearance
    from ..motion import MotionConditions
    from ..world.clip import make_clip

    torch.manual_seed(0)
    a = Animator(profile)
    for i in range(start, start + n):
        clip = make_clip(seed, i, seconds=seconds, size=a.image_size)
        app = encode_appearance(a.latent, clip.frames[0])
        motion = np.concatenate(list(a.motion_chunks(a.feature_chunks(clip.audio, clip.sample_rate),
                                                     MotionConditions(), steps=steps, seed=i)))
        frames = np.concatenate(list(a.render_batches(app, motion, size=size)))
        yield frames[: len(clip.frames)]


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "immunohistochemistry", "grace_hopper")


def _photo(name: str) -> np.ndarray:
    if name == "grace_hopper":
        import matplotlib.cbook as cbook

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            img = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    import skimage.data

    img = getattr(skimage.data, name)()
    return np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3]


def photo_clips(n: int, seconds: float = 1.0, size: int = 128, seed: int = 0, crf: int = 23
                ) -> Iterator[np.ndarray]:
    """Real photographs as clips: a random square window (40-100 % of the short side) drifting and zooming
    slowly, resized to ``size``, then encoded with H.264 at ``crf`` and decoded."""
    from ..provenance.attacks import h264

    rng = np.random.default_rng(seed)
    photos = [_photo(p) for p in PHOTOS]
    t = int(round(seconds * 25))
    for i in range(n):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        s0 = rng.uniform(0.4, 1.0) * min(h, w)
        s1 = np.clip(s0 * rng.uniform(0.9, 1.1), 16, min(h, w))
        x0, y0 = rng.uniform(0, w - s0), rng.uniform(0, h - s0)
        x1, y1 = np.clip(x0 + rng.normal(0, 0.05 * s0), 0, w - s1), np.clip(y0 + rng.normal(0, 0.05 * s0), 0, h - s1)
        frames = []
        for k in range(t):
            a = k / max(1, t - 1)
            s, x, y = s0 + a * (s1 - s0), x0 + a * (x1 - x0), y0 + a * (y1 - y0)
            m = np.float32([[size / s, 0, -x * size / s], [0, size / s, -y * size / s]])
            frames.append(cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT))
        yield h264(np.stack(frames), crf)


FACE_PHOTOS = ("astronaut", "grace_hopper")


def photo_animations(n: int, seconds: float = 1.0, seed: int = WORLD_SEED, start: int = 0, steps: int = 5,
                     profile: str = "tiny") -> Iterator[np.ndarray]:
    """Real photographs of faces animated by the generator (face crop, the model's size), each with a different
    synthetic speaker's speech: the generator far from the people it was trained on."""
    import torch

    from ..pipeline.animate import Animator
    from ..latent.api import encode_appearance
    from ..motion import MotionConditions
    from ..world.clip import make_clip

    torch.manual_seed(0)
    a = Animator(profile)
    crops = [a.portrait(_photo(p)).crop for p in FACE_PHOTOS]
    for i in range(start, start + n):
        clip = make_clip(seed, i, seconds=seconds, size=a.image_size)
        app = encode_appearance(a.latent, crops[i % len(crops)])
        motion = np.concatenate(list(a.motion_chunks(a.feature_chunks(clip.audio, clip.sample_rate),
                                                     MotionConditions(), steps=steps, seed=i)))
        yield np.concatenate(list(a.render_batches(app, motion)))[: len(clip.frames)]
