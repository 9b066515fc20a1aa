"""Does the motion transformer's velocity loss cost the blinks? The shipped model against one trained without it.

    python benchmarks/bench_motion_loss.py --profile small                 # trains the variant once (15-45 min), cached
    python benchmarks/bench_motion_loss.py --profile small --w-velocity 0.5

Generated blinks close only half way (README, "Where generated motion still falls short"), and the denoiser stops
committing to a blink at high noise. Our loss adds ``w_velocity`` times an L2 on frame-to-frame differences to
VASA-1's plain ||H - X_0||^2 (``vasa_lab.motion.module``): it calmed a jittery head on tiny, but a blink is all
velocity, and a blink predicted a few frames off pays twice. This trains the profile's model with another
``w_velocity`` (everything else the same, cached in the artifact store under its own key) and reads both on the
same held-out clips with the default sampler (DDIM, 10 steps): blinks per second and how far each closes (a ridge
probe z_dyn -> eyelid fitted on training codes, as ``bench_head_audio.py`` does), head speed against the truth's,
and the jaw probe's correlation with the true jaw (lip sync on the codes). Prints a table; writes
``benchmarks/results/motion_loss_<profile>.json``.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def summarise(eyelids: list, poses: list, jaw_r: list) -> dict:
    """One row of the table from per-clip eyelid tracks (0 open .. 1 shut), motion (angles first) and jaw r."""
    from vasa_lab.metrics.motion_codes import blink_depths, blinks_per_second, head_dp

    d = np.concatenate([blink_depths(e) for e in eyelids])
    return dict(blinks_per_second=round(float(np.mean([blinks_per_second(e) for e in eyelids])), 3),
                median_depth=round(float(np.median(d)), 3) if d.size else None, closings=int(d.size),
                deeper_than_07=int((d > 0.7).sum()), head_dP=round(float(np.mean([head_dp(m) for m in poses])), 3),
                jaw_r=round(float(np.nanmean(jaw_r)), 3))


def generated(model, test, seed: int = 0, **control) -> list:
    """``model``'s motion for each test clip's audio and labels (default sampler, seed = ``seed`` + the clip's
    place); ``control``: the drift control's settings (``revert_seconds=``, ``bound=``), the defaults when none."""
    from vasa_lab.metrics.pixel_motion import conditions_of
    from vasa_lab.motion import generate_motion

    return [generate_motion(model, c["audio"], conditions_of(c), seed=seed + k, **control)[:len(c["motion"])]
            for k, c in enumerate(test)]


def read_motions(motions, states, eyelid, jaw) -> dict:
    """One row of the table from motions and the world's states of the clips they were made for."""
    from vasa_lab.world.state import STATE_NAMES

    jaw_r = [float(np.corrcoef(jaw(m), s[:, STATE_NAMES.index("jaw_open")])[0, 1]) for m, s in zip(motions, states)]
    return summarise([eyelid(m) for m in motions], motions, jaw_r)


def read(model, test, eyelid, jaw) -> dict:
    """``model``'s motion for each test clip's audio (default sampler, seed = the clip's place), read by the probes."""
    return read_motions(generated(model, test), [c["states"] for c in test], eyelid, jaw)


def write_results(out: Path, result: dict) -> None:
    """``result`` as JSON at ``out``, atomically: a kill never leaves half a results file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out)


def held_out(profile: str, n_clips: int):
    """The shipped model, its clips, the first ``n_clips`` test clips, the eyelid and jaw probes (fitted on training
    codes) and the truth's row: what every reading in these benchmarks starts from."""
    from vasa_lab.metrics.motion_codes import JawProbe, StateProbe
    from vasa_lab.motion import load_motion_model
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.world.state import STATE_NAMES

    shipped = load_motion_model(profile).eval()
    clips = motion_clips(shipped.config)
    test = [clips.clip(int(i)) for i in clips.indices("test")[:n_clips]]
    truth = summarise([c["states"][:, STATE_NAMES.index("blink")] for c in test], [c["states"] for c in test], [1.0])
    return shipped, clips, test, StateProbe.fit(clips, "train", state="blink"), JawProbe.fit(clips, "train"), truth


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--w-velocity", type=float, default=0.0)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.motion import MotionConfig, load_motion_model
    from vasa_lab.repro import setup

    torch.set_num_threads(args.threads)
    setup(seed=0)
    started = time.time()
    shipped, clips, test, eyelid, jaw, truth = held_out(args.profile, args.clips)
    cfg = MotionConfig.for_profile(args.profile, w_velocity=args.w_velocity)
    store = ArtifactStore()
    if not store.has("motion", cfg):
        print(f"training motion {config_key(cfg)} (w_velocity {cfg.w_velocity:g}, {cfg.steps} steps) ...", flush=True)
    variant = load_motion_model(config=cfg, store=store).eval()        # trained once, then cached
    trained = store.meta("motion", cfg).get("metrics", {})
    rows = {"truth": truth}
    with torch.no_grad():
        rows[f"shipped (w_velocity {shipped.config.w_velocity:g})"] = read(shipped, test, eyelid, jaw)
        rows[f"variant (w_velocity {cfg.w_velocity:g})"] = read(variant, test, eyelid, jaw)
    print(f"\n{args.profile}, {len(test)} held-out clips, DDIM 10 steps (the default); eyelid read by a ridge probe "
          f"on z_dyn, depth = the peak of each closing (1 = shut)")
    print(f"{'':28s} {'blinks/s':>8s} {'median depth':>12s} {'closings':>8s} {'> 0.7':>6s} {'head dP':>8s} "
          f"{'jaw r':>6s}")
    for name, r in rows.items():
        print(f"{name:28s} {r['blinks_per_second']:8.3f} {r['median_depth'] or 0:12.2f} {r['closings']:8d} "
              f"{r['deeper_than_07']:6d} {r['head_dP']:8.3f} {r['jaw_r']:6.3f}")
    out = Path(f"benchmarks/results/motion_loss_{args.profile}.json")
    result = dict(profile=args.profile, clips=len(test), variant_key=config_key(cfg), w_velocity=cfg.w_velocity,
                  variant_training={k: v for k, v in (trained or {}).items() if not isinstance(v, (list, dict))},
                  rows=rows, seconds=round(time.time() - started, 1))
    write_results(out, result)


if __name__ == "__main__":
    main()
