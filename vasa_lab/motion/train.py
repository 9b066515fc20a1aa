"""Train the motion diffusion transformer of a profile and cache it in the artifact store.

    python -m vasa_lab.motion.train --profile tiny                          # ~8 min on 2 CPU cores
    python -m vasa_lab.motion.train --profile full --data DIR --devices 4 --strategy ddp
    python -m vasa_lab.motion.train --profile tiny --store /tmp/store       # then ship /tmp/store/motion/<key>

The data (motion codes of every clip, from the profile's trained face latent model, plus audio features and
labels) is encoded once and cached; the trained weights land in ``STORE/motion/<config key>/`` as safetensors
with a meta.json holding the config and the training metrics. The tiny profile's weights are shipped in
``vasa_lab/weights/motion/<key>/``, made by exactly this command.

An interrupted run (Ctrl-C, a kill, a reboot) resumes from its last checkpoint (every 500 steps, in
``$VASA_LAB_HOME/checkpoints/motion/KEY/``) when the same command is run again, and ends with the weights an
uninterrupted run ends with; ``--fresh`` starts over.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..config import PROFILES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vasa_lab.motion.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=PROFILES, default=None, help="tiny | small | full (default: $VASA_LAB_PROFILE)")
    p.add_argument("--data", default="", help="dataset folder (synthetic world or data_prep output); "
                                              "default: the profile's synthetic world")
    p.add_argument("--store", default=None, help="artifact store folder (default: $VASA_LAB_HOME)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the profile's)")
    p.add_argument("--codes", choices=("latent", "truth"), default=None,
                   help="latent: codes from the face latent model (default); truth: the FaceState stand-in")
    p.add_argument("--blink-windows", type=float, default=None,
                   help="share of training windows drawn around a blink (default: the profile's)")
    p.add_argument("--devices", type=int, default=1, help="accelerators to train on (DDP when > 1)")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    p.add_argument("--accelerator", default="auto", help="cpu | gpu | auto")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (e.g. 1 on a shared machine)")
    p.add_argument("--force", action="store_true", help="train even if the artifact is already cached")
    p.add_argument("--fresh", action="store_true", help="ignore a checkpoint of an interrupted run (default: resume)")
    args = p.parse_args(argv)

    import shutil

    import torch

    from ..artifacts import ArtifactStore, config_key
    from ..repro import setup
    from .config import MotionConfig
    from .model import MotionDiT
    from .module import train_motion

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {k: v for k, v in dict(data=args.data or None, steps=args.steps, codes=args.codes,
                                          blink_windows=args.blink_windows).items()
                 if v is not None}
    try:
        cfg = MotionConfig.for_profile(args.profile, **overrides)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    setup(cfg.seed)
    store = ArtifactStore(args.store) if args.store else ArtifactStore()
    if store.has("motion", cfg) and not args.force:
        print(f"already trained: {store.find('motion', cfg)}")
        return 0
    model = MotionDiT(cfg)
    print(f"training motion {config_key(cfg)}: {model.n_parameters / 1e6:.2f} M parameters, {cfg.steps} steps")
    trainer = dict(devices=args.devices, strategy=args.strategy, accelerator=args.accelerator)
    checkpoints = store.root / "checkpoints" / "motion" / config_key(cfg)   # an interrupted run resumes from here
    if args.fresh and checkpoints.exists():
        shutil.rmtree(checkpoints)
    try:
        metrics = train_motion(model.cpu(), store=store, trainer_overrides=trainer, checkpoint_dir=checkpoints)
    except RuntimeError as err:             # stopped short: nothing was stored, the checkpoint stays to resume from
        print(f"error: {err}", file=sys.stderr)
        return 1
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) == 0:       # under DDP only the first process writes
        folder = store.save("motion", cfg, model.cpu(), metrics)
        shutil.rmtree(checkpoints, ignore_errors=True)   # the finished model is in the store now
        print(json.dumps(metrics, indent=2))
        print(f"saved {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
