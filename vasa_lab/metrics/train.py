"""Train the metric networks (SyncNet, CAPP, the FVD video encoder) and put them in the artifact store.

::

    python -m vasa_lab.metrics.train --profile tiny              # about 2-3 minutes on 2 CPU cores
    python -m vasa_lab.metrics.train --profile full --data PREPARED_DIR

``--data`` is a synthetic world folder or a folder made from real video by ``python -m vasa_lab.data.prepare``;
without it the profile's synthetic world is used. ``--store DIR`` writes into another store, e.g. the package's
``vasa_lab/weights`` to ship the tiny networks with the code. The identity network comes from chapter 03/04
(``python -m vasa_lab.latent.train``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..artifacts import ArtifactStore
from ..repro import setup


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vasa_lab.metrics.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default=None, help="tiny | small | full (default: $VASA_LAB_PROFILE or tiny)")
    p.add_argument("--data", default="", help="dataset folder (synthetic world or data_prep output)")
    p.add_argument("--only", default="syncnet,capp,video", help="comma-separated subset of syncnet, capp, video")
    p.add_argument("--store", default=None, help="artifact store folder (default: $VASA_LAB_HOME)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from .capp import CAPPConfig, load_capp
    from .fvd import VideoEncoderConfig, load_video_encoder
    from .syncnet import SyncNetConfig, load_syncnet

    args = parse_args(argv)
    setup(0)
    store = ArtifactStore(args.store) if args.store else ArtifactStore()
    jobs = {"syncnet": ("metric-syncnet", SyncNetConfig, load_syncnet),
            "capp": ("metric-capp", CAPPConfig, load_capp),
            "video": ("metric-video", VideoEncoderConfig, load_video_encoder)}
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in jobs]
    if unknown:
        print(f"unknown network(s) {', '.join(unknown)}; choose from {', '.join(jobs)}", file=sys.stderr)
        return 2
    for name in wanted:
        artifact, config_cls, load = jobs[name]
        cfg = config_cls.for_profile(args.profile, data=args.data)
        started = time.perf_counter()
        load(config=cfg, store=store)
        meta = store.meta(artifact, cfg)
        print(f"{artifact:<16} {meta['key']}  {time.perf_counter() - started:6.1f} s  {json.dumps(meta['metrics'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
