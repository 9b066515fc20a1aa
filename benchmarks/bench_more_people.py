"""Do the latent probes fail for lack of people? small's people phase on its own world and on a bigger one.

    python benchmarks/bench_more_people.py --profile small                    # before, own people, more people

small trains on 800 clips of 400 people (330 of them in the train split). Before its people phase, chapter 04's
probes read the jaw and the blinks from z_dyn inside a clip but lost them across new people, and each clip's code sat
at a level that was largely the person's (``vasa_lab.latent.probes.within_clips``; README "Where the latent probes
fail"). This benchmark asks whether the encoder learned people rather than motion because it saw too few of them. The
people phase (``LatentConfig.people_steps``, ``vasa_lab.latent.module.LatentModule.people_losses``) continues the
emotion phase's model and trains only z_dyn's CNN (the renderer frozen, so it reads the codes as before). Arms:

* ``before``: the emotion phase's model, no people phase (small's shipped model until the people phase);
* ``own``: the people phase on small's own 330 training people (``people_clips`` 0: the profile's world);
* ``more``: the people phase on small's world grown to ``people_clips`` clips (2000: 816 training people;
  ``vasa_lab.world.dataset.grown_world``; chapter 04's validation and test people stay unseen): the shipped model.

A model missing from the store is trained first (``own``: about 7 minutes on 2 cores). Each arm is read with one
protocol on people no arm trained on: chapter 04's probes (40 clips of 20 validation people fit them, 40 clips of 20
test people score them) across people and within clips, the identity probe on z_dyn (chance 1/20), how often a test
clip's mean code lies nearest to the same person's other clip (chance 1/39), and the re-drawn pixel targets of
``bench_expressive.py`` (a) on the first 16 test clips, read by chapter 02's tracker. About 3 minutes per read.
Writes ``benchmarks/results/more_people_<profile>.json``; chapter 04 prints it and checks its ``more`` row against
its own measurement of the shipped model. ``more_people_small_adversary.json`` is an earlier run of this question
(commit 51c2b69, its own fine-tune loop) with a linear person classifier on z_dyn as an adversary (weight 0.05): no
change beyond the run-to-run spread. Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


@torch.no_grad()
def read(model, fit_clips, test_clips, pixel_clips: int = 16) -> dict:
    """Chapter 04's probes, the identity leak and the re-drawn pixel targets of one model."""
    from vasa_lab.latent import probes
    from vasa_lab.latent.api import encode_motion
    from vasa_lab.metrics.expression import compare, read_pixels, summarise
    from vasa_lab.metrics.pixel_motion import render_codes
    from vasa_lab.world.state import STATE_NAMES

    fit, test = probes.clip_codes(model, fit_clips), probes.clip_codes(model, test_clips)
    out = {}
    for code, factors in (("z_dyn", probes.DYN_FACTORS), ("z_pose", probes.POSE_FACTORS)):
        share = probes.between_clip_share(test, factors)
        out[f"{code} across people"] = probes.probe_r2(fit, test, code, factors)
        out[f"{code} within clips"] = probes.probe_r2(probes.within_clips(fit), probes.within_clips(test), code,
                                                      tuple(f for f in factors if share[f] < 0.99))
    out["identity from z_dyn"], out["identity chance"] = probes.identity_probe(test, test.z_dyn)
    same, chance = probes.nearest_level_same_person(*probes.clip_levels(test, "z_dyn"))
    out["nearest clip level same person"], out["nearest level chance"] = same, chance
    truth_names = ("jaw_open", "blink", "gaze_yaw", "gaze_pitch")
    rows = []
    for clip in test_clips[:pixel_clips]:
        z_pose, z_dyn = encode_motion(model, clip.frames)
        drawn = render_codes(model, clip.frames[0], np.concatenate([z_pose.numpy(), z_dyn.numpy()], 1))
        rows.append(compare(read_pixels(clip.frames), read_pixels(drawn),
                            {n: clip.states[:, STATE_NAMES.index(n)] for n in truth_names}))
    s = summarise(rows)
    out["pixels (a)"] = {k: float(s[k]) for k in ("mouth_range", "mouth_jaw_ratio", "blink_f1_shown",
                                                  "gaze_error_ratio", "mouth_closed_shown", "mouth_closed_real")}
    return out


def show(name: str, r: dict) -> None:
    print(f"\n{name}:")
    for k in ("z_dyn across people", "z_dyn within clips", "z_pose across people", "z_pose within clips"):
        target = 0.8 if k.startswith("z_dyn") else 0.9
        print(f"  {k:22s} " + ", ".join(f"{f} {v:.3f}" + (" (met)" if "across" in k and v >= target else "")
                                        for f, v in r[k].items()))
    print(f"  identity from z_dyn {r['identity from z_dyn']:.3f} (chance {r['identity chance']:.3f}); nearest clip "
          f"level the same person's {r['nearest clip level same person']:.3f} "
          f"(chance {r['nearest level chance']:.3f})")
    p = r["pixels (a)"]
    print(f"  pixels, re-drawn (a): mouth range / real's {p['mouth_range']:.3f} (>= 0.8), mouth-jaw r / real's "
          f"{p['mouth_jaw_ratio']:.3f} (>= 0.9), blink F1 {p['blink_f1_shown']:.3f} (>= 0.8), gaze error / the "
          f"reader's {p['gaze_error_ratio']:.3f} (<= 1.5), mouth at its most closed {p['mouth_closed_shown']:.3f} "
          f"(real {p['mouth_closed_real']:.3f})")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="small")
    p.add_argument("--arms", default="before,own,more")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vasa_lab.data.clips import heldout_clips
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.config import LatentConfig

    shipped = LatentConfig.for_profile(args.profile)
    if not shipped.has_people_phase:
        raise SystemExit(f"the {args.profile} profile has no people phase (people_steps 0)")
    configs = dict(before=shipped.without_people(), own=replace(shipped, people_clips=0), more=shipped)
    fit_clips = heldout_clips(args.profile, "val", n=40)
    test_clips = heldout_clips(args.profile, "test", n=40)
    results = dict(profile=args.profile, steps=shipped.people_steps, clips=shipped.people_clips, arms={})
    for arm in args.arms.split(","):
        if arm not in configs:
            raise SystemExit(f"unknown arm {arm!r}: choose from {', '.join(configs)}")
        model = load_latent_model(config=configs[arm])
        r = read(model, fit_clips, test_clips)
        results["arms"][arm] = r
        show(arm, r)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"more_people_{args.profile}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
