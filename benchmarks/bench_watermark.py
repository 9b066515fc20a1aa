"""How well the watermark holds (chapter 11): quality, robustness, false positives, cost, and a library for scale.

    python benchmarks/bench_watermark.py                    # 200 generated clips, 1,000 unmarked clips (~15 min, 1 core)
    python benchmarks/bench_watermark.py --clips 20 --clean 100 --library-clips 4      # a quick look

Prints, every number whether or not it meets its goal (goal: >= 95 % bit accuracy after H.264 CRF 28 at >= 40 dB
PSNR, false positives <= 1e-3):

1. on ``--clips`` clips from the tiny generator (half at its own 64 px, half rendered at 128 px), 1.6 s each: the PSNR
   of the marked frames, and after each attack the raw bit accuracy (64 bits before error correction), the share
   of clips whose 24-bit payload decodes exactly, and the detection rate at the decision threshold;
2. the p-values of ``--clean`` unmarked clips (the synthetic world's clips at 64 px and real photographs panned and
   zoomed at 128 px, all H.264 CRF 23), the false-positive rate at several thresholds, the smallest p-value seen,
   and the threshold the package uses;
3. the cost of marking, per frame, at 64, 128, 512 and 1024 px (one thread), as a share of a 25 fps frame's 40 ms;
4. the same attacks on ``--library-clips`` 256 px clips for our mark, ``invisible-watermark``'s RivaGAN (32 bits,
   its ONNX encoder/decoder from the wheel) and its DWT-DCT scheme (32 bits), each read per frame and voted over
   frames.

``--json FILE`` also writes everything (default ``docs/watermark_bench.json``, which chapter 11 prints).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")


def pct(x: float) -> str:
    return f"{100 * x:5.1f} %"


def robustness(args, out: dict) -> None:
    from vasa_lab.provenance import P_THRESHOLD, Watermarker, bit_accuracy, detect_frames, psnr_db
    from vasa_lab.provenance.attacks import ATTACKS
    from vasa_lab.metrics.provenance_clips import generated_clips

    wm = Watermarker.default("tiny")
    rows = {name: dict(acc=[], payload=[], found=[], p=[]) for name in ATTACKS}
    psnrs, sizes = [], []
    clean_p = {"none": [], "h264 crf 28": []}
    half = args.clips // 2
    t0 = time.perf_counter()
    for size, n, start in ((None, half, 0), (128, args.clips - half, 10_000)):
        for frames in generated_clips(n, seconds=args.seconds, size=size, start=start):
            marked = wm.mark(frames)
            psnrs.append(psnr_db(marked, frames))
            sizes.append(frames.shape[1])
            if len(psnrs) % 20 == 0:
                print(f"   ... {len(psnrs)} clips, {time.perf_counter() - t0:.0f} s", flush=True)
            for name, attack in ATTACKS.items():
                det = detect_frames(attack(marked))
                rows[name]["acc"].append(bit_accuracy(det, wm.payload))
                rows[name]["payload"].append(det.payload == wm.payload)
                rows[name]["found"].append(det.p_value < P_THRESHOLD)
                rows[name]["p"].append(det.p_value)
                if name in clean_p:
                    clean_p[name].append(detect_frames(attack(frames)).p_value)
    took = time.perf_counter() - t0
    psnrs = np.asarray(psnrs)
    sizes = np.asarray(sizes)
    print(f"\n1. {args.clips} generated clips ({args.seconds:g} s; {np.sum(sizes == 64)} at 64 px, {np.sum(sizes == 128)} at 128 px), "
          f"{took:.0f} s")
    print(f"   PSNR of the marked frames: mean {psnrs.mean():.1f} dB, 5th percentile {np.percentile(psnrs, 5):.1f}, "
          f"min {psnrs.min():.1f}")
    print(f"   {'attack':22s} {'bit acc (all)':>13s} {'64 px':>8s} {'128 px':>8s} {'payload ok':>10s} {'detected':>9s}")
    table = {}
    for name, r in rows.items():
        acc = np.asarray(r["acc"])
        table[name] = dict(bit_accuracy=float(acc.mean()), bit_accuracy_64=float(acc[sizes == 64].mean()),
                           bit_accuracy_128=float(acc[sizes == 128].mean()),
                           payload_ok=float(np.mean(r["payload"])), detected=float(np.mean(r["found"])),
                           detected_64=float(np.mean(np.asarray(r["found"])[sizes == 64])),
                           detected_128=float(np.mean(np.asarray(r["found"])[sizes == 128])),
                           detected_at={f"{thr:.0e}": float(np.mean(np.asarray(r["p"]) < thr))
                                        for thr in (1e-2, 1e-3, 1e-4, 1e-6)},
                           median_p=float(np.median(r["p"])))
        t = table[name]
        print(f"   {name:22s} {pct(t['bit_accuracy']):>13s} {pct(t['bit_accuracy_64']):>8s} "
              f"{pct(t['bit_accuracy_128']):>8s} {pct(t['payload_ok']):>10s} {pct(t['detected']):>9s}")
    print("   detection rate at other thresholds: " + "; ".join(
        f"{name}: " + ", ".join(f"p<{k} {v:.2f}" for k, v in t["detected_at"].items())
        for name, t in table.items() if name.startswith("h264") or "+" in name))
    goal = table["h264 crf 28"]["bit_accuracy"] >= 0.95 and psnrs.mean() >= 40
    print(f"   goal (>= 95 % bits after CRF 28 at >= 40 dB): {'met' if goal else 'NOT met'} "
          f"(128 px alone: {pct(table['h264 crf 28']['bit_accuracy_128'])})")
    fp_gen = {k: float(np.mean(np.asarray(v) < P_THRESHOLD)) for k, v in clean_p.items()}
    print(f"   the same clips unmarked, flagged: {', '.join(f'{k} {v:.3f}' for k, v in fp_gen.items())}")
    out["robustness"] = dict(clips=args.clips, psnr_mean=float(psnrs.mean()), psnr_p5=float(np.percentile(psnrs, 5)),
                             psnr_min=float(psnrs.min()), attacks=table, unmarked_generated_flagged=fp_gen,
                             threshold=P_THRESHOLD)


def false_positives(args, out: dict) -> None:
    from vasa_lab.provenance import P_THRESHOLD, detect_frames
    from vasa_lab.provenance.attacks import h264
    from vasa_lab.metrics.provenance_clips import photo_clips, world_clips

    t0 = time.perf_counter()
    n_world = args.clean // 2
    ps, kinds = [], []
    for frames in world_clips(n_world, seconds=1.0, size=64, start=20_000):
        ps.append(detect_frames(h264(frames, 23)).p_value)
        kinds.append("world")
    for frames in photo_clips(args.clean - n_world, seconds=1.0, size=128, seed=1):
        ps.append(detect_frames(frames).p_value)
        kinds.append("photo")
    ps = np.asarray(ps)
    print(f"\n2. {len(ps)} unmarked clips ({n_world} synthetic-world clips at 64 px, {len(ps) - n_world} real-photo "
          f"clips at 128 px, all H.264 CRF 23), {time.perf_counter() - t0:.0f} s")
    rates = {}
    for thr in (1e-2, 1e-3, 1e-4, 1e-6, 1e-8):
        k = int(np.sum(ps < thr))
        rates[thr] = k / len(ps)
        print(f"   p < {thr:.0e}: {k:4d} of {len(ps)} flagged ({k / len(ps):.4f})")
    k = int(np.sum(ps < P_THRESHOLD))
    upper = (3.0 if k == 0 else k + 3 * math.sqrt(k)) / len(ps)
    print(f"   smallest p-value on unmarked video: {ps.min():.2e} (world {ps[np.asarray(kinds) == 'world'].min():.2e}, "
          f"photos {ps[np.asarray(kinds) == 'photo'].min():.2e})")
    print(f"   the package flags p < {P_THRESHOLD:.0e}: {k} false positives in {len(ps)} "
          f"(~95 % upper bound {upper:.1e}; goal <= 1e-3: {'met' if upper <= 1e-3 else 'NOT shown with this many clips'})")
    out["false_positives"] = dict(clips=len(ps), rates={f"{t:.0e}": r for t, r in rates.items()},
                                  min_p=float(ps.min()), threshold=P_THRESHOLD, flagged=k, upper_95=upper)


def cost(args, out: dict) -> None:
    import cv2

    from vasa_lab.provenance import Watermarker

    cv2.setNumThreads(1)
    wm = Watermarker.default("tiny")
    rng = np.random.default_rng(0)
    print("\n3. cost of marking (one thread; a 25 fps frame has 40 ms)")
    res = {}
    for size in (64, 128, 512, 1024):
        frames = rng.integers(0, 255, (25, size, size, 3), dtype=np.uint8)
        wm.mark(frames[:2])
        t = time.perf_counter()
        for _ in range(3):
            wm.mark(frames)
        ms = (time.perf_counter() - t) / 75 * 1000
        res[size] = ms
        print(f"   {size:5d} px: {ms:6.2f} ms per frame ({100 * ms / 40:.1f} % of the frame budget)")
    out["cost_ms_per_frame"] = res


def library(args, out: dict) -> None:
    import cv2
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    from vasa_lab.provenance import Watermarker, bit_accuracy, detect_frames, psnr_db
    from vasa_lab.provenance.attacks import ATTACKS
    from vasa_lab.metrics.provenance_clips import generated_clips

    bits32 = np.random.default_rng(7).integers(0, 2, 32).tolist()
    WatermarkEncoder.loadModel()
    enc = {m: WatermarkEncoder() for m in ("rivaGan", "dwtDct")}
    for e in enc.values():
        e.set_watermark("bits", bits32)
    dec = {m: WatermarkDecoder("bits", 32) for m in enc}

    def lib_mark(frames, method):
        return np.stack([cv2.cvtColor(enc[method].encode(cv2.cvtColor(f, cv2.COLOR_RGB2BGR), method),
                                      cv2.COLOR_BGR2RGB) for f in frames])

    def lib_read(frames, method, n=8):
        idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
        votes = []
        for f in frames[idx]:
            bgr = cv2.cvtColor(f, cv2.COLOR_RGB2BGR)
            if min(bgr.shape[:2]) < 256:     # the library refuses frames under 256 x 256: scale up to read
                s = 256 / min(bgr.shape[:2])
                bgr = cv2.resize(bgr, (round(bgr.shape[1] * s), round(bgr.shape[0] * s)), interpolation=cv2.INTER_CUBIC)
            votes.append(np.asarray(dec[method].decode(bgr, method), np.float32))
        return float(np.mean((np.mean(votes, 0) > 0.5) == np.asarray(bits32, bool)))

    wm = Watermarker.default("tiny")
    names = ["ours (QIM, 64 bits)", "RivaGAN (32 bits)", "DWT-DCT (32 bits)"]
    acc = {n: {a: [] for a in ATTACKS} for n in names}
    psnr = {n: [] for n in names}
    t0 = time.perf_counter()
    for frames in generated_clips(args.library_clips, seconds=1.2, size=256, start=30_000):
        marked = {names[0]: wm.mark(frames), names[1]: lib_mark(frames, "rivaGan"), names[2]: lib_mark(frames, "dwtDct")}
        for n, m in marked.items():
            psnr[n].append(psnr_db(m, frames))
        for a, attack in ATTACKS.items():
            acc[names[0]][a].append(bit_accuracy(detect_frames(attack(marked[names[0]])), wm.payload))
            acc[names[1]][a].append(lib_read(attack(marked[names[1]]), "rivaGan"))
            acc[names[2]][a].append(lib_read(attack(marked[names[2]]), "dwtDct"))
    print(f"\n4. the same attacks, {args.library_clips} generated clips at 256 px (1.2 s), bit accuracy "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"   {'attack':22s} " + " ".join(f"{n:>20s}" for n in names))
    print(f"   {'PSNR (dB)':22s} " + " ".join(f"{np.mean(psnr[n]):20.1f}" for n in names))
    for a in ATTACKS:
        print(f"   {a:22s} " + " ".join(f"{pct(np.mean(acc[n][a])):>20s}" for n in names))
    out["library"] = dict(clips=args.library_clips, size=256,
                          psnr={n: float(np.mean(v)) for n, v in psnr.items()},
                          bit_accuracy={n: {a: float(np.mean(v)) for a, v in acc[n].items()} for n in names})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--clean", type=int, default=1000)
    ap.add_argument("--library-clips", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=1.6, help="length of the generated clips")
    ap.add_argument("--only", default="robustness,false_positives,cost,library")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parents[1] / "docs" / "watermark_bench.json"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from vasa_lab import __version__
    from vasa_lab.provenance import watermark as W

    out = dict(version=__version__, scheme=dict(grid=W.GRID, band=W.BAND, step=W.STEP, bits=W.N_BITS, key=W.KEY))
    for part in args.only.split(","):
        {"robustness": robustness, "false_positives": false_positives, "cost": cost, "library": library}[part](args, out)
        if args.json:       # after every part: a long run that is stopped keeps what it measured
            path = Path(args.json)
            old = json.loads(path.read_text()) if path.exists() else {}
            old.update(out)
            path.write_text(json.dumps(old, indent=1) + "\n")
            print(f"   (written to {path})", flush=True)


if __name__ == "__main__":
    main()
