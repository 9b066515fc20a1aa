"""From any speech recording to the one waveform every feature starts from: mono, 16 kHz, float32, a fixed loudness.

Three steps, in this order, whether the audio comes from a file or from memory:

1. **Mono.** Channels are averaged, ``x[n] = (1/C) sum_c x_c[n]``.
2. **16 kHz.** Band-limited resampling with soxr (the "HQ" filter). A file is resampled block by block with
   soxr's streaming resampler, which gives exactly the same samples as resampling the whole signal at once, so a
   streamed file and a loaded file agree sample for sample.
3. **Loudness.** People record at any level; the features should not care. We measure the speech's level as the
   RMS over the 25 ms blocks that are speech (so pauses do not count),

       L = 10 log10( mean_{speech blocks b} mean_n x_b[n]^2 )   dBFS,

   where a block is speech when it is louder than ``cfg.silence_db`` (-70 dBFS) and than the mean of those blocks
   minus ``cfg.relative_gate_db`` (20 dB) - the two gates of EBU R128 loudness metering, which make L follow the
   recording's level exactly (a recording 30 dB quieter measures 30 dB quieter),

   and apply one gain ``g = 10^((L_target - L) / 20)`` to the whole recording, lowered if it would push a sample
   beyond ``cfg.peak_limit`` and capped at ``cfg.max_gain_db``. It is one number per recording, measured in a
   first pass over a file, so a one-hour file can be normalised without holding it in memory.

Silent audio (no block above ``cfg.silence_db``) is not an error: the gain stays 1, :func:`is_silent` says so and a
:class:`SilentAudioWarning` is issued; the features of silence are finite (the dB floor), and the motion model
should answer them with a calm, closed mouth.

Bad input raises a :class:`vasa_lab.media.MediaError` (a file) or a ``ValueError`` (an array) with one sentence.
Decoding: soundfile (libsndfile) for wav/flac/ogg/mp3, PyAV (ffmpeg) for everything else (m4a, aac, mp4, ...).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from ..media import MediaError
from .config import AudioConfig

BLOCK_SECONDS = 0.025      # loudness blocks (25 ms)
DECODE_BLOCK = 1 << 16     # samples per decoded block when streaming a file (~4 s at 16 kHz)


class SilentAudioWarning(UserWarning):
    """The audio holds no sound above ``AudioConfig.silence_db``: features are computed, but there is no speech."""


# ---------------------------------------------------------------------------------------------------------------
# loudness
# ---------------------------------------------------------------------------------------------------------------
class LoudnessMeter:
    """Streaming loudness measurement: feed blocks with :meth:`update`, then read :meth:`gain`.

    Every 25 ms block's mean square is kept (an hour is 144 000 numbers), so the result does not depend on how the
    signal was cut into pieces. Two gates decide which blocks are speech, as in EBU R128 loudness metering:
    an absolute one (louder than ``silence_db``) and a relative one (within ``relative_gate_db`` of the mean of the
    blocks that passed the first), which makes the measurement independent of the recording's level.
    """

    def __init__(self, cfg: AudioConfig):
        self.cfg = cfg
        self.block = max(1, int(round(BLOCK_SECONDS * cfg.sample_rate)))
        self.peak = 0.0
        self.n_samples = 0
        self._blocks: list[np.ndarray] = []     # mean square of each block
        self._rest = np.zeros(0, np.float32)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32)
        self.n_samples += x.size
        if x.size:
            self.peak = max(self.peak, float(np.abs(x).max()))
        buf = np.concatenate([self._rest, x]) if self._rest.size else x
        n = buf.size // self.block
        self._add(buf[: n * self.block].reshape(n, self.block))
        self._rest = buf[n * self.block:].copy()

    def _add(self, blocks: np.ndarray) -> None:
        for i in range(0, len(blocks), 4096):                 # a slice at a time: no float64 copy of a long input
            b = blocks[i:i + 4096].astype(np.float64)
            self._blocks.append(np.mean(b * b, axis=1))       # (blocks,) mean square of each block

    def finish(self) -> "LoudnessMeter":
        """Count the last, partial block."""
        if self._rest.size:
            self._add(self._rest.reshape(1, -1))
            self._rest = np.zeros(0, np.float32)
        return self

    def _speech_blocks(self) -> np.ndarray:
        ms = np.concatenate(self._blocks) if self._blocks else np.zeros(0)
        loud = ms[ms > 10.0 ** (self.cfg.silence_db / 10.0)]                  # gate 1: absolute
        if loud.size == 0:
            return loud
        return loud[loud > loud.mean() * 10.0 ** (-self.cfg.relative_gate_db / 10.0)]   # gate 2: relative

    @property
    def silent(self) -> bool:
        return self._speech_blocks().size == 0

    @property
    def loudness_db(self) -> float:
        """The speech level in dBFS, 10 log10(mean of the gated blocks' mean squares); -inf when silent."""
        speech = self._speech_blocks()
        return -np.inf if speech.size == 0 else float(10.0 * np.log10(speech.mean()))

    def gain(self) -> float:
        """The one gain that brings this recording to ``cfg.target_loudness_db`` (1.0 for silence)."""
        level = self.loudness_db
        if not np.isfinite(level):
            return 1.0
        g = 10.0 ** ((self.cfg.target_loudness_db - level) / 20.0)
        g = min(g, 10.0 ** (self.cfg.max_gain_db / 20.0))
        if self.peak * g > self.cfg.peak_limit:
            g = self.cfg.peak_limit / self.peak
        return float(g)


def is_silent(audio: np.ndarray, cfg: AudioConfig | None = None) -> bool:
    """True when no 25 ms block of this mono audio is louder than ``cfg.silence_db`` (-70 dBFS by default)."""
    cfg = cfg or AudioConfig()
    return _meter(np.asarray(audio, np.float32).reshape(-1), cfg).silent


def _meter(audio: np.ndarray, cfg: AudioConfig) -> LoudnessMeter:
    meter = LoudnessMeter(cfg)
    meter.update(audio)
    return meter.finish()


def _warn_silent(what: str) -> None:
    warnings.warn(f"{what}: the audio is silent (nothing above the silence threshold); its features describe "
                  f"silence", SilentAudioWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------------------------------
# in memory
# ---------------------------------------------------------------------------------------------------------------
def _as_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM -> float in [-1, 1); float stays float."""
    a = np.asarray(samples)
    if a.dtype == np.uint8:
        return (a.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / float(2 ** (8 * a.dtype.itemsize - 1))
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32)
    raise ValueError(f"audio samples must be numbers, got dtype {a.dtype}")


def _to_mono(a: np.ndarray) -> np.ndarray:
    """(N,), (N, C) or (C, N) -> (N,): the shorter axis (at most 8 long) is taken as the channels."""
    if a.ndim == 1:
        return a
    if a.ndim != 2:
        raise ValueError(f"audio must be (samples,), (samples, channels) or (channels, samples), got shape {a.shape}")
    short = int(np.argmin(a.shape))
    if a.shape[0] == a.shape[1] or a.shape[short] > 8:
        raise ValueError(f"cannot tell the channel axis of audio shaped {a.shape}; pass (samples, channels) with at "
                         f"most 8 channels")
    return a.mean(axis=short).astype(np.float32)


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return np.asarray(x, np.float32)
    import soxr

    return soxr.resample(np.asarray(x, np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


def prepare_audio(samples: np.ndarray, sample_rate: int, cfg: AudioConfig | None = None) -> np.ndarray:
    """Any speech array -> float32 mono at ``cfg.sample_rate``, loudness-normalised: (N,) -> (N',).

    ``samples``: (N,), (N, C) or (C, N); float in [-1, 1] or integer PCM; any rate from 4 kHz to 384 kHz.
    Empty, non-finite or longer-than-``cfg.max_seconds`` input raises ``ValueError``; silence only warns.
    """
    cfg = cfg or AudioConfig()
    if not isinstance(sample_rate, (int, np.integer)) or not 4_000 <= sample_rate <= 384_000:
        raise ValueError(f"sample_rate must be a whole number of Hz between 4000 and 384000, got {sample_rate!r}")
    x = _to_mono(_as_float(samples))
    if x.size == 0:
        raise ValueError("the audio is empty (zero samples)")
    if not np.all(np.isfinite(x)):
        raise ValueError("the audio holds NaN or infinite samples")
    seconds = x.size / sample_rate
    if seconds > cfg.max_seconds:
        raise ValueError(f"the audio is {seconds:.1f} s long, more than max_seconds={cfg.max_seconds:g}; use "
                         f"iter_audio_features() to process it in chunks, or raise AudioConfig.max_seconds")
    x = _resample(x, int(sample_rate), cfg.sample_rate)
    meter = _meter(x, cfg)
    if meter.silent:
        _warn_silent("prepare_audio")
    return (x * np.float32(meter.gain())).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# files, streamed
# ---------------------------------------------------------------------------------------------------------------
def _check_file(path: Path) -> None:
    if not path.is_file():
        raise MediaError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty")


def _blocks_soundfile(path: Path) -> Iterator[tuple[np.ndarray, int]] | None:
    """Mono blocks at the file's rate through libsndfile, or None when libsndfile cannot open the file."""
    import soundfile as sf

    try:
        handle = sf.SoundFile(str(path))
    except Exception:
        return None

    def gen():
        with handle:
            rate = handle.samplerate
            try:
                for block in handle.blocks(blocksize=DECODE_BLOCK, dtype="float32", always_2d=True):
                    yield block.mean(axis=1), rate      # (n, C) -> (n,)
            except Exception as err:
                raise MediaError(f"{path}: the audio is corrupt ({type(err).__name__}: {err})") from None

    return gen()


def _blocks_av(path: Path) -> Iterator[tuple[np.ndarray, int]]:
    """Mono blocks at the stream's rate through PyAV (ffmpeg): m4a, aac, mp4, webm, ..."""
    import av

    try:
        container = av.open(str(path))
    except Exception as err:
        raise MediaError(f"{path}: not a readable audio file ({type(err).__name__})") from None
    with container:
        if not container.streams.audio:
            raise MediaError(f"{path}: the file has no audio track")
        stream = container.streams.audio[0]
        converter = None
        try:
            for frame in container.decode(stream):
                if converter is None:   # planar float, same layout and rate: (C, n) arrays we average ourselves
                    converter = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=frame.sample_rate)
                for out in converter.resample(frame):
                    yield out.to_ndarray().astype(np.float32).mean(axis=0), out.sample_rate
        except MediaError:
            raise
        except Exception as err:
            raise MediaError(f"{path}: the audio could not be decoded ({type(err).__name__}: {err})") from None


def stream_audio(path: str | Path, cfg: AudioConfig | None = None) -> Iterator[np.ndarray]:
    """Decode a file piece by piece -> mono float32 blocks at ``cfg.sample_rate`` (NOT loudness-normalised).

    Concatenated, the blocks are exactly the whole file resampled at once. Raises MediaError for a missing, empty,
    unreadable or audio-less file, and for one with no samples at all.
    """
    cfg = cfg or AudioConfig()
    path = Path(path)
    _check_file(path)
    blocks = _blocks_soundfile(path)
    if blocks is None:
        blocks = _blocks_av(path)
    resampler, rate_in, total = None, None, 0
    for block, rate in blocks:
        if rate_in is None:
            rate_in = int(rate)
            if rate_in != cfg.sample_rate:
                import soxr

                resampler = soxr.ResampleStream(rate_in, cfg.sample_rate, 1, dtype="float32", quality="HQ")
        out = block if resampler is None else resampler.resample_chunk(np.ascontiguousarray(block, np.float32))
        total += block.size
        if out.size:
            yield out.astype(np.float32, copy=False)
    if total == 0:
        raise MediaError(f"{path}: the file holds no audio samples")
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if tail.size:
            yield tail.astype(np.float32, copy=False)


def measure_file(path: str | Path, cfg: AudioConfig | None = None) -> LoudnessMeter:
    """First pass over a file: its loudness, peak and length (``meter.n_samples`` at ``cfg.sample_rate``)."""
    cfg = cfg or AudioConfig()
    meter = LoudnessMeter(cfg)
    for block in stream_audio(path, cfg):
        meter.update(block)
    return meter.finish()


def load_speech(path: str | Path, cfg: AudioConfig | None = None) -> tuple[np.ndarray, int]:
    """Read a speech file -> (audio (N,) float32 mono, loudness-normalised, ``cfg.sample_rate``).

    Any file soundfile or PyAV reads: wav, flac, ogg, mp3, m4a/aac, the audio track of an mp4. Files longer than
    ``cfg.max_seconds`` are refused (decoding stops there); use :func:`iter_audio_features` for those.
    """
    cfg = cfg or AudioConfig()
    limit = int(cfg.max_seconds * cfg.sample_rate) + cfg.samples_per_frame
    pieces, n = [], 0
    meter = LoudnessMeter(cfg)
    for block in stream_audio(path, cfg):
        pieces.append(block)
        meter.update(block)
        n += block.size
        if n > limit:
            raise ValueError(f"{path}: the audio is longer than max_seconds={cfg.max_seconds:g} s; use "
                             f"iter_audio_features() to process it in chunks, or raise AudioConfig.max_seconds")
    audio = np.concatenate(pieces)
    del pieces
    if meter.finish().silent:
        _warn_silent(str(path))
    audio *= np.float32(meter.gain())                          # in place: no second copy of a long file
    return audio, cfg.sample_rate
