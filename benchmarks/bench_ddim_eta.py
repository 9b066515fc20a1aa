"""Does DDIM's fresh noise per step (eta) give the head more of the speech, or more blinks? (issue 16, part 3)

    python benchmarks/bench_ddim_eta.py                       # tiny: codes and chapter 10's pixels, about 5 minutes
    python benchmarks/bench_ddim_eta.py --profile small       # small: codes only (blinks), a few minutes
    python benchmarks/bench_ddim_eta.py --etas 0,1 --seeds 3 --no-pixels

The pipeline samples every window with 10 DDIM steps at eta = 0: deterministic once the starting noise is drawn, and
the generated head is smoother than the real one (``bench_head_audio.py --part sampler``: DDPM with 200 steps,
which adds fresh noise at every step, keeps more frame-scale detail, and deeper blinks). ``eta`` puts fresh noise
back at each DDIM step (eta^2 times DDPM's posterior variance; :func:`vasa_lab.motion.diffusion.sample_window`),
at no extra cost per step. For each eta, and for DPM-Solver++ with the same 10 steps:

1. on the codes, 24 held-out clips of the profile's world, the clips' own conditions, one seed per clip: the jaw read
   from generated z_dyn against the true jaw (r), the head's speed (dP, deg/frame), blinks per second and how far each
   closes (an eyelid probe on z_dyn, where z_dyn carries the blink: small), and CAPP on the generated pose as the
   pipeline draws it (no conditions, started with no context; where the profile's CAPP network is here);
2. on pixels (``--pixels``, tiny by default): chapter 10's generator row as the pipeline draws it (12 table clips, and
   the next 12 of half B, 10 seeds each, each seed's CAPP printed), with real video and re-rendered real motion. One
   seed's CAPP on 12 clips moves by about 0.03 from seed to seed, so 3 seeds (chapter 10's) cannot tell these rows
   apart.

Results: ``benchmarks/results/ddim_eta_{profile}.json``. Asserts nothing.
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

DPM = "DPM-Solver++"


def variants(etas) -> dict:
    """name -> the sampler's keywords: DDIM 10 steps at each eta, then DPM-Solver++ 10 steps."""
    out = {f"DDIM 10, eta {eta:g}" + (" (default)" if eta == 0 else ""): dict(eta=eta) for eta in etas}
    out[f"{DPM} 10"] = dict(sampler="dpm++")
    return out


def code_part(profile: str, kinds: dict, n_clips: int = 24) -> dict:
    from vasa_lab import course
    from vasa_lab.artifacts import ArtifactStore
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.metrics import world_clips
    from vasa_lab.metrics.capp import CAPPConfig, capp_windows, load_capp
    from vasa_lab.metrics.features import log_mel
    from vasa_lab.metrics.motion_codes import (JawProbe, StateProbe, blink_depths, blinks_per_second, correlation,
                                               head_dp)
    from vasa_lab.metrics.pixel_motion import conditions_of
    from vasa_lab.motion import MotionConditions, generate_motion
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.pipeline.animate import Animator
    from vasa_lab.world.state import STATE_NAMES

    animator = Animator(profile, latent=load_latent_model(profile))
    model = animator.motion
    clips = motion_clips(model.config)
    eyelid, jaw = StateProbe.fit(clips, "train", state="blink"), JawProbe.fit(clips, "train")
    test = [clips.clip(int(i)) for i in clips.indices("test")[:n_clips]]
    J, E = STATE_NAMES.index("jaw_open"), STATE_NAMES.index("blink")
    eyelid_r = correlation(np.concatenate([eyelid(c["motion"]) for c in test]),
                           np.concatenate([c["states"][:, E] for c in test]))
    capp = None
    if profile == "tiny" or ArtifactStore().has("metric-capp", CAPPConfig.for_profile(profile)):
        capp = load_capp(profile)
    else:
        print(f"  no {profile} CAPP network here (python -m vasa_lab.metrics.train --profile {profile}): no CAPP")
    eval_clips = world_clips(course.world(profile), "test")[:n_clips] if capp is not None else []
    out = {}
    print(f"  {'':28s} jaw r  head dP  blinks/s  median depth  deeper than 0.7  CAPP on the pose")
    truth = [c["states"][:, E] for c in test]
    d = np.concatenate([blink_depths(e) for e in truth])
    print(f"  {'truth':28s} {1:5.3f}  {np.mean([head_dp(c['motion']) for c in test]):7.3f}  "
          f"{np.mean([blinks_per_second(e) for e in truth]):8.3f}  {np.median(d):12.2f}  {int((d > 0.7).sum()):15d}")
    for name, kw in kinds.items():
        jaw_r, dp, rate, depths = [], [], [], []
        for k, c in enumerate(test):
            m = generate_motion(model, c["audio"], conditions_of(c), seed=k, **kw)[:len(c["motion"])]
            jaw_r.append(correlation(jaw(m), c["states"][:, J]))
            dp.append(head_dp(m))
            rate.append(blinks_per_second(eyelid(m)))
            depths.append(blink_depths(eyelid(m)))
        d = np.concatenate(depths)
        row = dict(jaw_r=round(float(np.mean(jaw_r)), 3), dP=round(float(np.mean(dp)), 3))
        if eyelid_r ** 2 >= 0.5:         # z_dyn carries the blink (small); on tiny's it does not
            row.update(blinks_per_second=round(float(np.mean(rate)), 3),
                       median_depth=round(float(np.median(d)), 2) if d.size else None,
                       deeper_than_07=int((d > 0.7).sum()))
        if capp is not None:
            scores = []
            for k, c in enumerate(eval_clips):
                chunks = animator.feature_chunks(c.audio, 16_000)
                motion = np.concatenate(list(animator.motion_chunks(chunks, MotionConditions(), seed=k, **kw)))
                mel = log_mel(c.audio, c.n_frames, n_mels=capp.config.n_mels)
                scores.append(float(capp_windows(capp, mel, motion[: c.n_frames, :6]).mean()))
            row["capp_on_codes"] = round(float(np.mean(scores)), 3)
        out[name] = row
        blinks = (f"{row['blinks_per_second']:8.3f}  {row['median_depth'] or 0:12.2f}  {row['deeper_than_07']:15d}"
                  if "blinks_per_second" in row else f"{'-':>8s}  {'-':>12s}  {'-':>15s}")
        print(f"  {name:28s} {row['jaw_r']:5.3f}  {row['dP']:7.3f}  {blinks}  "
              f"{row.get('capp_on_codes', float('nan')):16.3f}", flush=True)
    return out


def pixel_part(profile: str, kinds: dict, seeds: int = 3) -> dict:
    from bench_head_audio import generator_rows
    from vasa_lab import course
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.metrics import Evaluator, halves_by_person, world_clips
    from vasa_lab.pipeline.animate import Animator

    reference, others = halves_by_person(world_clips(course.world(profile), "test"))
    ev = Evaluator(profile)
    ev.load_all()
    latent = load_latent_model(profile)
    animator = Animator(profile, latent=latent)
    rows = {f"generator, {name}": (animator, kw) for name, kw in kinds.items() if "sampler" not in kw}
    print("  chapter 10's table clips (the first 12 of half B):")
    out = dict(table=generator_rows(ev, latent, others[:12], reference, rows, seeds))
    print("\n  the next 12 clips of half B:")
    out["next_12"] = generator_rows(ev, latent, others[12:24], reference, rows, seeds)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--etas", default="0,0.25,0.5,0.75", help="DDIM eta values, from 0 to 1 (default 0,0.25,0.5,0.75)")
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--pixels", action=argparse.BooleanOptionalAction, default=None,
                   help="chapter 10's pixels too (default: on tiny only)")
    p.add_argument("--seeds", type=int, default=10, help="seeds per row on the pixels (default 10)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    try:
        etas = [float(x) for x in args.etas.split(",")]
    except ValueError:
        p.error(f"--etas must be numbers separated by commas, got {args.etas!r}")
    if not all(0 <= e <= 1 for e in etas):
        p.error(f"every eta must be from 0 to 1, got {args.etas}")
    warnings.filterwarnings("ignore")
    from bench_motion_loss import write_results
    from vasa_lab.repro import setup

    setup(seed=0)
    started = time.time()
    kinds = variants(etas)
    result = dict(profile=args.profile, etas=etas)
    print(f"1. on the codes, {args.clips} held-out clips ({args.profile}):")
    result["codes"] = code_part(args.profile, kinds, args.clips)
    if args.pixels if args.pixels is not None else args.profile == "tiny":
        print(f"\n2. on pixels, chapter 10's measurement (2 x 12 held-out clips x {args.seeds} seeds):")
        result["pixels"] = pixel_part(args.profile, kinds, args.seeds)
    result["seconds"] = round(time.time() - started, 1)
    out = Path(args.out or f"benchmarks/results/ddim_eta_{args.profile}.json")
    write_results(out, result)
    print(f"\n({result['seconds']:.0f} s) -> {out}")


if __name__ == "__main__":
    main()
