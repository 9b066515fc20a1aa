"""Make the synthetic training world for a profile: ``python -m data_prep.synthetic --out DIR [--profile tiny]``.

The profile decides clip count, length and frame size (``vasa_lab.config.WorldConfig``); flags override it.
"""
from __future__ import annotations

import argparse
import sys

from vasa_lab.config import WorldConfig
from vasa_lab.world.dataset import WorldSpec, synthesize_dataset


def spec_for_profile(profile: str | None = None, **overrides) -> WorldSpec:
    cfg = WorldConfig.for_profile(profile)
    spec = dict(clips=cfg.n_clips, seconds=cfg.clip_seconds, size=cfg.image_size, seed=cfg.seed,
                language=cfg.languages[0], fps=cfg.fps, sample_rate=cfg.sample_rate,
                clips_per_identity=cfg.clips_per_identity)
    spec.update({k: v for k, v in overrides.items() if v is not None})
    return WorldSpec(**spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--clips", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        spec = spec_for_profile(args.profile, clips=args.clips)
        index = synthesize_dataset(args.out, spec, workers=args.workers)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(index['clips'])} clips in {args.out}; {len(index['failed'])} failed")
    return 1 if index["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
