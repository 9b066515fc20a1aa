"""The real-time question on a GPU: offline FPS, streaming FPS, first-frame latency and peak memory, at 512 px.

    bash benchmarks/gpu.sh                          # what to run on a GPU machine (full profile, < 8 minutes)
    python benchmarks/bench_gpu.py --profile tiny --device cpu --quick     # the same code path, on a CPU, to check

The models are the ``full`` profile's networks (VASA-1-sized: the face latent model at 512 px with its 96 x 16 x
64 x 64 appearance volume, the 8 x 512 x 8 diffusion transformer on 2 s windows) with *random* weights: speed does
not depend on what the weights learned, and ``full`` is not trained here. Every number goes through the package's
own streaming engine (:class:`vasa_lab.motion.stream.MotionStream`, :class:`vasa_lab.pipeline.FrameRenderer`), fed
random audio feature rows (the features themselves are a CPU stage, measured by ``bench_stream.py``).

Measured, for fp32 and bf16 (autocast), render batches 1 / 8 / 32, and with ``torch.compile``:

* offline FPS: 10 s of motion in whole windows + all frames rendered in batches, frames / wall second;
* streaming FPS: rows pushed one frame (40 ms) at a time, lookahead 2 frames, stride 4, each window's frames
  rendered as soon as they are decided: frames / wall second (the stream is not paced, so this is the headroom);
* first-frame latency: from the first row in to the first frame out (the first window keeps 1 frame), i.e. the
  compute part of VASA-1's "170 ms";
* peak GPU memory (``torch.cuda.max_memory_allocated``).

If diffusers is missing (a bare GPU image), the DDIM step is the package's own by-hand version
(``vasa_lab.motion.diffusion.ddim_step_by_hand``, tested equal to diffusers' in tests/test_motion.py).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


class HandDDIM:
    """The few lines of diffusers' DDIMScheduler that sampling uses ("trailing" spacing, X_0 prediction, eta 0)."""

    def __init__(self, config):
        n = config.timesteps
        abar = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2            # noqa: E731  cosine schedule
        betas = torch.tensor([min(1 - abar((i + 1) / n) / abar(i / n), 0.999) for i in range(n)], dtype=torch.float64)
        self.alphas_cumprod = torch.cumprod(1 - betas, 0).float()
        self.n, self.init_noise_sigma = n, 1.0

    def set_timesteps(self, steps: int) -> None:
        self.timesteps = torch.from_numpy(np.round(np.arange(self.n, 0, -self.n / steps)).astype(np.int64) - 1)
        self._prev = {int(t): (int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1)
                      for i, t in enumerate(self.timesteps)}

    def scale_model_input(self, x, t):
        return x

    def step(self, x0, t, x, **_):
        from types import SimpleNamespace

        from vasa_lab.motion.diffusion import ddim_step_by_hand

        ac = self.alphas_cumprod.to(x.device)
        return SimpleNamespace(prev_sample=ddim_step_by_hand(x, x0, int(t), self._prev[int(t)], ac))


def use_hand_ddim_if_needed() -> str:
    try:
        import diffusers  # noqa: F401

        return "diffusers"
    except Exception:
        import vasa_lab.motion.diffusion as diffusion

        diffusion.make_scheduler = lambda config, sampler="ddim": HandDDIM(config)
        return "by hand (no diffusers here)"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(profile: str, device: torch.device):
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.latent.model import FaceLatentModel
    from vasa_lab.motion import MotionConfig, MotionDiT

    torch.manual_seed(0)
    latent = FaceLatentModel(LatentConfig.for_profile(profile)).to(device).eval()
    motion = MotionDiT(MotionConfig.for_profile(profile)).to(device).eval()
    size = latent.config.image_size
    portrait = torch.rand(1, 3, size, size, device=device)
    with torch.no_grad():
        appearance = latent.encode_appearance(portrait)
    return latent, motion, appearance


def compiled_motion(motion):
    """The transformer under torch.compile with CUDA graphs ("reduce-overhead"): a window is 10 sampler steps of a
    small batch, so on a GPU its time is mostly kernel launches, which a graph replays at once."""
    return torch.compile(motion, mode="reduce-overhead", dynamic=False)


def offline(latent, motion, appearance, seconds: float, batch: int, precision: str, compile_: bool, device) -> dict:
    from vasa_lab.motion.stream import MotionStream
    from vasa_lab.pipeline.renderer import FrameRenderer

    cfg = motion.config
    T = int(seconds * 25)
    rows = np.random.default_rng(0).standard_normal((T, cfg.audio_dim)).astype(np.float32)
    renderer = FrameRenderer(latent, appearance, batch=batch, precision=precision, compile=compile_)
    renderer.render(np.zeros((batch, cfg.motion_dim), np.float32))          # warm-up (and compile)
    for _ in range(3):
        MotionStream(motion, None, steps=10, lookahead=None).push(rows[:cfg.window])
    sync(device)
    t0 = time.perf_counter()
    stream = MotionStream(motion, None, steps=10, lookahead=None)
    codes = np.concatenate([stream.push(rows), stream.finish()])
    sync(device)
    t1 = time.perf_counter()
    for _ in renderer.batches(codes):
        pass
    sync(device)
    t2 = time.perf_counter()
    return dict(frames=T, motion_fps=T / (t1 - t0), render_fps=T / (t2 - t1), offline_fps=T / (t2 - t0))


def streaming(latent, motion, appearance, seconds: float, precision: str, compile_: bool, device,
              lookahead: int = 2, stride: int = 4) -> dict:
    from vasa_lab.motion.stream import MotionStream
    from vasa_lab.pipeline.renderer import FrameRenderer

    cfg = motion.config
    T = int(seconds * 25)
    rows = np.random.default_rng(1).standard_normal((T, cfg.audio_dim)).astype(np.float32)
    renderer = FrameRenderer(latent, appearance, batch=stride, precision=precision, compile=compile_)
    renderer.render(np.zeros((1, cfg.motion_dim), np.float32))
    renderer.render(np.zeros((stride, cfg.motion_dim), np.float32))
    warm = MotionStream(motion, None, steps=10, lookahead=lookahead, stride=stride)
    warm.push(rows[:lookahead + 1 + 3 * stride])
    sync(device)
    stream = MotionStream(motion, None, steps=10, lookahead=lookahead, stride=stride)
    t0 = time.perf_counter()
    first, n = None, 0
    per_frame = []
    for t in range(T):
        r0 = time.perf_counter()
        codes = stream.push(rows[t:t + 1])
        if len(codes):
            renderer.render(codes)
            sync(device)
            n += len(codes)
            if first is None:
                first = time.perf_counter() - t0
            per_frame.append((time.perf_counter() - r0) / len(codes))
    codes = stream.finish()
    if len(codes):
        renderer.render(codes)
    sync(device)
    n += len(codes)
    wall = time.perf_counter() - t0
    return dict(frames=n, stream_fps=n / wall, first_frame_ms=first * 1e3, windows=stream.windows,
                compute_ms_per_frame_p50=float(np.percentile(per_frame, 50) * 1e3))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="full")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seconds", type=float, default=10.0, help="audio per measurement")
    p.add_argument("--quick", action="store_true", help="one setting of each (a check that the script runs)")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--out", default=None, help="write the results here as JSON")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    ddim = use_hand_ddim_if_needed()
    started = time.perf_counter()
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        name = torch.cuda.get_device_name(0)
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
    latent, motion, appearance = build(args.profile, device)
    lc, mc = latent.config, motion.config
    print(f"{name}; torch {torch.__version__}; profile {args.profile}: {lc.image_size} px, volume "
          f"{lc.volume_channels}x{lc.volume_depth}x{lc.volume_size}x{lc.volume_size}, DiT {mc.layers}x{mc.width}x"
          f"{mc.heads}, window {mc.window}/{mc.context}; DDIM {ddim}; 10 steps, audio guidance 0.5")
    print(f"parameters: latent {sum(q.numel() for q in latent.parameters()) / 1e6:.1f} M, motion "
          f"{sum(q.numel() for q in motion.parameters()) / 1e6:.1f} M")
    results = dict(device=name, profile=args.profile, ddim=ddim, offline=[], streaming=[])
    settings = [("32", 1), ("32", 8), ("32", 32), ("bf16", 1), ("bf16", 8), ("bf16", 32)]
    if args.quick:
        settings = [("32", 8)]
    for precision, batch in settings:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        r = offline(latent, motion, appearance, args.seconds, batch, precision, False, device)
        r.update(precision=precision, batch=batch, compile=False)
        if device.type == "cuda":
            r["peak_gb"] = torch.cuda.max_memory_allocated() / 2 ** 30
        results["offline"].append(r)
        print(f"offline   {precision:>4} batch {batch:>2}: {r['offline_fps']:7.1f} FPS (motion {r['motion_fps']:7.1f}, "
              f"render {r['render_fps']:7.1f})" + (f", peak {r['peak_gb']:.1f} GB" if "peak_gb" in r else ""),
              flush=True)
    for precision in (("32", "bf16") if not args.quick else ("32",)):
        r = streaming(latent, motion, appearance, args.seconds, precision, False, device)
        r.update(precision=precision, compile=False)
        results["streaming"].append(r)
        print(f"streaming {precision:>4} lookahead 2 stride 4: {r['stream_fps']:7.1f} FPS, first frame "
              f"{r['first_frame_ms']:.1f} ms, {r['compute_ms_per_frame_p50']:.1f} ms/frame (p50)", flush=True)
    if not args.no_compile and not args.quick and time.perf_counter() - started < 240:
        try:
            precision = "bf16" if device.type == "cuda" else "32"
            motion = compiled_motion(motion)
            r = offline(latent, motion, appearance, args.seconds, 32, precision, True, device)
            r.update(precision=precision, batch=32, compile=True)
            results["offline"].append(r)
            print(f"offline   {precision:>4} batch 32, torch.compile: {r['offline_fps']:7.1f} FPS (motion "
                  f"{r['motion_fps']:7.1f}, render {r['render_fps']:7.1f})", flush=True)
            for stream_precision in ("32", precision):
                r = streaming(latent, motion, appearance, args.seconds, stream_precision, True, device)
                r.update(precision=stream_precision, compile=True)
                results["streaming"].append(r)
                print(f"streaming {stream_precision:>4} torch.compile: {r['stream_fps']:7.1f} FPS, first frame "
                      f"{r['first_frame_ms']:.1f} ms, {r['compute_ms_per_frame_p50']:.1f} ms/frame (p50)", flush=True)
            r = None
        except Exception as err:                          # compilation is optional: say why it did not run
            print(f"torch.compile did not run: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
    if device.type == "cuda":
        results["peak_gb"] = torch.cuda.max_memory_allocated() / 2 ** 30
    results["seconds"] = time.perf_counter() - started
    print(f"done in {results['seconds']:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
