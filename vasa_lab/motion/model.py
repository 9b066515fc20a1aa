"""The motion diffusion transformer H(X_t, t, C) of VASA-1: audio + conditions -> the clean motion X_0.

VASA-1 generates a talking face's whole motion, head pose and facial dynamics together, as one sequence of latent
codes ``X = [z_pose, z_dyn]`` per frame (25 fps), with a diffusion model whose denoiser is a transformer encoder.
For one window of W frames it sees

* ``X_t``   the noisy motion of the window, (W, M), at diffusion step t;
* ``X_pre, A_pre``  the motion and audio of the previous window's last K frames, (K, M) and (K, A): what makes the
  sliding windows join without a jump;
* ``A``     this window's audio features, (W, A), one row per frame;
* ``g, d, e``  the main eye-gaze direction (two angles), the head-to-camera distance, the emotion (scores);

and predicts the clean motion ``X_0`` (not the noise), trained with an L2 loss.

How the inputs become tokens (our choice; VASA-1 does not spell it out)
----------------------------------------------------------------------
* **One token per frame**, K + W of them: the K context frames, then the W frames being denoised. A frame's token
  is the sum of its motion embedding (clean X_pre for context frames, noisy X_t for the window: two different
  linear maps, since they mean different things), its audio embedding, and a learned position embedding.
  Audio and motion of one frame share a token because they are *aligned*: frame i's mouth is driven by the sound
  around frame i, and attention is then free to look at the sound around it.
* **The diffusion step t is added to every token** (a sinusoidal embedding through an MLP): how noisy the input
  is changes the meaning of every frame token, so every token should know it from the first layer on.
* **The conditions g, d, e are three extra tokens** in front of the sequence. A condition is *optional*: when it is
  dropped (classifier-free guidance, or a user who gives no gaze) its token becomes a learned "null" token, and
  attention decides how much each frame listens to it. A dropped audio frame or a dropped context frame likewise
  gets a learned null embedding instead of its features: "no information" is a value the network learns, never
  an accidental zero that looks like silence.

The sequence, K + W + 3 tokens of width D, runs through a standard pre-norm transformer encoder (full attention:
every frame sees all others), and a linear head reads X_0 from the W window tokens.

**Anchored to the context** (``anchor_to_context``, our addition): where the previous frames are given, the head's
output is added to the last of them, X0_hat = X_pre[-1] + head(...). The network then says how the motion *goes on*
from where the last window ended, and "no jump at the join" is the easy answer instead of something a small
network must learn to copy through attention. (Measured on the tiny world while building this: without it, the
tiny model's step across a join was 1.8 times its step inside a window; with it 1.2, and about 0.9 once the training
loss also weighs the step into the window, ``w_join`` in ``module.py``.)

All motion inside the network is **normalised** by the training set's per-dimension mean and standard deviation
(buffers ``motion_mean``/``motion_std``, saved with the weights), so degrees of yaw and units of z_dyn weigh alike
and the diffusion noise N(0, I) has the data's scale. Audio features are normalised the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from .config import MotionConfig

GAZE_UNIT = 15.0        # degrees: the gaze condition enters the network as angle / 15
DISTANCE_UNIT = 0.1     # the distance condition enters as (d - 1) / 0.1 (d = 1 is the average distance)


@dataclass
class Conditioning:
    """Everything H is conditioned on besides X_t and t, for a batch of B windows.

    ``*_keep`` flags say which parts are present; a part that is not kept is replaced by a learned null embedding
    inside the network (that is how a condition is "dropped" for classifier-free guidance).
    """

    context: torch.Tensor             # (B, K, M) X_pre: previous window's last K frames, normalised motion
    context_keep: torch.Tensor        # (B,) bool
    context_audio: torch.Tensor       # (B, K, A) A_pre: their audio features (raw)
    context_audio_keep: torch.Tensor  # (B, K) bool
    audio: torch.Tensor               # (B, W, A) A: this window's audio features (raw)
    audio_keep: torch.Tensor          # (B, W) bool: False where dropped or past the end of the audio
    gaze: torch.Tensor                # (B, 2) g: main gaze yaw, pitch in degrees
    gaze_keep: torch.Tensor           # (B,) bool
    distance: torch.Tensor            # (B,) d: head-to-camera distance (1 = average)
    distance_keep: torch.Tensor       # (B,) bool
    emotion: torch.Tensor             # (B, E) e: emotion scores (one-hot for a named emotion)
    emotion_keep: torch.Tensor        # (B,) bool

    def __len__(self) -> int:
        return int(self.audio.shape[0])

    def has(self, name: str) -> bool:
        """Whether condition ``name`` (audio, gaze, distance, emotion) is present for any item."""
        return bool(getattr(self, f"{name}_keep").any())

    def without(self, name: str) -> "Conditioning":
        """The same conditioning with condition ``name`` empty: C | c = (empty set)."""
        keep = getattr(self, f"{name}_keep")
        return replace(self, **{f"{name}_keep": torch.zeros_like(keep)})

    def to(self, device) -> "Conditioning":
        return Conditioning(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def cat(items: list["Conditioning"]) -> "Conditioning":
        """Stack several conditionings along the batch (one forward pass for all guidance terms)."""
        return Conditioning(**{f.name: torch.cat([getattr(c, f.name) for c in items]) for f in fields(Conditioning)})


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer diffusion steps, (B,) -> (B, dim), as in the transformer's positions:
    emb[2i] = sin(t / P^(2i/dim)), emb[2i+1] = cos(t / P^(2i/dim))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]                        # (B, half)
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # (B, 2 * half)
    return nn.functional.pad(emb, (0, dim - 2 * half))


class MotionDiT(nn.Module):
    """H(X_t, t, C) -> X_0: the denoising transformer (see the module docstring for the token layout)."""

    def __init__(self, config: MotionConfig):
        super().__init__()
        config.check()
        self.config = config
        D, M, A = config.width, config.motion_dim, config.audio_dim
        self.K, self.W = config.context, config.window

        # normalisation statistics, set from the training data before training (saved with the weights)
        self.register_buffer("motion_mean", torch.zeros(M))
        self.register_buffer("motion_std", torch.ones(M))
        self.register_buffer("audio_mean", torch.zeros(A))
        self.register_buffer("audio_std", torch.ones(A))

        # frame tokens
        self.noisy_in = nn.Linear(M, D)       # X_t of the window
        self.context_in = nn.Linear(M, D)     # X_pre, the clean previous frames
        self.audio_in = nn.Sequential(nn.Linear(A, D), nn.GELU(), nn.Linear(D, D))
        self.null_context = nn.Parameter(torch.zeros(D))   # a dropped context frame
        self.null_audio = nn.Parameter(torch.zeros(D))     # a dropped (or missing) audio frame
        self.position = nn.Parameter(torch.randn(self.K + self.W, D) * 0.02)

        # the diffusion step, added to every token
        self.time_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))

        # condition tokens g, d, e; a learned null token for each; a type embedding tells them apart
        self.gaze_in = nn.Linear(2, D)
        self.distance_in = nn.Linear(1, D)
        self.emotion_in = nn.Linear(config.n_emotions, D)
        self.null_condition = nn.Parameter(torch.zeros(3, D))
        self.condition_type = nn.Parameter(torch.randn(3, D) * 0.02)

        layer = nn.TransformerEncoderLayer(D, config.heads, config.ff_mult * D, config.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D)
        self.head = nn.Linear(D, M)

    # -- normalisation ---------------------------------------------------------------------------------------------
    def normalize_motion(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.motion_mean) / self.motion_std

    def denormalize_motion(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.motion_std + self.motion_mean

    def set_statistics(self, motion: torch.Tensor, audio: torch.Tensor) -> None:
        """Per-dimension mean and std of training motion (N, M) and audio features (N, A); tiny stds floored."""
        for name, x in (("motion", motion), ("audio", audio)):
            x = torch.as_tensor(x, dtype=torch.float32)
            getattr(self, f"{name}_mean").copy_(x.mean(0))
            getattr(self, f"{name}_std").copy_(x.std(0).clamp_min(1e-3))

    # -- the network -----------------------------------------------------------------------------------------------
    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """x_t (B, W, M) normalised noisy motion, t (B,) integer steps -> X_0 estimate (B, W, M), normalised."""
        B = x_t.shape[0]
        if x_t.shape[1:] != (self.W, self.config.motion_dim):
            raise ValueError(f"x_t must be (B, {self.W}, {self.config.motion_dim}), got {tuple(x_t.shape)}")
        if t.dim() == 0:
            t = t.expand(B)

        def keep(mask: torch.Tensor, value: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
            return torch.where(mask[..., None], value, null)

        # frame tokens: motion + audio (+ position, + step)                                     each (B, ., D)
        ctx = keep(cond.context_keep[:, None].expand(B, self.K), self.context_in(cond.context), self.null_context)
        ctx_audio = self.audio_in((cond.context_audio - self.audio_mean) / self.audio_std)
        ctx_audio = keep(cond.context_audio_keep & cond.context_keep[:, None], ctx_audio, self.null_audio)
        cur_audio = keep(cond.audio_keep, self.audio_in((cond.audio - self.audio_mean) / self.audio_std),
                         self.null_audio)
        frames = torch.cat([ctx + ctx_audio, self.noisy_in(x_t) + cur_audio], dim=1)   # (B, K + W, D)
        step = self.time_mlp(timestep_embedding(t, self.config.width))                 # (B, D)
        frames = frames + self.position + step[:, None]

        # condition tokens g, d, e                                                               (B, 3, D)
        g = keep(cond.gaze_keep, self.gaze_in(cond.gaze / GAZE_UNIT), self.null_condition[0])
        d = keep(cond.distance_keep, self.distance_in((cond.distance[:, None] - 1.0) / DISTANCE_UNIT),
                 self.null_condition[1])
        e = keep(cond.emotion_keep, self.emotion_in(cond.emotion), self.null_condition[2])
        conditions = torch.stack([g, d, e], dim=1) + self.condition_type + step[:, None]

        h = self.encoder(torch.cat([conditions, frames], dim=1))                         # (B, 3 + K + W, D)
        out = self.head(self.norm(h[:, 3 + self.K:]))                                    # (B, W, M)
        if self.config.anchor_to_context:   # X_0 as an offset from the last context frame, where there is one
            out = out + cond.context[:, -1:] * cond.context_keep[:, None, None].to(out.dtype)
        return out

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
