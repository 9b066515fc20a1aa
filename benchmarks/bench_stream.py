"""Real time on this CPU: the streaming path's latency, frame rate, late frames, and what the lookahead costs.

    python benchmarks/bench_stream.py                      # tiny, 10 DDIM steps, audio guidance on, 5 minutes paced
    python benchmarks/bench_stream.py --minutes 1 --profile small
    python benchmarks/bench_stream.py --skip-pace          # only the lookahead sweep
    python benchmarks/bench_stream.py --skip-pace --pixels --sync --audio-scales 1,1.5   # the sweep at two scales

1. **Paced stream** (``--minutes``): speech (espeak-ng sentences, several voices) played at its natural pace in
   20 ms chunks through :meth:`vasa_lab.pipeline.Avatar.stream` (lookahead 2 frames = 80 ms, stride 4) into an
   mp4, as ``vasa-lab stream --realtime`` does. Printed: first-frame latency (first chunk in -> first frame out,
   and the part after the first frame's own audio had arrived), steady-state latency p50/p95 (a frame's own audio
   arrived -> the frame out), sustained frames/s, late frames (over the budget) and dropped frames, and where the
   time went per frame (features, motion windows, render, mp4).
2. **Lookahead sweep**: held-out world clips' features streamed one frame at a time with lookahead 0, 40, 80, 160,
   320 ms and whole windows (offline): the jaw read from the codes by the probe against the true jaw, the step at
   window joins, and the mouth read by chapter 02's tracker from the rendered pixels (``--pixels``) with chapter
   10's SyncNet confidence S_C and distance S_D on the same frames and the clip's sound (``--sync``).
3. **One-shot vs streamed first frame**: ``vasa-lab animate``'s path must finish the first whole window (1 s of
   audio) before its first frame; the stream needs its first frame's 40 ms plus the lookahead.

Threads: 1 by default. The stream's operations are small (a 25-frame window through a 3-layer transformer), and
PyTorch's second thread buys little on them while costing a lot when the other core is busy: measured here, a
motion window took 27 ms with 1 thread and 1185 ms with 2 while another process held a core (its threads wait for
each other). A busy machine makes every number worse; run it alone.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def long_speech(seconds: float, seed: int = 0) -> np.ndarray:
    from vasa_lab.world.speech import long_speech as speech

    return speech(seconds, seed)


def paced(profile: str, minutes: float, lookahead: int, stride: int, chunk_ms: float) -> dict:
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator
    from vasa_lab.pipeline import array_chunks
    from vasa_lab.pipeline.avatar import stream_to_mp4

    speech = long_speech(minutes * 60)
    avatar = Animator(profile, device="cpu").avatar(DEMO_PORTRAIT).warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        report = stream_to_mp4(avatar, array_chunks(speech, 16_000, chunk_ms, realtime=True), f"{tmp}/s.mp4",
                               lookahead=lookahead, stride=stride, realtime=True)
    r = report.as_dict()
    n = max(report.frames, 1)
    r["ms_per_frame"] = {k: 1e3 * v / n for k, v in report.stages.items() if k != "windows"}
    r["windows"] = report.stages.get("windows")
    return r


def one_shot_first_frame(profile: str) -> float:
    """Milliseconds from the start of the audio to the first frame for the offline path (whole windows): it needs
    the first window's audio (W frames) to have arrived, then draws and renders it."""
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator
    from vasa_lab.pipeline import array_chunks

    avatar = Animator(profile, device="cpu").avatar(DEMO_PORTRAIT).warm_up()
    speech = long_speech(3.0, seed=1)
    stream = avatar.stream(array_chunks(speech, 16_000, 20, realtime=True), 16_000, lookahead=None)
    next(stream)
    stream.close()
    return avatar.last_report.first_frame_ms


def sweep(profile: str, clips_n: int, stride: int, pixels: bool, sync: bool, audio_scale: float | None = None
          ) -> list[dict]:
    from vasa_lab.motion import load_motion_model
    from vasa_lab.data.clips import dataset_folder
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.metrics.motion_codes import lookahead_sweep

    model = load_motion_model(profile)
    clips = motion_clips(model.config)
    pix = None
    if pixels:
        from vasa_lab.latent.api import load_latent_model

        pix = (load_latent_model(profile), dataset_folder(model.config))
    return lookahead_sweep(model, clips, (0, 1, 2, 4, 8, None), n_clips=clips_n, stride=stride, pixels=pix,
                           sync=sync, audio_scale=audio_scale)       # None: each row at the stream's own default


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--lookahead", type=int, default=2, help="frames (40 ms each)")
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--chunk-ms", type=float, default=20.0)
    p.add_argument("--clips", type=int, default=16, help="held-out clips for the lookahead sweep")
    p.add_argument("--pixels", action="store_true", help="also read the mouth from rendered pixels in the sweep")
    p.add_argument("--sync", action="store_true", help="with --pixels: also chapter 10's S_C and S_D")
    p.add_argument("--audio-scales", default=None,
                   help="comma-separated audio guidance scales to sweep the lookahead at (default: the stream's)")
    p.add_argument("--skip-pace", action="store_true")
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: see the module docstring)")
    p.add_argument("--out", default=None, help="write the results as JSON")
    args = p.parse_args(argv)
    import torch

    from vasa_lab.motion.config import LIVE_AUDIO_GUIDANCE, default_audio_guidance

    torch.set_num_threads(args.threads)
    results = dict(profile=args.profile, threads=args.threads)
    if not args.skip_pace:
        r = paced(args.profile, args.minutes, args.lookahead, args.stride, args.chunk_ms)
        results["paced"] = r
        print(f"paced stream, {args.profile}, {args.minutes:g} min, {args.chunk_ms:g} ms chunks, lookahead "
              f"{40 * args.lookahead} ms, stride {args.stride}, 10 DDIM steps, audio guidance "
              f"{LIVE_AUDIO_GUIDANCE:g}:")
        print(f"  first frame      {r['first_frame_ms']:7.1f} ms after the first chunk "
              f"({r['first_frame_compute_ms']:.1f} ms after its own audio had arrived)")
        print(f"  latency          p50 {r['latency_p50_ms']:.1f} ms, p95 {r['latency_p95_ms']:.1f} ms, max "
              f"{r['latency_max_ms']:.1f} ms (budget {r['budget_ms']:.0f} ms)")
        print(f"  sustained        {r['fps']:.2f} frames/s over {r['frames']} frames; late {r['late']}, "
              f"dropped {r['dropped']}")
        print("  per frame        " + ", ".join(f"{k} {v:.2f} ms" for k, v in r["ms_per_frame"].items())
              + f" ({r['windows']} motion windows)")
        results["one_shot_first_frame_ms"] = one_shot_first_frame(args.profile)
        print(f"  one-shot path    first frame {results['one_shot_first_frame_ms']:.0f} ms after the first audio "
              f"(it waits for a whole window)")
    if not args.skip_sweep:
        scales = [None] if args.audio_scales is None else [float(v) for v in args.audio_scales.split(",")]
        for scale in scales:
            rows = sweep(args.profile, args.clips, args.stride, args.pixels, args.sync, scale)
            if scale is None:
                results["sweep"] = rows
            else:
                results.setdefault("sweep_by_audio_scale", {})[f"{scale:g}"] = rows
            said = (f"the defaults: {LIVE_AUDIO_GUIDANCE:g} streamed, {default_audio_guidance(args.profile):g} offline"
                    if scale is None else f"{scale:g}")
            print(f"lip sync vs lookahead ({rows[0]['n_clips']} held-out clips, stride {args.stride}, audio guidance "
                  f"{said}):")
            print("  lookahead   jaw from codes   pixel mouth vs true jaw   join ratio     S_C     S_D")
            for r in rows:
                name = "offline" if r["lookahead"] is None else f"{r['lookahead_ms']} ms"
                pix = "" if r["pixel_jaw"] is None else f"{r['pixel_jaw']:.3f}"
                sc = f"{r['S_C']:7.3f} {r['S_D']:7.3f}" if "S_C" in r else ""
                print(f"  {name:>9}   {r['code_jaw']:14.3f}   {pix:>23}   {r['join_ratio']:10.2f}   {sc}",
                      flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1, default=float)


if __name__ == "__main__":
    main()
