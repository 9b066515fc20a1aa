"""The motion diffusion transformer, measured: lip sync, head motion and window joins on held-out people, and speed.

    python benchmarks/bench_motion.py                      # the tiny profile's shipped model, test split
    python benchmarks/bench_motion.py --split val --clips 20 --steps 10 --sampler dpm++
    python benchmarks/bench_motion.py --sweep              # + audio guidance scale 0/0.5/1/2 and steps 5/10/25/50

Every number comes from ``vasa_lab.metrics.motion_codes.evaluate_clips`` (see its docstring for the definitions):

* lip sync: the jaw opening read from generated z_dyn by a ridge probe (fitted on training codes) against the
  world's true, phoneme-driven jaw opening; correlation (higher is better) and RMSE; against a frozen face and
  against motion generated for another clip's audio; the clip's own encoded codes give the probe's ceiling;
* head motion: dP (deg/frame) and the audio-pose correlation, generated vs the real clips;
* join ratio: the motion step across window joins over the step inside windows (1 = seamless).

Speed: seconds to generate 10 s of motion (250 frames) on this machine, per sampler and step count. Prints a
table; asserts nothing. Use ``--threads 1`` on a shared CPU.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def table(rows: list[tuple[str, str, str]], header: tuple[str, str, str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(3)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths))] + [line(r) for r in rows])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--split", default="test")
    p.add_argument("--clips", type=int, default=0, help="clips to evaluate (0 = the whole split)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--sampler", default="ddim")
    p.add_argument("--audio-scale", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sweep", action="store_true", help="also the guidance-scale and step-count ablations")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vasa_lab.motion import generate_motion, load_motion_model
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.metrics.motion_codes import JawProbe, evaluate_clips
    from vasa_lab.repro import quiet

    quiet()
    model = load_motion_model(args.profile)
    clips = motion_clips(model.config, progress=True)
    probe = JawProbe.fit(clips, "train")
    n = args.clips or None
    t0 = time.time()
    r = evaluate_clips(model, clips, args.split, n, steps=args.steps, sampler=args.sampler, seed=args.seed,
                       probe=probe, audio_scale=args.audio_scale)
    seconds = time.time() - t0
    f = lambda x: f"{x:.3f}"  # noqa: E731
    print(f"\nmotion model {args.profile}: {r['n_clips']} {args.split} clips, {args.sampler} {args.steps} steps, "
          f"audio scale {args.audio_scale} ({seconds:.0f} s)\n")
    print(table([
        ("generated from the clip's audio", f(r["lip_corr"]), f(r["lip_rmse"])),
        ("baseline: frozen face", f(r["frozen_corr"]), f(r["frozen_rmse"])),
        ("baseline: another clip's motion", f(r["other_corr"]), f(r["other_rmse"])),
        ("ceiling: the clip's own codes", f(r["real_corr"]), f(r["real_rmse"])),
    ], ("lip sync (jaw probe vs true jaw)", "corr", "rmse")))
    print()
    print(table([
        ("dP (deg/frame)", f(r["dP"]), f"{r['dP_real']:.3f} (true pose {r['dP_truth']:.3f})"),
        ("audio-pose correlation", f(r["audio_pose"]), f(r["audio_pose_real"])),
    ], ("head motion", "generated", "real clips")))
    print(f"\njoin ratio (step at window joins / step inside windows): {r['join_ratio']:.2f}")

    if args.sweep:
        rows = []
        for scale in (0.0, 0.5, 1.0, 2.0):
            s = evaluate_clips(model, clips, args.split, n, steps=args.steps, sampler=args.sampler, seed=args.seed,
                               probe=probe, audio_scale=scale)
            rows.append((f"audio scale {scale}", f(s["lip_corr"]), f"{s['dP']:.3f} / {s['join_ratio']:.2f}"))
        print()
        print(table(rows, ("guidance", "lip corr", "dP / join ratio")))
        rows = []
        for sampler in ("ddim", "dpm++"):
            for steps in (5, 10, 25, 50):
                t = time.time()
                s = evaluate_clips(model, clips, args.split, n, steps=steps, sampler=sampler, seed=args.seed,
                                   probe=probe, audio_scale=args.audio_scale)
                rows.append((f"{sampler} {steps} steps", f(s["lip_corr"]),
                             f"{s['dP']:.3f} / {(time.time() - t) / s['n_clips']:.2f} s per 4 s clip"))
        print()
        print(table(rows, ("sampler", "lip corr", "dP / time")))

    audio = clips.clip(int(clips.indices(args.split)[0]))["audio"]
    long = np.concatenate([audio] * 3)[:250]
    rows = []
    for sampler, steps in (("ddim", 10), ("ddim", 50), ("dpm++", 5), ("dpm++", 10)):
        generate_motion(model, long[:25], steps=steps, sampler=sampler)
        t = time.perf_counter()
        generate_motion(model, long, steps=steps, sampler=sampler)
        dt = time.perf_counter() - t
        rows.append((f"{sampler} {steps} steps", f"{dt:.2f} s", f"{250 / dt:.0f}"))
    print()
    print(table(rows, (f"speed, 10 s of motion, {args.threads} thread(s)", "time", "frames/s")))


if __name__ == "__main__":
    main()
