"""The audio stage's settings: one frozen dataclass, with a size per profile (see ``vasa_lab.config``).

=========  =================================================  ============================================
profile    log-mel (``kind="mel"``, the default)               Wav2Vec2 (``kind="wav2vec2"``)
=========  =================================================  ============================================
``tiny``   40 mel bands x 4 hops of 10 ms -> D = 160          tiny random config (D = 64) unless a path
``small``  80 mel bands x 4 hops -> D = 320                   as tiny
``full``   80 mel bands x 4 hops -> D = 320                   ``wav2vec2_path``: local weights (D = 768 for
                                                              wav2vec2-base, 1024 for large)
=========  =================================================  ============================================

Every number that changes the features lives here, so a model trained on them (the motion transformer) can keep
the config beside its weights and the artifact store's key changes whenever a feature setting does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..artifacts import ADDED_LATER
from ..config import resolve_profile

KINDS = ("mel", "wav2vec2")
PROSODY_DIM = 2             # pitch (octaves from 150 Hz), loudness (dB / 20)

# The tiny, randomly initialised Wav2Vec2 used when no weights are given (tests and teaching only).
TINY_WAV2VEC2 = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
    conv_dim=(32, 32, 32, 32, 32, 32, 32),  # the real model's 7 conv layers (kernels 10,3,3,3,3,2,2; strides 5,2,...)
    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
    feat_extract_norm="layer", do_stable_layer_norm=True,   # no GroupNorm over the whole clip: chunks stay local
    apply_spec_augment=False, mask_time_prob=0.0,
)


@dataclass(frozen=True)
class AudioConfig:
    """How speech becomes one feature vector per 25 fps video frame.

    The waveform: mono, ``sample_rate`` Hz, float32, loudness-normalised so that the speech (the 25 ms blocks
    louder than ``silence_db`` and within ``relative_gate_db`` of the louder ones) has an RMS of
    ``target_loudness_db`` dBFS, with peaks kept under ``peak_limit``.

    The mel features: power spectrogram (Hann window ``win_length`` inside an ``n_fft`` FFT, hop = a quarter of a
    video frame = 10 ms) -> ``n_mels`` mel bands (Slaney) -> dB (floor ``db_floor``) -> the FIXED affine
    normalisation ``(dB - mel_db_mean) / mel_db_std`` -> the ``hops_per_frame`` hops of a video frame stacked.
    """

    kind: str = "mel"                  # "mel" | "wav2vec2"
    sample_rate: int = 16_000          # Hz; the rate every model here works at
    fps: float = 25.0                  # video frames per second; one feature row per frame

    # --- waveform preparation ------------------------------------------------------------------------------
    target_loudness_db: float = -22.0  # dBFS RMS of the active speech (0.08 RMS, the synthetic world's level)
    silence_db: float = -70.0          # 25 ms blocks quieter than this are silence (not measured, not a speaker)
    relative_gate_db: float = 20.0     # ... and so are blocks this far below the mean of the louder ones
    peak_limit: float = 0.99           # the gain never pushes a sample beyond this
    max_gain_db: float = 40.0          # at most +40 dB: faint noise is not blown up into "speech"
    max_seconds: float = 600.0         # longer input is refused by load_speech/prepare_audio/audio_features;
                                       # iter_audio_features streams any length

    # --- log-mel -------------------------------------------------------------------------------------------
    n_mels: int = 40
    n_fft: int = 512                   # 32 ms FFT
    win_length: int = 400              # 25 ms Hann window, centred in the FFT frame
    hops_per_frame: int = 4            # 4 hops of 10 ms per 40 ms video frame
    fmin: float = 0.0
    fmax: float = 8_000.0
    db_floor: float = -100.0           # 10 log10(max(power, 1e-10)): digital silence sits at -100 dB
    mel_db_mean: float = -48.0         # fixed normalisation: the mean and std of dB over all frames of 40 tiny-world
    mel_db_std: float = 32.0           # clips, rounded (notebook 05 re-measures them); NOT per utterance, so
                                       # chunks, streams and clips of any length are normalised alike

    # --- Wav2Vec2 ------------------------------------------------------------------------------------------
    wav2vec2_path: str = ""            # local folder with config.json + weights; "" -> tiny random config
    wav2vec2_layer: int = -1           # which hidden state: -1 = the last layer's output, 0 = after the CNN
    wav2vec2_window_seconds: float = 20.0   # attention span: long audio goes through in windows of this length
    wav2vec2_context_seconds: float = 1.0   # extra audio each side of a window, computed and thrown away
    seed: int = 0                      # initialisation of the tiny random Wav2Vec2

    # --- prosody (appended to either kind) -----------------------------------------------------------------
    # two more numbers per frame: the voice's pitch in octaves from 150 Hz (YIN; 0 where unvoiced) and the frame's
    # loudness in dB over 20 dB. A head nods on pitch accents and loud syllables; with only the spectrum the
    # generator must learn to find the pitch itself. Local to a frame (no per-utterance statistics), so chunks and
    # streams agree with the whole. Measured on the tiny world (27 held-out clips, same training): the generated
    # head's audio-pose correlation 0.230 with it, 0.255 without (real codes 0.316), lip sync 0.798 vs 0.795: no
    # gain, so no profile turns it on; it stays as an option (and an exercise of chapter 07).
    prosody: bool = field(default=False, metadata=ADDED_LATER)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown audio feature kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.sample_rate <= 0 or self.fps <= 0:
            raise ValueError(f"sample_rate and fps must be positive, got {self.sample_rate} and {self.fps}")
        spf = self.sample_rate / self.fps
        if abs(spf - round(spf)) > 1e-9:
            raise ValueError(f"sample_rate / fps must be a whole number of samples, got {self.sample_rate} / "
                             f"{self.fps} = {spf:.3f}")
        if round(spf) % self.hops_per_frame:
            raise ValueError(f"a video frame of {round(spf)} samples does not split into {self.hops_per_frame} hops")
        if (self.n_fft - self.hop_length) % 2 or self.win_length > self.n_fft:
            raise ValueError(f"n_fft - hop must be even and win_length <= n_fft; got n_fft={self.n_fft}, "
                             f"hop={self.hop_length}, win_length={self.win_length}")

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "AudioConfig":
        """The profile's config; keyword arguments override single fields (``for_profile("tiny", kind="wav2vec2")``)."""
        name = resolve_profile(profile)
        base = cls() if name == "tiny" else cls(n_mels=80)
        return replace(base, **overrides)

    # --- derived sizes -------------------------------------------------------------------------------------
    @property
    def samples_per_frame(self) -> int:
        """Audio samples in one video frame: 16000 / 25 = 640."""
        return int(round(self.sample_rate / self.fps))

    @property
    def hop_length(self) -> int:
        """Samples between mel frames: 640 / 4 = 160 (10 ms)."""
        return self.samples_per_frame // self.hops_per_frame

    @property
    def feature_dim(self) -> int:
        """D, the width of one feature row."""
        return self.spectral_dim + (PROSODY_DIM if self.prosody else 0)

    @property
    def spectral_dim(self) -> int:
        """The width of the mel or Wav2Vec2 part of a row (the prosody columns come after it)."""
        if self.kind == "mel":
            return self.n_mels * self.hops_per_frame
        if not self.wav2vec2_path:
            return int(TINY_WAV2VEC2["hidden_size"])
        return int(json.loads((wav2vec2_folder(self.wav2vec2_path) / "config.json").read_text())["hidden_size"])


def wav2vec2_folder(path: str | Path) -> Path:
    """The folder holding a Wav2Vec2's ``config.json`` and weights; a clear error when there is none."""
    p = Path(path).expanduser()
    if p.is_file():
        p = p.parent
    if not p.is_dir():
        raise ValueError(f"wav2vec2_path {str(path)!r} does not exist; give a local folder with config.json and the "
                         f"weights (nothing is downloaded), or leave it empty for the tiny random model")
    if not (p / "config.json").is_file():
        raise ValueError(f"wav2vec2_path {str(path)!r} has no config.json; give the folder a Wav2Vec2 model was "
                         f"saved to with save_pretrained()")
    return p
