"""Why the first generated frame moves the head: the step from the context into a window, by seed.

    python benchmarks/bench_first_step.py                 # tiny, 12 held-out clips x 12 seeds, about a minute
    python benchmarks/bench_first_step.py --clips 24 --seeds 20
    python benchmarks/bench_first_step.py --context-noise 0    # chapter 08's model trained on the clean context

Each held-out clip's motion codes are cut at frame 10: its first 10 frames (codes and audio) become the context,
and the motion transformer draws the next 2 s (``generate_motion`` with the pipeline's defaults). Printed, in the
data's standard deviations of the sideways shift tx: the step from the last context frame into the first drawn
frame (mean, mean size, and the mean over the clips for each seed), how much of it the seed decides (the spread of
the per-seed means against the spread across clips within a seed), the generated step inside the first window, and
the real clip's own step at the same place. DDIM is deterministic given its starting noise, and ``seed`` draws that
noise, so one seed gives every clip the same first move. Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--context-noise", type=float, default=None,
                   help="read the model trained with this context noise instead (0: chapter 08's clean-context model)")
    p.add_argument("--out", default=None, help="write the results as JSON")
    args = p.parse_args(argv)
    import torch

    from vasa_lab.motion import generate_motion, load_motion_model
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.repro import quiet

    quiet()
    torch.set_num_threads(2)
    overrides = {} if args.context_noise is None else dict(context_noise=args.context_noise)
    model = load_motion_model(args.profile, **overrides).eval()
    clips = motion_clips(model.config)
    std = model.motion_std.numpy()
    TX, cut = 3, 10
    index = clips.indices("test")[: args.clips]
    first = np.zeros((args.seeds, len(index)))
    inner, real = [], []
    for k, i in enumerate(index):
        c = clips.clip(int(i))
        x, a = c["motion"], c["audio"]
        real.append(abs(x[cut, TX] - x[cut - 1, TX]) / std[TX])
        for seed in range(args.seeds):
            g = generate_motion(model, a[cut:cut + 50], None, seed=seed, first_motion=x[:cut], first_audio=a[:cut])
            first[seed, k] = (g[0, TX] - x[cut - 1, TX]) / std[TX]
            inner.append(np.abs(np.diff(g[1:model.config.window, TX])).mean() / std[TX])
    per_seed = first.mean(1)
    r = dict(profile=args.profile, context_noise=model.config.context_noise, clips=int(len(index)), seeds=args.seeds,
             first_step_mean=float(first.mean()),
             first_step_size=float(np.abs(first).mean()), per_seed_mean=[round(float(v), 3) for v in per_seed],
             spread_across_seeds=float(per_seed.std()), spread_within_a_seed=float(first.std(1).mean()),
             generated_inner_step=float(np.mean(inner)), real_step=float(np.mean(real)))
    print(f"{args.profile} (context noise {model.config.context_noise:g}), {r['clips']} held-out clips x {args.seeds} "
          f"seeds, tx in data std:")
    print(f"  first drawn frame - last context frame: mean {r['first_step_mean']:+.3f}, mean size "
          f"{r['first_step_size']:.3f}")
    print("  mean over the clips, per seed: " + " ".join(f"{v:+.2f}" for v in per_seed))
    print(f"  spread of those per-seed means {r['spread_across_seeds']:.2f}; spread across clips within a seed "
          f"{r['spread_within_a_seed']:.2f}")
    print(f"  a generated step inside the first window {r['generated_inner_step']:.3f}; the real clips' own step "
          f"there {r['real_step']:.3f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
