"""The passive forgery detector of chapter 11 on more clips: AUC on held-out people, and where it fails.

    python benchmarks/bench_forgery.py                 # 60 + 60 training clips, 40 + 40 test clips (~5 min, 1 core)

Trains ``vasa_lab.provenance.forgery.ForgeryDetector`` on the synthetic world's real clips against the tiny
generator's clips (1 s, 64 px; the generator animates each person's first frame with that person's speech), then
prints the AUC on other people, and on the cases it was not trained for: the test clips re-encoded (half size, H.264
CRF 28, then CRF 35), clips from another generator setting (the small profile's models, one sampling step), and real
photographs animated by the generator against real photographs filmed by a slowly moving camera.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=60)
    ap.add_argument("--test", type=int, default=40)
    ap.add_argument("--shifted", type=int, default=20, help="clips per failure case")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from vasa_lab.provenance.attacks import h264, resize
    from vasa_lab.metrics.provenance_clips import generated_clips, photo_animations, photo_clips, world_clips
    from vasa_lab.provenance.forgery import ForgeryDetector, auc, clip_features

    t0 = time.perf_counter()
    n = args.train + args.test
    feats = lambda clips: np.stack([clip_features(c) for c in clips])
    gen = list(generated_clips(n, seconds=1.0, start=70_000))
    real = list(world_clips(n, seconds=1.0, start=70_000))
    det = ForgeryDetector.fit(feats(real[: args.train]), feats(gen[: args.train]))
    s_real, s_gen = det.score(feats(real[args.train:])), det.score(feats(gen[args.train:]))
    worse = lambda c: h264(h264(resize(c, 0.5), 28), 35)
    cases = {
        "held-out people": (s_real, s_gen),
        "re-encoded (half, CRF 28, CRF 35)": (det.score(feats([worse(c) for c in real[args.train:]])),
                                              det.score(feats([worse(c) for c in gen[args.train:]]))),
        "other setting (small, 1 step)": (s_real, det.score(feats(generated_clips(
            args.shifted, seconds=1.0, start=80_000, steps=1, profile="small", size=64)))),
        "animated real photos vs real photos": (det.score(feats(photo_clips(args.shifted, seconds=1.0, size=64,
                                                                            seed=9))),
                                                det.score(feats(photo_animations(args.shifted, seconds=1.0)))),
    }
    thr = float(np.median(np.concatenate([s_real, s_gen])))
    print(f"forgery detector: trained on {args.train} + {args.train} clips, tested on {args.test} + {args.test} "
          f"other people and {args.shifted} clips per shifted case ({time.perf_counter() - t0:.0f} s in all)")
    print(f"{'case':40s} {'AUC':>5s} {'real called generated':>22s} {'generated caught':>17s}")
    for name, (r, g) in cases.items():
        print(f"{name:40s} {auc(r, g):5.2f} {np.mean(r > thr):22.0%} {np.mean(g > thr):17.0%}")
    print("(threshold: the median score of the held-out test clips)")


if __name__ == "__main__":
    main()
