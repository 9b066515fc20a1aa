"""Benchmark the face tracker (chapter 02): speed per backend, accuracy on held-out synthetic identities, real photos.

    python benchmarks/bench_tracking.py                 # the full tables (~10 minutes on 2 cores)
    python benchmarks/bench_tracking.py --quick         # fewer clips and sizes (~2 minutes)

Prints numbers; asserts nothing. The accuracy targets of the issue are a median head-pose error <= 3 degrees and
a 95th percentile <= 8 degrees per angle, on held-out synthetic identities (world seed 1000).
"""
from __future__ import annotations

import argparse
import time


def bench_speed(sizes=(64, 128, 256, 512), frames: int = 50, net: bool = False) -> None:
    """Frames/s of each backend's detect() and of the whole tracker, on one synthetic clip, CPU."""
    from vasa_lab.tracking import FaceTracker, HaarBackend, MediaPipeBackend
    from vasa_lab.world.clip import make_clip, person
    from vasa_lab.world.render import render_frames

    states = make_clip(1000, 0, seconds=frames / 25, size=64).states
    who = person(1000, 0)
    print(f"speed on CPU ({frames} frames of one synthetic clip; detect = the backend alone, track = everything):")
    print(f"  {'backend':<22}" + "".join(f"{s:>10} px" for s in sizes))
    rows = {"mediapipe video detect": lambda: MediaPipeBackend(static_image_mode=False),
            "mediapipe photo detect": lambda: MediaPipeBackend(static_image_mode=True),
            "haar detect": HaarBackend}
    if net:
        from vasa_lab.tracking.landmark_net import NetBackend
        rows["net detect"] = NetBackend
    clips = {s: render_frames(who.identity, states, s)[0] for s in sizes}
    for name, make in rows.items():
        line = f"  {name:<22}"
        for s in sizes:
            backend = make()
            backend.detect(clips[s][0])                                 # warm up (graph start, model load)
            t = time.perf_counter()
            for f in clips[s]:
                backend.detect(f)
            line += f"{frames / (time.perf_counter() - t):>10.1f} /s"
        print(line)
    for spec in ("mediapipe", "haar") + (("net",) if net else ()):
        tracker = FaceTracker(backend=spec)
        line = f"  {'track ' + spec:<22}"
        for s in sizes:
            tracker.track(clips[s][:2])
            t = time.perf_counter()
            tracker.track(clips[s])
            line += f"{frames / (time.perf_counter() - t):>10.1f} /s"
        print(line)


def _row(label: str, r: dict) -> str:
    return (f"  {label:<34} {r['detection_rate']:>5.2f} "
            + " ".join(f"{r[a + '_median']:>5.2f}/{r[a + '_p95']:<5.2f}" for a in ("yaw", "pitch", "roll"))
            + f" {r['nme']:>6.3f} {r['gaze_median']:>6.2f} {r['gaze_forward_median']:>6.2f}"
            + f" {r['main_gaze_median']:>6.2f} {r['blink_f1']:>6.2f}"
            + f" {r['mouth_corr']:>6.2f} {r['scale_median']:>6.3f}")


def bench_accuracy(sizes=(64, 128, 256, 512), n_clips: int = 16, seconds: float = 4.0, net: bool = False) -> None:
    """The accuracy table: evaluate_on_synthetic for each backend / pose model / smoothing and size."""
    from vasa_lab.tracking import FaceTracker, evaluate_on_synthetic

    print(f"\naccuracy on held-out synthetic identities (world seed 1000, {n_clips} clips x {seconds:.0f} s, one "
          "identity per clip);\nangles: median/95th percentile |error| in degrees; NME: mean landmark error / "
          "inter-ocular distance;\ngaze: median angle error per frame (open eyes), the same for a guess of 'looks "
          "straight ahead' (fwd), and of the clip's main gaze;\nblink F1; mouth: corr(mouth_open, jaw_open); scale: "
          "median |error|")
    print(f"  {'configuration':<34} {'det':>5} {'yaw':^11} {'pitch':^11} {'roll':^11} {'NME':>6} {'gaze':>6} "
          f"{'fwd':>6} {'main':>6} {'blink':>6} {'mouth':>6} {'scale':>6}")
    configs = [("mediapipe, mesh-calibrated", dict(backend="mediapipe"), sizes),
               ("mediapipe, canonical-68 fit", dict(backend="mediapipe", calibrated_pose=False), (256,)),
               ("mediapipe, no smoothing", dict(backend="mediapipe", smoothing=None), (256,)),
               ("mediapipe, kalman", dict(backend="mediapipe", smoothing="kalman"), (256,))]
    if net:
        configs.append(("net (landmark CNN), canonical-68", dict(backend="net"), tuple(s for s in sizes if s <= 256)))
    for label, kwargs, config_sizes in configs:
        tracker = FaceTracker(**kwargs)
        for size in config_sizes:
            t = time.perf_counter()
            r = evaluate_on_synthetic(tracker, n_clips=n_clips, seconds=seconds, size=size, seed=1000)
            print(_row(f"{label} @ {size} px", r) + f"   ({time.perf_counter() - t:.0f} s)", flush=True)


def bench_real(n_frames: int = 25) -> None:
    """Real photos moved by known amounts: recovered roll and scale against the truth, relative to frame 0."""
    from vasa_lab.tracking import FaceTracker, evaluate_real_video, real_photos

    print(f"\nreal photos rotated (-20..20 degrees), scaled (0.85..1.15) and moved over {n_frames} frames:")
    for smoothing in (None, "one_euro"):
        tracker = FaceTracker(smoothing=smoothing)
        for name, image in real_photos().items():
            r = evaluate_real_video(tracker, image, n_frames=n_frames)
            print(f"  {name:<13} smoothing={str(smoothing):<9} detected {r['detection_rate']:.2f}  roll error median "
                  f"{r['roll_error_median']:.2f} max {r['roll_error_max']:.2f} deg  scale error median "
                  f"{100 * r['scale_error_median']:.1f}% max {100 * r['scale_error_max']:.1f}%  landmark drift NME "
                  f"{r['landmark_drift_nme']:.3f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 clips, sizes 128 and 256")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--net", action="store_true", help="include the landmark network (trains it once if it is "
                                                            "not cached yet)")
    args = parser.parse_args(argv)
    sizes = (128, 256) if args.quick else (64, 128, 256, 512)
    clips = 4 if args.quick else args.clips
    from vasa_lab.tracking.backends import net_available
    net = args.net and net_available()
    bench_speed(sizes, net=net)
    bench_accuracy(sizes, clips, args.seconds, net=net)
    bench_real()


if __name__ == "__main__":
    main()
