"""Do VASA-1's two disentanglement losses help at 128 px? The small profile's ablation, measured as chapter 04 does.

    python -m vasa_lab.latent.train --profile small --ablation --focus-steps 0   # once: ~1-1.5 h on 2 cores
    python benchmarks/bench_latent_ablation.py --profile small

Two face latent models that differ only in VASA-1's pairwise-transfer and cross-identity losses: the profile's first
phase (shipped for small: 7000 steps of 8 pairs at 128 px) and the same config, data, steps and seed with
``w_transfer = w_cross_id = 0`` (``LatentConfig.without_disentanglement_losses``). Both are compared before the
focus phase on blinks, which the ablation would otherwise have to repeat. Chapter 04, section 5, makes the same
comparison in tiny (64 px). Every number is on held-out people:

* linear probes (fitted on the validation people, scored on the test people): what z_pose and z_dyn carry, and
  what they leak (z_dyn -> head pose; a person named from z_dyn or z_pose; the true motion as the floor);
* cross-reenactment read on the pixels by chapter 02's tracker: A's portrait driven by B's codes. Pose and mouth
  error against B, and how much the result still looks like A (identity similarity, the identity network the
  cross-identity loss trains with; another frame of A is the ceiling, B's own frame the floor);
* self-reenactment PSNR / SSIM against copying the source frame.

One training seed per arm: a difference smaller than the spread over pairs (printed) is not a difference.
Writes ``benchmarks/results/latent_ablation_PROFILE.json``. An arm already in that file (the same model and number of
pairs) is read from it rather than measured again, so the shipped arm can be measured while the ablation still
trains (``--arm with``); ``--fresh`` measures both again.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


class MeshReader:
    """Head pose and mouth opening read by chapter 02's tracker (mediapipe, unsmoothed) at the size its pose and
    gaze were calibrated at; chapter 04's ``probes.TrackerPose`` does the same with the landmark network at 64 px."""

    def __init__(self):
        from vasa_lab.metrics.expression import READ_SIZE
        from vasa_lab.tracking import FaceTracker

        self.tracker = FaceTracker(backend="mediapipe", smoothing=None)
        self.name = f"chapter 02's tracker (mediapipe, unsmoothed) on frames resized to {READ_SIZE} px"

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from vasa_lab.metrics.expression import at_read_size

        track = self.tracker.track(at_read_size(frames))
        return track.pose[:, :3], track.mouth_open


def measure(model, val_clips, test_clips, identity_net, reader, pairs: int) -> dict:
    from vasa_lab.latent import probes

    fit = probes.encode_clips(model, val_clips, stride=4)
    test = probes.encode_clips(model, test_clips, stride=4)
    rows = {(r["code"], r["target"]): r["value"] for r in probes.probe_table(fit, test)}
    per_pair = [probes.cross_reenactment(model, test_clips, identity_net, reader, n_pairs=1, frames=25, seed=s)
                for s in range(pairs)]
    cross = {k: float(np.nanmean([p[k] for p in per_pair])) for k in per_pair[0]}
    spread = {k: float(np.nanstd([p[k] for p in per_pair]) / np.sqrt(pairs)) for k in ("pose_err", "mouth_err",
                                                                                         "id_sim")}
    self_re = probes.self_reenactment(model, test_clips, 256)
    return {
        "z_pose -> yaw/pitch/roll R2": float(np.mean([rows["z_pose", f] for f in probes.POSE_FACTORS])),
        "z_dyn -> jaw/blink/gaze/smile/brow R2": float(np.mean([rows["z_dyn", f] for f in probes.DYN_FACTORS])),
        "z_dyn -> yaw/pitch/roll R2 (pose leak)": float(np.mean([rows["z_dyn", f] for f in probes.POSE_FACTORS])),
        "person named from z_dyn (identity leak)": rows["z_dyn", "identity"],
        "person named from z_pose (identity leak)": rows["z_pose", "identity"],
        "person named from the true motion (floor)": rows["true motion", "identity"],
        "cross: pose error (deg)": cross["pose_err"], "cross: pose error, se": spread["pose_err"],
        "cross: mouth error": cross["mouth_err"], "cross: mouth error, se": spread["mouth_err"],
        "cross: mouth correlation with B": cross["mouth_corr"],
        "cross: identity similarity to A": cross["id_sim"], "cross: identity similarity, se": spread["id_sim"],
        "cross: another frame of A (ceiling)": cross["id_sim_same"],
        "cross: B's own frame (floor)": cross["id_sim_other"],
        "self-reenactment PSNR (dB)": self_re["psnr"], "copy the source PSNR (dB)": self_re["psnr_copy"],
        "self-reenactment SSIM": self_re["ssim"],
        "per-factor R2": {f"{code} -> {target}": value for (code, target), value in rows.items()},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="small")
    p.add_argument("--pairs", type=int, default=24, help="cross-reenactment pairs of held-out people")
    p.add_argument("--arm", choices=("both", "with", "without"), default="both", help="which model(s) to measure")
    p.add_argument("--fresh", action="store_true", help="measure again what the results file already holds")
    args = p.parse_args(argv)

    from vasa_lab import course
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.data.clips import ClipFrames
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.latent.id_net import load_identity_net
    from vasa_lab.repro import setup

    setup(seed=0)
    with_losses = LatentConfig.for_profile(args.profile).first_phase()
    without = with_losses.without_disentanglement_losses()
    arms = {"with VASA-1's losses": with_losses, "without (ablation)": without}
    if args.arm != "both":
        name = "with VASA-1's losses" if args.arm == "with" else "without (ablation)"
        arms = {name: arms[name]}
    store = ArtifactStore()
    if not store.has("latent", without) and "without (ablation)" in arms:
        print(f"the ablated model ({config_key(without)}) is not in the store; train it once with\n"
              f"  python -m vasa_lab.latent.train --profile {args.profile} --ablation --focus-steps 0")
        return 2
    path = RESULTS / f"latent_ablation_{args.profile}.json"
    earlier = json.loads(path.read_text()) if path.exists() and not args.fresh else {}
    results = {k: v for k, v in earlier.get("results", {}).items() if earlier.get("pairs") == args.pairs}
    started = time.perf_counter()
    world = course.world(args.profile)
    val_clips, test_clips = ClipFrames(world, "val"), ClipFrames(world, "test")
    identity_net = load_identity_net(args.profile)
    reader = MeshReader()
    for name, cfg in arms.items():
        if results.get(name, {}).get("model") == config_key(cfg):
            print(f"{name}: read from {path.name} (--fresh measures it again)")
            continue
        model = load_latent_model(config=cfg)
        results[name] = measure(model, val_clips, test_clips, identity_net, reader, args.pairs)
        results[name]["model"] = config_key(cfg)
        print(f"{name}: measured ({time.perf_counter() - started:.0f} s so far)", flush=True)
        RESULTS.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")                   # atomically: a kill never leaves half a results file
        tmp.write_text(json.dumps(dict(profile=args.profile, image_size=with_losses.image_size,
                                       steps=with_losses.steps, pairs=args.pairs, held_out_clips=len(test_clips),
                                       reader=reader.name, results=results), indent=1))
        tmp.replace(path)

    names = [n for n in ("with VASA-1's losses", "without (ablation)") if n in results]
    keys = [k for k, v in results[names[0]].items() if isinstance(v, float)]
    print(f"\n{args.profile} ({with_losses.image_size} px, {with_losses.steps} steps each, one seed), "
          f"{len(test_clips)} held-out clips, {args.pairs} cross-reenactment pairs")
    print(f"{'':46s}" + "".join(f"{n:>24s}" for n in names))
    for k in keys:
        print(f"{k:46s}" + "".join(f"{results[n][k]:24.3f}" for n in names))
    print(f"\n{path} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
