"""Why does the generated head follow the speech less than real video does? (issue 16, part 3)

    python benchmarks/bench_head_audio.py [--profile tiny] [--out benchmarks/results/head_audio_tiny.json]

Two measurements, held-out people of the profile's world:

1. on the motion codes (chapter 06's measure): the audio-pose correlation (head speed against loudness, best lag
   0-10 frames) of generated motion under variants of generation: the default (audio guidance 0.5, gaze 1, 10 DDIM
   steps, drift control), drift control off, audio guidance 0 / 1 / 2, 50 DDIM steps;
2. on pixels, as chapter 10's table does (the tracker reads the pose, then our CAPP): real video, re-rendered real
   motion, and our generator at audio guidance 0.5 / 1 / 2 (12 clips x 3 seeds each).
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def code_level(profile: str) -> dict:
    from vasa_lab.metrics.motion_codes import JawProbe, evaluate_clips
    from vasa_lab.motion import load_motion_model
    from vasa_lab.motion.data import motion_clips

    model = load_motion_model(profile)
    clips = motion_clips(model.config)
    probe = JawProbe.fit(clips, "train", pose_dim=model.config.pose_dim)
    variants = {"default (audio 0.5, gaze 1, 10 DDIM, drift control)": {},
                "drift control off": dict(bound=None, revert_seconds=None),
                "audio guidance 0": dict(audio_scale=0.0), "audio guidance 1": dict(audio_scale=1.0),
                "audio guidance 2": dict(audio_scale=2.0), "50 DDIM steps": dict(steps=50)}
    out = {}
    for name, kw in variants.items():
        steps = kw.pop("steps", 10)
        r = evaluate_clips(model, clips, "test", steps=steps, probe=probe, **kw)
        out[name] = {k: round(r[k], 3) for k in ("audio_pose", "audio_pose_real", "dP", "dP_real", "lip_corr")}
        out[name]["n_clips"] = r["n_clips"]
        print(f"  {name:<52} audio-pose r {r['audio_pose']:.3f} (real codes {r['audio_pose_real']:.3f})  "
              f"dP {r['dP']:.3f} (real {r['dP_real']:.3f})  lip r {r['lip_corr']:.3f}", flush=True)
    return out


def pixel_level(profile: str) -> dict:
    from vasa_lab import course
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.metrics import Evaluator, format_table, world_clips
    from vasa_lab.metrics.baselines import generator_clip, rerendered_clip
    from vasa_lab.metrics.paper_table import table_notes
    from vasa_lab.pipeline.animate import Animator

    test = world_clips(course.world(profile), "test")
    first = {}
    for c in test:
        first.setdefault(c.meta["identity"], c)
    reference = [c for c in test if first[c.meta["identity"]] is c]
    table = [c for c in test if first[c.meta["identity"]] is not c][:12]
    ev = Evaluator(profile)
    ev.load_all()
    latent = load_latent_model(profile)
    animator = Animator(profile, latent=latent)

    def average(results):
        keys = [k for k, v in results[0].items() if isinstance(v, float)]
        return {k: float(np.mean([r[k] for r in results])) for k in keys}

    rows = {"real video": ev.measure(table, reference),
            "re-rendered real motion": ev.measure([rerendered_clip(latent, c) for c in table], reference)}
    for scale in (0.5, 1.0, 2.0):
        rows[f"generator, audio g. {scale:g}"] = average([
            ev.measure([generator_clip(animator, c, seed=s, audio_scale=scale) for c in table], reference)
            for s in range(3)])
    print(format_table(rows, table_notes(ev.networks())))
    return {name: {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()} for name, row in rows.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from vasa_lab.repro import setup

    setup(seed=0)
    started = time.time()
    print("1. on the motion codes (held-out clips):")
    codes = code_level(args.profile)
    print("\n2. on pixels, chapter 10's measurement (12 held-out clips x 3 seeds):")
    pixels = pixel_level(args.profile)
    result = dict(profile=args.profile, codes=codes, pixels=pixels, seconds=round(time.time() - started, 1))
    out = Path(args.out or f"benchmarks/results/head_audio_{args.profile}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\n({result['seconds']:.0f} s) -> {out}")


if __name__ == "__main__":
    main()
