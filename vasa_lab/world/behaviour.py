"""Everything that moves besides the lips: head pose, blinks, gaze, brows and emotion.

The head of a speaker is not still and not random either: it nods on stressed syllables, drifts and turns slowly,
and calms down in pauses. We generate the head pose as

    angle(t) = amplitude * ( slow(t)                  # an Ornstein-Uhlenbeck drift: smooth random wandering
                           + k_speech * speech(t) )   # a response to the audio's prosody

where ``speech(t)`` is the audio's loudness and pitch accents filtered by a damped-spring impulse response (a nod
that overshoots and settles). The drift is *not* predictable from the audio and the speech response is, so a model
that generates pose from audio can learn part of it, but never all of it: learnable, not trivial. Each identity
has its own ``amplitude`` (a calm or an animated speaker).

Facial nuance, all per frame:

* blinks: a renewal process, gaps drawn from a gamma distribution (mean ~3.5 s), each blink ~200 ms;
* gaze: a main direction per clip (the condition ``g`` of VASA-1) plus saccades to nearby points;
* brows: rise on pitch accents (and with surprise);
* emotion: one per clip, a global offset on mouth corners, brows and eyes (the condition ``e`` of VASA-1);
* distance: one head-to-camera scale per clip (the condition ``d`` of VASA-1) plus a slow small drift.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .state import STATE_NAMES

EMOTIONS = ("neutral", "happy", "angry", "surprised", "sad")

# Emotion -> offsets on FaceState fields (at intensity 1). Happy lifts the mouth corners and narrows the eyes a
# little; angry lowers and knits the brows; surprised raises the brows and widens the eyes; sad lowers the corners.
EMOTION_OFFSETS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"smile": 0.8, "eye_wide": -0.25, "brow_raise": 0.15},
    "angry": {"smile": -0.35, "brow_raise": -0.6, "brow_furrow": 0.9, "eye_wide": -0.35},
    "surprised": {"brow_raise": 0.85, "eye_wide": 0.8, "jaw_open": 0.08},
    "sad": {"smile": -0.7, "brow_raise": 0.2, "brow_furrow": 0.5, "eye_wide": -0.2},
}


def emotion_id(name: str) -> int:
    if name not in EMOTIONS:
        raise ValueError(f"unknown emotion {name!r}; choose one of {', '.join(EMOTIONS)}")
    return EMOTIONS.index(name)


@dataclass
class Prosody:
    """Per-frame prosodic features of an audio clip at the video frame rate."""

    energy: np.ndarray   # (T,) loudness in dB relative to the clip's loudest frame, clipped to [-60, 0]
    pitch: np.ndarray    # (T,) fundamental frequency in semitones relative to the clip's median; 0 when unvoiced
    voiced: np.ndarray   # (T,) bool: the frame has speech with a pitch


def frame_rms(audio: np.ndarray, sample_rate: int, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Root-mean-square loudness of each video frame's audio: frame t covers [t/fps, (t+1)/fps)."""
    hop = sample_rate / fps
    out = np.zeros(n_frames, dtype=np.float32)
    for t in range(n_frames):
        chunk = audio[int(round(t * hop)): int(round((t + 1) * hop))]
        out[t] = np.sqrt(np.mean(chunk.astype(np.float64) ** 2)) if chunk.size else 0.0
    return out


def loudness_db(audio: np.ndarray, sample_rate: int, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Each video frame's loudness in dB below the clip's loudest frame, (T,) in -60..0."""
    rms = frame_rms(audio, sample_rate, n_frames, fps)
    energy = 20 * np.log10(np.maximum(rms, 1e-5) / max(rms.max(), 1e-5))
    return np.clip(energy, -60, 0).astype(np.float32)


def prosody(audio: np.ndarray, sample_rate: int, n_frames: int, fps: float = 25.0) -> Prosody:
    """Loudness and pitch per video frame (pitch by the YIN estimator, a fast autocorrelation method)."""
    import librosa

    energy = loudness_db(audio, sample_rate, n_frames, fps)
    hop = int(round(sample_rate / fps))
    f0 = librosa.yin(audio.astype(np.float32), fmin=65, fmax=400, sr=sample_rate, frame_length=1024,
                     hop_length=hop, center=True)
    f0 = np.resize(f0, n_frames) if f0.size < n_frames else f0[:n_frames]
    voiced = (energy > -30) & np.isfinite(f0) & (f0 > 65) & (f0 < 400)
    semitones = np.zeros(n_frames, dtype=np.float32)
    if voiced.any():
        st = 12 * np.log2(f0[voiced] / np.median(f0[voiced]))
        semitones[voiced] = np.clip(st, -12, 12)
    return Prosody(energy=energy, pitch=semitones, voiced=voiced)


def ou_process(rng: np.random.Generator, n: int, tau_frames: float, sigma: float,
               activity: np.ndarray | None = None) -> np.ndarray:
    """An Ornstein-Uhlenbeck process: x[t+1] = a x[t] + sqrt(1 - a^2) sigma g[t] eps[t], a = exp(-1/tau).

    A smooth random wander with standard deviation ``sigma`` and correlation time ``tau_frames``, started from its
    stationary distribution so a clip has no start-up transient. ``activity`` g[t] (default 1) scales the random
    kicks frame by frame: where it is small the process only drifts slowly back towards 0, so it moves less.
    """
    a = np.exp(-1.0 / tau_frames)
    gain = np.ones(n, np.float32) if activity is None else np.asarray(activity, np.float32)
    eps = rng.standard_normal(n) * sigma * np.sqrt(1 - a * a) * gain
    eps[0] = rng.standard_normal() * sigma * gain[0]
    return lfilter([1.0], [1.0, -a], eps).astype(np.float32)


def damped_response(drive: np.ndarray, freq_hz: float, damping: float, fps: float = 25.0) -> np.ndarray:
    """Filter a drive signal through a damped spring, x'' + 2 zeta w x' + w^2 x = w^2 u (discretised).

    An impulse becomes a nod that moves, overshoots a little and settles: how a head responds to a stress.
    """
    w = 2 * np.pi * freq_hz / fps
    # impulse-invariant second-order section: poles r exp(+-i w_d)
    r = np.exp(-damping * w)
    wd = w * np.sqrt(max(1 - damping**2, 1e-6))
    a1, a2 = -2 * r * np.cos(wd), r * r
    gain = 1 + a1 + a2  # unit DC gain
    return lfilter([gain], [1.0, a1, a2], drive).astype(np.float32)


def accent_impulses(pros: Prosody, threshold: float = 2.0) -> np.ndarray:
    """Pitch accents: voiced frames where the pitch rises ``threshold`` semitones above its recent average and
    the voice is loud; returned as a (T,) array of impulses weighted by strength."""
    n = pros.pitch.size
    smooth = lfilter([0.1], [1, -0.9], pros.pitch)  # slow pitch average
    excess = np.where(pros.voiced, pros.pitch - smooth, 0.0)
    loud = np.clip((pros.energy + 25) / 25, 0, 1)
    score = np.clip(excess - threshold, 0, None) * loud
    impulses = np.zeros(n, np.float32)
    last = -10
    for t in range(1, n - 1):  # local maxima, at least 6 frames (240 ms) apart
        if score[t] > 0 and score[t] >= score[t - 1] and score[t] >= score[t + 1] and t - last >= 6:
            impulses[t] = min(score[t], 4.0)
            last = t
    return impulses


def syllable_impulses(pros: Prosody) -> np.ndarray:
    """Loudness onsets: positive jumps of the energy envelope (in dB) while speaking, one per syllable or so."""
    rise = np.diff(pros.energy, prepend=pros.energy[:1])
    speaking = pros.energy > -30
    return np.where(speaking, np.clip(rise - 3.0, 0, None) / 10.0, 0.0).astype(np.float32)


@dataclass
class MotionStyle:
    """A speaker's manner of moving, fixed per identity."""

    amplitude: float = 1.0      # overall head-motion scale (0.5 calm .. 1.5 animated)
    nod_gain: float = 1.0       # how strongly the head nods on stresses
    turn_gain: float = 1.0      # how strongly yaw follows pitch accents
    blink_rate: float = 0.3     # blinks per second

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "MotionStyle":
        return cls(amplitude=float(rng.uniform(0.5, 1.5)), nod_gain=float(rng.uniform(0.6, 1.4)),
                   turn_gain=float(rng.uniform(0.6, 1.4)), blink_rate=float(rng.uniform(0.18, 0.45)))


@dataclass
class ClipConditions:
    """The per-clip control signals of VASA-1: main gaze g, head distance d, emotion e."""

    gaze_yaw: float = 0.0     # degrees
    gaze_pitch: float = 0.0   # degrees
    distance: float = 1.0     # the FaceState ``scale`` the head stays around
    emotion: str = "neutral"
    emotion_intensity: float = 1.0

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "ClipConditions":
        forward = rng.random() < 0.5  # half the clips look at the camera, the rest somewhere near it
        gy, gp = (0.0, 0.0) if forward else (float(rng.uniform(-20, 20)), float(rng.uniform(-12, 12)))
        return cls(gaze_yaw=gy, gaze_pitch=gp, distance=float(rng.uniform(0.85, 1.15)),
                   emotion=str(rng.choice(EMOTIONS)), emotion_intensity=float(rng.uniform(0.6, 1.0)))


def blink_track(rng: np.random.Generator, n: int, rate: float, fps: float = 25.0) -> np.ndarray:
    """Eyelid closure per frame: blinks at gamma-distributed gaps, each a quick close and a slower reopen."""
    shape = np.array([0.35, 0.85, 1.0, 0.75, 0.4, 0.15], np.float32)  # 240 ms: fast down, slower up
    out = np.zeros(n, np.float32)
    t = rng.uniform(0.2, 1.0 / rate) * fps
    while t < n:
        start = int(t)
        end = min(n, start + shape.size)
        out[start:end] = np.maximum(out[start:end], shape[: end - start])
        gap = rng.gamma(4.0, 1.0 / (4.0 * rate))  # mean 1/rate seconds, not too regular
        t += max(gap, 0.4) * fps
    return out


def gaze_track(rng: np.random.Generator, n: int, cond: ClipConditions, fps: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaze angles per frame: the clip's main direction plus saccades (quick jumps, then fixations)."""
    yaw = np.zeros(n, np.float32)
    pitch = np.zeros(n, np.float32)
    t = 0
    while t < n:
        hold = int(rng.uniform(0.4, 2.0) * fps)
        away = rng.random() < 0.35
        dy, dp = (rng.normal(0, 6), rng.normal(0, 3)) if away else (rng.normal(0, 1.2), rng.normal(0, 0.8))
        yaw[t:t + hold] = cond.gaze_yaw + dy
        pitch[t:t + hold] = cond.gaze_pitch + dp
        t += hold
    # a saccade takes ~40 ms: a light one-pole smoothing keeps jumps fast but not instantaneous
    yaw = lfilter([0.6], [1, -0.4], yaw - yaw[0]) + yaw[0]
    pitch = lfilter([0.6], [1, -0.4], pitch - pitch[0]) + pitch[0]
    return yaw.astype(np.float32), pitch.astype(np.float32)


def head_activity(energy: np.ndarray) -> np.ndarray:
    """How hard the head's random wander is kicked each frame, (T,) in 0.1..1: 1 while speaking (loudness above
    -30 dB of the clip's peak, smoothed over about half a second), 0.1 in a long pause. The head moves less when
    the speaker is silent; chapter 10 (section 7) shows that its CAPP network has learned to expect this."""
    speaking = lfilter([0.08], [1, -0.92], (np.asarray(energy) > -30).astype(np.float32))  # smoothed 0..1 talking
    return 0.1 + 0.9 * speaking


def motion_tracks(
    rng: np.random.Generator,
    audio: np.ndarray,
    sample_rate: int,
    n_frames: int,
    style: MotionStyle,
    cond: ClipConditions,
    fps: float = 25.0,
) -> dict[str, np.ndarray]:
    """All non-mouth FaceState tracks for a clip, each (n_frames,) float32, keyed by FaceState field name.

    The mouth (jaw_open, lip_width, lip_round, lip_press) comes from the phonemes in ``visemes``; emotion offsets on
    the mouth are added by the caller after both are made.
    """
    pros = prosody(audio, sample_rate, n_frames, fps)
    accents = accent_impulses(pros)
    syllables = np.minimum(syllable_impulses(pros), 1.0)
    activity = head_activity(pros.energy)
    amp = style.amplitude

    # pitch: nods on syllables and accents (a nod is a downward dip), plus a drift kicked while speaking
    nod_drive = style.nod_gain * (syllables * 1.0 + accents * 0.5)
    nod = damped_response(nod_drive, freq_hz=2.2, damping=0.45, fps=fps) * 2.5
    pitch = amp * (ou_process(rng, n_frames, 30, 3.0, activity) + nod)

    # yaw: a slow turn that pitch accents push (direction alternating at random), plus a drift
    signs = np.where(rng.random(n_frames) < 0.5, -1.0, 1.0).astype(np.float32)
    turn = damped_response(style.turn_gain * accents * signs, freq_hz=0.8, damping=0.7, fps=fps) * 4.0
    yaw = amp * (ou_process(rng, n_frames, 45, 6.0, activity) + turn)

    # roll: small, partly coupled to yaw (people tilt as they turn)
    roll = amp * ou_process(rng, n_frames, 40, 2.0, activity) + 0.15 * yaw

    # translation follows rotation a little (the neck pivots below the head) plus its own drift
    tx = 0.004 * yaw + amp * ou_process(rng, n_frames, 80, 0.03, activity)
    ty = 0.004 * pitch + amp * ou_process(rng, n_frames, 80, 0.02, activity)
    scale = cond.distance * (1 + ou_process(rng, n_frames, 100, 0.015))

    brow = damped_response(accents, freq_hz=1.5, damping=0.8, fps=fps) * 0.35 + ou_process(rng, n_frames, 30, 0.05)
    gaze_yaw, gaze_pitch = gaze_track(rng, n_frames, cond, fps)

    tracks = dict(
        yaw=np.clip(yaw, -35, 35), pitch=np.clip(pitch, -25, 25), roll=np.clip(roll, -20, 20),
        tx=np.clip(tx, -0.3, 0.3), ty=np.clip(ty, -0.3, 0.3), scale=np.clip(scale, 0.75, 1.25),
        blink=blink_track(rng, n_frames, style.blink_rate, fps),
        gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch,
        brow_raise=brow, brow_furrow=np.zeros(n_frames), smile=np.zeros(n_frames), eye_wide=np.zeros(n_frames),
    )
    # the emotion: a global offset, scaled by the clip's intensity
    for name, offset in EMOTION_OFFSETS[cond.emotion].items():
        if name in tracks:
            tracks[name] = tracks[name] + cond.emotion_intensity * offset
    for name in ("brow_raise", "smile", "eye_wide"):
        tracks[name] = np.clip(tracks[name], -1, 1)
    tracks["brow_furrow"] = np.clip(tracks["brow_furrow"], 0, 1)
    return {k: np.asarray(v, np.float32) for k, v in tracks.items() if k in STATE_NAMES}
