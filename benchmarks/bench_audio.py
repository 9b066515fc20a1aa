"""Benchmark the audio stage: feature speed (seconds of audio per second) and memory on a long file.

    python benchmarks/bench_audio.py                 # 10-minute file, one thread
    python benchmarks/bench_audio.py --minutes 60    # an hour: memory should not grow with the length

Prints numbers; asserts nothing (speed depends on the machine). Memory is reported two ways: the peak of
Python/numpy allocations while streaming (tracemalloc), and the growth of the process's peak resident memory
(ru_maxrss) over a baseline taken after the libraries are imported and warmed up.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

SR = 16_000


def rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def speech_minute() -> np.ndarray:
    """About a minute of synthetic speech with pauses, 16 kHz."""
    from vasa_lab.world.sentences import SENTENCES
    from vasa_lab.world.speech import VOICE_VARIANTS, synthesize

    pieces, n = [], 0
    rng = np.random.default_rng(0)
    while n < 60 * SR:
        s = synthesize(SENTENCES["en"][int(rng.integers(len(SENTENCES["en"])))],
                       variant=str(rng.choice(VOICE_VARIANTS)))
        pieces += [s.audio, np.zeros(int(rng.uniform(0.2, 0.6) * SR), np.float32)]
        n += pieces[-2].size + pieces[-1].size
    return np.concatenate(pieces)[: 60 * SR]


def bench_speed(audio: np.ndarray, repeats: int = 3) -> None:
    from vasa_lab.audio import AudioConfig, audio_features, prepare_audio

    seconds = audio.size / SR
    print(f"feature speed on {seconds:.0f} s of speech in memory (best of {repeats}):")
    for name, cfg in [("log-mel, tiny (D=160)", AudioConfig.for_profile("tiny")),
                      ("log-mel, full (D=320)", AudioConfig.for_profile("full")),
                      ("wav2vec2, tiny random (D=64)", AudioConfig.for_profile("tiny", kind="wav2vec2"))]:
        x = prepare_audio(audio, SR, cfg)
        audio_features(x[: SR], cfg)                       # warm up: imports, JIT, model construction
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            audio_features(x, cfg)
            best = min(best, time.perf_counter() - t)
        print(f"  {name:30s} {seconds / best:9.0f} s of audio per second")
    import soxr

    cfg = AudioConfig.for_profile("tiny")
    stereo48 = np.repeat(soxr.resample(audio, SR, 48_000)[:, None], 2, axis=1)        # (N, 2) at 48 kHz
    t = time.perf_counter()
    for _ in range(repeats):
        prepare_audio(stereo48, 48_000, cfg)
    speed = repeats * seconds / (time.perf_counter() - t)
    print(f"  {'prepare_audio, 48 kHz stereo':30s} {speed:9.0f} s of audio per second")


def bench_long_file(minutes: float, audio: np.ndarray, chunk_seconds: float) -> None:
    import soundfile as sf

    from vasa_lab.audio import AudioConfig, audio_features, iter_audio_features

    cfg = AudioConfig.for_profile("tiny")
    folder = Path(tempfile.mkdtemp(prefix="bench_audio_"))
    path = folder / "long.wav"
    total = int(minutes * 60 * SR)
    with sf.SoundFile(str(path), "w", SR, 1, subtype="PCM_16") as f:   # written a minute at a time
        written = 0
        while written < total:
            piece = audio[: total - written]
            f.write(piece)
            written += piece.size
    whole_mb = (total * 4 + total / SR * cfg.fps * cfg.feature_dim * 4) / 1e6
    print(f"{minutes:g}-minute wav ({path.stat().st_size / 1e6:.0f} MB on disk); holding its samples and features "
          f"whole would take {whole_mb:.0f} MB")

    audio_features(np.zeros(SR, np.float32), cfg)                     # warm up before the baseline
    base = rss_mb()
    tracemalloc.start()
    t = time.perf_counter()
    rows = 0
    for _, chunk in iter_audio_features(path, cfg, chunk_seconds=chunk_seconds):
        rows += len(chunk)
    dt = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  iter_audio_features (chunks of {chunk_seconds:g} s, two passes over the file): {rows} rows, "
          f"{minutes * 60 / dt:.0f} s of audio per second (with tracemalloc on)")
    print(f"  peak Python/numpy memory {peak / 1e6:.1f} MB; peak RSS growth {rss_mb() - base:.1f} MB")
    if minutes * 60 <= cfg.max_seconds:
        from vasa_lab.audio import load_speech

        base = rss_mb()
        feats = audio_features(load_speech(path, cfg)[0], cfg)
        print(f"  for comparison, load_speech + audio_features of the whole: {feats.shape}, "
              f"peak RSS growth {rss_mb() - base:.1f} MB")
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long file")
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for Wav2Vec2")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")                                   # the tiny model's "untrained" warning
    audio = speech_minute()
    bench_long_file(args.minutes, audio, args.chunk_seconds)   # first: its RSS baseline must not include the rest
    print()
    bench_speed(audio)


if __name__ == "__main__":
    main()
