"""Chapter 06 (motion diffusion): the forward process q(X_t | X_0); a DDIM step with eta > 0; the first frame's join."""
from __future__ import annotations

from .core import Case, Exercise, register


def _q_cases():
    import torch

    from vasa_lab.motion import diffusion
    from vasa_lab.motion.config import MotionConfig

    cfg = MotionConfig.for_profile("tiny")
    sched = diffusion.make_scheduler(cfg, "ddpm")
    abar = sched.alphas_cumprod.to(torch.float64)
    g = torch.Generator().manual_seed(6)
    out = []
    for label, t in (("one window at t=600", [600]), ("four windows, t = 0, 10, 500, 999", [0, 10, 500, 999])):
        x0 = torch.randn(len(t), 25, 8, generator=g, dtype=torch.float64)
        noise = torch.randn(len(t), 25, 8, generator=g, dtype=torch.float64)
        tt = torch.tensor(t)
        out.append(Case(label, (x0, tt, noise, abar), sched.add_noise(x0, noise, tt)))
    return out


def _wrong_q(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t].reshape(-1, *[1] * (x0.dim() - 1))
    return a * x0 + (1 - a) * noise                                    # forgot the square roots


register(Exercise(
    key="06.1", title="the forward process X_t = sqrt(abar_t) X_0 + sqrt(1 - abar_t) eps", answer="my_q_sample",
    reference="diffusers' DDPMScheduler.add_noise (the training scheduler)", cases=_q_cases, wrong=_wrong_q,
    hint="pick abar_t = alphas_cumprod[t] for each window of the batch and reshape it to (B, 1, 1) so it "
         "broadcasts over the window's frames and motion dimensions", rtol=1e-6, atol=1e-8))


def _ddim_cases():
    import torch

    from vasa_lab.motion import diffusion
    from vasa_lab.motion.config import MotionConfig

    cfg = MotionConfig.for_profile("tiny")
    out = []
    g = torch.Generator().manual_seed(7)
    for steps, index, eta in ((10, 3, 0.0), (10, 3, 0.5), (10, 5, 1.0), (25, 24, 0.5)):
        sched = diffusion.make_scheduler(cfg, "ddim")
        sched.set_timesteps(steps)
        t = int(sched.timesteps[index])
        t_prev = t - cfg.timesteps // steps
        x_t = torch.randn(2, 25, 8, generator=g, dtype=torch.float64)
        x0_hat = torch.randn(2, 25, 8, generator=g, dtype=torch.float64) * 0.5
        z = torch.randn(2, 25, 8, generator=g, dtype=torch.float64)
        abar = sched.alphas_cumprod.to(torch.float64)
        expected = sched.step(x0_hat, t, x_t, eta=eta, variance_noise=z).prev_sample
        out.append(Case(f"{steps} steps, t={t} -> {t_prev}, eta={eta}", (x_t, x0_hat, t, t_prev, abar, eta, z),
                        expected))
    return out


def _wrong_ddim(x_t, x0_hat, t, t_prev, alphas_cumprod, eta, z):
    from vasa_lab.motion.diffusion import ddim_step_by_hand

    return ddim_step_by_hand(x_t, x0_hat, t, t_prev, alphas_cumprod)   # eta ignored


register(Exercise(
    key="06.2", title="a DDIM step with eta > 0", answer="ddim_step_eta",
    reference="diffusers' DDIMScheduler.step(..., eta, variance_noise=z)", cases=_ddim_cases, wrong=_wrong_ddim,
    hint="sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev); "
         "eps_hat = (X_t - sqrt(abar_t) X0_hat) / sqrt(1 - abar_t); "
         "X_prev = sqrt(abar_prev) X0_hat + sqrt(1 - abar_prev - sigma²) eps_hat + sigma z; abar_prev = 1 when "
         "t_prev < 0 (diffusers computes in float32: agreement to 1e-5 is exact enough)", rtol=1e-5, atol=1e-6))


def _join_cases():
    import torch

    from vasa_lab.motion.diffusion import join_to

    g = torch.Generator().manual_seed(8)
    out = []
    for label, (B, W, M, P), frames in (("one window, the 6 pose numbers of 14, join_frames=3", (1, 25, 14, 6), 3.0),
                                        ("a batch of 3, all 8 numbers, join_frames=1", (3, 25, 8, 8), 1.0),
                                        ("a batch of 2, the first 6 of 10, join_frames=10", (2, 25, 10, 6), 10.0)):
        x0 = torch.randn(B, W, M, generator=g, dtype=torch.float64)
        last = torch.randn(B, P, generator=g, dtype=torch.float64) * 2
        out.append(Case(label, (x0, last, frames), join_to(x0, last, frames)))
    return out


def _wrong_join(x0, last, frames):
    from vasa_lab.motion.diffusion import join_to

    P = last.shape[-1]
    return join_to(x0, last - (x0[:, 1, :P] - x0[:, 0, :P]), frames)   # lands ON the last frame: no step at all


register(Exercise(
    key="06.3", title="the first frame's join", answer="my_join_to",
    reference="vasa_lab.motion.diffusion.join_to", cases=_join_cases, wrong=_wrong_join,
    hint="P = last.shape[-1]; the offset d = x0[:, 0, :P] - last - (x0[:, 1, :P] - x0[:, 0, :P]) (the first frame "
         "should step from last as far as the window's own first step); subtract exp(-j / frames) * d from frame j "
         "of the first P numbers only, and leave the rest of x0 as it is", rtol=1e-9, atol=1e-12))
