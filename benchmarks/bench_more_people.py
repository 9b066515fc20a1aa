"""Do the latent probes fail for lack of people? small's people phase on its own world and on a bigger one, and its
pose phase.

    python benchmarks/bench_more_people.py --profile small                    # before, own, more people, pose
    python benchmarks/bench_more_people.py --profile small --arms pose        # one arm; the others kept from the file

small trains on 800 clips of 400 people (330 of them in the train split). Before its people phase, chapter 04's
probes read the jaw and the blinks from z_dyn inside a clip but lost them across new people, and each clip's code sat
at a level that was largely the person's (``vasa_lab.latent.probes.within_clips``; README "Where the latent probes
fail"). This benchmark asks whether the encoder learned people rather than motion because it saw too few of them. The
people phase (``LatentConfig.people_steps``, ``vasa_lab.latent.module.LatentModule.people_losses``) continues the
emotion phase's model and trains only z_dyn's CNN (the renderer frozen, so it reads the codes as before). Arms:

* ``before``: the emotion phase's model, no people phase (small's shipped model until the people phase);
* ``own``: the people phase on small's own 330 training people (``people_clips`` 0: the profile's world);
* ``more``: the people phase on small's world grown to ``people_clips`` clips (2000: 816 training people;
  ``vasa_lab.world.dataset.grown_world``; chapter 04's validation and test people stay unseen);
* ``pose``: ``more`` followed by the pose phase (``LatentConfig.pose_steps``: z_pose's CNN alone on the same people;
  z_dyn is ``more``'s): the shipped model until the faces phase (``bench_new_people.py`` reads those).

A model missing from the store is trained first (``own``: about 7 minutes on 2 cores). Each arm is read with one
protocol on people no arm trained on: chapter 04's probes (40 clips of 20 validation people fit them, 40 clips of 20
test people score them) across people and within clips, how far z_pose's angles sit off the truth per clip (a
person's offset shows there), the identity probe on z_dyn (chance 1/20), how often a test clip's mean code lies
nearest to the same person's other clip (chance 1/39), and the re-drawn pixel targets of ``bench_expressive.py`` (a)
on the first 16 test clips, read by chapter 02's tracker. About 3 minutes per read. The same angle probes on chapter
02's tracker instead of z_pose say what the frames themselves tell of the angles across people (about a minute;
``--no-tracker`` skips it).

Writes ``benchmarks/results/more_people_<profile>.json`` (an arm not run this time is kept from the file, saying so,
when it read the same model, by its config key, with this protocol);
chapter 04 prints it and checks its ``pose`` row against ``bench_new_people.py``'s reading of the same model.
``more_people_small_adversary.json`` is an earlier run of this question (commit 51c2b69, its own fine-tune loop) with
a linear person classifier on z_dyn as an adversary (weight 0.05): no change beyond the run-to-run spread. Asserts
nothing.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def code_probes(fit, test) -> dict:
    """Chapter 04's probes of z_dyn and z_pose, across people and within clips (a factor constant in every clip left
    out there), fitted on ``fit``'s codes and scored on ``test``'s."""
    from vasa_lab.latent import probes

    out = {}
    for code, factors in (("z_dyn", probes.DYN_FACTORS), ("z_pose", probes.POSE_FACTORS)):
        share = probes.between_clip_share(test, factors)
        out[f"{code} across people"] = probes.probe_r2(fit, test, code, factors)
        out[f"{code} within clips"] = probes.probe_r2(probes.within_clips(fit), probes.within_clips(test), code,
                                                      tuple(f for f in factors if share[f] < 0.99))
    return out


@torch.no_grad()
def read(model, fit_clips, test_clips, pixel_clips: int = 16) -> dict:
    """Chapter 04's probes, the identity leak and the re-drawn pixel targets of one model."""
    from vasa_lab.latent import probes
    from vasa_lab.latent.api import encode_motion
    from vasa_lab.metrics.expression import compare, read_pixels, summarise
    from vasa_lab.metrics.pixel_motion import render_codes
    from vasa_lab.world.state import STATE_NAMES

    fit, test = probes.clip_codes(model, fit_clips), probes.clip_codes(model, test_clips)
    out = code_probes(fit, test)
    out["z_pose per-clip offset"] = offset_summary(probes.clip_offsets(fit.z_pose, fit.states, test.z_pose, test.states,
                                                                test.clip, len(test_clips)))
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


def offset_summary(offsets: np.ndarray) -> dict:
    """The per-clip offsets (n_clips, 3) as stored: their standard deviation per angle and the offsets themselves."""
    from vasa_lab.latent import probes

    return {"std (deg)": dict(zip(probes.POSE_FACTORS, np.nanstd(offsets, 0).tolist())),
            "offsets (deg)": [[round(float(v), 4) if np.isfinite(v) else None for v in row] for row in offsets]}


def offsets_of(summary: dict) -> np.ndarray:
    """The per-clip offsets of :func:`offset_summary` back as an array (NaN where a clip had no reading)."""
    return np.array([[np.nan if v is None else v for v in row] for row in summary["offsets (deg)"]], np.float64)


@torch.no_grad()
def tracker_pose(fit_clips, test_clips) -> dict:
    """The same probe protocol on chapter 02's tracker (its mediapipe mesh pose, no smoothing) instead of z_pose: an
    independent reader of the angles, for what the frames themselves say about them across people."""
    from vasa_lab.latent import probes
    from vasa_lab.tracking import FaceTracker

    def read(clips):
        tracker, rows = FaceTracker(smoothing=None), []
        for k, c in enumerate(clips):
            pose = tracker.track(c.frames, fps=25.0).pose[:, :3]
            rows.append((pose, c.states[:, :3], np.full(len(pose), k)))
        x, y, clip = (np.concatenate(v) for v in zip(*rows))
        found = np.isfinite(x).all(1)
        return x[found], y[found], clip[found], float(found.mean())

    (fx, fy, _, _), (tx, ty, tc, found) = read(fit_clips), read(test_clips)
    r2 = probes.r2_score(ty, probes.ridge_predict(probes.ridge_fit(fx, fy), tx))
    return {"across people": dict(zip(probes.POSE_FACTORS, map(float, r2))),
            "per-clip offset": offset_summary(probes.clip_offsets(fx, fy, tx, ty, tc, len(test_clips))),
            "frames found": found}


def show(name: str, r: dict) -> None:
    print(f"\n{name}:")
    for k in ("z_dyn across people", "z_dyn within clips", "z_pose across people", "z_pose within clips"):
        target = 0.8 if k.startswith("z_dyn") else 0.9
        print(f"  {k:22s} " + ", ".join(f"{f} {v:.3f}" + (" (met)" if "across" in k and v >= target else "")
                                        for f, v in r[k].items()))
    print("  z_pose's per-clip offset from the truth, std (deg): " + ", ".join(
        f"{f} {v:.2f}" for f, v in r["z_pose per-clip offset"]["std (deg)"].items()))
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
    p.add_argument("--arms", default="before,own,more,pose")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-tracker", dest="tracker", action="store_false",
                   help="skip reading the angles with chapter 02's tracker (about a minute)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vasa_lab.artifacts import config_key
    from vasa_lab.data.clips import heldout_clips
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.config import LatentConfig

    shipped = LatentConfig.for_profile(args.profile)
    if not shipped.has_people_phase:
        raise SystemExit(f"the {args.profile} profile has no people phase (people_steps 0)")
    configs = dict(before=shipped.without_people(), own=replace(shipped.without_pose(), people_clips=0),
                   more=shipped.without_pose(), pose=shipped.without_faces())
    fit_clips = heldout_clips(args.profile, "val", n=40)
    test_clips = heldout_clips(args.profile, "test", n=40)
    out = RESULTS / f"more_people_{args.profile}.json"
    earlier_run = json.loads(out.read_text()) if out.exists() else {}
    earlier = earlier_run.get("arms", {})
    results = dict(profile=args.profile, steps=shipped.people_steps, clips=shipped.people_clips,
                   pose_steps=shipped.pose_steps, arms={})
    for arm in args.arms.split(","):
        if arm not in configs:
            raise SystemExit(f"unknown arm {arm!r}: choose from {', '.join(configs)}")
        model = load_latent_model(config=configs[arm])
        r = read(model, fit_clips, test_clips)
        results["arms"][arm] = r = {"config_key": config_key(configs[arm]), **r}
        show(arm, r)
    if args.tracker:
        results["tracker"] = tracker_pose(fit_clips, test_clips)
    elif "tracker" in earlier_run:
        results["tracker"] = {**earlier_run["tracker"], "note": "from an earlier run"}
    if "tracker" in results:
        t = results["tracker"]
        print("\nchapter 02's tracker, the same probes: " + ", ".join(
            f"{f} R2 {t['across people'][f]:.3f} (per-clip offset std {t['per-clip offset']['std (deg)'][f]:.2f} deg)"
            for f in t["across people"]))
        if "pose" in results["arms"]:       # are the same clips off the same way for both readers?
            ours = offsets_of(results["arms"]["pose"]["z_pose per-clip offset"])
            theirs = offsets_of(t["per-clip offset"])
            both = np.isfinite(ours).all(1) & np.isfinite(theirs).all(1)
            print(f"  per-clip offsets, z_pose (pose) against the tracker's, correlation over {both.sum()} clips: "
                  + ", ".join(f"{f} {np.corrcoef(ours[both, k], theirs[both, k])[0, 1]:.2f}"
                              for k, f in enumerate(t["across people"])))
    for arm in configs:       # an arm not run now is kept from the file if it read today's model with today's protocol
        kept = earlier.get(arm, {})
        if arm not in results["arms"] and kept.get("config_key") == config_key(configs[arm]) \
                and "z_pose per-clip offset" in kept:
            results["arms"][arm] = {**kept, "note": kept.get("note", "from an earlier run")}
        elif arm not in results["arms"] and kept:
            print(f"the earlier run's {arm!r} arm read another model or protocol: dropped (run --arms {arm})")
    results["arms"] = {arm: results["arms"][arm] for arm in configs if arm in results["arms"]}
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
