"""Chapter 00 (tour): video frames and audio samples; the mouth opening read off landmarks."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _frames_cases():
    from vasa_lab.audio.features import n_video_frames

    rows = [(64000, 16000, 25.0, "4 s at 16 kHz, 25 fps"), (320, 16000, 25.0, "exactly half a frame (320 samples)"),
            (319, 16000, 25.0, "just under half a frame"), (44100 * 3 + 900, 44100, 25.0, "3.02 s at 44.1 kHz"),
            (16000, 16000, 30.0, "1 s at 30 fps"), (12345, 16000, 25.0, "12345 samples")]
    return [Case(label, (n, sr, fps), n_video_frames(n, sr, fps)) for n, sr, fps, label in rows]


register(Exercise(
    key="00.1", title="how many video frames does a piece of audio fill?", answer="frames_for_audio",
    reference="vasa_lab.audio.features.n_video_frames", cases=_frames_cases,
    wrong=lambda n_samples, sample_rate=16000, fps=25.0: n_samples // int(sample_rate / fps),
    hint="round(n_samples / sample_rate * fps) with halves rounded UP (Python's round() rounds halves to even)",
    rtol=0, atol=0))


def _mouth_cases():
    from vasa_lab.tracking.gaze import mouth_opening
    from vasa_lab.world.face import landmarks_2d
    from vasa_lab.world.state import FaceState
    from vasa_lab.world.person import sample_identity

    person = sample_identity(3)
    out = []
    for jaw, yaw, size in ((0.0, 0.0, 128), (0.6, 0.0, 128), (0.6, 0.0, 256), (0.9, 25.0, 128)):
        lm = landmarks_2d(person, FaceState(jaw_open=jaw, yaw=yaw), size)
        out.append(Case(f"jaw_open={jaw}, yaw={yaw:g}°, {size} px", (lm,), mouth_opening(lm)))
    track = np.stack([landmarks_2d(person, FaceState(jaw_open=j), 128) for j in np.linspace(0, 1, 6)])
    out.append(Case("a (6, 68, 2) track of frames", (track,), mouth_opening(track)))
    return out


register(Exercise(
    key="00.2", title="the mouth opening, read off 68 landmarks", answer="mouth_open",
    reference="vasa_lab.tracking.gaze.mouth_opening", cases=_mouth_cases,
    wrong=lambda lm: np.linalg.norm(np.asarray(lm)[..., 62, :] - np.asarray(lm)[..., 66, :], axis=-1),
    hint="divide the inner-lip gap |p62 - p66| by the eye distance |p36 - p45|, so the number does not change "
         "with the face's size in pixels; work on the last two axes so a (T, 68, 2) track works too"))
