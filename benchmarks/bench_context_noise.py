"""Training on a noised context: the shipped motion transformer against the same one trained on the clean context.

    python benchmarks/bench_context_noise.py --profile small          # ~10 min; trains the clean model once if needed

At sampling, a window's context is the model's own last frames; in training it was the data's. A model trained on
the clean context builds on its own errors and a long stream walks away unless chapter 08's drift control (a soft
bound at 3 standard deviations and a slow mean reversion) holds it, and the bound bends blinks and the mouth too.
``MotionConfig.context_noise`` (``vasa_lab.motion.diffusion.noise_context``) trains on contexts moved the way the
model's own will be. This reads both models, each under three drift controls (bound and reversion; reversion only,
the default now; none):

1. on held-out clips (their audio and labels, two seeds each, DDIM 10): blinks per second and how far each closes
   (a ridge probe z_dyn -> eyelid fitted on training codes, 1 = shut), head speed dP against the truth's, the jaw
   probe's correlation with the true jaw and its spread (how far the mouth opens) against the clips' own codes;
2. on ``--minutes`` of espeak-ng speech, offline and streamed (lookahead 2, stride 4): the worst minute's shift of
   the mean pose against minute one's and the largest |code| reached, in the training data's standard deviations
   (``bench_long_audio.py``'s measure; a head that walks away shows here).

Prints two tables; writes ``benchmarks/results/context_noise_<profile>.json``.
"""
from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np


def read_clips(model, test, eyelid, jaw, seeds=(0, 1000), **control) -> dict:
    """``bench_motion_loss``'s row, pooled over ``seeds``, plus the jaw probe's spread."""
    from bench_motion_loss import generated, read_motions

    motions = [m for s0 in seeds for m in generated(model, test, s0, **control)]
    row = read_motions(motions, [c["states"] for _ in seeds for c in test], eyelid, jaw)
    row["jaw_spread"] = round(float(np.mean([jaw(m).std() for m in motions])), 4)
    return row


def read_long(model, feats, jaw, **control) -> dict:
    """Worst minute's mean-pose shift (data std) and the largest |normalised code|, offline and streamed."""
    from bench_long_audio import drift_check, per_minute
    from vasa_lab.metrics.motion_codes import streamed_motion
    from vasa_lab.motion import generate_motion

    std, mean = model.motion_std.numpy(), model.motion_mean.numpy()
    out = {}
    for kind in ("offline", "streamed"):
        if kind == "offline":
            motion = generate_motion(model, feats, None, seed=0, **control)
        else:
            motion, _ = streamed_motion(model, feats, None, lookahead=2, stride=4, seed=0, **control)
        check = drift_check(per_minute(motion, jaw), std)
        out[kind] = dict(worst_mean_shift=round(check["worst_mean_shift_in_std"], 2),
                         largest_code=round(float(np.abs((motion - mean) / std).max()), 1), ok=check["ok"])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    from bench_motion_loss import held_out, write_results
    from bench_stream import long_speech
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.audio import audio_features, prepare_audio
    from vasa_lab.motion import load_motion_model
    from vasa_lab.motion.stream import BOUND, REVERT_SECONDS
    from vasa_lab.repro import setup

    torch.set_num_threads(args.threads)
    setup(seed=0)
    started = time.time()
    shipped, clips, test, eyelid, jaw, truth = held_out(args.profile, args.clips)
    clean_cfg = replace(shipped.config, context_noise=0.0)
    if not ArtifactStore().has("motion", clean_cfg):
        print(f"training the clean-context model {config_key(clean_cfg)} ({clean_cfg.steps} steps) ...", flush=True)
    models = {"clean context": load_motion_model(config=clean_cfg).eval(),
              f"noised context {shipped.config.context_noise:g} (shipped)": shipped}
    controls = {"bound + reversion": dict(revert_seconds=REVERT_SECONDS, bound=BOUND),
                "reversion (default)": {}, "none": dict(revert_seconds=None, bound=None)}
    acfg = replace(shipped.config.audio, max_seconds=1e9)
    feats = audio_features(prepare_audio(long_speech(args.minutes * 60, seed=7), 16_000, acfg), acfg)
    own_spread = round(float(np.mean([jaw(c["motion"]).std() for c in test])), 4)
    rows, long = {"truth": truth}, {}
    with torch.no_grad():
        for name, model in models.items():
            for control, kw in controls.items():
                rows[f"{name}, {control}"] = read_clips(model, test, eyelid, jaw, **kw)
                long[f"{name}, {control}"] = read_long(model, feats, jaw, **kw)
                print(f"  {name}, {control}: done ({time.time() - started:.0f} s)", flush=True)
    print(f"\n{args.profile}, {len(test)} held-out clips x 2 seeds, DDIM 10; eyelid and jaw read by ridge probes on "
          f"z_dyn (depth: the peak of each closing, 1 = shut); the clips' own codes: jaw spread {own_spread:.3f}")
    print(f"{'':52s} {'blinks/s':>8s} {'median depth':>12s} {'> 0.7':>6s} {'head dP':>8s} {'jaw r':>6s} "
          f"{'jaw spread':>10s}")
    for name, r in rows.items():
        print(f"{name:52s} {r['blinks_per_second']:8.3f} {r['median_depth'] or 0:12.2f} {r['deeper_than_07']:6d} "
              f"{r['head_dP']:8.3f} {r['jaw_r']:6.3f} {r.get('jaw_spread', float('nan')):10.3f}")
    print(f"\n{args.minutes:g} minutes of speech: the worst minute's shift of the mean pose against minute one's, and "
          f"the largest |code|, in data standard deviations")
    for name, r in long.items():
        print(f"{name:52s} offline {r['offline']['worst_mean_shift']:8.2f} {r['offline']['largest_code']:7.1f}   "
              f"streamed {r['streamed']['worst_mean_shift']:8.2f} {r['streamed']['largest_code']:7.1f}")
    out = Path(f"benchmarks/results/context_noise_{args.profile}.json")
    result = dict(profile=args.profile, clips=len(test), seeds=2, minutes=args.minutes,
                  clean_key=config_key(clean_cfg), shipped_key=config_key(shipped.config),
                  context_noise=shipped.config.context_noise, own_codes_jaw_spread=own_spread, clips_rows=rows,
                  long_audio=long, seconds=round(time.time() - started, 1))
    write_results(out, result)


if __name__ == "__main__":
    main()
