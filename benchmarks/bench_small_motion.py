"""small's motion transformer at several training lengths and audio guidance scales, read on pixels.

    python benchmarks/bench_small_motion.py                               # 3000 and 9000 steps, guidance 1 and 1.5
    python benchmarks/bench_small_motion.py --steps 9000 --scales 1 --clips 8
    python benchmarks/bench_small_motion.py --steps 9000,18000 --scales 1 --ddim-steps 25 --seeds 0,100 \
        --out benchmarks/results/small_motion_18000_small.json             # do longer training's blinks close?
    python benchmarks/bench_small_motion.py --steps 9000 --blink-windows 0,0.3,0.5 --scales 1 --ddim-steps 25 \
        --seeds 0,100 --out benchmarks/results/small_motion_blink_windows.json  # windows drawn around blinks

For each (training steps, audio guidance) pair, with small's shipped face latent model (about 45 s a row on 2 cores
with the defaults, 200 s with ``--ddim-steps 25 --seeds 0,100``;
a model not in the store is trained first, ``python -m vasa_lab.motion.train --profile small --steps N
[--blink-windows S]``; ``--blink-windows`` picks models trained with that share of their windows drawn around a blink,
the profile's share when it is not given):

1. generated motion on held-out clips, drawn from each clip's first frame and read by chapter 02's tracker
   (``vasa_lab.metrics.pixel_motion.measure_on_pixels``, bench_expressive's (b)): the mouth's range against the real
   clip's, its correlation with the true jaw (and that as a share of what the reader gets on the real frames), the
   codes' jaw read by a probe, the tracker's blink F1, and blinks per second as the tracker counts them (each of
   ``--seeds``, and their mean: the speech does not say when to blink, so one seed's count is noisy; everything
   else is the first seed's);
   ``--ddim-steps`` per window (default 10, how this benchmark first ran; the pipeline draws small with 25);
1b. with ``--seeds``' first seed, the same clips' generated codes read by a ridge probe z_dyn -> eyelid (bench_head_
   audio's blink part): blinks per second and how far each closing goes (median, and how many pass 0.7 of shut);
2. Grace Hopper (matplotlib's sample photo), 3 s of the demo sentence, with the source expression read by the tracker
   and by the motion encoder: the tracked mouth opening's std in each video (chapter 07's photo check wants the
   tracked one above 3x the encoded one);
3. ``make demo``'s portrait and sentence: the tracked mouth's std and its correlation with the loudness, the frames
   read as blinks, and the lowest and median eye openness.

Prints one line per pair and writes ``benchmarks/results/small_motion_small.json`` (``--out``). Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", default="3000,9000", help="comma-separated training lengths of the motion model")
    p.add_argument("--scales", default="1,1.5", help="comma-separated audio guidance scales")
    p.add_argument("--blink-windows", default="", help="comma-separated shares of training windows drawn around a "
                                                      "blink (default: the profile's)")
    p.add_argument("--clips", type=int, default=16, help="held-out clips for part 1")
    p.add_argument("--ddim-steps", type=int, default=10, help="DDIM steps per window in part 1 (default 10)")
    p.add_argument("--seeds", default="0", help="comma-separated motion seeds for part 1 (clip i: seed + i)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/small_motion_small.json")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    import matplotlib.cbook as cbook
    from PIL import Image

    from bench_motion_loss import write_results
    from vasa_lab.data.clips import dataset_folder
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.media import read_video
    from vasa_lab.metrics.expression import correlation, read_pixels
    from vasa_lab.metrics.motion_codes import StateProbe, blink_depths, blinks_per_second
    from vasa_lab.metrics.pixel_motion import conditions_of, measure_on_pixels
    from vasa_lab.motion import generate_motion, load_motion_model
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator, demo_speech
    from vasa_lab.repro import quiet
    from vasa_lab.world.behaviour import frame_rms

    quiet()
    latent = load_latent_model("small").eval()
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        hopper = np.asarray(im.convert("RGB"))
    sentence = demo_speech()
    tmp = Path(tempfile.mkdtemp())
    results = {}

    def video(motion, image, speech, scale, **options):
        anim = Animator("small", latent=latent, motion=motion, device="cpu", **options)
        done = anim.animate(image, speech, tmp / "v.mp4", progress=False, watermark=False, sign=False,
                            audio_scale=scale)
        return read_pixels(read_video(done.path)[0])

    seeds = [int(v) for v in args.seeds.split(",")]
    shares = [float(v) for v in args.blink_windows.split(",")] if args.blink_windows else [None]
    for steps, share in ((int(v), share) for v in args.steps.split(",") for share in shares):
        options = dict(steps=steps) if share is None else dict(steps=steps, blink_windows=share)
        motion = load_motion_model("small", **options).eval()
        name = f"{steps} steps" if share is None else f"{steps} steps, blink windows {share:g}"
        clips = motion_clips(motion.config)
        folder = dataset_folder(motion.config)
        eyelid = StateProbe.fit(clips, "train", state="blink")
        test = {int(i): clips.clip(int(i)) for i in clips.indices("test")[:args.clips]}   # as measure_on_pixels
        for scale in (float(v) for v in args.scales.split(",")):
            started = time.time()
            per_seed = [measure_on_pixels(latent, clips, folder, motion, n_clips=args.clips, steps=args.ddim_steps,
                                          seed=seed, audio_scale=scale) for seed in seeds]
            r, b = per_seed[0], per_seed[0]["generated"]
            row = dict(mouth_range=b["mouth_range"], mouth_jaw=b["mouth_vs_jaw_shown"],
                       mouth_jaw_share=b["mouth_jaw_ratio"], code_jaw=r["code_jaw"], blink_f1=b["blink_f1_shown"],
                       blinks_per_second=float(np.mean([q["generated"]["blinks_per_second_shown"] for q in per_seed])),
                       blinks_per_second_by_seed=[q["generated"]["blinks_per_second_shown"] for q in per_seed],
                       blinks_per_second_real=b["blinks_per_second_real"])
            lids = [eyelid(generate_motion(motion, c["audio"], conditions_of(c), steps=args.ddim_steps,
                                           seed=seeds[0] + i, audio_scale=scale)[:len(c["motion"])])
                    for i, c in test.items()]                      # the first seed's motions, as on the pixels
            depths = np.concatenate([blink_depths(e) for e in lids])
            row.update(code_blinks_per_second=float(np.mean([blinks_per_second(e) for e in lids])),
                       code_blink_median_depth=float(np.median(depths)) if depths.size else float("nan"),
                       code_closings=int(depths.size), code_closings_deeper_than_07=int((depths > 0.7).sum()))
            for source in ("tracked", "encoded"):
                shown = video(motion, hopper, sentence[: 16_000 * 3], scale, source_expression=source)
                row[f"grace_{source}_mouth_std"] = float(np.nanstd(shown.mouth))
            shown = video(motion, DEMO_PORTRAIT, sentence, scale)
            loudness = frame_rms(sentence, 16_000, len(shown.mouth))
            row.update(demo_mouth_std=float(np.nanstd(shown.mouth)),
                       demo_mouth_vs_loudness=float(correlation(shown.mouth, loudness)),
                       demo_blink_frames=int(np.nansum(shown.blink)), demo_eyes_lowest=float(np.nanmin(shown.eyes)),
                       demo_eyes_median=float(np.nanmedian(shown.eyes)), seconds=round(time.time() - started, 1))
            results[f"{name}, audio guidance {scale:g}"] = row
            print(f"{name}, audio guidance {scale:g}: " + ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    if args.out:                                                # atomically: a kill never leaves half a file
        write_results(Path(args.out), dict(profile="small", clips=args.clips, ddim_steps=args.ddim_steps, seeds=seeds,
                                           rows=results))


if __name__ == "__main__":
    main()
