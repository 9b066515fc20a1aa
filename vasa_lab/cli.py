"""The ``vasa-lab`` command.

    vasa-lab info                          versions, profile, device, artifact store contents
    vasa-lab synth --out DIR [--clips N]   make a synthetic talking-head dataset
    vasa-lab demo [--out FILE]             the main job on the embedded default (what ``make demo`` runs)
    vasa-lab prepare --input DIR --out DIR videos -> tracked, aligned 25 fps clips in tar shards (data_prep.prepare)

A bad argument gets one clear line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from . import __version__


class CliError(Exception):
    """An error the user can fix from the command line; printed as one line."""


def cmd_info(args: argparse.Namespace) -> int:
    import importlib.metadata as md

    import torch

    from .artifacts import ArtifactStore
    from .config import resolve_profile

    print(f"vasa_lab {__version__}")
    print(f"python   {platform.python_version()} ({platform.platform(terse=True)})")
    for pkg in ("torch", "lightning", "numpy", "librosa", "av", "espeakng-loader", "opencv-python-headless",
                "safetensors", "mediapipe"):
        try:
            print(f"{pkg:<9}{' ' if len(pkg) < 9 else ''}{md.version(pkg)}")
        except md.PackageNotFoundError:
            print(f"{pkg:<9} (not installed)")
    print(f"profile  {resolve_profile(args.profile)}  (set with --profile or VASA_LAB_PROFILE)")
    if torch.cuda.is_available():
        print(f"device   cuda: {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} GPU)")
    else:
        print(f"device   cpu ({torch.get_num_threads()} threads)")
    store = ArtifactStore()
    items = store.list()
    print(f"store    {store.root}  ({len(items)} artifact{'s' if len(items) != 1 else ''})")
    for item in items:
        print(f"  {item.name:<16} {item.key}  {item.size_mb:6.2f} MB  {item.meta.get('created', '')}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from .world.dataset import WorldSpec, synthesize_dataset

    spec = WorldSpec(clips=args.clips, seconds=args.seconds, size=args.size, seed=args.seed, language=args.language,
                     clips_per_identity=args.clips_per_identity)
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    try:
        spec.check()
    except ValueError as err:
        raise CliError(str(err)) from None
    started = time.perf_counter()
    try:
        index = synthesize_dataset(args.out, spec, workers=args.workers, progress=not args.quiet)
    except ValueError as err:
        raise CliError(str(err)) from None
    elapsed = time.perf_counter() - started
    n, failed = len(index["clips"]), index["failed"]
    frames = sum(c["n_frames"] for c in index["clips"])
    print(f"{n} clips ({frames} frames, {len(set(c['identity'] for c in index['clips']))} identities) in {args.out}"
          f" [{index['reused']} already there] in {elapsed:.1f} s")
    for f in failed:
        print(f"skipped clip {f['stem']}: {f['error']}", file=sys.stderr)
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .world.clip import make_clip, save_clip

    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"cannot create {out.parent}: {err.strerror}") from None
    if out.suffix.lower() != ".mp4":
        raise CliError(f"--out must end in .mp4, got {out.name}")
    started = time.perf_counter()
    clip = make_clip(args.seed, args.index, seconds=args.seconds, size=args.size, language=args.language)
    try:
        paths = save_clip(clip, out.parent, out.stem)
    except OSError as err:
        raise CliError(f"cannot write {out}: {err}") from None
    m = clip.meta
    print(f"made a {m['seconds']:.1f} s talking-head clip ({clip.n_frames} frames at {args.size} px, 25 fps) "
          f"in {time.perf_counter() - started:.1f} s")
    print(f"  person #{m['identity_index']}, voice {m['voice']['variant']}, emotion {m['emotion']}, "
          f"language {m['language']}")
    print(f"  says: {' '.join(m['sentences'])}")
    print(f"  video with sound: {paths['mp4']}")
    print(f"  16 kHz audio:     {paths['wav']}")
    print(f"  ground truth:     {paths['npz']}  (pose, mouth, gaze, blinks, landmarks, phonemes per frame)")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from data_prep.prepare import run_from_args

    try:
        return run_from_args(args)   # 0: every clip kept, 1: some skipped (the table says which and why)
    except ValueError as err:
        raise CliError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vasa-lab", description="vasa_lab: a teachable reproduction of VASA-1")
    parser.add_argument("--version", action="version", version=f"vasa_lab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="versions, profile, device and the artifact store")
    p.add_argument("--profile", default=None, help="tiny, small or full (default: $VASA_LAB_PROFILE or tiny)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("synth", help="make a synthetic talking-head dataset")
    p.add_argument("--out", required=True, help="folder to write the clips and index.json into")
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--size", type=int, default=64, help="frame size in pixels, 64 to 512")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--language", default="en", help="en, fr or zh")
    p.add_argument("--clips-per-identity", type=int, default=2)
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("demo", help="the main job on the embedded default")
    p.add_argument("--out", default="outputs/demo.mp4")
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--language", default="en")
    p.set_defaults(func=cmd_demo)

    from data_prep.prepare import add_arguments

    p = sub.add_parser("prepare", help="prepare a folder of talking-head videos (or a synthetic world) for training")
    add_arguments(p)
    p.set_defaults(func=cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CliError, ValueError, FileNotFoundError) as err:
        print(f"vasa-lab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
