"""Make the synthetic training world for a profile: ``python -m data_prep.synthetic --out DIR [--profile tiny]``.

The profile decides clip count, length and frame size (``vasa_lab.config.WorldConfig``); flags override it.
Without ``--out`` the world goes where every chapter looks for it (``vasa_lab.world.dataset.default_world``).
"""
from __future__ import annotations

import argparse
import sys

from vasa_lab.world.dataset import default_world, spec_for_profile, synthesize_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=None, help="folder (default: the shared location chapters use)")
    parser.add_argument("--profile", default=None, help="tiny, small or full (default: $VASA_LAB_PROFILE)")
    parser.add_argument("--clips", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.out is None:
            folder = default_world(args.profile, workers=args.workers, clips=args.clips)
            print(f"synthetic world ready in {folder}")
            return 0
        index = synthesize_dataset(args.out, spec_for_profile(args.profile, clips=args.clips), workers=args.workers)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(index['clips'])} clips in {args.out}; {len(index['failed'])} failed")
    return 1 if index["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
