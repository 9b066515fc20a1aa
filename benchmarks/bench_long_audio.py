"""Long audio: does the head drift over ten minutes, are the window joins seamless, and does an hour stay flat?

    python benchmarks/bench_long_audio.py                   # 10 minutes of drift + joins (tiny), ~6 minutes
    python benchmarks/bench_long_audio.py --hour            # + an hour streamed (memory, dropped frames), ~20 min
    python benchmarks/bench_long_audio.py --seed 1 --out benchmarks/results/long_audio_tiny_seed1.json  # another draw

1. **Drift.** Ten minutes of speech (espeak-ng sentences, several voices and languages) -> motion offline (whole
   windows) and streamed (lookahead 80 ms, stride 4). Per minute: the head's mean pose (yaw, pitch, roll in degrees;
   tx, ty; scale), its spread (std), its speed dP (deg/frame) and the mouth's activity (the std of the jaw read by
   the probe from z_dyn). The tolerance, in the training data's standard deviation of each pose dimension: a
   minute's mean pose may differ from minute one's by at most 0.5 of it (a head that wanders out of frame fails),
   and so may its spread; dP and mouth activity must stay within a factor 1.5 of minute one's. All of it twice:
   with chapter 08's drift control (the default) and without it; the bounded context the network sees
   (``MotionStream(context_bound=...)``, on by default) stays on in both.
2. **Joins.** The step into every window's first frame against the typical step elsewhere, offline (W-frame
   windows) and streamed (a window every 4 frames): 1 = no seam.
3. **An hour, streamed** (``--hour``): 60 minutes of speech synthesized as it goes and streamed unpaced (the fastest
   the machine can) through the whole pipeline into an mp4. The process's memory (RSS) is sampled after every
   minute of video: the peak of the last 10 minutes against the peak of the first 10. Every frame must arrive
   (no drops: an unpaced stream never drops).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def per_minute(motion: np.ndarray, probe) -> list[dict]:
    rows = []
    for m in range(len(motion) // 1500):
        x = motion[m * 1500:(m + 1) * 1500]
        rows.append(dict(minute=m + 1, mean=x[:, :6].mean(0).tolist(), spread=x[:, :6].std(0).tolist(),
                         dP=float(np.abs(np.diff(x[:, :3], axis=0)).mean()), mouth=float(np.std(probe(x)))))
    return rows


def drift_check(rows: list[dict], data_std: np.ndarray) -> dict:
    """Minute k against minute one, in the training data's standard deviations (``model.motion_std``) per pose
    dimension: mean shift <= 0.5, spread change <= 0.5; head speed dP and mouth activity within a factor 1.5."""
    first, unit = rows[0], np.asarray(data_std, np.float64)[:6]
    mean_shift = max(float(np.max(np.abs(np.array(r["mean"]) - first["mean"]) / unit)) for r in rows)
    spread_change = max(float(np.max(np.abs(np.array(r["spread"]) - first["spread"]) / unit)) for r in rows)
    ratio = lambda key: [r[key] / first[key] for r in rows]           # noqa: E731
    return dict(worst_mean_shift_in_std=mean_shift, worst_spread_change_in_std=spread_change,
                dP_ratio=(min(ratio("dP")), max(ratio("dP"))), mouth_ratio=(min(ratio("mouth")), max(ratio("mouth"))),
                ok=bool(mean_shift <= 0.5 and spread_change <= 0.5
                        and all(1 / 1.5 <= v <= 1.5 for v in ratio("dP") + ratio("mouth"))))


def drift_and_joins(profile: str, minutes: float, seed: int = 0, **control) -> dict:
    """Offline and streamed motion for ``minutes`` of speech, per minute, drawn with motion seed ``seed``, with the
    drift control's settings ``control`` (``revert_seconds=``, ``bound=``; none given: the defaults)."""
    from bench_stream import long_speech
    from vasa_lab.audio import audio_features, prepare_audio
    from vasa_lab.motion import generate_motion, load_motion_model
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.metrics.motion_codes import JawProbe, step_jumps, streamed_motion

    model = load_motion_model(profile)
    probe = JawProbe.fit(motion_clips(model.config), "train", pose_dim=6)
    cfg = model.config.audio
    from dataclasses import replace

    t0 = time.perf_counter()
    speech = long_speech(minutes * 60, seed=7)
    feats = audio_features(prepare_audio(speech, 16_000, replace(cfg, max_seconds=1e9)),
                           replace(cfg, max_seconds=1e9))
    t1 = time.perf_counter()
    offline = generate_motion(model, feats, None, seed=seed, **control)
    t2 = time.perf_counter()
    streamed, starts = streamed_motion(model, feats, None, lookahead=2, stride=4, seed=seed, **control)
    t3 = time.perf_counter()
    std = model.motion_std.detach().cpu().numpy()
    W = model.config.window
    out = {}
    for name, motion, st in (("offline", offline, np.arange(0, len(offline), W)), ("streamed", streamed, starts)):
        rows = per_minute(motion, probe)
        out[name] = dict(minutes=rows, check=drift_check(rows, std), joins=step_jumps(motion, st, std))
    out["seconds"] = dict(speech_and_features=t1 - t0, offline=t2 - t1, streamed=t3 - t2)
    return out


def hour(profile: str, minutes: float) -> dict:
    from bench_stream import long_speech
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator
    from vasa_lab.pipeline import AudioChunk
    from vasa_lab.pipeline.sinks import Mp4Sink

    def speech_as_it_goes():                       # one minute of speech synthesized at a time, 20 ms chunks
        for m in range(int(minutes)):
            audio = long_speech(60, seed=100 + m)
            for i in range(0, audio.size, 320):
                yield AudioChunk(audio[i:i + 320], 16_000)

    avatar = Animator(profile, device="cpu").avatar(DEMO_PORTRAIT).warm_up()
    samples, n, started = [], 0, time.perf_counter()
    h, w = avatar.frame_size
    with tempfile.TemporaryDirectory() as tmp, Mp4Sink(f"{tmp}/hour.mp4", w, h, audio_rate=16_000) as sink:
        for frame in avatar.stream(speech_as_it_goes(), 16_000, lookahead=2, stride=4):
            sink.write(frame.image, frame.audio)
            n += 1
            if n % 1500 == 0:
                samples.append(rss_mb())
                print(f"  minute {n // 1500:3d}: {rss_mb():7.1f} MB, {n / (time.perf_counter() - started):.0f} "
                      "frames/s", flush=True)
        size = os.path.getsize(sink.partial) / 2 ** 20
    k = min(10, len(samples) // 2)
    return dict(frames=n, expected=int(minutes * 1500), dropped=avatar.last_report.dropped,
                rss_mb=samples, first_peak_mb=max(samples[:k]), last_peak_mb=max(samples[-k:]),
                mp4_mb=size, seconds=time.perf_counter() - started)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--hour", action="store_true")
    p.add_argument("--hour-minutes", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0, help="the motion's seed (default 0; the speech stays the same)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    results = dict(profile=args.profile, seed=args.seed)
    results["drift"] = drift_and_joins(args.profile, args.minutes, args.seed)
    results["drift_without_control"] = drift_and_joins(args.profile, args.minutes, args.seed, revert_seconds=None,
                                                       bound=None)
    names = ["yaw", "pitch", "roll", "tx", "ty", "scale"]
    for (key, label), kind in itertools.product((("drift", "drift control on (the default)"),
                                                 ("drift_without_control", "drift control off")),
                                                ("offline", "streamed")):
        r = results[key]
        rows, check, joins = r[kind]["minutes"], r[kind]["check"], r[kind]["joins"]
        print(f"{kind}, {label}: {len(rows)} minutes ({r['seconds'][kind]:.0f} s to generate)")
        print("  minute  " + "  ".join(f"{n:>6}" for n in names) + "   dP  mouth")
        for row in rows:
            print(f"  {row['minute']:6d}  " + "  ".join(f"{v:6.2f}" for v in row["mean"])
                  + f"  {row['dP']:.3f}  {row['mouth']:.3f}")
        print(f"  drift: worst mean shift {check['worst_mean_shift_in_std']:.2f} data std (<= 0.5), spread change "
              f"{check['worst_spread_change_in_std']:.2f} data std (<= 0.5), dP ratio {check['dP_ratio'][0]:.2f}-"
              f"{check['dP_ratio'][1]:.2f}, mouth ratio {check['mouth_ratio'][0]:.2f}-{check['mouth_ratio'][1]:.2f}"
              f" (within 1.5x): {'OK' if check['ok'] else 'DRIFTS'}")
        print(f"  joins: step into a window's first frame {joins['join']:.3f} vs {joins['inner']:.3f} elsewhere, "
              f"ratio {joins['ratio']:.2f} over {joins['n_joins']} joins")
    if args.hour:
        print(f"an hour streamed ({args.hour_minutes:g} min), unpaced, into an mp4:", flush=True)
        h = hour(args.profile, args.hour_minutes)
        results["hour"] = h
        print(f"  {h['frames']} frames of {h['expected']} expected, {h['dropped']} dropped, in {h['seconds'] / 60:.1f}"
              f" min; memory peak first 10 min {h['first_peak_mb']:.1f} MB, last 10 min {h['last_peak_mb']:.1f} MB;"
              f" mp4 {h['mp4_mb']:.0f} MB")
    elif args.out and os.path.exists(args.out):       # the hour is not rerun: keep the last one, saying so
        with open(args.out) as f:
            earlier = json.load(f).get("hour")
        if earlier:
            results["hour"] = {**earlier, "note": earlier.get("note", "from an earlier run with --hour")}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1, default=float)


if __name__ == "__main__":
    main()
