"""Where the generated motion starts, and how the generator's video is framed: chapter 10's generator row, three ways.

    python benchmarks/bench_portrait_start.py [--profile tiny] [--seeds 3] [--audio-scale 0.5]

On chapter 10's table clips (half B's first 12 held-out clips of the profile's world, half A as the reference):

* **where the head starts**: the generated z_pose against the portrait's own (the motion encoder's reading of the
  aligned first frame): the first frame's offset and the mean offset over the clip, per pose angle, for the motion
  generator started with no context and started from the portrait's code (``Animator.portrait_motion``, what the
  pipeline does), beside the real motion's own mean offset from its first frame (encoded from the clip's frames,
  not the aligned crop);
* **chapter 10's metrics** (S_C, CAPP, dP, ID; seeds averaged) for the generator drawn (1) as the model's square crop
  with no context (how chapter 10 drew it before), (2) pasted back into the first frame (the pipeline's
  ``frame="photo"``) with no context, (3) pasted back and started from the portrait's code (the pipeline, and
  :func:`vasa_lab.metrics.baselines.generator_clip`), beside re-rendered real motion and real video; FVD_25 against
  half A, and each seed's CAPP. Results in ``benchmarks/results/portrait_start_{profile}.json``.

About 4 minutes on 2 cores for tiny (the world and the metric networks cached). Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ANGLES = ("yaw", "pitch", "roll")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--audio-scale", type=float, default=None,
                   help="audio guidance (default: the pipeline's; the README's table was measured at 0.5)")
    args = p.parse_args(argv)
    torch.set_num_threads(2)

    from vasa_lab import course
    from vasa_lab.latent.api import encode_motion, load_latent_model
    from vasa_lab.metrics import Evaluator, halves_by_person, world_clips
    from vasa_lab.metrics.baselines import drawn_clip, generator_motion, rerendered_clip
    from vasa_lab.motion.config import default_audio_guidance
    from vasa_lab.pipeline.animate import Animator
    from vasa_lab.repro import setup

    setup(seed=0)
    audio_scale = default_audio_guidance(args.profile) if args.audio_scale is None else args.audio_scale
    started = time.time()
    half_a, half_b = halves_by_person(world_clips(course.world(args.profile), "test"))
    table = half_b[:12]
    ev = Evaluator(args.profile)
    ev.load_all()
    latent = load_latent_model(args.profile)
    animator = Animator(args.profile, latent=latent)
    portraits = [animator.portrait(c.frames[0]) for c in table]
    starts = [animator.portrait_motion(p) for p in portraits]

    print(f"{args.profile}: {len(table)} table clips, {args.seeds} seed(s), audio guidance {audio_scale:g}\n")
    print("where the head starts: |generated pose - the portrait's| in degrees (first frame / mean over the clip)")
    real_offset = np.mean([np.abs(encode_motion(latent, c.frames)[0].numpy()[:, :3]
                                  - encode_motion(latent, c.frames[:1])[0].numpy()[0, :3]).mean(0) for c in table], 0)
    print("   real motion, mean offset from its first frame: "
          + ", ".join(f"{a} {v:.2f}" for a, v in zip(ANGLES, real_offset)))
    motions = {}
    for name, with_start in (("no context", False), ("the portrait's code", True)):
        motions[name] = [[generator_motion(animator, c, seed=s, audio_scale=audio_scale,
                                            first_motion=start if with_start else None)[: c.n_frames]
                          for c, start in zip(table, starts)] for s in range(args.seeds)]
        runs = [m for per_seed in motions[name] for m in per_seed]
        own = [start for _ in range(args.seeds) for start in starts]
        first = np.mean([np.abs(m[0, :3] - o[0, :3]) for m, o in zip(runs, own)], 0)
        mean = np.mean([np.abs(m[:, :3] - o[0, :3]).mean(0) for m, o in zip(runs, own)], 0)
        print(f"   generated, {name:20s} first frame " + ", ".join(f"{a} {v:.2f}" for a, v in zip(ANGLES, first))
              + "; mean " + ", ".join(f"{a} {v:.2f}" for a, v in zip(ANGLES, mean)))

    def video(i, motion, pasted):
        return drawn_clip(animator, table[i], motion, portraits[i], pasted, name=table[i].name)

    def measured(clips_per_seed):
        results = [ev.measure(clips, half_a) for clips in clips_per_seed]
        out = {k: float(np.mean([r[k] for r in results])) for k in ("S_C", "CAPP", "dP", "identity", "FVD_25")}
        return out | {"CAPP_per_seed": [round(float(r["CAPP"]), 3) for r in results]}

    rows = {"real video": measured([table]),
            "re-rendered real motion": measured([[rerendered_clip(latent, c) for c in table]])}
    for label, name, pasted in (("generator: crop, no context (before)", "no context", False),
                                ("generator: pasted back, no context", "no context", True),
                                ("generator: pasted back, portrait's code (pipeline)", "the portrait's code", True)):
        rows[label] = measured([[video(i, m, pasted) for i, m in enumerate(per_seed)] for per_seed in motions[name]])
    print("\nchapter 10's metrics")
    print(f"   {'':52s} {'S_C':>6s} {'CAPP':>6s} {'dP':>6s} {'ID':>6s} {'FVD_25':>7s}  CAPP per seed")
    for label, r in rows.items():
        print(f"   {label:52s} {r['S_C']:6.3f} {r['CAPP']:6.3f} {r['dP']:6.3f} {r['identity']:6.3f} "
              f"{r['FVD_25']:7.1f}  {r['CAPP_per_seed']}")
    print(f"({time.time() - started:.0f} s)")
    out = Path(__file__).parent / "results" / f"portrait_start_{args.profile}.json"
    out.write_text(json.dumps(dict(profile=args.profile, clips=len(table), seeds=args.seeds, audio_scale=audio_scale,
                                   rows=rows, seconds=round(time.time() - started)), indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
