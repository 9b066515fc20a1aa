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
   closes (an eyelid probe on z_dyn, where z_dyn carries the blink: small); on tiny, chapter 10's profile, CAPP on
   the generated pose as the pipeline draws it (no conditions, started with no context);
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
    """Part 1: each kind's motion for the held-out clips' audio and labels, read by the probes of
    ``bench_motion_loss.py`` (jaw r, head speed; blinks where z_dyn carries them), and, on tiny (chapter 10's
    profile), CAPP on the generated pose as the pipeline draws it (``bench_head_audio.pose_part``)."""
    from bench_head_audio import pose_part
    from bench_motion_loss import generated, held_out, read_motions
    from vasa_lab.metrics.motion_codes import correlation
    from vasa_lab.world.state import STATE_NAMES

    model, _, test, eyelid, jaw, truth = held_out(profile, n_clips)
    states = [c["states"] for c in test]
    blinks_read = correlation(np.concatenate([eyelid(c["motion"]) for c in test]),
                              np.concatenate([s[:, STATE_NAMES.index("blink")] for s in states])) ** 2 >= 0.5
    rows = {"truth": truth}
    rows.update({name: read_motions(generated(model, test, **kw), states, eyelid, jaw) for name, kw in kinds.items()})
    if not blinks_read:                   # tiny's z_dyn carries no blink: its probe's counts mean nothing
        rows = {name: {k: v for k, v in row.items() if k in ("head_dP", "jaw_r")} for name, row in rows.items()}
    if profile == "tiny":
        capp = pose_part(profile, n_clips, samplers=kinds)
        for name in kinds:
            rows[name]["capp_on_codes"] = capp[name]["capp"]
        rows["truth"]["capp_on_codes"] = capp["true pose"]["capp"]
    print(f"  {'':28s} {'jaw r':>6s} {'head dP':>8s} {'blinks/s':>9s} {'median depth':>13s} {'> 0.7':>6s} "
          f"{'CAPP on the pose':>17s}")
    for name, r in rows.items():
        blinks = (f"{r['blinks_per_second']:9.3f} {r['median_depth'] or 0:13.2f} {r['deeper_than_07']:6d}"
                  if "blinks_per_second" in r else f"{'-':>9s} {'-':>13s} {'-':>6s}")
        print(f"  {name:28s} {r['jaw_r']:6.3f} {r['head_dP']:8.3f} {blinks} "
              f"{r.get('capp_on_codes', float('nan')):17.3f}", flush=True)
    return rows


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
