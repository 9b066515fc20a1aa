"""Diffusion for motion: the forward process, the sampler steps, condition dropout and multi-condition guidance.

The forward process
-------------------
A clean motion window X_0 (normalised, so roughly N(0, 1) per dimension) is noised in N steps with variances
beta_1 .. beta_N (here the cosine schedule). With alpha_t = 1 - beta_t and abar_t = prod_{s<=t} alpha_s, any
step can be reached in one jump:

    q(X_t | X_0) = N( sqrt(abar_t) X_0,  (1 - abar_t) I )      i.e.   X_t = sqrt(abar_t) X_0 + sqrt(1 - abar_t) eps

At t = N, abar_N ~ 0: X_N is pure noise. The network H(X_t, t, C) predicts X_0 (VASA-1's choice), and the loss is
``|| H(X_t, t, C) - X_0 ||^2``.

Going back (sampling)
---------------------
From X_t and the prediction X0_hat, the noise it implies is eps_hat = (X_t - sqrt(abar_t) X0_hat) / sqrt(1 - abar_t).

* **DDPM** (ancestral) samples the true posterior q(X_{t-1} | X_t, X_0 = X0_hat), a Gaussian with

      mean = sqrt(abar_{t-1}) beta_t / (1 - abar_t) * X0_hat  +  sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) * X_t
      var  = beta_t (1 - abar_{t-1}) / (1 - abar_t)

  and needs all N steps.
* **DDIM** (eta = 0) jumps deterministically from t to any earlier s, keeping the implied noise:

      X_s = sqrt(abar_s) X0_hat + sqrt(1 - abar_s) eps_hat

  so 10 or 50 steps instead of 1000. With eta > 0 it puts back fresh noise at every step, of variance
  eta^2 times DDPM's posterior variance between t and s (eta = 1: DDPM's own amount), and keeps correspondingly
  less of eps_hat (chapter 06's exercise 06.2). **DPM-Solver++** is a second-order solver of the same ODE, better
  at very few steps. The schedules and steps come from ``diffusers`` (DDPMScheduler, DDIMScheduler,
  DPMSolverMultistepScheduler); :func:`q_sample`, :func:`ddpm_step_by_hand` and :func:`ddim_step_by_hand` write the
  formulas out so the tests and chapter 06 can check the library against them.

Classifier-free guidance over several conditions (VASA-1)
---------------------------------------------------------
Training drops each condition c at random (audio, gaze, distance, emotion with p = 0.1 each, the previous window's
context with 0.5, and the audio's tail at random), so one network learns H(X_t, t, C) and every
H(X_t, t, C | c = empty). At sampling,

    X0_hat = (1 + sum_c l_c) H(X_t, t, C)  -  sum_c l_c H(X_t, t, C | c = empty)

pushes the sample towards what each condition c adds, by its own scale l_c (VASA-1: audio 0.5, gaze 1.0).
"""
from __future__ import annotations

from typing import Callable

import torch

from .config import CONDITIONS, SAMPLERS, MotionConfig
from .model import Conditioning


# ---------------------------------------------------------------------------------------------------------------
# schedulers (diffusers)
# ---------------------------------------------------------------------------------------------------------------
def make_scheduler(config: MotionConfig, sampler: str = "ddpm"):
    """A fresh diffusers scheduler for ``config``'s noise schedule; X_0 prediction, no clipping.

    ``ddpm`` is also the training scheduler (its ``add_noise`` is q(X_t | X_0)). The few-step samplers use
    "trailing" timestep spacing, so their first step starts from pure noise at t = N - 1.
    """
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    common = dict(num_train_timesteps=config.timesteps, beta_schedule=config.beta_schedule, prediction_type="sample")
    if sampler == "ddpm":
        return DDPMScheduler(**common, clip_sample=False, variance_type="fixed_small", timestep_spacing="trailing")
    if sampler == "ddim":
        return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=True, timestep_spacing="trailing")
    if sampler == "dpm++":
        return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2,
                                           timestep_spacing="trailing", final_sigmas_type="zero")
    raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")


# ---------------------------------------------------------------------------------------------------------------
# the formulas, by hand
# ---------------------------------------------------------------------------------------------------------------
def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] shaped to broadcast against ``like`` (B, ...)."""
    v = values.to(like.device, like.dtype)[t.long()]
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """X_t = sqrt(abar_t) X_0 + sqrt(1 - abar_t) eps."""
    abar = _at(alphas_cumprod, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def ddim_step_by_hand(x_t: torch.Tensor, x0_hat: torch.Tensor, t: int, t_prev: int,
                      alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """One DDIM step (eta = 0) from t to t_prev (t_prev < 0 means "to the clean sample", abar = 1):

        eps_hat = (X_t - sqrt(abar_t) X0_hat) / sqrt(1 - abar_t)
        X_prev  = sqrt(abar_prev) X0_hat + sqrt(1 - abar_prev) eps_hat
    """
    abar_t = alphas_cumprod[t]
    abar_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.tensor(1.0)
    eps_hat = (x_t - abar_t.sqrt() * x0_hat) / (1 - abar_t).sqrt()
    return abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * eps_hat


def ddpm_step_by_hand(x_t: torch.Tensor, x0_hat: torch.Tensor, t: int, alphas_cumprod: torch.Tensor,
                      noise: torch.Tensor) -> torch.Tensor:
    """One DDPM step t -> t-1: a draw from q(X_{t-1} | X_t, X_0 = X0_hat) (see the module docstring)."""
    abar_t = alphas_cumprod[t]
    abar_prev = alphas_cumprod[t - 1] if t > 0 else torch.tensor(1.0)
    beta_t = 1 - abar_t / abar_prev
    mean = (abar_prev.sqrt() * beta_t / (1 - abar_t)) * x0_hat \
        + ((1 - beta_t).sqrt() * (1 - abar_prev) / (1 - abar_t)) * x_t
    var = beta_t * (1 - abar_prev) / (1 - abar_t)
    return mean + (var.clamp_min(1e-20).sqrt() * noise if t > 0 else 0.0)


# ---------------------------------------------------------------------------------------------------------------
# condition dropout (training) and guidance (sampling)
# ---------------------------------------------------------------------------------------------------------------
def drop_conditions(cond: Conditioning, config: MotionConfig, generator: torch.Generator | None = None) -> Conditioning:
    """Classifier-free guidance training: each condition dropped with ``p_drop``, the previous window's context
    (motion and audio) with ``p_drop_context``, and with ``p_cut_audio_tail`` the audio stops at a random frame of
    the window (so audio that ends mid-window, and streaming, are in-distribution). The context's audio alone is
    also dropped with ``p_drop``: continuing from motion whose audio is unknown (``first_motion``) is then normal."""
    B, W = cond.audio_keep.shape
    dev = cond.audio_keep.device

    def coin(p: float, *shape) -> torch.Tensor:
        return torch.rand(*(shape or (B,)), generator=generator).to(dev) < p

    keep = dict(
        context_keep=cond.context_keep & ~coin(config.p_drop_context),
        context_audio_keep=cond.context_audio_keep & ~coin(config.p_drop)[:, None],   # motion given, its audio not
        gaze_keep=cond.gaze_keep & ~coin(config.p_drop),
        distance_keep=cond.distance_keep & ~coin(config.p_drop),
        emotion_keep=cond.emotion_keep & ~coin(config.p_drop),
    )
    audio_keep = cond.audio_keep & ~coin(config.p_drop)[:, None]
    cut_at = torch.randint(1, max(W, 2), (B,), generator=generator).to(dev)            # the audio's last frame + 1
    cut = coin(config.p_cut_audio_tail)[:, None] & (torch.arange(W, device=dev)[None] >= cut_at[:, None])
    keep["audio_keep"] = audio_keep & ~cut
    return Conditioning(**{**cond.__dict__, **keep})


def noise_context(cond: Conditioning, sigma_max: float, generator: torch.Generator | None = None) -> Conditioning:
    """Training only: the previous window's motion as the sampler will give it, not as the data has it.

    At sampling the context is the model's own last frames, which carry its errors; a model that only ever saw the
    data's clean context takes them as fact and builds on them, window after window (the head's lean that chapter
    08's drift control holds back). So each window's context is moved by sigma * (offset + jitter) / sqrt(2):
    one offset for all K frames (a state the model drifted to) and a jitter per frame, both N(0, I) in the
    normalised units, with sigma drawn per window from U(0, ``sigma_max``). The target stays the clean X_0, so the
    network learns to continue from where the data would have been (VASA-1 trains on clean context; ours)."""
    B, K, M = cond.context.shape
    dev = cond.context.device
    sigma = torch.rand(B, 1, 1, generator=generator).to(dev) * sigma_max
    offset = torch.randn(B, 1, M, generator=generator).to(dev)
    jitter = torch.randn(B, K, M, generator=generator).to(dev)
    return Conditioning(**{**cond.__dict__, "context": cond.context + sigma * (offset + jitter) / 2 ** 0.5})


def guided_x0(model: Callable, x_t: torch.Tensor, t: torch.Tensor, cond: Conditioning,
              scales: dict[str, float]) -> torch.Tensor:
    """X0_hat = (1 + sum_c l_c) H(X_t, t, C) - sum_c l_c H(X_t, t, C | c = empty), in one batched forward pass.

    A condition that is absent already (all its keep flags False) or has scale 0 adds nothing and costs nothing:
    then H(C) = H(C | c = empty) and its two terms cancel.
    """
    unknown = set(scales) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown guidance condition(s) {sorted(unknown)}; choose from {', '.join(CONDITIONS)}")
    active = [(c, float(l)) for c, l in scales.items() if l != 0 and cond.has(c)]
    n = 1 + len(active)
    if n == 1:
        return model(x_t, t, cond)
    batch = Conditioning.cat([cond] + [cond.without(c) for c, _ in active])
    out = model(x_t.repeat(n, 1, 1), t.repeat(n), batch).chunk(n)   # n x (B, W, M)
    total = sum(l for _, l in active)
    x0 = (1 + total) * out[0]
    for (_, l), uncond in zip(active, out[1:]):
        x0 = x0 - l * uncond
    return x0


def join_to(x0: torch.Tensor, last: torch.Tensor, frames: float) -> torch.Tensor:
    """Tie a window's X0_hat (B, W, M) to the frame drawn before it, in the first P numbers that ``last`` (B, P) gives.

    The window's first frame is moved to step from ``last`` by as much as the window's own first step
    (x0[:, 1] - x0[:, 0]), and the move fades over the next frames as exp(-j / ``frames``): the join is as smooth
    as the motion inside the window. The other M - P numbers are left as drawn.

    Why: the network is conditioned on the frames before the window but does not continue from them exactly; where
    its first frame lands is mostly its starting noise's doing (``benchmarks/bench_first_step.py``: the head's
    step into the first drawn frame was about 1.6x a step inside a window). Applied to every sampler step's X0_hat,
    the later steps draw the window's detail around the joined start rather than around the jump."""
    P = last.shape[-1]
    d = x0[:, 0, :P] - last - (x0[:, 1, :P] - x0[:, 0, :P])          # (B, P): how far the first frame is off
    fade = torch.exp(-torch.arange(x0.shape[1], dtype=x0.dtype, device=x0.device) / frames)
    out = x0.clone()
    out[..., :P] = x0[..., :P] - fade[None, :, None] * d[:, None, :]
    return out


def check_eta(eta, sampler: str) -> None:
    """One sentence for an ``eta`` that cannot be used: a number from 0 to 1, and only with DDIM."""
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be a number from 0 (deterministic DDIM) to 1 (DDPM's noise), got {eta!r}")
    if eta and sampler != "ddim":
        raise ValueError(f"eta is DDIM's fresh noise per step; the {sampler} sampler takes none (got eta {eta})")


@torch.no_grad()
def sample_window(model: Callable, cond: Conditioning, config: MotionConfig, steps: int = 10, sampler: str = "ddim",
                  scales: dict[str, float] | None = None, generator: torch.Generator | None = None,
                  join_last: torch.Tensor | None = None, join_frames: float | None = None,
                  eta: float = 0.0) -> torch.Tensor:
    """Draw one window of normalised motion X_0, (B, W, M), by ``steps`` sampler steps from pure noise.

    ``eta``: DDIM's fresh noise per step (0: deterministic given the starting noise; 1: DDPM's amount), drawn from
    ``generator``; DDIM only.
    ``join_last`` (B, P), the frame before the window (its first P numbers), and ``join_frames`` tie every step's
    X0_hat to it (:func:`join_to`); None for either leaves the window as the network draws it."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps!r}")
    if steps > config.timesteps:
        raise ValueError(f"steps must be at most the {config.timesteps} diffusion steps, got {steps}")
    check_eta(eta, sampler)
    scheduler = make_scheduler(config, sampler)
    scheduler.set_timesteps(steps)
    B = len(cond)
    device = cond.audio.device
    x = torch.randn(B, config.window, config.motion_dim, generator=generator).to(device) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        tt = torch.full((B,), int(t), dtype=torch.long, device=device)
        x0 = guided_x0(model, scheduler.scale_model_input(x, t), tt, cond, scales or {})
        if join_last is not None and join_frames:
            x0 = join_to(x0, join_last.to(x0), join_frames)
        extra = {"generator": generator} if sampler == "ddpm" else {}
        if sampler == "ddim" and eta:
            extra = dict(eta=float(eta), variance_noise=torch.randn(x.shape, generator=generator).to(x))
        x = scheduler.step(x0, t, x, **extra).prev_sample
    return x
