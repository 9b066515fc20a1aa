"""Speed of the face latent space: training steps, encoding, rendering; and the full profile's GPU cost estimated.

    python benchmarks/bench_latent.py                 # tiny profile on this machine's CPU
    python benchmarks/bench_latent.py --full-estimate # + FLOPs and activation memory of a 512 px training step

Prints numbers, asserts nothing (speed depends on the machine). On a shared CPU, timings with several torch threads
can be much worse than with one: ``--threads 1`` measures the compute alone.

The full-profile estimate counts the floating-point operations of one training step (torch's FlopCounterMode) and
the bytes autograd saves for the backward pass (saved-tensor hooks), at batch 1, on the CPU; GPU memory and time
per step are then *estimated* from them (see ``estimate_gpu``): they are not measurements.
"""
from __future__ import annotations

import argparse
import time

import torch


def build(profile: str, **overrides):
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.latent.id_net import FaceIdentityNet, IdentityNetConfig
    from vasa_lab.latent.model import FaceLatentModel
    from vasa_lab.latent.module import LatentModule

    cfg = LatentConfig.for_profile(profile, **overrides)
    id_net = FaceIdentityNet(IdentityNetConfig.for_profile(profile))
    return cfg, LatentModule(FaceLatentModel(cfg), id_net)


def fake_batch(cfg, batch_size: int) -> dict[str, torch.Tensor]:
    s = cfg.image_size
    parts = torch.zeros(batch_size, 1, s, s)
    parts[..., s // 4: s // 2, s // 4: 3 * s // 4] = 1
    return dict(source=torch.rand(batch_size, 3, s, s), driver=torch.rand(batch_size, 3, s, s),
                source_pose=torch.zeros(batch_size, 6) + torch.tensor([0, 0, 0, 0, 0, 1.0]),
                driver_pose=torch.zeros(batch_size, 6) + torch.tensor([0, 0, 0, 0, 0, 1.0]),
                pose_ok=torch.ones(batch_size, 2, dtype=torch.bool), identity=torch.arange(batch_size),
                same_clip=torch.ones(batch_size, dtype=torch.bool), driver_parts=parts)


def time_training_step(profile: str, batch_size: int | None = None, repeats: int = 5, **overrides) -> dict:
    cfg, module = build(profile, **overrides)
    batch = fake_batch(cfg, batch_size or cfg.batch_size)
    opt = torch.optim.Adam(module.model.parameters(), lr=1e-4)
    module.train()

    def step():
        total, _, _ = module.generator_losses(batch)
        opt.zero_grad()
        total.backward()
        opt.step()

    step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        step()
    return dict(seconds_per_step=(time.perf_counter() - wall) / repeats,
                cpu_seconds_per_step=(time.process_time() - cpu) / repeats)


@torch.no_grad()
def time_inference(profile: str = "tiny", frames: int = 256) -> dict:
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.latent.model import FaceLatentModel

    cfg = LatentConfig.for_profile(profile)
    model = FaceLatentModel(cfg).eval()
    x = torch.rand(frames, 3, cfg.image_size, cfg.image_size)
    t = time.perf_counter()
    z_pose, z_dyn = model.encode_motion(x)
    t_motion = time.perf_counter() - t
    t = time.perf_counter()
    app = model.encode_appearance(x[:1])
    t_app = time.perf_counter() - t
    t = time.perf_counter()
    model.render(app, z_pose, z_dyn)
    t_render = time.perf_counter() - t
    return dict(encode_motion_fps=frames / t_motion, encode_appearance_ms=1000 * t_app, render_fps=frames / t_render)


def step_cost(profile: str = "full", batch_size: int = 1) -> dict:
    """FLOPs and autograd-saved bytes of one generator training step (batch ``batch_size``) on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg, module = build(profile)
    batch = fake_batch(cfg, batch_size)
    module.train()
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    counter = FlopCounterMode(display=False)
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        total, _, _ = module.generator_losses(batch)
        total.backward()
    params = sum(p.numel() for p in module.model.parameters())
    return dict(flops=counter.get_total_flops(), saved_bytes=saved[0], params=params, config=cfg)


def estimate_gpu(cost: dict, batch_size: int, tflops: float = 60.0, utilisation: float = 0.35) -> dict:
    """An ESTIMATE, not a measurement: memory = fp32 weights + grads + Adam (16 bytes per parameter) + the saved
    activations x batch (halved under bf16 mixed precision) + the discriminator's share (~+30% of activations with
    the GAN on) ; time = FLOPs x batch / (peak x utilisation). Defaults: an RTX 4090's ~80 dense bf16 TFLOPS
    derated to 60 for a conv/grid_sample mix, at 35% utilisation."""
    act = cost["saved_bytes"] * batch_size * 0.5 * (1.3 if cost["config"].w_gan > 0 else 1.0)
    memory = 16 * cost["params"] + act
    seconds = cost["flops"] * batch_size * (1.3 if cost["config"].w_gan > 0 else 1.0) / (tflops * 1e12 * utilisation)
    return dict(memory_gb=memory / 1e9, seconds_per_step=seconds)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--full-estimate", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    from vasa_lab.latent.config import LatentConfig

    tiny = LatentConfig.for_profile("tiny")
    full_losses = time_training_step("tiny")
    ablation = time_training_step("tiny", w_transfer=0.0, w_cross_id=0.0)
    print(f"tiny training step (batch {tiny.batch_size}, all losses): {full_losses['seconds_per_step']:.3f} s "
          f"({full_losses['cpu_seconds_per_step']:.3f} CPU s) -> {tiny.steps} steps ~ "
          f"{tiny.steps * full_losses['seconds_per_step'] / 60:.1f} min")
    print(f"tiny training step without transfer/cross-identity: {ablation['seconds_per_step']:.3f} s")
    inf = time_inference("tiny")
    print(f"tiny inference: encode motion {inf['encode_motion_fps']:.0f} frames/s, encode a portrait "
          f"{inf['encode_appearance_ms']:.1f} ms, render {inf['render_fps']:.0f} frames/s (batch 256, CPU)")
    if args.full_estimate:
        cost = step_cost("full", batch_size=1)
        cfg = cost["config"]
        print(f"full profile: {cost['params'] / 1e6:.1f} M parameters, volume {cfg.volume_shape}; one training step "
              f"at batch 1: {cost['flops'] / 1e12:.2f} TFLOP, {cost['saved_bytes'] / 1e9:.2f} GB saved for backward "
              f"(fp32)")
        for b in (1, 2, 4):
            est = estimate_gpu(cost, b)
            print(f"  ESTIMATE batch {b}: ~{est['memory_gb']:.0f} GB GPU memory (bf16 mixed), "
                  f"~{est['seconds_per_step']:.2f} s per step on an RTX 4090")


if __name__ == "__main__":
    main()
