"""Does the face visibly talk? The expressive-latent targets, measured on pixels by chapter 02's tracker.

    python benchmarks/bench_expressive.py --profile small            # the shipped small models, 16 test clips
    python benchmarks/bench_expressive.py --profile tiny --clips 8    # the same protocol on tiny (64 px)
    python benchmarks/bench_expressive.py --profile small --speed-only
    python benchmarks/bench_expressive.py --profile small --steps 10 --seed 100    # another sampler, other seeds
    python benchmarks/bench_expressive.py --profile small --w-lips 30   # another emotion phase (trained first)
    python benchmarks/bench_expressive.py --profile small --people-steps 0   # before the people (and pose) phase
    python benchmarks/bench_expressive.py --profile small --pose-steps 0     # before the pose phase

For held-out people of the profile's world (``vasa_lab.metrics.pixel_motion``): (a) real motion re-rendered by the face
latent model and (b) motion generated from the clip's audio, both drawn from the clip's first frame and read by the
tracker at 256 px beside the clip's real frames; (b) with the pipeline's DDIM steps for a whole clip unless
``--steps`` says otherwise. Blink F1 against the truth is a target for (a) only: generated blinks cannot know when the
real person blinked, so for (b) the tracked blinks per second say whether the eyes blink. The mouth at its most
closed (the 10th percentile of the tracked opening) says whether it shuts between words. Prints every number with
its target, met or NOT met; then the latent probes of chapter 04 (z_dyn -> jaw, blink, gaze, smile, brow; z_pose ->
yaw, pitch, roll), how much of each factor lies between clips and the same probes within clips
(``vasa_lab.latent.probes.within_clips``), the emotion control read from pixels, and the speed of rendering and
motion generation on this machine (``--threads``, default 2), at the whole clip's steps and at a live stream's.
Asserts nothing.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vasa_lab.latent.train import add_emotion_phase_options, emotion_phase_from_args


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="small")
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--steps", type=int, default=None,
                   help="DDIM steps per window (default: the profile's for a whole clip, tiny 10, small 25)")
    p.add_argument("--seed", type=int, default=0, help="clip i's motion is drawn with seed + i (default 0)")
    p.add_argument("--sampler", default="ddim", help="ddim, dpm++ or ddpm (default ddim)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--speed-only", action="store_true")
    add_emotion_phase_options(p)   # read a model of another emotion phase (trained first if not in the store)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vasa_lab.latent.api import encode_appearance, load_latent_model, render
    from vasa_lab.motion import generate_motion, load_motion_model_for_codes
    from vasa_lab.data.clips import dataset_folder
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.repro import quiet

    quiet()
    from vasa_lab.motion.config import LIVE_STEPS, default_steps

    args.steps = default_steps(args.profile) if args.steps is None else args.steps
    from vasa_lab.artifacts import config_key
    from vasa_lab.latent.config import LatentConfig
    latent = load_latent_model(config=emotion_phase_from_args(LatentConfig.for_profile(args.profile), args)).eval()
    motion = load_motion_model_for_codes(args.profile, config_key(latent.config.codes_config())).eval()   # its codes'
    clips = motion_clips(motion.config)
    folder = dataset_folder(motion.config)
    size = latent.config.image_size
    print(f"profile {args.profile}: {size} px, z_dyn {latent.config.dyn_dim}-d, {args.threads} CPU thread(s)")

    if not args.speed_only:
        from vasa_lab.metrics.pixel_motion import clip_frames, emotion_on_pixels, measure_on_pixels

        t0 = time.time()
        r = measure_on_pixels(latent, clips, folder, motion, n_clips=args.clips, steps=args.steps, seed=args.seed,
                              sampler=args.sampler)
        a, b = r["rerendered"], r["generated"]
        print(f"\non pixels, {r['n_clips']} held-out clips ({time.time() - t0:.0f} s); the reader on the real frames: "
              f"mouth vs true jaw r = {a['mouth_vs_jaw_real']:.3f}, blink F1 {a['blink_f1_real']:.3f}, main-gaze "
              f"error {a['gaze_error_real']:.2f} deg")
        rows = [
            ("mouth range vs real (std ratio)", a["mouth_range"], b["mouth_range"], ">= 0.8", lambda v: v >= 0.8),
            ("mouth vs true jaw, share of real's r", a["mouth_jaw_ratio"], b["mouth_jaw_ratio"],
             ">= 0.9 (a), >= 0.8 (b)", None),
            ("mouth vs true jaw, r", a["mouth_vs_jaw_shown"], b["mouth_vs_jaw_shown"], "", None),
            (f"mouth at its most closed (real {a['mouth_closed_real']:.3f})", a["mouth_closed_shown"],
             b["mouth_closed_shown"], "", None),
            ("blink F1 vs truth", a["blink_f1_shown"], b["blink_f1_shown"], ">= 0.8 (a)", None),
            (f"blinks per second (real frames {a['blinks_per_second_real']:.3f})", a["blinks_per_second_shown"],
             b["blinks_per_second_shown"], "", None),
            ("main-gaze error / the reader's own", a["gaze_error_ratio"], b["gaze_error_ratio"], "<= 1.5 (a)", None),
            ("face found by the reader", a["detected"], b["detected"], "", None),
        ]
        print(f"{'':40s} {'(a) re-rendered':>16s} {'(b) generated':>14s}   target")
        for name, va, vb, target, _ in rows:
            print(f"{name:40s} {va:16.3f} {vb:14.3f}   {target}")
        print(f"code level: generated z_dyn -> jaw probe vs true jaw r = {r['code_jaw']:.3f}")
        print("(both drawn from the clip's own first frame, so smile and brows, constant within a clip, are not"
              " measured here: the emotion control below is)")
        targets = [
            ("mouth range (a) >= 0.8", a["mouth_range"] >= 0.8), ("mouth range (b) >= 0.8", b["mouth_range"] >= 0.8),
            ("mouth-jaw r (a) >= 0.9x real", a["mouth_jaw_ratio"] >= 0.9),
            ("mouth-jaw r (b) >= 0.8x real", b["mouth_jaw_ratio"] >= 0.8),
            ("blink F1 (a) >= 0.8", a["blink_f1_shown"] >= 0.8),
            ("gaze error (a) <= 1.5x the reader's", a["gaze_error_ratio"] <= 1.5),
        ]
        for name, ok in targets:
            print(f"  {name}: {verdict(ok)}")

        test = clips.indices("test")
        c = clips.clip(int(test[0]))
        emo = emotion_on_pixels(latent, motion, clip_frames(folder, c["stem"])[0], c["audio"], steps=args.steps)
        print("\nemotion asked -> read from pixels (change from neutral): "
              + ", ".join(f"{k}: smile {v['smile_change']:+.3f} brow {v['brow_change']:+.3f}" for k, v in emo.items()
                          if k != "neutral"))

        from vasa_lab.data.clips import ClipFrames
        from vasa_lab.latent.probes import (DYN_FACTORS, POSE_FACTORS, between_clip_share, encode_clips, probe_r2,
                                            within_clips)

        train_codes = encode_clips(latent, ClipFrames(folder, "val"))
        test_codes = encode_clips(latent, ClipFrames(folder, "test"))
        dyn = probe_r2(train_codes, test_codes, "z_dyn", DYN_FACTORS)
        pose = probe_r2(train_codes, test_codes, "z_pose", POSE_FACTORS)
        print("\nlatent probes (ridge, fitted on validation people, R^2 on test people; targets 0.8 dyn / 0.9 pose):")
        print("  z_dyn  -> " + ", ".join(f"{k} {v:.3f} ({verdict(v >= 0.8)})" for k, v in dyn.items()))
        print("  z_pose -> " + ", ".join(f"{k} {v:.3f} ({verdict(v >= 0.9)})" for k, v in pose.items()))
        # the same probes inside each clip (the clip's mean out of code and truth), for the factors that move there
        share = between_clip_share(test_codes, DYN_FACTORS + POSE_FACTORS)
        print("  share of the truth's variance between clips (test people): "
              + ", ".join(f"{k} {v:.2f}" for k, v in share.items()))
        inside = within_clips(train_codes), within_clips(test_codes)
        for code, factors in (("z_dyn", DYN_FACTORS), ("z_pose", POSE_FACTORS)):
            moving = tuple(f for f in factors if share[f] < 0.99)   # a factor constant in every clip has no R^2 there
            r2 = probe_r2(*inside, code, moving)
            print(f"  within clips, {code} -> " + ", ".join(f"{k} {v:.3f}" for k, v in r2.items())
                  + "".join(f", {f} constant within clips" for f in factors if f not in moving))

    # speed: render batches of 25 frames and generate 10 s of motion, on this machine's CPU threads
    test = clips.indices("test")
    c = clips.clip(int(test[0]))
    from vasa_lab.metrics.pixel_motion import clip_frames

    app = encode_appearance(latent, clip_frames(folder, c["stem"])[0])
    x = torch.as_tensor(c["motion"][:100])
    render(latent, app, x[:25, :6], x[:25, 6:])                     # warm up
    t0 = time.perf_counter()
    for _ in range(4):
        render(latent, app, x[:, :6], x[:, 6:], batch_size=25)
    render_fps = 400 / (time.perf_counter() - t0)
    feats = np.concatenate([c["audio"]] * 3)[:250]
    print(f"\nspeed ({args.threads} thread(s)): render {render_fps:.0f} frames/s at {size} px")
    kinds = {args.steps: "whole clips"}
    kinds[LIVE_STEPS] = "whole clips and live streams" if LIVE_STEPS == args.steps else "a live stream's"
    for steps, what in kinds.items():
        generate_motion(motion, feats[:50], None, steps=steps, sampler=args.sampler)
        t0 = time.perf_counter()
        generate_motion(motion, feats, None, steps=steps, sampler=args.sampler)
        motion_fps = len(feats) / (time.perf_counter() - t0)
        both = 1 / (1 / render_fps + 1 / motion_fps)
        print(f"  motion {motion_fps:.0f} frames/s ({steps} {args.sampler} steps, {what}), with the render "
              f"{both:.0f} frames/s -> real time (25 fps): {verdict(both >= 25)}")


if __name__ == "__main__":
    main()
