"""Audio features, one row per 25 fps video frame: log-mel (default) or Wav2Vec2 hidden states.

The alignment convention (everything in this project follows it)
----------------------------------------------------------------
Video frame ``t`` is shown from ``t / fps`` to ``(t + 1) / fps``; its centre is ``(t + 0.5) / fps``. Feature row
``t`` describes the audio around that centre: its analysis windows are centred inside frame ``t`` and their
centres average exactly to ``(t + 0.5) / fps``. A clip of N samples has

    T = n_video_frames(N, sr, fps) = round(N / sr * fps)

rows (Python-free rounding: halves go up). Audio shorter than half a frame (20 ms at 25 fps) gives T = 0 and an
empty ``(0, D)`` array; 20-60 ms gives one row. Samples past the end, and before the start, count as zeros.

Log-mel (``kind="mel"``), with hop h = 160 samples (10 ms), FFT n = 512, Hann window of 400 (25 ms):

    P[m, j]  = sum_k  M[m, k] |STFT(x)[k, j]|^2          M: Slaney mel filterbank (n_mels x (n/2 + 1))
    dB[m, j] = 10 log10(max(P[m, j], 1e-10))             floor -100 dB (digital silence)
    f[m, j]  = (dB[m, j] - mel_db_mean) / mel_db_std     FIXED constants, not per utterance
    row t    = [f[:, 4t], f[:, 4t+1], f[:, 4t+2], f[:, 4t+3]]   D = 4 n_mels (hop-major)

STFT frame j is centred on sample ``(j + 0.5) h``, so the four hops of frame t are centred at t/fps + 5, 15, 25,
35 ms. Because the normalisation is fixed, features of a chunk equal the features of the whole recording, and the
same sentence at a different volume gives the same features after loudness normalisation. On the synthetic world
the features have mean 0 and std 1 over all frames; speech sits mostly in [-1.5, 1.5] and digital silence at
(db_floor - mel_db_mean) / mel_db_std = (-100 + 48) / 32 = -1.625.

Wav2Vec2 (``kind="wav2vec2"``): the CNN front end has a 400-sample receptive field and a 320-sample stride, so it
emits 50 vectors a second, vector i centred at ``(i + 0.5) * 20 ms`` when the input starts 40 samples early. Two
consecutive vectors straddle one video frame; their mean (linear interpolation at the frame centre) is row t. The
input waveform is divided by the target speech RMS, which brings speech to about unit variance, the scale
Wav2Vec2's own feature extractor produces (we avoid its per-utterance normalisation so that chunks agree).
Long audio goes through the transformer in windows of ``wav2vec2_window_seconds`` with
``wav2vec2_context_seconds`` of extra audio each side (attention does not see beyond it).
"""
from __future__ import annotations

import functools
import os
import math
import warnings
from dataclasses import replace
from typing import Iterator

import numpy as np

from .config import TINY_WAV2VEC2, AudioConfig, wav2vec2_folder
from .waveform import _warn_silent, measure_file, prepare_audio, stream_audio


def n_video_frames(n_samples: int, sample_rate: int = 16_000, fps: float = 25.0) -> int:
    """Video frames for ``n_samples`` of audio: round(n_samples / sample_rate * fps), halves rounded up."""
    return int(math.floor(n_samples * fps / sample_rate + 0.5 + 1e-9))


def segment(x: np.ndarray, start: int, stop: int, offset: int = 0, n_total: int | None = None) -> np.ndarray:
    """Samples ``[start, stop)`` of a signal, zeros outside it.

    ``x`` holds the signal's samples ``[offset, offset + len(x))``; ``n_total`` is the signal's full length
    (default: it ends where ``x`` ends). Asking for real samples that ``x`` does not hold is a bug, not zeros.
    """
    n_total = offset + x.size if n_total is None else n_total
    out = np.zeros(stop - start, np.float32)
    a, b = max(start, 0), min(stop, n_total)
    if b > a:
        if a < offset or b > offset + x.size:
            raise RuntimeError(f"samples [{a}, {b}) are not in the buffer [{offset}, {offset + x.size})")
        out[a - start: b - start] = x[a - offset: b - offset]
    return out


# ---------------------------------------------------------------------------------------------------------------
# log-mel
# ---------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-style mel filterbank (librosa's default): (n_mels, n_fft // 2 + 1)."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


def mel_margin(cfg: AudioConfig) -> int:
    """Samples of audio needed each side of a frame range: (n_fft - hop) / 2 = 176."""
    return (cfg.n_fft - cfg.hop_length) // 2


def log_mel(seg: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """Normalised log-mel of a segment whose STFT frames are all 'inside' it (center=False): -> (n_mels, hops)."""
    import librosa

    spec = librosa.stft(seg, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                        window="hann", center=False)                       # (n_fft/2+1, hops) complex
    power = np.abs(spec) ** 2                                              # |STFT|^2
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)           # (n_mels, n_fft/2+1)
    # P = M |STFT|^2. einsum, not @: this product is small, and a multi-threaded BLAS on a busy machine (CI, a
    # shared laptop) spends far longer waking its threads than multiplying.
    mel = np.einsum("mk,kt->mt", fb, power, optimize=False)                 # (n_mels, hops)
    db = 10.0 * np.log10(np.maximum(mel, 10.0 ** (cfg.db_floor / 10.0)))
    return ((db - cfg.mel_db_mean) / cfg.mel_db_std).astype(np.float32)


MEL_BLOCK_FRAMES = 750      # compute at most 30 s at a time: the STFT of 10 minutes at once would take ~200 MB


def _mel_rows(x: np.ndarray, f0: int, f1: int, cfg: AudioConfig, offset: int, n_total: int) -> np.ndarray:
    """Rows [f0, f1) of the mel features: (f1 - f0, 4 n_mels)."""
    spf, m = cfg.samples_per_frame, mel_margin(cfg)
    out = np.empty((f1 - f0, cfg.spectral_dim), np.float32)
    for a in range(f0, f1, MEL_BLOCK_FRAMES):
        b = min(a + MEL_BLOCK_FRAMES, f1)
        seg = segment(x, a * spf - m, b * spf + m, offset, n_total)         # 4 (b - a) hops exactly
        f = log_mel(seg, cfg)                                              # (n_mels, 4 (b - a))
        out[a - f0: b - f0] = f.T.reshape(b - a, cfg.hops_per_frame * cfg.n_mels)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Wav2Vec2
# ---------------------------------------------------------------------------------------------------------------
W2V_RECEPTIVE_FIELD = 400   # samples seen by one output of the CNN front end (kernels 10,3,3,3,3,2,2)
W2V_STRIDE = 320            # samples between outputs (strides 5,2,2,2,2,2,2): 50 Hz at 16 kHz


@functools.lru_cache(maxsize=4)
def _load_wav2vec2(path: str, seed: int):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    if path:
        folder = wav2vec2_folder(path)
        try:
            model = Wav2Vec2Model.from_pretrained(str(folder), local_files_only=True)
        except Exception as err:
            raise ValueError(f"wav2vec2_path {path!r}: could not load a Wav2Vec2 model from it "
                             f"({type(err).__name__}: {err})") from None
        source = f"wav2vec2 weights from {folder}"
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Wav2Vec2Model(Wav2Vec2Config(**TINY_WAV2VEC2))
        source = f"wav2vec2: a TINY RANDOMLY INITIALISED model (seed {seed}), untrained - for tests and teaching only"
        warnings.warn(source + "; set AudioConfig.wav2vec2_path to real weights", UserWarning, stacklevel=3)
    conv = model.config
    rf, stride = 1, 1
    for k, s in zip(conv.conv_kernel, conv.conv_stride):
        rf += (k - 1) * stride
        stride *= s
    if (rf, stride) != (W2V_RECEPTIVE_FIELD, W2V_STRIDE):
        raise ValueError(f"this Wav2Vec2 has a front end of {rf} samples / stride {stride}; expected 400 / 320")
    return model.eval(), source


def load_wav2vec2(cfg: AudioConfig):
    """-> (Wav2Vec2Model in eval mode, a sentence saying where its weights came from). Cached per path."""
    return _load_wav2vec2(cfg.wav2vec2_path, cfg.seed)


def feature_source(cfg: AudioConfig) -> str:
    """A sentence naming the features, e.g. for a notebook or a log."""
    if cfg.kind == "mel":
        hop_ms = 1000 * cfg.hop_length / cfg.sample_rate
        return (f"log-mel: {cfg.n_mels} bands x {cfg.hops_per_frame} hops of {hop_ms:g} ms per frame, fixed "
                f"normalisation (dB - ({cfg.mel_db_mean:g})) / {cfg.mel_db_std:g}")
    return load_wav2vec2(cfg)[1]


def _wav2vec2_window(x, g0: int, g1: int, cfg: AudioConfig, offset: int, n_total: int) -> np.ndarray:
    """Rows [g0, g1) from one pass of the transformer over exactly that audio: (g1 - g0, H)."""
    import torch

    model, _ = load_wav2vec2(cfg)
    spf = cfg.samples_per_frame
    per_frame = spf // W2V_STRIDE                       # 2 outputs per video frame
    pad = (W2V_RECEPTIVE_FIELD - W2V_STRIDE) // 2       # 40: output i is centred at (i + 0.5) * 320
    seg = segment(x, g0 * spf - pad, g1 * spf + pad, offset, n_total)
    seg = seg / np.float32(10.0 ** (cfg.target_loudness_db / 20.0))      # speech RMS -> about 1
    with torch.inference_mode():
        out = model(torch.from_numpy(seg)[None], output_hidden_states=cfg.wav2vec2_layer != -1)
        h = out.last_hidden_state if cfg.wav2vec2_layer == -1 else out.hidden_states[cfg.wav2vec2_layer]
    h = h[0].float().numpy()                            # (2 (g1 - g0), H) at 50 Hz
    h = h[: per_frame * (g1 - g0)]
    return h.reshape(g1 - g0, per_frame, -1).mean(axis=1)   # two 50 Hz vectors -> one 25 fps row


def _wav2vec2_rows(x, f0: int, f1: int, cfg: AudioConfig, offset: int, n_total: int, n_frames: int) -> np.ndarray:
    """Rows [f0, f1): windows of at most wav2vec2_window_seconds, each with context each side."""
    window = max(1, int(round(cfg.wav2vec2_window_seconds * cfg.fps)))
    ctx = int(round(cfg.wav2vec2_context_seconds * cfg.fps))
    rows = []
    for a in range(f0, f1, window):
        b = min(a + window, f1)
        g0, g1 = max(0, a - ctx), min(n_frames, b + ctx)
        rows.append(_wav2vec2_window(x, g0, max(g1, b), cfg, offset, n_total)[a - g0: b - g0])
    return np.concatenate(rows).astype(np.float32)


def context_samples(cfg: AudioConfig) -> int:
    """Audio needed beyond each side of a frame range (in samples)."""
    if cfg.kind == "mel":
        margin = mel_margin(cfg)
    else:
        ctx = int(round(cfg.wav2vec2_context_seconds * cfg.fps))
        margin = ctx * cfg.samples_per_frame + (W2V_RECEPTIVE_FIELD - W2V_STRIDE) // 2
    return max(margin, PITCH_WINDOW // 2) if cfg.prosody else margin


# ---------------------------------------------------------------------------------------------------------------
# prosody: pitch and loudness per frame
# ---------------------------------------------------------------------------------------------------------------
PITCH_WINDOW = 1024          # YIN's analysis window (64 ms), centred on each video frame's centre
PITCH_REFERENCE_HZ = 150.0   # pitch feature = log2(f0 / 150 Hz): 0 near a typical speaking voice
VOICED_DB = -45.0            # frames quieter than this (dBFS RMS, after loudness normalisation) are unvoiced


def _prosody_rows(x: np.ndarray, f0: int, f1: int, cfg: AudioConfig, offset: int, n_total: int) -> np.ndarray:
    """Rows [f0, f1) of the prosody columns: (f1 - f0, 2) = (pitch in octaves from 150 Hz, loudness dB / 20).

    Pitch by YIN (librosa) on a 1024-sample window centred on each frame's centre; 0 where the frame is quiet or the
    estimate sits at the search range's edge (no clear period). Loudness: 10 log10 of the frame's mean power."""
    import librosa

    spf, half = cfg.samples_per_frame, PITCH_WINDOW // 2
    centre0 = f0 * spf + spf // 2
    seg = segment(x, centre0 - half, (f1 - 1) * spf + spf // 2 + half, offset, n_total)
    f = librosa.yin(seg, fmin=65, fmax=400, sr=cfg.sample_rate, frame_length=PITCH_WINDOW, hop_length=spf,
                    center=False)[: f1 - f0]
    frames = segment(x, f0 * spf, f1 * spf, offset, n_total).reshape(f1 - f0, spf)
    db = 10.0 * np.log10(np.maximum(np.mean(frames.astype(np.float64) ** 2, axis=1), 1e-10))
    voiced = (db > VOICED_DB) & (f > 66) & (f < 399)
    pitch = np.where(voiced, np.log2(np.clip(f, 65, 400) / PITCH_REFERENCE_HZ), 0.0)
    return np.stack([pitch, np.clip(db, -100, 0) / 20.0], axis=1).astype(np.float32)


def _rows(x, f0, f1, cfg, offset, n_total, n_frames) -> np.ndarray:
    if f1 <= f0:
        return np.zeros((0, cfg.feature_dim), np.float32)
    if cfg.kind == "mel":
        rows = _mel_rows(x, f0, f1, cfg, offset, n_total)
    else:
        rows = _wav2vec2_rows(x, f0, f1, cfg, offset, n_total, n_frames)
    if cfg.prosody:
        rows = np.concatenate([rows, _prosody_rows(x, f0, f1, cfg, offset, n_total)], axis=1)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# the API
# ---------------------------------------------------------------------------------------------------------------
def _check_prepared(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"audio_features wants prepared mono audio (N,), got shape {x.shape}; call prepare_audio()")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"audio_features wants float audio in [-1, 1], got {x.dtype}; call prepare_audio()")
    if not np.all(np.isfinite(x)):
        raise ValueError("the audio holds NaN or infinite samples")
    return x.astype(np.float32, copy=False)


def audio_features(audio: np.ndarray, cfg: AudioConfig | None = None) -> np.ndarray:
    """Prepared audio (N,) float32 at ``cfg.sample_rate`` -> features (T, D) float32, T = round(N / sr * fps).

    Row t describes the audio centred on video frame t's centre, (t + 0.5) / fps seconds (module docstring).
    Audio longer than ``cfg.max_seconds`` is refused; use :func:`iter_audio_features` for it.
    """
    cfg = cfg or AudioConfig()
    x = _check_prepared(audio)
    if x.size / cfg.sample_rate > cfg.max_seconds:
        raise ValueError(f"the audio is {x.size / cfg.sample_rate:.1f} s long, more than max_seconds="
                         f"{cfg.max_seconds:g}; use iter_audio_features() to process it in chunks")
    t = n_video_frames(x.size, cfg.sample_rate, cfg.fps)
    return _rows(x, 0, t, cfg, 0, x.size, t)


def iter_audio_features(source, cfg: AudioConfig | None = None, chunk_seconds: float = 10.0,
                        sample_rate: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Features of audio of any length, a chunk at a time: yields (start_frame, rows (t, D)).

    ``source`` is a file path (read in pieces, twice: once to measure loudness and length, once for features, so
    neither the hour of samples nor its features is ever in memory) or an array: prepared audio, or raw audio when
    ``sample_rate`` is given. The chunks concatenated equal ``audio_features`` of the whole (exactly for mel; for
    Wav2Vec2 up to the attention windows falling elsewhere, see the tests).
    """
    cfg = cfg or AudioConfig()
    chunk = max(1, int(round(chunk_seconds * cfg.fps)))
    spf, ctx = cfg.samples_per_frame, context_samples(cfg)

    if not isinstance(source, (str, os.PathLike)):
        if sample_rate is not None:
            x = prepare_audio(source, sample_rate, replace(cfg, max_seconds=math.inf))
        else:
            x = _check_prepared(source)
        t = n_video_frames(x.size, cfg.sample_rate, cfg.fps)
        for f0 in range(0, t, chunk):
            yield f0, _rows(x, f0, min(f0 + chunk, t), cfg, 0, x.size, t)
        return

    meter = measure_file(source, cfg)                     # pass 1: loudness, peak, length
    gain = np.float32(meter.gain())
    n_total = meter.n_samples
    t = n_video_frames(n_total, cfg.sample_rate, cfg.fps)
    if meter.silent:
        _warn_silent(str(source))
    buf, offset, f0 = np.zeros(0, np.float32), 0, 0       # buf holds samples [offset, offset + buf.size)
    blocks = stream_audio(source, cfg)                    # pass 2
    while f0 < t:
        f1 = min(f0 + chunk, t)
        need = min(f1 * spf + ctx, n_total)
        while offset + buf.size < need:
            block = next(blocks) * gain
            buf = np.concatenate([buf, block])
        yield f0, _rows(buf, f0, f1, cfg, offset, n_total, t)
        keep = max(f1 * spf - ctx, 0)                      # the next chunk needs samples from here on
        if keep > offset:
            buf = buf[keep - offset:].copy()
            offset = keep
        f0 = f1
    blocks.close()
