"""A condition held for minutes: does the drift control pull what was asked for back towards the data's mean?

    python benchmarks/bench_held_conditions.py                 # ~2 minutes on 2 cores

Chapter 08's drift control pulls a 2-s running average of the motion back towards the training data's mean, with a
time constant of ``vasa_lab.motion.stream.REVERT_SECONDS``. It used to pull every motion number. A condition held on
purpose (a distance, a gaze, an emotion) moves that average too, so the pull undid part of it, and over minutes it has
time to: this benchmark found it (the README's "Long audio" has the numbers), and the pull now acts on the head's
turn and place only (``vasa_lab.motion.stream.REVERTED``). Chapter 07 measures the conditions on 4-s clips; this
draws ``--seconds`` of espeak-ng speech (chapter 08's ``long_speech``) offline, 10 DDIM steps, seed 0, once per
condition asked and per drift control (the default: 5 s on the head's turn and place; the same 5 s and the earlier
10 s on every motion number, ``reverted=None``; and off), and reads the conditioned number's mean over every 20 s and
over the whole:

* small's motion transformer (the pipeline's): distance 1.0 and 1.15, read from z_pose's scale;
* tiny's truth-code generator (chapter 07's comparison; its codes are the world's named numbers): distance 1.0 and
  1.15 (scale), gaze yaw 0 and 20 degrees (gaze_yaw), neutral and happy (smile).

Each condition's effect is the asked row minus the neutral row under the same control; the table prints it beside
the effect with the control off. Writes ``benchmarks/results/held_conditions.json``. Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

BLOCK = 500                                        # frames: 20 s at 25 fps
STEPS, SEED = 10, 0


def controls() -> dict[str, dict]:
    """The drift controls compared, by name: the pipeline's default (spelled out), the same and the earlier time
    constant on every motion number, and none."""
    from vasa_lab.geometry import POSE_NAMES
    from vasa_lab.motion.stream import REVERT_SECONDS, REVERTED

    default = f"{REVERT_SECONDS:g} s, {'/'.join(POSE_NAMES[:REVERTED])} (default)"
    return {"10 s, every number": dict(revert_seconds=10.0, reverted=None),      # the drift control before
            f"{REVERT_SECONDS:g} s, every number": dict(revert_seconds=REVERT_SECONDS, reverted=None),
            default: dict(revert_seconds=REVERT_SECONDS, reverted=REVERTED),
            "off": dict(revert_seconds=None)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "held_conditions.json"))
    args = p.parse_args(argv)
    if not args.seconds >= BLOCK / 25:
        p.error(f"--seconds must be at least {BLOCK / 25:g}: the means are read over every {BLOCK / 25:g} s")
    import torch

    torch.set_num_threads(2)
    from bench_motion_loss import write_results
    from vasa_lab.audio.features import audio_features
    from vasa_lab.audio.waveform import prepare_audio
    from vasa_lab.motion import load_motion_model
    from vasa_lab.motion.generate import MotionConditions, generate_motion
    from vasa_lab.world.speech import long_speech
    from vasa_lab.world.state import STATE_NAMES

    speech = long_speech(args.seconds, seed=7)
    col = {name: i for i, name in enumerate(STATE_NAMES)}
    small = load_motion_model("small")
    truth = load_motion_model("tiny", codes="truth")
    # (model name, model, what is read, its column, neutral conditions, asked conditions)
    cases = [("small", small, "distance 1.15 -> scale", col["scale"], MotionConditions(distance=1.0),
              MotionConditions(distance=1.15)),
             ("tiny truth codes", truth, "distance 1.15 -> scale", col["scale"], MotionConditions(distance=1.0),
              MotionConditions(distance=1.15)),
             ("tiny truth codes", truth, "gaze yaw 20 -> gaze_yaw (deg)", col["gaze_yaw"],
              MotionConditions(gaze=(0.0, 0.0)), MotionConditions(gaze=(20.0, 0.0))),
             ("tiny truth codes", truth, "happy -> smile", col["smile"], MotionConditions(emotion="neutral"),
              MotionConditions(emotion="happy"))]
    features = {}
    results = dict(seconds=args.seconds, block_seconds=BLOCK / 25, steps=STEPS, seed=SEED,
                   models={"small": small.config.latent_key, "tiny truth codes": "truth codes"}, rows={})
    started = time.perf_counter()
    for model_name, model, what, c, neutral, asked in cases:
        if model_name not in features:
            cfg = replace(model.config.audio, max_seconds=1e9)
            features[model_name] = audio_features(prepare_audio(speech, 16_000, cfg), cfg)
        row = {}
        for control, kw in controls().items():
            read = {}
            for label, cond in (("neutral", neutral), ("asked", asked)):
                m = generate_motion(model, features[model_name], cond, steps=STEPS, seed=SEED, **kw)[:, c]
                n = len(m) // BLOCK * BLOCK
                read[label] = dict(whole=float(m.mean()), first_4s=float(m[:100].mean()),
                                   blocks=m[:n].reshape(-1, BLOCK).mean(1).tolist())
            effect = [a - b for a, b in zip(read["asked"]["blocks"], read["neutral"]["blocks"])]
            row[control] = dict(**read, effect_whole=read["asked"]["whole"] - read["neutral"]["whole"],
                                effect_first_4s=read["asked"]["first_4s"] - read["neutral"]["first_4s"],
                                effect_blocks=[round(e, 4) for e in effect])
        results["rows"][f"{model_name}: {what}"] = row
    results["seconds_to_run"] = round(time.perf_counter() - started, 1)

    print(f"{args.seconds:g} s of speech, offline, {STEPS} DDIM steps, seed {SEED}; the effect = asked minus neutral, "
          f"each under the same drift control ({results['seconds_to_run']:.0f} s)")
    print(f"{'':44s} {'control':>30s} {'first 4 s':>9s} {'whole':>7s}  share of 'off'  per {BLOCK / 25:g} s")
    for name, row in results["rows"].items():
        off = row["off"]["effect_whole"]
        for control, r in row.items():
            print(f"{name:44s} {control:>30s} {r['effect_first_4s']:9.3f} {r['effect_whole']:7.3f}  "
                  f"{r['effect_whole'] / off:13.2f}  {np.round(r['effect_blocks'], 3).tolist()}")
    write_results(Path(args.out), results)                      # atomically: a kill never leaves half a file
    print("written", args.out)


if __name__ == "__main__":
    main()
