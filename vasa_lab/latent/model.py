"""The face latent space as networks: encoders, a 3D warp, and a decoder (MegaPortraits-style, as VASA-1 uses).

A face image is factored into four parts:

* ``V_app`` - a 3D **appearance volume** (C channels x D depth x H x W), features of the face in 3D;
* ``z_id`` - an **identity** code (a global descriptor of the person, the e_s of MegaPortraits);
* ``z_pose`` - the **head pose**: yaw, pitch, roll (degrees), tx, ty (head units) and scale, in the same units as
  the tracker and the synthetic world (:mod:`vasa_lab.world.state`), so it can be supervised and read directly;
* ``z_dyn`` - the **facial dynamics**: a short code for everything else that moves (mouth, eyes, brows).

For a source frame x_s and a driver frame x_d (the one we want to draw) the networks compute::

    V_s, z_id        = E_app(x_s)                               appearance in the source's pose
    z_pose, z_dyn    = E_mot(x)                                 for x = x_s and x = x_d
    V_c  = G3D( S(V_s, g_s) ),  g_s(p) = T_s(p + δ_s(p)),       δ_s = W_s→c(z_dyn_s, z_id)     -> canonical volume
    V_d  = S(V_c, g_d),         g_d(q) = u + δ_d(u),  u = T_d⁻¹(q),  δ_d = W_c→d(z_dyn_d, z_id) -> driver's volume
    x̂_d  = G2D( P(V_d) )                                        P stacks the depth axis into channels

``S(V, g)`` samples a volume at the points ``g`` (trilinear, ``F.grid_sample``: a *backward* warp, every output
voxel says where in the input its content comes from). ``T`` is the rigid head transform in grid units
(x right, y down, z away from the camera, [-1, 1] across the image)::

    T(p) = s (R (p - o) + o + k t),   T⁻¹(q) = Rᵀ (q / s - o - k t) + o,   R = Rz(roll) Rx(pitch) Ry(yaw)

with o = (0, PIVOT_Y, 0) the head's pivot and k = TRANSLATION_GAIN (see :mod:`vasa_lab.latent.config`).
So the source volume is *un-posed and un-expressed* into the canonical volume V_c, and V_c is *posed and
expressed* as the driver. ``V_c`` and ``z_id`` are what :meth:`FaceLatentModel.encode_appearance` returns: a
portrait is encoded once, and every later frame costs one warp and one decode (:meth:`FaceLatentModel.render`).

**One departure from MegaPortraits** (``image_skip``, on in ``tiny`` and ``small``): besides painting colours,
G2D may copy pixels from the portrait itself. The two 3D warps, composed, say for every driver voxel where it
sits in the portrait; G2D says which depth is visible at each pixel and paints a correction on top of the copied
colours (where copying cannot work: an opening mouth, a closing eyelid). At 64 px and a few minutes of CPU
training this is what makes the drawn face sharp enough to beat simply showing the source frame; at 512 px
with days of GPU training (``full``) the pure volume path of the paper is the default.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import PIVOT_Y, POSE_NAMES, TRANSLATION_GAIN, LatentConfig

# z_pose = POSE_MEAN + POSE_UNIT * (network output): a unit of network output is 10 degrees or 0.1 head units.
POSE_MEAN = (0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
POSE_UNIT = (10.0, 10.0, 10.0, 0.1, 0.1, 0.1)


# ---------------------------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------------------------
def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm: batch statistics play no part, so one portrait at inference behaves like a training batch."""
    return nn.GroupNorm(min(8, channels), channels)


class ConvBlock2d(nn.Sequential):
    """conv 3x3 (stride 1 or 2) -> norm -> ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), norm(c_out), nn.ReLU(inplace=True))


class ResBlock2d(nn.Module):
    """x + conv(ReLU(norm(conv(x))))."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), norm(c), nn.ReLU(inplace=True),
                                  nn.Conv2d(c, c, 3, 1, 1, bias=False), norm(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class ResBlock3d(nn.Module):
    """x + conv3d(ReLU(norm(x))): a pre-activation residual block with one 3D convolution, for volumes
    (B, C, D, H, W). One convolution, not two: 3D convolutions are the expensive part on a CPU."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(norm(c), nn.ReLU(), nn.Conv3d(c, c, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpBlock2d(nn.Sequential):
    """x2 nearest-neighbour upsampling -> conv block (no checkerboard artefacts of transposed convolutions)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvBlock2d(c_in, c_out))


# ---------------------------------------------------------------------------------------------------------------
# geometry: rotations, the rigid transform, grids and sampling
# ---------------------------------------------------------------------------------------------------------------
def rotation_matrix(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """R = Rz(roll) Rx(pitch) Ry(yaw) for angles in degrees, batched: (B,) x 3 -> (B, 3, 3).

    The synthetic world's convention (:func:`vasa_lab.geometry.rotation_matrix`), written for tensors so that
    gradients flow into the pose encoder.
    """
    y, p, r = (torch.deg2rad(a) for a in (yaw, pitch, roll))
    one, zero = torch.ones_like(y), torch.zeros_like(y)
    ry = torch.stack([torch.cos(y), zero, -torch.sin(y), zero, one, zero, torch.sin(y), zero, torch.cos(y)], -1)
    rx = torch.stack([one, zero, zero, zero, torch.cos(p), -torch.sin(p), zero, torch.sin(p), torch.cos(p)], -1)
    rz = torch.stack([torch.cos(r), -torch.sin(r), zero, torch.sin(r), torch.cos(r), zero, zero, zero, one], -1)
    return rz.view(-1, 3, 3) @ rx.view(-1, 3, 3) @ ry.view(-1, 3, 3)


def _pose_parts(pose: torch.Tensor):
    """pose (B, 6) -> R (B, 3, 3), the pivot o (3,), the translation k t (B, 1, 3), the scale s (B, 1, 1)."""
    r = rotation_matrix(pose[:, 0], pose[:, 1], pose[:, 2])
    o = pose.new_tensor([0.0, PIVOT_Y, 0.0])
    kt = TRANSLATION_GAIN * torch.stack([pose[:, 3], pose[:, 4], torch.zeros_like(pose[:, 3])], -1)[:, None]
    s = pose[:, 5].clamp(min=0.1)[:, None, None]
    return r, o, kt, s


def rigid(points: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """T(p) = s (R (p - o) + o + k t): canonical points -> posed points, (B, N, 3) -> (B, N, 3), grid units."""
    r, o, kt, s = _pose_parts(pose)
    return s * ((points - o) @ r.transpose(1, 2) + o + kt)


def rigid_inverse(points: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """T⁻¹(q) = Rᵀ (q / s - o - k t) + o: posed points -> canonical points, (B, N, 3) -> (B, N, 3)."""
    r, o, kt, s = _pose_parts(pose)
    return (points / s - o - kt) @ r + o


def base_grid(depth: int, height: int, width: int, device=None) -> torch.Tensor:
    """Voxel centres in grid_sample's units: (D, H, W, 3) holding (x, y, z), each in (-1, 1).

    With ``align_corners=False`` the volume spans [-1, 1] edge to edge, so voxel i of n sits at (2 i + 1) / n - 1.
    """
    axes = [(torch.arange(n, device=device, dtype=torch.float32) * 2 + 1) / n - 1 for n in (depth, height, width)]
    z, y, x = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def sample(volume: torch.Tensor, points: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """S(V, g): volume (B, C, D, H, W) read at points (B, D', H', W', 3) -> (B, C, D', H', W'), trilinear."""
    return F.grid_sample(volume, points, mode="bilinear", padding_mode=padding, align_corners=False)


# ---------------------------------------------------------------------------------------------------------------
# the encoders
# ---------------------------------------------------------------------------------------------------------------
class AppearanceEncoder(nn.Module):
    """E_app: image (B, 3, H, W) -> V_s (B, C, D, H/2^n, W/2^n) in the source's pose, and z_id (B, id_dim).

    Strided 2D convolutions halve the resolution n times (a residual block at the end); a 1x1 convolution makes
    C * D channels, which are read as C channels at D depths (the "lift to 3D" of face-vid2vid and MegaPortraits).
    z_id pools the last 2D features over the image: what this person looks like, wherever they are.
    """

    def __init__(self, cfg: LatentConfig):
        super().__init__()
        c = cfg.app_channels
        self.down = nn.Sequential(*[ConvBlock2d(a, b, stride=2) for a, b in zip((3,) + c[:-1], c)],
                                  ResBlock2d(c[-1]))
        self.to_volume = nn.Conv2d(c[-1], cfg.volume_channels * cfg.volume_depth, 1)
        self.to_id = nn.Linear(c[-1], cfg.id_dim)
        self.shape = cfg.volume_shape

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.down(x)                                       # (B, c, h, w)
        c, d = self.shape[:2]
        volume = self.to_volume(h).unflatten(1, (c, d))        # (B, C * D, h, w) -> (B, C, D, h, w)
        z_id = self.to_id(h.mean(dim=(2, 3)))                  # (B, id_dim)
        return volume, z_id


def motion_cnn(cfg: LatentConfig, n_out: int) -> nn.Sequential:
    """Strided convolutions on a ``motion_size`` frame, flattened (keeping *where* things are: pose and gaze are
    positions, so global pooling would throw them away), then an MLP to ``n_out`` numbers."""
    c = cfg.motion_channels
    side = cfg.motion_size // 2 ** len(c)
    return nn.Sequential(*[ConvBlock2d(a, b, stride=2) for a, b in zip((3,) + c[:-1], c)], nn.Flatten(),
                         nn.Linear(c[-1] * side * side, 256), nn.ReLU(inplace=True), nn.Linear(256, n_out))


class MotionEncoder(nn.Module):
    """E_mot: image (B, 3, H, W) -> z_pose (B, 6) in world units, z_dyn (B, dyn_dim).

    Two CNNs of the same shape, one per code. The pose branch is supervised by the tracker's pose; sharing its
    features with the dynamics branch filled z_dyn with head pose (what the supervised features are best at) and
    left the mouth out, so the two do not share weights. z_pose = POSE_MEAN + POSE_UNIT * output.
    """

    def __init__(self, cfg: LatentConfig):
        super().__init__()
        self.size = cfg.motion_size
        self.pose_net = motion_cnn(cfg, len(POSE_NAMES))
        self.dyn_net = motion_cnn(cfg, cfg.dyn_dim)
        self.register_buffer("pose_mean", torch.tensor(POSE_MEAN), persistent=False)
        self.register_buffer("pose_unit", torch.tensor(POSE_UNIT), persistent=False)

    def seen(self, x: torch.Tensor) -> torch.Tensor:
        """The image at the size the CNNs see."""
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return x

    def pose(self, x: torch.Tensor) -> torch.Tensor:
        """z_pose alone (B, 6): degrees, head units, scale."""
        return self.pose_mean + self.pose_unit * self.pose_net(self.seen(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.seen(x)
        return self.pose(x), self.dyn_net(x)                         # (B, 6), (B, dyn_dim)


# ---------------------------------------------------------------------------------------------------------------
# the warp generators, the canonical 3D network and the decoder
# ---------------------------------------------------------------------------------------------------------------
class WarpGenerator(nn.Module):
    """W: (z_dyn, z_id) -> δ (B, 3, D, H, W), a smooth non-rigid 3D displacement in grid units, |δ| <= max_flow.

    A linear layer makes a (c, 2, 4, 4) seed, 3D convolutions upsample it ``flow_upsamples`` times, and a final
    trilinear resize brings it to the volume's size. The last convolution starts at zero, so an untrained
    generator is the identity warp and training starts from the rigid model.
    """

    def __init__(self, cfg: LatentConfig):
        super().__init__()
        c = cfg.flow_channels
        self.fc = nn.Linear(cfg.dyn_dim + cfg.id_dim, c * 2 * 4 * 4)
        self.c = c
        self.ups = nn.Sequential(*[nn.Sequential(nn.Upsample(scale_factor=2, mode="trilinear"),
                                                 nn.Conv3d(c, c, 3, 1, 1, bias=False), norm(c), nn.ReLU(inplace=True))
                                   for _ in range(cfg.flow_upsamples)])
        self.out = nn.Conv3d(c, 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.max_flow = cfg.max_flow
        self.size = cfg.volume_shape[1:]

    def forward(self, z_dyn: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        seed = F.relu(self.fc(torch.cat([z_dyn, z_id], dim=1))).view(-1, self.c, 2, 4, 4)
        delta = self.max_flow * torch.tanh(self.out(self.ups(seed)))                  # (B, 3, d, h, w)
        return F.interpolate(delta, size=self.size, mode="trilinear", align_corners=False)  # (B, 3, D, H, W)


class Decoder(nn.Module):
    """G2D: the driver's volume (B, C, D, h, w) -> image (B, 3, H, W); with ``image_skip`` a correction (B, 3, H, W)
    to the copied source pixels instead, plus depth logits (B, D, h, w) that say which depth is visible.

    P: the depth axis is stacked into channels (B, C * D, h, w) and a 1x1 convolution mixes them (this is where
    the network learns occlusion: what is in front). 2D convolutions upsample; the last step predicts 2 x 2
    pixels per position (``pixel_shuffle``), which spares a convolution at full size. With ``dyn_to_decoder`` the
    driver's z_dyn is also handed to G2D directly (broadcast as extra input planes): painting an open mouth from the
    code is learned much faster than warping one into the volume.
    """

    def __init__(self, cfg: LatentConfig):
        super().__init__()
        c = cfg.dec_channels
        if len(c) != len(cfg.app_channels):
            raise ValueError(f"dec_channels needs {len(cfg.app_channels)} entries (one per x2 upsampling), got {len(c)}")
        self.image_skip = cfg.image_skip
        self.dyn_channels = cfg.dyn_dim if cfg.dyn_to_decoder else 0
        self.project = nn.Sequential(nn.Conv2d(cfg.volume_channels * cfg.volume_depth + self.dyn_channels, c[0], 1),
                                     norm(c[0]), nn.ReLU(inplace=True), ResBlock2d(c[0]))
        self.ups = nn.Sequential(*[UpBlock2d(a, b) for a, b in zip(c[:-1], c[1:])])
        self.out = nn.Conv2d(c[-1], 3 * 4, 3, 1, 1)
        # the copy gate (config.gate_steps > 0): how much of each output pixel the copied source may give, in (0, 1);
        # 0 where copying is wrong (the inside of an open mouth), so G2D paints the whole colour there. It starts
        # near 1 (sigmoid(3) = 0.95): the model it continues copies everywhere
        self.gate = nn.Conv2d(c[-1], 4, 3, 1, 1) if cfg.image_skip and cfg.gate_steps > 0 else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, 3.0)
        if cfg.image_skip:
            self.depth = nn.Conv2d(c[0], cfg.volume_depth, 1)     # which depth is visible at each position
            nn.init.zeros_(self.out.weight)                       # the correction starts at zero: copy the source
            nn.init.zeros_(self.out.bias)

    def forward(self, volume: torch.Tensor, z_dyn: torch.Tensor | None = None):
        planes = volume.flatten(1, 2)                          # P: (B, C * D, h, w)
        if self.dyn_channels:                                  # z_dyn, broadcast over the image, as extra planes
            planes = torch.cat([planes, z_dyn[:, :, None, None].expand(-1, -1, *planes.shape[-2:])], dim=1)
        h = self.project(planes)                               # (B, c0, h, w)
        up = self.ups(h)
        out = F.pixel_shuffle(self.out(up), 2)                 # (B, 12, H/2, W/2) -> (B, 3, H, W)
        if not self.image_skip:
            return torch.sigmoid(out), None, None
        gate = torch.sigmoid(F.pixel_shuffle(self.gate(up), 2)) if self.gate is not None else None   # (B, 1, H, W)
        return torch.tanh(out), self.depth(h), gate           # a correction in (-1, 1), depth logits, the gate


# ---------------------------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Appearance:
    """An encoded portrait: what stays fixed while the face moves."""

    volume: torch.Tensor        # (B, C, D, h, w) the canonical appearance volume V_app
    z_id: torch.Tensor          # (B, id_dim)
    image: torch.Tensor         # (B, 3, H, W) the portrait itself (for the source-pixel path)
    source_grid: torch.Tensor   # (B, D, h, w, 3) g_s: where each canonical voxel sits in the portrait
    # (B, 1, H, W) where in the portrait the copy gate may close (its lips and eyes, from landmarks); None: anywhere
    gate_region: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.volume.shape[0]

    def _map(self, fn) -> "Appearance":
        region = None if self.gate_region is None else fn(self.gate_region)
        return Appearance(*(fn(t) for t in self.tensors()), gate_region=region)

    def expand(self, n: int) -> "Appearance":
        """Repeat a single portrait n times (one photo x n motions)."""
        if len(self) == n:
            return self
        if len(self) != 1:
            raise ValueError(f"cannot render {n} motions from {len(self)} portraits: give 1 portrait or {n}")
        return self._map(lambda t: t.expand(n, *t.shape[1:]))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.volume, self.z_id, self.image, self.source_grid)

    def to(self, device) -> "Appearance":
        return self._map(lambda t: t.to(device))

    def __getitem__(self, index) -> "Appearance":
        return self._map(lambda t: t[index])


@dataclass
class Rendered:
    """Everything one render computes, for looking at (the notebook draws the warp and the mask)."""

    image: torch.Tensor                  # (B, 3, H, W) the output
    painted: torch.Tensor                # (B, 3, H, W) G2D's output: the image, or the correction to the copy
    copied: torch.Tensor | None          # (B, 3, H, W) the source's pixels read along the flow
    flow: torch.Tensor | None            # (B, H, W, 2) where each output pixel reads the source image
    driver_grid: torch.Tensor            # (B, D, h, w, 3) g_d: where each driver voxel reads V_app
    gate: torch.Tensor | None = None     # (B, 1, H, W) how much of the copy each pixel keeps (None: all of it)


class FaceLatentModel(nn.Module):
    """The whole face latent space: E_app, E_mot, W_s→c, W_c→d, G3D and G2D (see the module docstring)."""

    def __init__(self, config: LatentConfig | None = None):
        super().__init__()
        cfg = config or LatentConfig()
        cfg.check()
        self.config = cfg
        self.appearance_encoder = AppearanceEncoder(cfg)
        self.motion_encoder = MotionEncoder(cfg)
        self.warp_to_canonical = WarpGenerator(cfg)   # W_s→c
        self.warp_to_driver = WarpGenerator(cfg)      # W_c→d
        self.canonical_3d = nn.Sequential(*[ResBlock3d(cfg.volume_channels) for _ in range(cfg.g3d_blocks)])  # G3D
        self.decoder = Decoder(cfg)                   # G2D
        self.register_buffer("grid", base_grid(*cfg.volume_shape[1:]), persistent=False)  # (D, H, W, 3)

    # -- the three calls of the inference API --------------------------------------------------------------------
    def encode_motion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, 3, H, W) in [0, 1] -> z_pose (B, 6), z_dyn (B, dyn_dim)."""
        return self.motion_encoder(x)

    def encode_appearance(self, x: torch.Tensor, motion: tuple[torch.Tensor, torch.Tensor] | None = None
                          ) -> Appearance:
        """portrait(s) (B, 3, H, W) -> Appearance: un-pose and un-express the source's volume.

        V_c = G3D(S(V_s, g_s)),  g_s(p) = T_s(p + δ_s(p)),  δ_s = W_s→c(z_dyn_s, z_id).
        ``motion`` is the portrait's own (z_pose, z_dyn) if already computed.
        """
        volume_s, z_id = self.appearance_encoder(x)                        # (B, C, D, h, w), (B, id)
        z_pose, z_dyn = motion if motion is not None else self.encode_motion(x)
        g_s = self.to_source_grid(z_pose, z_dyn, z_id)                     # (B, D, h, w, 3)
        return Appearance(self.canonical_3d(sample(volume_s, g_s)), z_id, x, g_s)

    def render(self, app: Appearance, z_pose: torch.Tensor, z_dyn: torch.Tensor) -> torch.Tensor:
        """Appearance + motion (B, 6), (B, dyn_dim) -> frames (B, 3, H, W). A single portrait is broadcast."""
        return self.render_parts(app, z_pose, z_dyn).image

    # -- the pieces ----------------------------------------------------------------------------------------------
    def to_source_grid(self, z_pose: torch.Tensor, z_dyn: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        """g_s(p) = T_s(p + δ_s(p)) for every canonical voxel p: (B, D, h, w, 3)."""
        delta = self.warp_to_canonical(z_dyn, z_id).permute(0, 2, 3, 4, 1)   # (B, D, h, w, 3)
        points = (self.grid + delta).flatten(1, 3)                            # (B, N, 3)
        return rigid(points, z_pose).view_as(delta)

    def to_canonical_grid(self, z_pose: torch.Tensor, z_dyn: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        """g_d(q) = u + δ_d(u), u = T_d⁻¹(q), for every driver voxel q: (B, D, h, w, 3)."""
        b = z_pose.shape[0]
        u = rigid_inverse(self.grid.expand(b, *self.grid.shape).flatten(1, 3), z_pose)   # (B, N, 3)
        u = u.view(b, *self.grid.shape)                                                 # (B, D, h, w, 3)
        delta = self.warp_to_driver(z_dyn, z_id)                                        # (B, 3, D, h, w)
        return u + sample(delta, u, padding="border").permute(0, 2, 3, 4, 1)

    def render_parts(self, app: Appearance, z_pose: torch.Tensor, z_dyn: torch.Tensor) -> Rendered:
        """V_d = S(V_c, g_d), then G2D; with ``image_skip`` also the source-pixel path:

            flow(x, y) = Σ_z w_z(x, y) · g_s(g_d(x, y, z))_xy        w = softmax over depth of G2D's logits
            x̂ = S2(x_s, flow) + Δ                                     Δ = G2D's correction, in (-1, 1)

        i.e. each output pixel follows the 3D warp back to the portrait, at the depth the decoder says is visible,
        and copies its colour; G2D paints only what copying cannot give (an opening mouth, a closing eyelid).
        With a copy gate (``gate_steps`` > 0) x̂ = γ · S2(x_s, flow) + Δ, γ in (0, 1) from G2D as well: where γ is
        near 0 (the inside of an open mouth) nothing is copied and Δ is the whole colour. An appearance with a
        ``gate_region`` (:func:`vasa_lab.latent.api.copy_gate_region`) lets the gate close only where the flow reads
        from that region of the portrait.
        """
        app = app.expand(z_pose.shape[0])
        g_d = self.to_canonical_grid(z_pose, z_dyn, app.z_id)              # (B, D, h, w, 3)
        painted, depth_logits, gate = self.decoder(sample(app.volume, g_d), z_dyn)
        if depth_logits is None:
            return Rendered(painted, painted, None, None, g_d)
        source_points = sample(app.source_grid.permute(0, 4, 1, 2, 3), g_d, padding="border")  # (B, 3, D, h, w)
        w = torch.softmax(depth_logits, dim=1)                                                # (B, D, h, w)
        flow = (w[:, None] * source_points[:, :2]).sum(2)                                     # (B, 2, h, w)
        flow = F.interpolate(flow, size=painted.shape[-2:], mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
        copied = F.grid_sample(app.image, flow, mode="bilinear", padding_mode="border", align_corners=False)
        if gate is not None and app.gate_region is not None:
            # the gate may close only where the flow reads the portrait's lips or eyes: trained on the synthetic
            # world alone, G2D can mistake a crease of a real face for a mouth and paint it dark
            # (outside it a pixel G2D wanted to paint over is copied, its correction scaled down by the gate)
            allowed = F.grid_sample(app.gate_region, flow, mode="bilinear", padding_mode="zeros", align_corners=False)
            painted = painted * (allowed + (1 - allowed) * gate)
            gate = 1 - allowed * (1 - gate)
        kept = copied if gate is None else gate * copied
        return Rendered((kept + painted).clamp(0, 1), painted, copied, flow, g_d, gate)

    def forward(self, source: torch.Tensor, driver: torch.Tensor) -> torch.Tensor:
        """Self-reenactment: draw the source person with the driver's motion, (B, 3, H, W) x 2 -> (B, 3, H, W)."""
        z_pose, z_dyn = self.encode_motion(driver)
        return self.render(self.encode_appearance(source), z_pose, z_dyn)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def describe(model: FaceLatentModel) -> dict[str, int]:
    """Parameters per part, for a table in the notebook."""
    parts = dict(E_app=model.appearance_encoder, E_mot=model.motion_encoder, W_s2c=model.warp_to_canonical,
                 W_c2d=model.warp_to_driver, G3D=model.canonical_3d, G2D=model.decoder)
    return {name: count_parameters(m) for name, m in parts.items()}
