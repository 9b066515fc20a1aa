"""One synthetic clip: a person saying a few sentences, with every frame's ground truth.

``make_clip(seed, index)`` is a pure function of its arguments: the same (seed, index) gives bit-identical audio,
states and landmarks on any machine. A clip is made in five steps:

1. **who**: the identity index is ``index // clips_per_identity``; the identity (looks), voice (espeak variant,
   pitch, rate) and motion style (how animated) come from a generator seeded by (seed, identity index), so a
   person keeps their face, voice and manner across clips;
2. **what is said**: sentences drawn from the built-in list, synthesized and joined with pauses, cut to length;
3. **the mouth**: phonemes -> visemes -> mouth parameters with coarticulation (``visemes.mouth_track``);
4. **everything else**: head pose, blinks, gaze, brows, emotion from the audio's prosody (``motion``);
5. **pixels**: each frame's :class:`FaceState` rendered for the identity (``render``), with its 68 landmarks.

On disk a clip is three files that share a stem: ``<stem>.mp4`` (H.264 + AAC), ``<stem>.wav`` (16 kHz mono) and
``<stem>.npz`` (the ground truth; see :class:`Truth`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..media import write_mp4, write_wav
from .person import Identity, sample_identity
from .behaviour import EMOTIONS, ClipConditions, MotionStyle, motion_tracks
from .render import render_frames
from .sentences import SENTENCES
from .speech import LANGUAGES, VOICE_VARIANTS, Phoneme, synthesize
from .state import STATE_NAMES
from .visemes import mouth_track

MOUTH_FIELDS = ("jaw_open", "lip_width", "lip_round", "lip_press")


@dataclass(frozen=True)
class Voice:
    """How a person sounds: an espeak variant, a pitch (0-100) and a speaking rate (words per minute)."""

    variant: str
    pitch: int
    rate: int

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Voice":
        return cls(variant=str(rng.choice(VOICE_VARIANTS)), pitch=int(rng.integers(30, 71)),
                   rate=int(rng.integers(140, 191)))


@dataclass(frozen=True)
class Person:
    """Everything fixed about one synthetic person."""

    index: int
    identity: Identity
    voice: Voice
    style: MotionStyle


def person(seed: int, identity_index: int) -> Person:
    """The person with this index in the world of this seed (deterministic)."""
    ss = np.random.SeedSequence([seed, identity_index, 1])
    identity_seed, voice_seed, style_seed = (int(s) for s in ss.generate_state(3))
    return Person(identity_index, sample_identity(identity_seed), Voice.sample(np.random.default_rng(voice_seed)),
                  MotionStyle.sample(np.random.default_rng(style_seed)))


@dataclass
class Clip:
    """A clip in memory. T frames at ``fps``; ``audio`` has exactly T * sample_rate / fps samples."""

    frames: np.ndarray       # (T, H, W, 3) uint8 RGB
    audio: np.ndarray        # (N,) float32 mono at sample_rate
    states: np.ndarray       # (T, len(STATE_NAMES)) float32: the FaceState of every frame
    landmarks: np.ndarray    # (T, 68, 2) float32 pixel coordinates, iBUG-68 order
    viseme_ids: np.ndarray   # (T,) int64
    phonemes: list[Phoneme]
    meta: dict = field(default_factory=dict)
    fps: float = 25.0
    sample_rate: int = 16_000

    @property
    def n_frames(self) -> int:
        return int(self.states.shape[0])

    def track(self, name: str) -> np.ndarray:
        """One FaceState field over time, e.g. ``clip.track("yaw")``."""
        return self.states[:, STATE_NAMES.index(name)]


def _speak(rng: np.random.Generator, voice: Voice, language: str, n_samples: int, sample_rate: int):
    """Sentences joined by pauses until ``n_samples`` are filled: -> (audio, phonemes, sentence texts)."""
    pieces, phonemes, texts = [], [], []
    t = 0.0
    lead = rng.uniform(0.15, 0.5)  # a short silence before the first word
    pieces.append(np.zeros(int(lead * sample_rate), np.float32))
    phonemes.append(Phoneme("_", 0.0, lead))
    t = lead
    sentences = SENTENCES[language]
    while t * sample_rate < n_samples:
        text = sentences[int(rng.integers(len(sentences)))]
        speech = synthesize(text, language=language, variant=voice.variant, rate=voice.rate, pitch=voice.pitch,
                            sample_rate=sample_rate)
        pieces.append(speech.audio)
        phonemes.extend(Phoneme(p.symbol, p.start + t, p.end + t) for p in speech.phonemes)
        texts.append(text)
        t += speech.audio.size / sample_rate
        pause = rng.uniform(0.2, 0.6)
        pieces.append(np.zeros(int(pause * sample_rate), np.float32))
        phonemes.append(Phoneme("_", t, t + pause))
        t += pause
    audio = np.concatenate(pieces)[:n_samples]
    end = n_samples / sample_rate
    fade = min(int(0.02 * sample_rate), audio.size)  # 20 ms fade so a cut word does not click
    audio[audio.size - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    phonemes = [Phoneme(p.symbol, p.start, min(p.end, end)) for p in phonemes if p.start < end]
    return audio.astype(np.float32), phonemes, texts


def make_clip(
    seed: int,
    index: int,
    seconds: float = 4.0,
    size: int = 64,
    language: str = "en",
    fps: float = 25.0,
    sample_rate: int = 16_000,
    clips_per_identity: int = 2,
    conditions: ClipConditions | None = None,
) -> Clip:
    """Generate clip ``index`` of the world ``seed`` (see the module docstring for the steps)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if not 16 <= size <= 1024:
        raise ValueError(f"size must be between 16 and 1024 pixels, got {size}")
    who = person(seed, index // max(1, clips_per_identity))
    rng = np.random.default_rng([seed, index, 2])
    cond = conditions if conditions is not None else ClipConditions.sample(rng)
    n_frames = max(1, int(round(seconds * fps)))
    n_samples = int(round(n_frames * sample_rate / fps))

    audio, phonemes, texts = _speak(rng, who.voice, language, n_samples, sample_rate)
    mouth = mouth_track(phonemes, n_frames, fps, language=language)
    tracks = motion_tracks(rng, audio, sample_rate, n_frames, who.style, cond, fps)
    for i, name in enumerate(MOUTH_FIELDS):
        tracks[name] = mouth.params[:, i]
    if cond.emotion == "surprised":  # surprise parts the lips a little, but never during a p/b/m closure
        extra = 0.08 * cond.emotion_intensity * (1 - tracks["lip_press"])
        tracks["jaw_open"] = np.clip(tracks["jaw_open"] + extra, 0, 1)
    states = np.stack([tracks[name] for name in STATE_NAMES], axis=1).astype(np.float32)

    frames, landmarks = render_frames(who.identity, states, size)
    meta = dict(
        seed=seed, index=index, identity_index=who.index, language=language, seconds=n_frames / fps,
        n_frames=n_frames, fps=fps, sample_rate=sample_rate, size=size, sentences=texts,
        emotion=cond.emotion, emotion_id=EMOTIONS.index(cond.emotion), conditions=asdict(cond),
        voice=asdict(who.voice), style=asdict(who.style), identity=who.identity.to_dict(),
    )
    return Clip(frames=frames, audio=audio, states=states, landmarks=np.asarray(landmarks, np.float32),
                viseme_ids=mouth.viseme_ids.astype(np.int64), phonemes=phonemes, meta=meta, fps=fps,
                sample_rate=sample_rate)


# ---------------------------------------------------------------------------------------------------------------
# on disk
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Truth:
    """The ground truth of a clip as read back from its ``.npz``."""

    states: np.ndarray        # (T, 17) FaceState per frame (yaw/pitch/roll in degrees, ...)
    state_names: list[str]
    landmarks: np.ndarray     # (T, 68, 2) pixels
    viseme_ids: np.ndarray    # (T,)
    phonemes: list[Phoneme]
    meta: dict

    def track(self, name: str) -> np.ndarray:
        return self.states[:, self.state_names.index(name)]


def save_clip(clip: Clip, folder: str | Path, stem: str) -> dict[str, Path]:
    """Write ``<stem>.mp4``, ``<stem>.wav`` and ``<stem>.npz`` into ``folder``; returns their paths.

    The npz is written last (through a temporary name), so its presence marks a finished clip.
    """
    folder = Path(folder)
    paths = {k: folder / f"{stem}.{k}" for k in ("mp4", "wav", "npz")}
    write_mp4(paths["mp4"], clip.frames, clip.fps, clip.audio, clip.sample_rate)
    write_wav(paths["wav"], clip.audio, clip.sample_rate)
    tmp = folder / f"{stem}.tmp.npz"
    np.savez_compressed(
        tmp,
        states=clip.states, state_names=np.array(STATE_NAMES), landmarks=clip.landmarks,
        viseme_ids=clip.viseme_ids,
        phoneme_symbols=np.array([p.symbol for p in clip.phonemes]),
        phoneme_times=np.array([[p.start, p.end] for p in clip.phonemes], np.float64).reshape(-1, 2),
        meta=np.array(json.dumps(clip.meta)),
    )
    tmp.replace(paths["npz"])
    return paths


def load_truth(path: str | Path) -> Truth:
    """Read a clip's ground truth (``.npz``; no pickle involved)."""
    with np.load(Path(path), allow_pickle=False) as z:
        return Truth(
            states=z["states"], state_names=[str(s) for s in z["state_names"]], landmarks=z["landmarks"],
            viseme_ids=z["viseme_ids"],
            phonemes=[Phoneme(str(s), float(a), float(b)) for s, (a, b) in zip(z["phoneme_symbols"], z["phoneme_times"])],
            meta=json.loads(str(z["meta"])),
        )
