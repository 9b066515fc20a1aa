"""Where should a 10-step sampler spend its steps? The last step's noise level against the head's jitter (issue 16).

    python benchmarks/bench_sampler_spacing.py [--clips 24]        # tiny, about 4 minutes on 2 cores

The shipped sampler is DDIM with 10 steps spread evenly ("trailing") over the 1000 diffusion steps, so its last
network call sees t = 99: noise of about 0.17 of the data's standard deviation. The head's frame-scale jitter, the
detail our CAPP listens for (``bench_head_audio.py --part capp``), is a few hundredths of it: the last call cannot
tell jitter from noise. This benchmark keeps 10 network calls and moves them (DDIM by hand,
:func:`vasa_lab.motion.diffusion.ddim_step_by_hand`, put in place of the pipeline's window sampler for the run):

* evenly from t = 999 to 99 (the shipped spacing; checked to give the same numbers as the library's sampler),
* evenly from 999 down to 20,
* geometrically from 999 down to 50 / 20 / 5 (more calls at low noise),

and reads each (audio guidance: the pipeline's default) on the codes, as ``bench_capp_training.py`` does (CAPP, the
jitter's size and how closely it follows the speaking, ``--clips`` held-out clips, no context), and on chapter 10's
pixels (the pipeline's generator on the table's 12 clips x 3 seeds: S_C, CAPP, dP, ID, FVD_25).
Writes ``benchmarks/results/sampler_spacing_tiny.json``. Asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_capp_training import test_clips_with_activity
from bench_motion_loss import write_results


def spacings() -> dict[str, list[int] | None]:
    def geometric(last: int) -> list[int]:
        return sorted({int(round(t)) for t in np.geomspace(999, last, 10)}, reverse=True)

    return {"even 999..99 (shipped)": None, "even 999..99, by hand": [int(t) for t in np.linspace(999, 99, 10)],
            "even 999..20": [int(t) for t in np.linspace(999, 20, 10)], "geometric 999..50": geometric(50),
            "geometric 999..20": geometric(20), "geometric 999..5": geometric(5)}


@contextlib.contextmanager
def sampler_steps(timesteps: list[int] | None):
    """Within the block, the pipeline's windows are drawn by DDIM (eta 0) at ``timesteps`` (None: unchanged)."""
    import vasa_lab.motion.stream as stream
    from vasa_lab.motion.diffusion import ddim_step_by_hand, guided_x0, make_scheduler

    original = stream.sample_window

    def by_hand(model, cond, config, steps=10, sampler="ddim", scales=None, generator=None):
        abar = make_scheduler(config, "ddpm").alphas_cumprod
        x = torch.randn(len(cond), config.window, config.motion_dim, generator=generator).to(cond.audio.device)
        for i, t in enumerate(timesteps):
            x0 = guided_x0(model, x, torch.full((len(cond),), t, dtype=torch.long), cond, scales or {})
            x = ddim_step_by_hand(x, x0, t, timesteps[i + 1] if i + 1 < len(timesteps) else -1, abar)
        return x

    if timesteps is not None:
        stream.sample_window = by_hand
    try:
        yield
    finally:
        stream.sample_window = original


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=24)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    from vasa_lab import course
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.metrics import Evaluator, halves_by_person, world_clips
    from vasa_lab.metrics.baselines import generator_clip, generator_motion
    from vasa_lab.metrics.capp import capp_windows, frame_scale_motion, load_capp
    from vasa_lab.pipeline.animate import Animator
    from vasa_lab.repro import setup

    setup(seed=0)
    started = time.time()
    latent, capp = load_latent_model("tiny"), load_capp("tiny")
    clips = test_clips_with_activity(args.clips, capp.config.n_mels)
    half_a, half_b = halves_by_person(world_clips(course.world("tiny"), "test"))
    table = half_b[:12]
    ev = Evaluator("tiny")
    ev.load_all()
    animator = Animator("tiny", latent=latent)
    rows = {}
    print(f"{'':24s} {'last calls':24s} | codes: CAPP  jitter  follows | pixels: S_C    CAPP    dP     ID     FVD_25")
    for name, timesteps in spacings().items():
        with sampler_steps(timesteps):
            codes = []
            for k, item in enumerate(clips):
                c = item["clip"]
                pose = generator_motion(animator, c, seed=k)[: c.n_frames, :6]
                codes.append((float(capp_windows(capp, item["mel"], pose).mean()),
                              *frame_scale_motion(pose, item["activity"])))
            per_seed = [ev.measure([generator_clip(animator, c, seed=s) for c in table], half_a) for s in range(3)]
        row = dict(timesteps=timesteps, codes_CAPP=float(np.mean([c[0] for c in codes])),
                   jitter=float(np.mean([c[1] for c in codes])), follows_activity=float(np.mean([c[2] for c in codes])))
        row.update({k: float(np.mean([r[k] for r in per_seed])) for k in ("S_C", "CAPP", "dP", "identity", "FVD_25")})
        row["CAPP_per_seed"] = [round(float(r["CAPP"]), 3) for r in per_seed]
        rows[name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
        last = "library" if timesteps is None else ", ".join(str(t) for t in timesteps[-3:])
        print(f"{name:24s} {last:24s} |        {row['codes_CAPP']:.3f}  {row['jitter']:.3f}   "
              f"{row['follows_activity']:.3f} |         {row['S_C']:.3f}  {row['CAPP']:.3f}  {row['dP']:.3f}  {row['identity']:.3f}  "
              f"{row['FVD_25']:.1f}", flush=True)
    result = dict(profile="tiny", code_clips=len(clips), pixel_clips=len(table), seeds=3, rows=rows,
                  seconds=round(time.time() - started, 1))
    out = Path(__file__).parent / "results" / "sampler_spacing_tiny.json"
    write_results(out, result)                        # atomically: a kill never leaves half a results file
    print(f"({result['seconds']:.0f} s) -> {out}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
