"""Benchmark the evaluation metrics (chapter 10): time per 4-second clip of each metric and of its inputs.

    python benchmarks/bench_metrics.py                # 12 test clips of the tiny world, 1 thread
    python benchmarks/bench_metrics.py --clips 30 --threads 2

Prints numbers; asserts nothing. The metric networks come from the artifact store (trained first if missing:
about 2-3 minutes in tiny). Times are per clip (100 frames at 25 fps, 64 px), measured after one warm-up clip.
"""
from __future__ import annotations

import argparse
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", default=None)
    args = p.parse_args(argv)

    import torch

    from vasa_lab.metrics import CAPPScore, Evaluator, FVD, IdentitySimilarity, LipSync, PoseIntensity, log_mel
    from vasa_lab.metrics import world_clips
    from vasa_lab.repro import setup
    from vasa_lab.world.dataset import default_world

    setup(0, threads=args.threads)
    ev = Evaluator(args.profile)
    t0 = time.perf_counter()
    ev.load_all()
    print(f"metric networks loaded (or trained) in {time.perf_counter() - t0:.1f} s; {torch.get_num_threads()} thread(s)")
    clips = world_clips(default_world(ev.profile, progress=False), "test", limit=args.clips + 1)
    warm, clips = clips[0], clips[1:]
    net, name = ev.identity_net

    def per_clip(label: str, fn) -> None:
        fn(warm)
        t = time.perf_counter()
        for c in clips:
            fn(c)
        ms = (time.perf_counter() - t) / len(clips) * 1000
        print(f"  {label:<44} {ms:8.1f} ms/clip   {ms / clips[0].n_frames:6.2f} ms/frame")

    mels = {c.name: log_mel(c.audio, c.n_frames) for c in [warm] + clips}
    print(f"{len(clips)} clips of {clips[0].n_frames} frames at {clips[0].frames.shape[1]} px:")
    per_clip("inputs: log-mel (librosa)", lambda c: log_mel(c.audio, c.n_frames))
    per_clip("inputs: tracker + pose fit (metrics.motion)", lambda c: ev.face(c))     # cached for the rows below
    sync, capp, dp = LipSync(ev.syncnet), CAPPScore(ev.capp), PoseIntensity()
    ident, fvd = IdentitySimilarity(net, name), FVD(ev.video_encoder)
    per_clip("inputs: mouth crops (from landmarks)", lambda c: ev.crops(c))
    per_clip("S_C / S_D (SyncNet, 31 offsets)", lambda c: sync.update(ev.crops(c), mels[c.name]))
    per_clip("CAPP (3 s windows, stride 1 s)", lambda c: capp.update(mels[c.name], ev.pose(c)))
    per_clip("dP", lambda c: dp.update(ev.pose(c)))
    per_clip("identity (every frame vs the portrait)", lambda c: ident.update(c.frames[0], c.frames))
    per_clip("FVD_25 features (25-frame windows, stride 5)", lambda c: fvd.update(c.frames, real=True))
    fresh = Evaluator(ev.profile)                      # the same networks, no cached tracks
    fresh._nets = ev._nets
    t = time.perf_counter()
    fresh.measure(clips)
    total = (time.perf_counter() - t) / len(clips) * 1000
    print(f"  {'everything (Evaluator.measure, fresh tracks)':<44} {total:8.1f} ms/clip")
    print(f"FVD encoder: {fvd.encoder_name}; identity: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
