"""End-to-end speed of the main job (``vasa-lab animate``): how fast motion is generated and frames are rendered.

    python benchmarks/bench_animate.py                  # tiny profile, CPU, 20 s of speech, 10 and 50 steps
    python benchmarks/bench_animate.py --seconds 60 --device cuda --profile tiny
    python benchmarks/bench_animate.py --hour           # one hour of audio through the streaming path: time, memory

Prints, per setting, frames per second of each stage on its own (audio features, motion generation, rendering,
video writing) and of the whole job, and the real-time factor (seconds of video made per second of work; VASA-1
claims 45 fps offline at 512 px on an RTX 4090). Stages run one after another here (no overlap), so the whole is
slower than its slowest stage. ``--hour`` runs the real streaming path (the file read in pieces, features, motion
per chunk, writer with the original audio) with a light motion model (1 layer, 1 step) and 32-pixel frames, so what
it measures is the plumbing: its peak memory must not depend on the audio's length.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def speech_file(folder: Path, seconds: float) -> Path:
    """``seconds`` of synthesized English speech (sentences the world does not train on), as a 16 kHz wav."""
    from vasa_lab.pipeline.animate import DEMO_TEXT
    from vasa_lab.media import write_wav
    from vasa_lab.world.speech import synthesize

    pieces, n = [], 0
    texts = [DEMO_TEXT["en"], "Twelve green lanterns swung slowly above the quiet harbour at midnight.",
             "Would you rather read a novel or watch the storm roll over the hills?"]
    i = 0
    while n < seconds * 16000:
        a = synthesize(texts[i % len(texts)], variant="m3", sample_rate=16000).audio
        pieces += [a, np.zeros(4000, np.float32)]
        n += a.size + 4000
        i += 1
    path = folder / f"speech_{seconds:g}s.wav"
    write_wav(path, np.concatenate(pieces)[: int(seconds * 16000)], 16000)
    return path


def bench_animate(args) -> None:
    import torch

    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator

    torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, profile {args.profile}")
    a = Animator(args.profile, device=args.device)
    t0 = time.perf_counter()
    a.latent, a.motion
    print(f"models loaded in {time.perf_counter() - t0:.1f} s; image {a.image_size} px; motion window "
          f"{a.motion.config.window} frames, context {a.motion.config.context}")
    with tempfile.TemporaryDirectory() as tmp:
        wav = speech_file(Path(tmp), args.seconds)
        a.animate(DEMO_PORTRAIT, speech_file(Path(tmp), 2.0), Path(tmp) / "warm.mp4", progress=False)   # warm-up
        print(f"\n{args.seconds:g} s of speech ({int(args.seconds * 25)} frames)\n")
        print(f"{'steps':>5} {'sampler':>7} {'features':>9} {'motion':>9} {'render':>9} {'write':>9} {'whole':>9} "
              f"{'x real time':>11}   (frames per second)")
        for steps in args.steps:
            r = a.animate(DEMO_PORTRAIT, wav, Path(tmp) / "out.mp4", steps=steps, sampler=args.sampler, progress=False)
            t = r.timings
            per = {k: r.n_frames / t[k] for k in ("features", "motion", "render", "write")}
            work = t["total"] - t["check"] - t["models"]
            print(f"{steps:>5} {args.sampler:>7} {per['features']:>9.0f} {per['motion']:>9.1f} {per['render']:>9.0f} "
                  f"{per['write']:>9.0f} {r.n_frames / work:>9.1f} {r.seconds / work:>11.2f}")
        print(f"\nportrait (find + align) {t['portrait']:.2f} s, appearance (once) {t['appearance'] * 1000:.1f} ms")


def bench_hour(args) -> None:
    import soundfile as sf
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_animate import LightAnimator, _noise_speech_file

    from vasa_lab.motion import MotionConfig, MotionDiT

    torch.set_num_threads(1)
    torch.manual_seed(0)
    light = MotionDiT(MotionConfig.for_profile("tiny", codes="truth", width=16, layers=1, heads=2, window=250))
    a = LightAnimator("tiny", motion=light, chunk_seconds=30, render_batch=250)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _noise_speech_file(tmp / "warm.wav", 1)
        a.animate(None, tmp / "warm.wav", tmp / "warm.mp4", steps=1, progress=False)
        for minutes in (1, 60):
            wav = tmp / f"{minutes}.wav"
            _noise_speech_file(wav, minutes)
            reset_peak()
            before = peak_rss_mb()
            r = a.animate(None, wav, tmp / f"{minutes}.mp4", steps=1, progress=minutes > 1)
            t = r.timings
            print(f"{minutes:>3} min: {r.n_frames} frames in {t['total']:.1f} s (features {t['features']:.1f} s, "
                  f"motion {t['motion']:.1f} s, write {t['write']:.1f} s), peak memory +{peak_rss_mb() - before:.1f} MB"
                  f" (file {sf.info(str(wav)).duration / 60:.0f} min, {wav.stat().st_size / 2**20:.0f} MB)")
            wav.unlink()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="tiny")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is one)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--steps", type=int, nargs="+", default=[10, 50])
    p.add_argument("--sampler", default="ddim")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hour", action="store_true", help="an hour of audio through the streaming path")
    args = p.parse_args()
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    bench_hour(args) if args.hour else bench_animate(args)


if __name__ == "__main__":
    main()
