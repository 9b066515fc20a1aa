"""Can the motion transformer's training make the head follow the speech? tiny's model trained several ways, read by CAPP.

    python benchmarks/bench_capp_training.py                 # trains each variant once (~4 min each on 2 cores), cached
    python benchmarks/bench_capp_training.py --only "w_velocity 10"

`bench_head_audio.py --part capp` shows what our CAPP listens for: the world's head jitters from frame to frame
while the person speaks and keeps nearly still in a pause, and the generated head's jitter follows the speech far
less than the real head's. This trains tiny's motion model with other settings of its own config (everything
else the same, each cached in the artifact store under its own key; the shipped config is the first row) and reads
each on the same 24 held-out clips, on the codes (no renderer, no tracker):

* CAPP of the generated pose, DDIM 10 with audio guidance 0.5 (VASA-1's default, the pipeline's until the
  audio guidance study of ``bench_head_audio.py --part pixels``) and with 1 (the pipeline's default now);
* the generated head's frame-scale jitter (degrees) and how closely its size follows the speaking activity (r;
  the true pose: printed in the first line);
* lip sync on the codes: the jaw probe's correlation with the true jaw (``evaluate_clips``), and head speed dP.

Writes ``benchmarks/results/capp_training_tiny.json``.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from bench_motion_loss import write_results

VARIANTS = {
    "shipped (w_velocity 1, 2000 steps, seed 0)": {},
    "seed 1": dict(seed=1),
    "w_velocity 0 (VASA-1's plain loss)": dict(w_velocity=0.0),
    "w_velocity 3": dict(w_velocity=3.0),
    "w_velocity 10": dict(w_velocity=10.0),
    "w_velocity 10, seed 1": dict(w_velocity=10.0, seed=1),
    "w_velocity 30": dict(w_velocity=30.0),
    "6000 steps": dict(steps=6000),
    "w_velocity 10, 6000 steps": dict(w_velocity=10.0, steps=6000),
    "w_pose 4": dict(w_pose=4.0),
    "w_pose 16": dict(w_pose=16.0),
}


def test_clips_with_activity(n_clips: int, n_mels: int):
    """The test clips, each with its mel rows and head activity (computed once for every variant)."""
    from vasa_lab import course
    from vasa_lab.metrics import world_clips
    from vasa_lab.metrics.features import log_mel
    from vasa_lab.world.behaviour import head_activity, loudness_db

    clips = world_clips(course.world("tiny"), "test")[:n_clips]
    return [dict(clip=c, mel=log_mel(c.audio, c.n_frames, n_mels=n_mels),
                 activity=head_activity(loudness_db(c.audio, 16_000, c.n_frames))) for c in clips]


def read_variant(model, latent, capp, clips, codes) -> dict:
    """CAPP, jitter and its fit to the activity, at audio guidance 0.5 and 1; lip sync and dP on the codes."""
    from vasa_lab.metrics.capp import capp_windows, frame_scale_motion
    from vasa_lab.metrics.motion_codes import JawProbe, evaluate_clips
    from vasa_lab.metrics.baselines import generator_motion
    from vasa_lab.pipeline.animate import Animator

    animator = Animator("tiny", latent=latent, motion=model)
    out = {}
    for scale in (0.5, 1.0):
        capps, jitter, follows = [], [], []
        for k, item in enumerate(clips):
            c = item["clip"]
            pose = generator_motion(animator, c, seed=k, audio_scale=scale)[: c.n_frames, :6]
            capps.append(float(capp_windows(capp, item["mel"], pose).mean()))
            size, r = frame_scale_motion(pose, item["activity"])
            jitter.append(size)
            follows.append(r)
        tag = "" if scale == 0.5 else ", audio 1"
        out[f"CAPP{tag}"] = round(float(np.mean(capps)), 3)
        out[f"jitter{tag}"] = round(float(np.mean(jitter)), 3)
        out[f"follows_activity{tag}"] = round(float(np.mean(follows)), 3)
    r = evaluate_clips(model, codes, "test", steps=10, probe=JawProbe.fit(codes, "train", pose_dim=6))
    out.update(jaw_r=round(r["lip_corr"], 3), dP=round(r["dP"], 3), dP_real=round(r["dP_real"], 3))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--only", default=None, choices=list(VARIANTS),
                    help="one variant (default: all); merged into an existing results file")
    ap.add_argument("--out", default="benchmarks/results/capp_training_tiny.json")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.metrics.capp import frame_scale_motion, load_capp
    from vasa_lab.motion import load_motion_model
    from vasa_lab.motion.config import MotionConfig
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.repro import setup

    setup(seed=0)
    started = time.time()
    latent, capp = load_latent_model("tiny"), load_capp("tiny")
    clips = test_clips_with_activity(args.clips, capp.config.n_mels)
    truth = [frame_scale_motion(i["clip"].pose, i["activity"]) for i in clips]
    out = Path(args.out)
    result = json.loads(out.read_text()) if args.only and out.exists() else dict(variants={})
    result.update(true_pose=dict(jitter=round(float(np.mean([t[0] for t in truth])), 3),
                                 follows_activity=round(float(np.mean([t[1] for t in truth])), 3),
                                 n_clips=len(clips)))
    print(f"true pose: frame-scale jitter {result['true_pose']['jitter']:.3f} deg, its size follows the activity "
          f"r {result['true_pose']['follows_activity']:.3f}")
    codes = None
    print(f"{'':44s} {'CAPP':>6} {'audio 1':>8} {'jitter':>7} {'follows':>8} {'jaw r':>6} {'dP':>6}")
    for name, overrides in VARIANTS.items():
        if args.only and name != args.only:
            continue
        cfg = MotionConfig.for_profile("tiny", **overrides)
        model = load_motion_model(config=cfg).eval()            # trained once (a few minutes), then cached
        if codes is None:
            codes = motion_clips(cfg)
        row = read_variant(model, latent, capp, clips, codes)
        result["variants"][name] = dict(overrides=overrides, n_clips=len(clips), **row)
        print(f"{name:44s} {row['CAPP']:6.3f} {row['CAPP, audio 1']:8.3f} {row['jitter']:7.3f} "
              f"{row['follows_activity']:8.3f} {row['jaw_r']:6.3f} {row['dP']:6.3f}", flush=True)
    result["seconds"] = round(time.time() - started, 1)
    write_results(out, result)                        # atomically: a kill never leaves half a results file
    print(f"({result['seconds']:.0f} s) -> {out}")


if __name__ == "__main__":
    main()
