"""Train the face latent space from the command line and put it in the artifact store.

::

    python -m vasa_lab.latent.train --profile tiny                       # CPU, minutes; the notebooks do this too
    python -m vasa_lab.latent.train --profile small --data DIR
    python -m vasa_lab.latent.train --profile full --data PREPARED_DIR --devices 4 --strategy ddp \\
        --precision bf16-mixed [--vgg19 vgg19.safetensors] [--arcface arcface_r100.pth]

``--data`` is a synthetic world folder (``vasa-lab synth``) or a folder made from real video by
``python -m vasa_lab.data.prepare``; without it the profile's synthetic world is used (made on first use). The
identity network (ours, unless ``--arcface`` points at ArcFace weights) is trained first if the store lacks it.
Afterwards ``vasa_lab.latent.api.load_latent_model(profile, data=DIR, ...)`` with the same settings finds the result.
An interrupted run (Ctrl-C, a kill, a reboot) resumes from its last checkpoint (every 250 steps, in
``$VASA_LAB_HOME/checkpoints/latent/KEY/``) when the same command is run again; ``--fresh`` starts over.
``--ablation`` trains the same model with VASA-1's transfer and cross-identity losses off (chapter 04).

A profile with a focus phase (``small``: ``focus_steps`` > 0) is trained in phases: the first phase is the same
config without the focus settings (found in the store, where ``small``'s ships, or trained first), and the focus
phase continues it with drivers drawn mid-blink. ``--focus-steps 0`` trains (or finds) the first phase alone.
``small`` then has a third, the gate phase (``gate_steps`` > 0): it continues the focus phase's model, training only
the decoder and its copy gate; ``--gate-steps 0`` stops before it. A fourth, the emotion phase (``emotion_steps`` >
0), continues the gate phase's model with the encoders frozen (the motion codes do not change), teaching the warps
where the driver's mouth corners, brows and eye corners are in the source (``w_flow_landmarks``), so the renderer
draws the smile the motion codes hold; ``small`` has it, ``--emotion-steps 0`` stops before it. A fifth, the people
phase (``people_steps`` > 0), continues the emotion phase's model and trains only z_dyn's CNN on the profile's world
grown to ``people_clips`` clips (small: 2000, 816 training people; the 1200 clips past small's own are made on first
use), so z_dyn reads the jaw and the blinks of people it never saw; ``small`` has it, ``--people-steps 0`` stops
before it. A sixth, the pose phase (``pose_steps`` > 0), continues the people phase's model and trains only z_pose's
CNN on the pose loss, on single frames of the same world; ``small`` has it, ``--pose-steps 0`` stops before it. A
seventh, the faces phase (``faces_pose_steps`` > 0), continues the pose phase's model and trains z_pose's CNN again,
half of each batch single frames of the profile's own clips and half thousands of people never seen before, one frame
each (``new_faces``); ``small`` has it, ``--new-faces 0`` stops before it. The people, pose and faces phases change the
motion codes: the motion transformer is trained on their codes.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace

from ..artifacts import ArtifactStore, config_key
from ..repro import setup
from .config import LatentConfig, emotion_phase


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vasa_lab.latent.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default=None, help="tiny | small | full (default: $VASA_LAB_PROFILE or tiny)")
    p.add_argument("--data", default="", help="dataset folder (synthetic world or data_prep output)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the profile's)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--focus-steps", type=int, default=None,
                   help="steps of the eye-focused second phase (default: the profile's; 0 = none)")
    p.add_argument("--blink-share", type=float, default=None, help="share of the second phase's drivers mid-blink")
    p.add_argument("--focus-eye-weight", type=float, default=None, help="the eyes' weight in the second phase")
    p.add_argument("--focus-eye-inside", type=float, default=None,
                   help="the second phase's extra L1 weight on the eyes' inside (0 = none)")
    p.add_argument("--gate-steps", type=int, default=None,
                   help="steps of the decoder-only copy-gate phase (default: the profile's; 0 = none)")
    add_emotion_phase_options(p)
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp")
    p.add_argument("--precision", default=None, help="Lightning precision, e.g. bf16-mixed on a GPU")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--vgg19", default="", help="local VGG19 weights for the perceptual loss")
    p.add_argument("--arcface", default="", help="local ArcFace (IResNet) weights for the cross-identity loss")
    p.add_argument("--ablation", action="store_true", help="transfer and cross-identity losses off")
    p.add_argument("--store", default=None, help="artifact store folder (default: $VASA_LAB_HOME)")
    p.add_argument("--force", action="store_true", help="train even if the store has this model")
    p.add_argument("--fresh", action="store_true", help="ignore a checkpoint of an interrupted run (default: resume)")
    return p.parse_args(argv)


def add_emotion_phase_options(p: argparse.ArgumentParser) -> None:
    """The emotion phase's options (``--emotion-steps``, ``--w-lips``, ``--w-flow-landmarks``,
    ``--flow-landmark-lips``), the people phase's (``--people-steps``), the pose phase's (``--pose-steps``) and the
    faces phase's (``--new-faces``), shared by this command and the benchmarks that read a model of another phase
    (:func:`emotion_phase_from_args`; a model not in the store is trained first)."""
    p.add_argument("--emotion-steps", type=int, default=None,
                   help="steps of the emotion phase after the gate phase (default: the profile's; 0 = none)")
    p.add_argument("--w-lips", type=float, default=None, help="the emotion phase's extra L1 weight on the lips' box")
    p.add_argument("--w-flow-landmarks", type=float, default=None,
                   help="the emotion phase's weight on the flow's landmark correspondence (losses.flow_landmark_loss)")
    p.add_argument("--flow-landmark-lips", choices=("all", "corners"), default=None,
                   help="the lips' landmarks in that correspondence: all twenty, or only the four corners")
    p.add_argument("--people-steps", type=int, default=None,
                   help="steps of the people phase after the emotion phase (default: the profile's; 0 = none)")
    p.add_argument("--pose-steps", type=int, default=None,
                   help="steps of the pose phase after the people phase (default: the profile's; 0 = none)")
    p.add_argument("--new-faces", type=int, default=None,
                   help="people never seen before, drawn for the faces phase after the pose phase (default: the "
                        "profile's; 0 = none: the model before that phase)")


def emotion_phase_from_args(config: LatentConfig, args: argparse.Namespace) -> LatentConfig:
    """``config`` with the emotion phase that :func:`add_emotion_phase_options`' options ask for (another emotion phase
    comes without the people and pose phases), the people phase ``--people-steps`` asks for (0: none, nor the pose
    phase after it), the pose phase ``--pose-steps`` asks for (0: none, nor the faces phase) and the new faces
    ``--new-faces`` asks for (0: none)."""
    config = emotion_phase(config, args.emotion_steps, args.w_lips, args.w_flow_landmarks, args.flow_landmark_lips)
    if args.people_steps is not None:
        config = replace(config, people_steps=args.people_steps) if args.people_steps > 0 else config.without_people()
    if args.pose_steps is not None:
        config = replace(config, pose_steps=args.pose_steps) if args.pose_steps > 0 else config.without_pose()
    if args.new_faces is not None:
        if args.new_faces > 0 and not config.has_faces_phase:
            raise ValueError("the faces phase continues the pose phase: --new-faces needs --pose-steps > 0")
        config = replace(config, new_faces=args.new_faces) if args.new_faces > 0 else config.without_faces()
    if config.has_pose_phase and not config.has_people_phase:
        raise ValueError("the pose phase continues the people phase: --pose-steps needs --people-steps > 0")
    return config


def config_from_args(args: argparse.Namespace) -> LatentConfig:
    overrides = dict(data=args.data)
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    for name in ("focus_steps", "blink_share", "focus_eye_weight", "focus_eye_inside", "gate_steps", "emotion_steps",
                 "w_lips", "w_flow_landmarks", "flow_landmark_lips", "people_steps", "pose_steps", "new_faces"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.vgg19:
        overrides.update(perceptual_net="vgg19", vgg19_path=args.vgg19)
    if args.arcface:
        overrides["arcface_path"] = args.arcface
    cfg = LatentConfig.for_profile(args.profile, **overrides)
    for flag, value in (("--w-lips", args.w_lips), ("--w-flow-landmarks", args.w_flow_landmarks),
                        ("--flow-landmark-lips", args.flow_landmark_lips)):
        if value is not None and not cfg.has_emotion_phase:
            raise ValueError(f"{flag} weighs a loss of the emotion phase: it needs --emotion-steps > 0")
    if cfg.has_emotion_phase and not cfg.has_gate_phase:
        if args.emotion_steps is not None:
            raise ValueError("the emotion phase continues the gate phase: --emotion-steps needs --gate-steps > 0")
        cfg = cfg.without_emotion()     # --gate-steps 0 alone: the phases before the gate's (the profile's emotion too)
    if cfg.has_pose_phase and not cfg.has_people_phase and args.pose_steps is not None:
        raise ValueError("the pose phase continues the people phase: --pose-steps needs --people-steps > 0")
    if args.new_faces is not None and args.new_faces > 0 and not (cfg.has_faces_phase and cfg.has_pose_phase):
        raise ValueError("--new-faces draws the people of the faces phase, which continues the pose phase: it needs "
                         "--pose-steps > 0 and a profile with a faces phase (small)")
    if cfg.new_faces == 0:          # --new-faces 0: exactly the phase before the faces phase (< 0: check() says so)
        cfg = cfg.without_faces()
    if not cfg.has_pose_phase:      # --pose-steps 0: exactly the phase before the pose phase
        cfg = cfg.without_pose()
    if not cfg.has_people_phase:    # --people-steps 0: exactly the phase before the people phase
        cfg = cfg.without_people()
    if not cfg.has_emotion_phase:   # --emotion-steps 0: exactly the phase before the emotion phase
        cfg = cfg.without_emotion()
    if not cfg.has_gate_phase:    # --gate-steps 0: exactly the phase before the gate's
        cfg = cfg.without_gate()
    if not cfg.has_focus_phase:   # --focus-steps 0: exactly the first phase (its other focus and gate settings unused)
        cfg = cfg.first_phase()
    return cfg.without_disentanglement_losses() if args.ablation else cfg


def phase_of(cfg: LatentConfig) -> str:
    """'3000 steps', '2000 focus steps after 7000', '1500 gate steps after 2000 focus steps after 7000'."""
    text = f"{cfg.steps} steps"
    if cfg.has_focus_phase:
        text = f"{cfg.focus_steps} focus steps after {cfg.steps}"
    if cfg.has_gate_phase:
        text = f"{cfg.gate_steps} gate steps after {text}"
    if cfg.has_emotion_phase:
        text = f"{cfg.emotion_steps} emotion steps after {text}"
    if cfg.has_people_phase:
        text = f"{cfg.people_steps} people steps after {text}"
    if cfg.has_pose_phase:
        text = f"{cfg.pose_steps} pose steps after {text}"
    if cfg.has_faces_phase:
        text = f"{cfg.faces_pose_steps} faces steps ({cfg.new_faces} new faces) after {text}"
    return text


def train_and_save(cfg: LatentConfig, store: ArtifactStore, args: argparse.Namespace) -> None:
    """Train ``cfg``'s model (resuming an interrupted run) and put it in the store; a focus or gate phase first finds
    (or trains, the same way) the model it continues."""
    from .id_net import IdentityNetConfig, identity_network, load_identity_net
    from .model import FaceLatentModel, count_parameters
    from .module import train_latent

    previous, before = None, cfg.previous_phase()
    if before is not None:
        if not store.has("latent", before):
            print(f"the phase before ({phase_of(before)}) is not in the store: training it first")
            train_and_save(before, store, args)
        previous = store.load_into(FaceLatentModel(before), store.find("latent", before))
    identity_net, which = None, "none"
    if cfg.w_cross_id > 0 or (cfg.w_perceptual > 0 and cfg.perceptual_net == "ours"):
        if cfg.arcface_path:
            identity_net, which = identity_network(cfg.arcface_path)
        else:
            id_cfg = IdentityNetConfig.for_profile(cfg.profile, data=cfg.data)
            print(f"identity network: {'cached' if store.has('latent-identity', id_cfg) else 'training'} ...")
            identity_net = load_identity_net(config=id_cfg, store=store)
            which = "ours (FaceIdentityNet)"
    model = FaceLatentModel(cfg)
    print(f"face latent model ({cfg.profile}): {count_parameters(model) / 1e6:.2f} M parameters, "
          f"volume {cfg.volume_shape}, {phase_of(cfg)} of {cfg.batch_size}, config {config_key(cfg)}")
    overrides = dict(devices=args.devices, strategy=args.strategy)
    if args.precision:
        overrides["precision"] = args.precision
    checkpoints = store.root / "checkpoints" / "latent" / config_key(cfg)   # an interrupted run resumes from here
    if args.fresh and checkpoints.exists():
        shutil.rmtree(checkpoints)
    metrics = train_latent(model, identity_net, trainer_overrides=overrides, num_workers=args.num_workers,
                           checkpoint_dir=checkpoints, first_phase=previous)
    metrics["identity_net"] = which
    folder = store.save("latent", cfg, model, metrics)
    shutil.rmtree(checkpoints, ignore_errors=True)   # the finished model is in the store now
    print(json.dumps({k: v for k, v in metrics.items() if k != "history"}, indent=1))
    print(f"saved to {folder}")


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = config_from_args(args)
        cfg.check()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    setup(seed=cfg.seed)
    store = ArtifactStore(args.store) if args.store else ArtifactStore()
    if store.has("latent", cfg) and not args.force:
        print(f"already in the store: {store.find('latent', cfg)} (use --force to train again)")
        return 0
    try:
        train_and_save(cfg, store, args)
    except RuntimeError as err:             # stopped short: nothing was stored, the checkpoint stays to resume from
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
