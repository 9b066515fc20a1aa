"""Chapter 01 (talking-head data): loudness per video frame; the viseme at each frame's centre."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _rms_cases():
    from vasa_lab.world.behaviour import frame_rms

    rng = np.random.default_rng(1)
    out = []
    for sr, fps, n_frames, seconds, label in ((16000, 25.0, 50, 2.0, "2 s of noise, 16 kHz at 25 fps"),
                                              (44100, 25.0, 30, 1.2, "44.1 kHz: 1764 samples a frame"),
                                              (16000, 30.0, 30, 1.0, "30 fps: 533.3 samples a frame"),
                                              (16000, 25.0, 40, 1.0, "audio shorter than the video")):
        audio = (rng.standard_normal(int(sr * seconds)) * np.linspace(0.01, 0.3, int(sr * seconds))).astype(np.float32)
        out.append(Case(label, (audio, n_frames), frame_rms(audio, sr, n_frames, fps),
                        dict(sample_rate=sr, fps=fps)))
    return out


def _wrong_rms(audio, n_frames, sample_rate=16000, fps=25.0):
    a = np.asarray(audio, np.float64)[: n_frames * 640]
    a = np.pad(a, (0, n_frames * 640 - a.size))
    return np.sqrt((a.reshape(n_frames, 640) ** 2).mean(1))


register(Exercise(
    key="01.1", title="loudness per video frame, by hand", answer="my_rms",
    reference="vasa_lab.world.behaviour.frame_rms", cases=_rms_cases, wrong=_wrong_rms,
    hint="frame t covers samples int(round(t * hop)) to int(round((t + 1) * hop)) with hop = sample_rate / fps; "
         "a frame with no samples left has loudness 0", rtol=1e-5, atol=1e-7))


def _viseme_cases():
    from vasa_lab.world import visemes
    from vasa_lab.world.speech import synthesize

    out = []
    for text, variant, fps in (("Maybe the baby bumped the big blue bowl.", "m3", 25.0),
                               ("Five fine vans followed us.", "f2", 25.0),
                               ("Please bring me the map.", "m1", 30.0)):
        sp = synthesize(text, variant=variant)
        starts = np.array([p.start for p in sp.phonemes])
        ids = np.array([visemes.phoneme_to_viseme(p.symbol) for p in sp.phonemes])
        n = int(np.ceil(sp.duration * fps)) + 3
        centres = (np.arange(n) + 0.5) / fps
        out.append(Case(f"{text!r} at {fps:g} fps", (starts, ids, n, fps),
                        visemes._frame_viseme_ids(starts, ids, centres)))
    starts, ids = np.array([0.5, 0.62, 0.80]), np.array([3, 5, 2])
    out.append(Case("speech that starts at 0.5 s", (starts, ids, 30, 25.0),
                    visemes._frame_viseme_ids(starts, ids, (np.arange(30) + 0.5) / 25.0)))
    return out


def _wrong_visemes(starts, ids, n_frames, fps=25.0):
    from vasa_lab.world.visemes import REST

    t = np.arange(n_frames) / fps                           # frame starts, not centres
    k = np.searchsorted(starts, t, side="right") - 1
    return np.where(k >= 0, np.asarray(ids)[np.maximum(k, 0)], REST)


register(Exercise(
    key="01.2", title="the viseme at each video frame", answer="frame_visemes",
    reference="vasa_lab.world.visemes (the viseme track of mouth_track)", cases=_viseme_cases, wrong=_wrong_visemes,
    hint="sample frame k at its centre (k + 0.5) / fps; the active phoneme is the last one that started at or "
         "before that time (np.searchsorted(starts, centres, side='right') - 1); before the first one it is "
         "visemes.REST", rtol=0, atol=0))
