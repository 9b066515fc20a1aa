"""Does training at high noise, or on windows around blinks, make generated blinks deeper or more frequent? A quick
probe by fine-tuning a model trained with uniform windows.

    python benchmarks/bench_blink_training.py --profile small            # three fine-tunes of 1500 steps, ~10 min
    python benchmarks/bench_blink_training.py --profile small --windows-only    # how many windows hold a blink

The sampler loses a blink's depth where it commits to one, at high noise (``bench_head_audio.py --part sampler``:
DDIM from a training window noised to t = 800 keeps 0.65 of its 0.86, from t = 500 0.82). If the transformer sees
too few high-noise windows to learn that commitment, more of them should help; and it draws about half as many
blinks as the data holds, which windows drawn around blinks might change. This continues training the profile's
model with uniform windows (``blink_windows=0``: small's model shipped before blink windows) for ``--steps`` more
steps three times, from the same weights, windows and noise: once with t drawn uniformly (the control: just more
training), once with half the windows at t >= 500, once with half the windows drawn around a blink
(``MotionConfig.blink_windows`` 0.5). Each is read on the same held-out clips with the default sampler (blinks per
second and their depth through a ridge probe z_dyn -> eyelid, head speed, jaw probe r, as ``bench_motion_loss.py``
does), and with the denoiser probe of ``bench_head_audio.py``. Fine-tuning is a quick probe, not a recipe: shipping
a change means training from scratch with the project's command. Nothing is cached or shipped. Writes
``benchmarks/results/blink_training_<profile>.json`` (the file committed with it calls the base row "shipped", which
it was then).

``--windows-only`` counts, over 4000 training windows of each share of ``blink_windows`` (0, 0.3, 0.5), how many hold
a frame of a blink (a true eyelid closure above ``vasa_lab.world.state.TRUE_BLINK``), and writes
``benchmarks/results/blink_windows_share_<profile>.json`` (a few seconds).
"""
from __future__ import annotations

import argparse
import copy
import time
import warnings
from pathlib import Path

import numpy as np

from bench_head_audio import blink_denoiser
from bench_motion_loss import held_out, read, write_results


def fine_tune(model, clips, steps: int, high_noise: float, lr: float = 3e-4, blink_windows: float = 0.0) -> list[float]:
    """``steps`` AdamW steps on ``model`` (in place); ``high_noise``: the share of windows drawn at t >= 500;
    ``blink_windows``: the share of windows drawn around a blink (``MotionWindows``)."""
    import torch
    from torch.utils.data import DataLoader

    from vasa_lab.motion.data import MotionWindows
    from vasa_lab.motion.module import MotionDiffusionModule
    from vasa_lab.training import warmup_cosine

    cfg = model.config
    module = MotionDiffusionModule(model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    schedule = warmup_cosine(optimizer, 50, steps, floor=0.0)["scheduler"]
    windows = DataLoader(MotionWindows(clips, cfg, "train", length=steps * cfg.batch_size, seed=cfg.seed + 7,
                                       blink_windows=blink_windows),
                         batch_size=cfg.batch_size)
    generator = torch.Generator().manual_seed(1)
    losses = []
    for batch in windows:
        B = len(batch["x0"])
        t = torch.randint(0, cfg.timesteps, (B,), generator=generator)
        high = torch.randint(cfg.timesteps // 2, cfg.timesteps, (B,), generator=generator)
        t = torch.where(torch.rand(B, generator=generator) < high_noise, high, t)
        loss = module.diffusion_loss(batch, generator, t=t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss))
    model.eval()
    return losses


def count_windows(profile: str, n: int = 4000) -> None:
    """Print and write the share of ``n`` training windows holding a blink frame, for three ``blink_windows``."""
    from vasa_lab.motion import MotionConfig
    from vasa_lab.motion.data import MotionWindows, motion_clips
    from vasa_lab.world.state import STATE_NAMES, TRUE_BLINK

    cfg = MotionConfig.for_profile(profile)
    clips = motion_clips(cfg)
    column = STATE_NAMES.index("blink")
    shares = {}
    for share in (0.0, 0.3, 0.5):
        windows = MotionWindows(clips, cfg, "train", length=n, seed=cfg.seed, blink_windows=share)
        eyelid = [clips.states[clips.rows(c), column][start:start + windows.W]
                  for c, start in map(windows.place, range(n))]
        shares[share] = round(float(np.mean([(e > TRUE_BLINK).any() for e in eyelid])), 3)
        around = f", drawn around {len(windows.blinks)} blinks" if share else ""
        print(f"{profile}, blink_windows {share:g}: {shares[share]:.3f} of {n} training windows of {windows.W} frames "
              f"hold a blink{around}")
    write_results(Path(f"benchmarks/results/blink_windows_share_{profile}.json"),
                  dict(profile=profile, windows=n, window_frames=cfg.window, holding_a_blink=shares))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--windows-only", action="store_true", help="only count the windows that hold a blink")
    args = ap.parse_args(argv)
    if args.windows_only:
        return count_windows(args.profile)
    warnings.filterwarnings("ignore")
    import torch

    from vasa_lab.motion.config import default_steps
    from vasa_lab.repro import setup

    torch.set_num_threads(args.threads)
    started = time.time()
    _, clips, test, eyelid, jaw, truth = held_out(args.profile, args.clips)
    from vasa_lab.motion import load_motion_model

    base = load_motion_model(args.profile, blink_windows=0.0).eval()      # uniform windows
    rows = {"truth": truth}
    models = {"base (uniform windows)": base}
    for name, share, blinks in ((f"+{args.steps} steps, t uniform", 0.0, 0.0),
                                (f"+{args.steps} steps, half at t >= 500", 0.5, 0.0),
                                (f"+{args.steps} steps, half around a blink", 0.0, 0.5)):
        setup(seed=0)
        model = copy.deepcopy(base)                   # the same start each time; the base untouched
        losses = fine_tune(model, clips, args.steps, share, blink_windows=blinks)
        print(f"{name}: loss {np.mean(losses[:100]):.4f} -> {np.mean(losses[-100:]):.4f}", flush=True)
        models[name] = model
    for name, model in models.items():
        with torch.no_grad():
            rows[name] = read(model, test, eyelid, jaw)
        rows[name]["denoiser"] = blink_denoiser(model, clips, eyelid)
    print(f"\n{args.profile}, {len(test)} held-out clips, DDIM {default_steps(args.profile)} steps; eyelid read by a "
          f"ridge probe on z_dyn, depth = the peak of each closing (1 = shut); 'from t=800': DDIM from a blink window "
          f"noised to t = 800")
    print(f"{'':34s} {'blinks/s':>8s} {'median depth':>12s} {'closings':>8s} {'> 0.7':>6s} {'head dP':>8s} "
          f"{'jaw r':>6s} {'from t=800':>10s}")
    for name, r in rows.items():
        d = r.get("denoiser", {}).get("DDIM from t=799")
        print(f"{name:34s} {r['blinks_per_second']:8.3f} {r['median_depth'] or 0:12.2f} {r['closings']:8d} "
              f"{r['deeper_than_07']:6d} {r['head_dP']:8.3f} {r['jaw_r']:6.3f} {d if d is not None else '':>10}")
    out = Path(f"benchmarks/results/blink_training_{args.profile}.json")
    result = dict(profile=args.profile, clips=len(test), steps=args.steps, ddim_steps=default_steps(args.profile),
                  rows=rows, seconds=round(time.time() - started, 1))
    write_results(out, result)


if __name__ == "__main__":
    main()
