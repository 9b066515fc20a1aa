"""Why the first generated frame moved the head, and the join that ties it: the step from the context into a window.

    python benchmarks/bench_first_step.py                 # tiny, 12 held-out clips x 12 seeds, a few minutes
    python benchmarks/bench_first_step.py --profile small --out benchmarks/results/first_step_small.json
    python benchmarks/bench_first_step.py --clips 24 --seeds 20
    python benchmarks/bench_first_step.py --context-noise 0    # chapter 08's model trained on the clean context
    python benchmarks/bench_first_step.py --lookaheads none --capp   # + what the join does to chapter 10's CAPP

Each held-out clip's motion codes are cut at frame 10: its first 10 frames (codes and audio) become the context,
and the motion transformer draws the rest with the pipeline's defaults, in whole windows and as a live stream (80 ms
lookahead), each once with the first window as the network draws it and once with its head joined to the last
context frame (``join_frames``, the default since this benchmark found the jump;
:func:`vasa_lab.motion.diffusion.join_to`). Printed, in the data's standard deviations: for the sideways shift tx,
the step from the last context frame into the first drawn frame (mean, mean size, and the mean over the clips for
each seed), how much of it the seed decides (the spread of the
per-seed means against the spread across clips within a seed), the generated step inside the first window and the
real clip's own step at the same place; for the head's six pose numbers, the step into the first frame, at the later
window joins and inside windows, the real clips' step, and how much the head moves over a clip. DDIM is
deterministic given its starting noise, and ``seed`` draws that noise, so one seed gives every clip the same first
move. ``--capp``: chapter 10's generator row (CAPP, S_C, dP, ID, as the pipeline draws it) with the head as drawn,
with the first window joined and with every whole window joined, on the table's clips and the next 12, whole and
without their first 8 frames; about 5 minutes more. Asserts nothing.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def measure(model, clips, index, seeds: int, join_frames, lookahead: int | None = None) -> dict:
    """The step into the first drawn frame (tx alone, and the head's six numbers) and the head's step at the later
    window joins, against its step inside windows, for every clip and seed; ``lookahead`` None: whole windows
    (``generate_motion``), else a live stream fed one frame at a time (its windows keep 4 frames)."""
    from vasa_lab.metrics.motion_codes import streamed_motion

    std = model.motion_std.numpy()
    W, P, TX, cut = model.config.window, model.config.pose_dim, 3, 10
    first = np.zeros((seeds, len(index)))
    first_pose, joins, inner, inner_tx, real, real_pose, head = [], [], [], [], [], [], []
    for k, i in enumerate(index):
        c = clips.clip(int(i))
        x, a = c["motion"], c["audio"]
        real.append(abs(x[cut, TX] - x[cut - 1, TX]) / std[TX])
        real_pose.append(np.linalg.norm(np.diff(x[cut - 1:, :P], axis=0) / std[:P], axis=1).mean())
        for seed in range(seeds):
            g, starts = streamed_motion(model, a[cut:], None, lookahead=lookahead, seed=seed, first_motion=x[:cut],
                                        first_audio=a[:cut], join_frames=join_frames)
            first[seed, k] = (g[0, TX] - x[cut - 1, TX]) / std[TX]
            inner_tx.append(np.abs(np.diff(g[1:W, TX])).mean() / std[TX])
            step = np.linalg.norm(np.diff(np.concatenate([x[cut - 1:cut], g])[:, :P], axis=0) / std[:P], axis=1)
            at_join = np.zeros(len(step), bool)
            at_join[starts] = True                                # step[j]: into drawn frame j
            first_pose.append(step[0])
            joins.extend(step[at_join][1:])
            inner.extend(step[~at_join])
            head.append((g[:, :P].std(0) / std[:P]).mean())
    per_seed = first.mean(1)
    return dict(join_frames=join_frames, lookahead=lookahead, first_step_mean=float(first.mean()),
                first_step_size=float(np.abs(first).mean()), per_seed_mean=[round(float(v), 3) for v in per_seed],
                spread_across_seeds=float(per_seed.std()), spread_within_a_seed=float(first.std(1).mean()),
                generated_inner_step=float(np.mean(inner_tx)), real_step=float(np.mean(real)),
                head_first_step=float(np.mean(first_pose)), head_later_joins=float(np.mean(joins)),
                head_inner_step=float(np.mean(inner)), head_real_step=float(np.mean(real_pose)),
                head_std=float(np.mean(head)))


def capp_rows(profile: str, seeds: int, cuts=(0, 8)) -> list[dict]:
    """Chapter 10's CAPP (and S_C, dP, ID) of the generator row, as the pipeline draws it, with the head as drawn, with
    the first window joined (the default) and with every whole window joined; on the table's 12 clips and the next
    12 of half B, each over ``seeds`` seeds, on whole clips and with the first ``cut`` frames left out of every row
    (real video too), where the first frame's jump cannot count."""
    import dataclasses

    import vasa_lab.motion.stream as stream
    from vasa_lab import course
    from vasa_lab.motion.config import JOIN_FRAMES
    from vasa_lab.metrics import Evaluator, halves_by_person, world_clips
    from vasa_lab.metrics.baselines import generator_clip
    from vasa_lab.pipeline.animate import Animator

    half_a, half_b = halves_by_person(world_clips(course.world(profile), "test"))
    ev = Evaluator(profile)
    ev.load_all()
    animator = Animator(profile)
    first_only = stream.MotionStream._joins

    def every_window(self, has_context):
        return self.join_frames is not None and has_context

    def without(clips, cut):
        return [dataclasses.replace(c, frames=c.frames[cut:], audio=c.audio[cut * 640:],
                                    portrait=c.frames[0] if c.portrait is None else c.portrait,   # identity: the same
                                    pose=None if c.pose is None else c.pose[cut:]) for c in clips]

    rows = []
    for name, clips in (("table", half_b[:12]), ("next 12", half_b[12:24])):
        for cut in cuts:
            real = ev.measure(without(clips, cut), fvd=False)
            rows.append(dict(clips=name, cut=cut, head="real video", CAPP=float(real["CAPP"]),
                             S_C=float(real["S_C"]), dP=float(real["dP"]), identity=float(real["identity"])))
        for head, joins, join_frames in (("as drawn", first_only, None),
                                         ("first window joined (default)", first_only, JOIN_FRAMES),
                                         ("every window joined", every_window, JOIN_FRAMES)):
            stream.MotionStream._joins = joins
            try:
                drawn = [[generator_clip(animator, c, seed=s, join_frames=join_frames) for c in clips]
                         for s in range(seeds)]
            finally:
                stream.MotionStream._joins = first_only
            for cut in cuts:
                r = [ev.measure(without(per_seed, cut), fvd=False) for per_seed in drawn]
                rows.append(dict(clips=name, cut=cut, head=head, CAPP=float(np.mean([x["CAPP"] for x in r])),
                                 CAPP_per_seed=[round(float(x["CAPP"]), 3) for x in r],
                                 S_C=float(np.mean([x["S_C"] for x in r])), dP=float(np.mean([x["dP"] for x in r])),
                                 identity=float(np.mean([x["identity"] for x in r]))))
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--joins", default="none,3",
                   help="comma-separated join_frames to compare (none: each window as the network draws it)")
    p.add_argument("--lookaheads", default="none,2",
                   help="comma-separated stream lookaheads in frames (none: whole windows, the offline path)")
    p.add_argument("--context-noise", type=float, default=None,
                   help="read the model trained with this context noise instead (0: chapter 08's clean-context model)")
    p.add_argument("--capp", action="store_true",
                   help="also chapter 10's CAPP of the generator row: as drawn, first window joined, every window")
    p.add_argument("--capp-seeds", type=int, default=6)
    p.add_argument("--out", default=None, help="write the results as JSON")
    args = p.parse_args(argv)
    import torch

    from vasa_lab.motion import load_motion_model
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.repro import quiet

    quiet()
    torch.set_num_threads(2)
    overrides = {} if args.context_noise is None else dict(context_noise=args.context_noise)
    model = load_motion_model(args.profile, **overrides).eval()
    clips = motion_clips(model.config)
    index = clips.indices("test")[: args.clips]
    results = dict(profile=args.profile, context_noise=model.config.context_noise, clips=int(len(index)),
                   seeds=args.seeds, rows=[])
    print(f"{args.profile} (context noise {model.config.context_noise:g}), {len(index)} held-out clips x "
          f"{args.seeds} seeds, in the data's std:")
    def value(text, kind):
        return None if text.strip().lower() == "none" else kind(text)

    for look, join in itertools.product(args.lookaheads.split(","), args.joins.split(",")):
        lookahead, join_frames = value(look, int), value(join, float)
        r = measure(model, clips, index, args.seeds, join_frames, lookahead)
        results["rows"].append(r)
        print(("whole windows" if lookahead is None else f"streamed, lookahead {40 * lookahead} ms, stride 4")
              + f", join_frames {join_frames}" + (" (each window as the network draws it):" if join_frames is None
                                                  else ":"))
        print(f"  tx, first drawn frame - last context frame: mean {r['first_step_mean']:+.3f}, mean size "
              f"{r['first_step_size']:.3f}")
        print("  mean over the clips, per seed: " + " ".join(f"{v:+.2f}" for v in r["per_seed_mean"]))
        print(f"  spread of those per-seed means {r['spread_across_seeds']:.2f}; spread across clips within a seed "
              f"{r['spread_within_a_seed']:.2f}")
        print(f"  a generated tx step inside the first window {r['generated_inner_step']:.3f}; the real clips' own "
              f"step there {r['real_step']:.3f}")
        print(f"  the head (six pose numbers): step into the first frame {r['head_first_step']:.3f}, at later window "
              f"joins {r['head_later_joins']:.3f}, inside windows {r['head_inner_step']:.3f} (joins / inside "
              f"{r['head_later_joins'] / r['head_inner_step']:.2f}); real clips {r['head_real_step']:.3f}; the head's "
              f"std over a clip {r['head_std']:.3f}", flush=True)
    if args.capp:
        results["capp"] = capp_rows(args.profile, args.capp_seeds)
        print(f"\nchapter 10's generator row ({args.capp_seeds} seeds; 'cut 8': every row without its first 8 frames)")
        print(f"  {'clips':8s} {'cut':>3s}  {'head':31s} {'CAPP':>6s} {'S_C':>6s} {'dP':>6s} {'ID':>7s}  CAPP per seed")
        for r in results["capp"]:
            print(f"  {r['clips']:8s} {r['cut']:3d}  {r['head']:31s} {r['CAPP']:6.3f} {r['S_C']:6.3f} {r['dP']:6.3f} "
                  f"{r['identity']:7.4f}  {r.get('CAPP_per_seed', '')}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
