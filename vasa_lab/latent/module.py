"""Training the face latent space: a LightningModule around :class:`~vasa_lab.latent.model.FaceLatentModel`.

One training step, for a batch of (source x_s, driver x_d) frames of the same people::

    (p_s, d_s), (p_d, d_d) = E_mot(x_s), E_mot(x_d)                 pose and dynamics codes
    (the rigid warps use the tracker's pose p_given instead of p where it exists: ``warp_with_given_pose``)
    A_s = encode_appearance(x_s)                                   canonical volume + z_id
    x̂_d = render(A_s, p_d, d_d)                                    self-reenactment
    L = w_l1 |x̂_d - x_d| + w_parts |x̂_d - x_d|_(eyes, brows, mouth) + w_ssim (1 - MS-SSIM)
        + w_perc perceptual + w_pose |p - p_given| (+ GAN)

and, on the first ``aux_batch`` items (the extra renders cost time):

    pairwise transfer (i = s, j = d):   a = render(A_d, p_s, d_d),  b = render(A_s, p_s, d_d),    L_tr = |a - b|
    cross-identity (B = another item):  x̂_AB = render(A_s, p_B, d_B),   L_id = 1 - cos(ψ(x̂_AB), ψ(x_s))
    cycle:                              (p', d') = E_mot(x̂_AB),          L_cyc = |p' - p_B| + w |d' - d_B|

The module uses manual optimisation so that the optional discriminator gets its own step after the generator's.
"""
from __future__ import annotations

import time

import numpy as np

import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ..training import (RunSampler, check_finished, make_trainer, one_cycle, resume_from, seed_everything,
                        steps_per_device)
from ..geometry import POSE_NAMES
from .config import EXPRESSION_NAMES, LatentConfig
from .losses import (CORNER_POINTS, CORRESPONDING_POINTS, PatchDiscriminator, PerceptualLoss, VGG19Features,
                     cycle_loss, feature_matching_loss, flow_landmark_loss, hinge_d_loss, hinge_g_loss,
                     identity_loss, l1, masked_l1, ms_ssim, pose_loss)
from .model import FaceLatentModel


def feature_network(cfg: LatentConfig, identity_net: nn.Module | None) -> tuple[nn.Module | None, str]:
    """The perceptual loss's feature network, and which one it is (the notebook prints this)."""
    if cfg.w_perceptual <= 0 or cfg.perceptual_net == "none":
        return None, "none"
    if cfg.perceptual_net == "vgg19":
        return PerceptualLoss(VGG19Features(cfg.vgg19_path), name="VGG19"), "VGG19 (local weights)"
    if identity_net is None or not hasattr(identity_net, "features"):
        raise ValueError("perceptual_net='ours' needs our identity network (FaceIdentityNet)")
    return PerceptualLoss(_Features(identity_net), name="ours"), "ours (FaceIdentityNet features)"


class _Features(nn.Module):
    """Wraps FaceIdentityNet.features as a module (so PerceptualLoss can hold it)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.features(x)


class LatentModule(L.LightningModule):
    """Trains a FaceLatentModel by self-reenactment with the losses of MegaPortraits and VASA-1."""

    def __init__(self, model: FaceLatentModel, identity_net: nn.Module | None = None,
                 expression_scale: torch.Tensor | None = None):
        super().__init__()
        self.model = model
        self.cfg = cfg = model.config
        self.automatic_optimization = False
        # frozen helpers: not trained, not saved with the model
        self.identity_net = identity_net.requires_grad_(False).eval() if identity_net is not None else None
        self.perceptual, self.perceptual_name = feature_network(cfg, identity_net)
        self.disc = PatchDiscriminator(cfg.disc_channels) if cfg.w_gan > 0 else None
        if cfg.w_cross_id > 0 and identity_net is None:
            raise ValueError("the cross-identity loss (w_cross_id > 0) needs an identity network")
        # z_dyn -> the tracked expression: a linear read-out trained with the model (w_expression), not part of it
        self.expression_head = nn.Linear(cfg.dyn_dim, len(EXPRESSION_NAMES)) if cfg.w_expression > 0 else None
        # the unit each expression's error is measured in (focus_scaled_expression: its spread in the data)
        self.register_buffer("expression_scale", torch.ones(len(EXPRESSION_NAMES)) if expression_scale is None
                             else expression_scale.float(), persistent=False)
        # the focus phase (config.focus_steps) continues a finished model: its own length and learning rate
        self.steps, self.lr = (cfg.focus_steps, cfg.focus_lr) if cfg.has_focus_phase else (cfg.steps, cfg.lr)
        if cfg.has_gate_phase:   # the gate phase trains G2D alone: the encoders, warps and G3D stay as they were
            self.steps, self.lr = cfg.gate_steps, cfg.gate_lr
            trained = ("decoder.",)
            if cfg.has_emotion_phase:   # ... the emotion phase the warps and G3D too; never the encoders
                self.steps, self.lr = cfg.emotion_steps, cfg.emotion_lr
                trained = ("decoder.", "warp_to_canonical.", "warp_to_driver.", "canonical_3d.")
            for name, p in model.named_parameters():
                p.requires_grad_(name.startswith(trained))
        if cfg.has_people_phase:   # the people phase trains z_dyn's CNN alone: the renderer reads the codes as before
            self.steps, self.lr = cfg.people_steps, cfg.people_lr
            for name, p in model.named_parameters():
                p.requires_grad_(name.startswith("motion_encoder.dyn_net."))
        if cfg.has_pose_phase:     # the pose phase trains z_pose's CNN alone, on the pose loss
            self.steps, self.lr = cfg.pose_steps, cfg.pose_lr
            for name, p in model.named_parameters():
                p.requires_grad_(name.startswith("motion_encoder.pose_net."))
        if cfg.has_faces_phase:    # the faces phase trains z_pose's CNN alone too, half of each batch new faces
            self.steps = cfg.faces_pose_steps
        # the faces phase's people (images uint8, poses): set by train_latent (:meth:`show_new_faces`)
        self.new_faces: tuple[torch.Tensor, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []
        self.generator = torch.Generator().manual_seed(cfg.seed + 1)

    def jitter(self, x: torch.Tensor) -> torch.Tensor:
        """Colour jitter for the motion encoder's input only: each image gets its colour channels shuffled and
        scaled by gains in [0.7, 1.3]. Motion is geometry, so the codes must not depend on colours; skin, hair and
        background colours are most of what tells two synthetic people apart, and this takes them away."""
        b = x.shape[0]
        perm = torch.stack([torch.randperm(3, generator=self.generator) for _ in range(b)]).to(x.device)  # (B, 3)
        gain = (0.7 + 0.6 * torch.rand(b, 3, 1, 1, generator=self.generator)).to(x)
        shuffled = x.gather(1, perm[:, :, None, None].expand_as(x))
        return (shuffled * gain).clamp(0, 1)

    def show_new_faces(self, images: torch.Tensor, states: np.ndarray) -> None:
        """The faces phase's people (:func:`~vasa_lab.latent.data.new_face_frames`): images (n, 3, H, W) uint8 and
        their true states (n, 17), of which the head's pose is kept."""
        self.new_faces = (images, torch.from_numpy(np.asarray(states)[:, :len(POSE_NAMES)]).float())

    def new_face_batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` of the new faces, drawn from (seed, step) so a resumed run draws the same: images (n, 3, H, W) in
        [0, 1] and their poses (n, 6). (On several devices each draws the same faces beside its own frames.)"""
        if self.new_faces is None:
            raise RuntimeError("the faces phase needs its faces: call show_new_faces first")
        images, pose = self.new_faces
        draw = np.random.default_rng([self.cfg.seed, 8, self.global_step])
        idx = torch.from_numpy(draw.integers(len(images), size=n))
        device = next(self.model.parameters()).device
        return (images[idx].float() / 255).to(device), pose[idx].to(device)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["jitter_generator"] = self.generator.get_state()    # a resumed run draws the jitter it would have

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "jitter_generator" in checkpoint:
            self.generator.set_state(checkpoint["jitter_generator"])

    def train(self, mode: bool = True):
        super().train(mode)
        for frozen in (self.identity_net, self.perceptual):
            if frozen is not None:
                frozen.eval()
        return self

    def warp_poses(self, batch: dict[str, torch.Tensor], enc_pose_s: torch.Tensor, enc_pose_d: torch.Tensor):
        """The poses the rigid warps use: the tracker's where it is trusted (``warp_with_given_pose``), else E_mot's."""
        if not self.cfg.warp_with_given_pose:
            return enc_pose_s, enc_pose_d
        ok = batch["pose_ok"].float()
        return (torch.where(ok[:, :1] > 0, batch["source_pose"], enc_pose_s),
                torch.where(ok[:, 1:] > 0, batch["driver_pose"], enc_pose_d))

    # -- the generator's losses ----------------------------------------------------------------------------------
    def generator_losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict, torch.Tensor]:
        cfg, m = self.cfg, self.model
        xs, xd = batch["source"], batch["driver"]                           # (B, 3, H, W)
        see = self.jitter if cfg.motion_jitter else (lambda x: x)          # what the motion encoder sees
        enc_pose_s, dyn_s = m.encode_motion(see(xs))                        # (B, 6), (B, dyn)
        enc_pose_d, dyn_d = m.encode_motion(see(xd))
        pose_ok = batch["pose_ok"].float()                                  # (B, 2) given pose trusted?
        pose_s, pose_d = self.warp_poses(batch, enc_pose_s, enc_pose_d)
        app_s = m.encode_appearance(xs, (pose_s, dyn_s))
        xd_hat = m.render(app_s, pose_d, dyn_d)                             # self-reenactment (B, 3, H, W)

        logs = dict(l1=l1(xd_hat, xd), ssim=1 - ms_ssim(xd_hat, xd).mean())
        logs["parts"] = masked_l1(xd_hat, xd, batch["driver_parts"])        # the eyes', brows' and mouth's boxes
        logs["pose"] = 0.5 * (pose_loss(enc_pose_s, batch["source_pose"], pose_ok[:, 0])
                              + pose_loss(enc_pose_d, batch["driver_pose"], pose_ok[:, 1]))
        total = (cfg.w_l1 * logs["l1"] + cfg.w_face_parts * logs["parts"] + cfg.w_ssim * logs["ssim"]
                 + cfg.w_pose * logs["pose"])
        if cfg.w_mouth_inside > 0:   # the mouth's inside: where copying the source is wrong whenever it moves
            logs["mouth_inside"] = masked_l1(xd_hat, xd, batch["driver_mouth"])
            total = total + cfg.w_mouth_inside * logs["mouth_inside"]
        if cfg.has_focus_phase and cfg.focus_eye_inside > 0:   # the eyes' inside: where a blink shows
            logs["eyes_inside"] = masked_l1(xd_hat, xd, batch["driver_eyes"])
            total = total + cfg.focus_eye_inside * logs["eyes_inside"]
        if self.expression_head is not None:
            # (A z_dyn + b - e)^2 over the values the tracker (or the world) knows: z_dyn must carry the mouth, the
            # eyelids, the gaze and the brows, not only what moves most pixels
            ok = batch["expression_ok"].float()                                    # (B, 2, K)
            pred = torch.stack([self.expression_head(dyn_s), self.expression_head(dyn_d)], 1)
            target = torch.stack([batch["source_expression"], batch["driver_expression"]], 1)
            logs["expression"] = (ok * ((pred - target) / self.expression_scale) ** 2).sum() / ok.sum().clamp(min=1)
            total = total + cfg.w_expression * logs["expression"]
        if self.perceptual is not None:
            logs["perceptual"] = self.perceptual(xd_hat, xd)
            total = total + cfg.w_perceptual * logs["perceptual"]
        if self.disc is not None:
            real_feats, _ = self.disc(xd)
            fake_feats, fake_score = self.disc(xd_hat)
            logs["gan"] = hinge_g_loss(fake_score)
            logs["feature_matching"] = feature_matching_loss(real_feats, fake_feats)
            total = total + cfg.w_gan * logs["gan"] + cfg.w_feature_matching * logs["feature_matching"]

        k = min(cfg.aux_batch, xs.shape[0])
        if k > 0 and cfg.w_transfer > 0:
            # VASA-1's pairwise transfer: both renders should show pose i (= s) and dynamics j (= d)
            app_d = m.encode_appearance(xd[:k], (pose_d[:k], dyn_d[:k]))
            a = m.render(app_d, pose_s[:k], dyn_d[:k])                      # j's look, i's pose, j's dynamics
            b = m.render(app_s[:k], pose_s[:k], dyn_d[:k])                  # i's look and pose, j's dynamics
            logs["transfer"] = l1(a, b)
            total = total + cfg.w_transfer * logs["transfer"]
        if k > 0 and (cfg.w_cross_id > 0 or cfg.w_cycle > 0):
            # cross-identity: draw each source person with the motion of the next item's driver (another person)
            other = torch.roll(torch.arange(xs.shape[0], device=xs.device), -1)[:k]
            pose_o, dyn_o = pose_d[other], dyn_d[other]
            x_cross = m.render(app_s[:k], pose_o, dyn_o)                    # (k, 3, H, W)
            if cfg.w_cross_id > 0:
                different = (batch["identity"][:k] != batch["identity"][other]).float()
                logs["cross_id"] = identity_loss(self.identity_net(x_cross), self.identity_net(xs[:k]), different)
                total = total + cfg.w_cross_id * logs["cross_id"]
            if cfg.w_cycle > 0:
                # the render is detached: this teaches E_mot to read B's motion off A's face; with gradients into
                # the generator too, the decoder learned to write the codes into the pixels instead (training blew up)
                pose_back, dyn_back = m.encode_motion(see(x_cross.detach()))
                logs["cycle"] = cycle_loss(pose_back, dyn_back, pose_o, dyn_o, cfg.w_cycle_dyn)
                total = total + cfg.w_cycle * logs["cycle"]
        return total, logs, xd_hat

    def gate_losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """The gate phase: only G2D learns. The reconstruction terms of :meth:`generator_losses` (the eyes' inside
        too), and the copy gate pushed to 0 inside the driver's inner-lip polygon and towards 1 on the lips around it
        and everywhere outside the mouth's and the eyes' boxes (inside the eyes' boxes the reconstruction alone
        decides: a closing lid is painted where the open eye was).

        The emotion phase uses the same losses, plus ``w_lips`` on the box around the driver's outer lips and
        ``w_flow_landmarks`` on the flow's landmark correspondence (:func:`~vasa_lab.latent.losses.flow_landmark_loss`),
        with the
        warps and G3D learning as well (the parameters that learn are set in ``__init__``; the frozen ones build no
        graph)."""
        cfg, m = self.cfg, self.model
        xs, xd = batch["source"], batch["driver"]
        with torch.no_grad():   # frozen: the codes are those of the model this phase continues
            enc_pose_s, dyn_s = m.encode_motion(xs)
            enc_pose_d, dyn_d = m.encode_motion(xd)
            pose_s, pose_d = self.warp_poses(batch, enc_pose_s, enc_pose_d)
        app_s = m.encode_appearance(xs, (pose_s, dyn_s))   # the gate phase: frozen too (no parameter here learns)
        rendered = m.render_parts(app_s, pose_d, dyn_d)
        xd_hat, gate = rendered.image, rendered.gate
        logs = dict(l1=l1(xd_hat, xd), ssim=1 - ms_ssim(xd_hat, xd).mean(),
                    parts=masked_l1(xd_hat, xd, batch["driver_parts"]),
                    mouth_inside=masked_l1(xd_hat, xd, batch["driver_mouth"]),
                    eyes_inside=masked_l1(xd_hat, xd, batch["driver_eyes"]))
        opening = batch["driver_mouth_open"]                                   # (B, 1, H, W) the inner-lip polygon
        near = F.max_pool2d(opening, 5, 1, 2)                                  # ... and 2 px around it
        lips = batch["driver_mouth"] * (1 - near)                              # the mouth's box but not its gap
        elsewhere = 1 - torch.clamp(batch["driver_mouth"] + batch["driver_eyes"], 0, 1)
        logs["gate_mouth"] = (opening * gate).sum() / opening.sum().clamp(min=1)
        logs["gate_lips"] = (lips * (1 - gate)).sum() / lips.sum().clamp(min=1)   # the lips keep their own colour
        logs["gate_rest"] = (elsewhere * (1 - gate)).sum() / elsewhere.sum().clamp(min=1)
        total = (cfg.w_l1 * logs["l1"] + cfg.w_face_parts * logs["parts"] + cfg.w_ssim * logs["ssim"]
                 + cfg.w_mouth_inside * logs["mouth_inside"] + cfg.focus_eye_inside * logs["eyes_inside"]
                 + cfg.w_gate * (logs["gate_mouth"] + logs["gate_lips"] + logs["gate_rest"]))
        if cfg.has_emotion_phase and cfg.w_lips > 0:   # the lips' box: where a smile lifts the corners
            logs["lips"] = masked_l1(xd_hat, xd, batch["driver_lips"])
            total = total + cfg.w_lips * logs["lips"]
        if cfg.has_emotion_phase and cfg.w_flow_landmarks > 0:   # the flow reads the source's corner, lid, brow
            points = CORRESPONDING_POINTS if cfg.flow_landmark_lips == "all" else CORNER_POINTS
            logs["flow_landmarks"] = flow_landmark_loss(rendered.flow, batch["source_landmarks"],
                                                        batch["driver_landmarks"], batch["landmarks_ok"], points)
            total = total + cfg.w_flow_landmarks * logs["flow_landmarks"]
        return total, logs, xd_hat

    def people_losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """The people phase: only z_dyn's CNN learns. The reconstruction terms of :meth:`gate_losses` (no gate term:
        the decoder is frozen) and the expression read-out of :meth:`generator_losses`; z_dyn sees colour-jittered
        frames, the pose comes from the frozen pose CNN (or the tracker, ``warp_with_given_pose``)."""
        cfg, m = self.cfg, self.model
        xs, xd = batch["source"], batch["driver"]
        with torch.no_grad():
            enc_pose_s, _ = m.encode_motion(xs)
            enc_pose_d, _ = m.encode_motion(xd)
            pose_s, pose_d = self.warp_poses(batch, enc_pose_s, enc_pose_d)
        see = self.jitter if cfg.motion_jitter else (lambda x: x)
        dyn_s, dyn_d = m.encode_motion(see(xs))[1], m.encode_motion(see(xd))[1]
        xd_hat = m.render(m.encode_appearance(xs, (pose_s, dyn_s)), pose_d, dyn_d)
        logs = dict(l1=l1(xd_hat, xd), ssim=1 - ms_ssim(xd_hat, xd).mean(),
                    parts=masked_l1(xd_hat, xd, batch["driver_parts"]),
                    mouth_inside=masked_l1(xd_hat, xd, batch["driver_mouth"]),
                    eyes_inside=masked_l1(xd_hat, xd, batch["driver_eyes"]))
        ok = batch["expression_ok"].float()
        pred = torch.stack([self.expression_head(dyn_s), self.expression_head(dyn_d)], 1)
        target = torch.stack([batch["source_expression"], batch["driver_expression"]], 1)
        logs["expression"] = (ok * ((pred - target) / self.expression_scale) ** 2).sum() / ok.sum().clamp(min=1)
        total = (cfg.w_l1 * logs["l1"] + cfg.w_face_parts * logs["parts"] + cfg.w_ssim * logs["ssim"]
                 + cfg.w_mouth_inside * logs["mouth_inside"] + cfg.focus_eye_inside * logs["eyes_inside"]
                 + cfg.w_expression * logs["expression"])
        return total, logs, xd_hat

    def pose_losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict, None]:
        """The pose phase: z_pose of single colour-jittered frames against their given pose (where it is trusted);
        nothing is rendered."""
        see = self.jitter if self.cfg.motion_jitter else (lambda x: x)
        loss = pose_loss(self.model.motion_encoder.pose(see(batch["image"])), batch["pose"], batch["pose_ok"].float())
        return loss, dict(pose=loss), None

    def faces_losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict, None]:
        """The faces phase: :meth:`pose_losses` on the batch's own frames and as many new faces."""
        images, pose = self.new_face_batch(len(batch["image"]))
        trusted = torch.ones(len(images), dtype=torch.bool, device=pose.device)        # the world's own truth
        both = dict(image=torch.cat([batch["image"], images]), pose=torch.cat([batch["pose"], pose]),
                    pose_ok=torch.cat([batch["pose_ok"], trusted]))
        return self.pose_losses(both)

    # -- Lightning -----------------------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        opts = self.optimizers()
        opt_g, opt_d = (opts if isinstance(opts, (list, tuple)) else (opts, None))
        sched = self.lr_schedulers()
        cfg = self.cfg
        losses = (self.faces_losses if cfg.has_faces_phase
                  else self.pose_losses if cfg.has_pose_phase else self.people_losses if cfg.has_people_phase
                  else self.gate_losses if cfg.has_gate_phase else self.generator_losses)
        total, logs, xd_hat = losses(batch)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(total)
        self.clip_gradients(opt_g, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
        opt_g.step()
        if sched is not None:
            sched.step()
        if self.disc is not None and xd_hat is not None:
            _, real_score = self.disc(batch["driver"])
            _, fake_score = self.disc(xd_hat.detach())
            d_loss = hinge_d_loss(real_score, fake_score)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            opt_d.step()
            logs["disc"] = d_loss
        row = {k: float(v.detach()) for k, v in logs.items()} | dict(total=float(total.detach()), step=self.global_step)
        self.history.append(row)
        self.log_dict({f"train/{k}": v for k, v in row.items() if k != "step"}, prog_bar=False, on_step=True)

    def configure_optimizers(self):
        params = [p for p in self.model.parameters() if p.requires_grad]
        if self.expression_head is not None and trains_expression_read_out(self.cfg):
            params += list(self.expression_head.parameters())
        opt_g = torch.optim.Adam(params, lr=self.lr, betas=(0.5, 0.999))
        # the schedule spans the steps this run makes: on N devices each takes 1/N of the batches (steps // N)
        sched = one_cycle(opt_g, self.lr, steps_per_device(self._trainer, self.steps), pct_start=0.1)
        if self.disc is None:
            return [opt_g], [sched]
        opt_d = torch.optim.Adam(self.disc.parameters(), lr=self.lr, betas=(0.5, 0.999))
        return [opt_g, opt_d], [sched]


def trains_expression_read_out(cfg: LatentConfig) -> bool:
    """Whether this phase trains z_dyn's CNN with the expression read-out: the first and focus phases and the people
    phase (the gate, emotion, pose and faces phases leave z_dyn as it was; a faces phase comes after a pose phase)."""
    return not cfg.has_pose_phase and (cfg.has_people_phase or not cfg.has_gate_phase)


def expression_spread(clips) -> torch.Tensor:
    """(K,) the standard deviation of each of EXPRESSION_NAMES over the known values of all frames of ``clips``
    (at least 1e-3, so a constant never divides by zero)."""
    from .config import EXPRESSION_UNIT

    values, known = zip(*(clips.expression(c, EXPRESSION_NAMES, EXPRESSION_UNIT) for c in range(len(clips))))
    values, known = np.concatenate(values), np.concatenate(known)
    spread = [values[known[:, k], k].std() if known[:, k].sum() > 1 else 1.0 for k in range(values.shape[1])]
    return torch.tensor(np.maximum(spread, 1e-3), dtype=torch.float32)


def train_latent(model: FaceLatentModel, identity_net: nn.Module | None = None, folder=None,
                 trainer_overrides: dict | None = None, num_workers: int = 0, checkpoint_dir=None,
                 checkpoint_every: int = 250, first_phase: FaceLatentModel | None = None) -> dict:
    """Train ``model`` in place on its config's data; returns metrics (losses at the end, time, speed).

    A config with a focus phase (``focus_steps`` > 0) continues ``first_phase``, the finished model of
    ``config.first_phase()``: its weights are copied into ``model``, then ``focus_steps`` steps run with drivers drawn
    mid-blink (``blink_share``) and the eyes weighted ``focus_eye_weight``. A config with a gate phase
    (``gate_steps`` > 0) continues the model of ``config.without_gate()`` (passed as ``first_phase`` too): its weights
    are copied, the new copy gate starts near 1, and ``gate_steps`` steps train G2D alone (:meth:`LatentModule.gate_losses`).
    A config with an emotion phase (``emotion_steps`` > 0) continues the model of ``config.without_emotion()`` (passed
    as ``first_phase``): ``emotion_steps`` steps train the warps, G3D and G2D on pairs drawn as in the focus phase
    (``blink_share`` mid-blink) with ``emotion_other_clip_share`` of the rest from the person's other clip, the lips
    weighted ``w_lips`` and the flow's landmark correspondence ``w_flow_landmarks``; the encoders stay as they were.
    A config with a people phase (``people_steps`` > 0) continues the model of ``config.without_people()``:
    ``people_steps`` steps train z_dyn's CNN alone (:meth:`LatentModule.people_losses`) on the profile's world grown
    to ``people_clips`` clips (:func:`vasa_lab.world.dataset.grown_world`; its own ``data`` if the config has one).
    A config with a pose phase (``pose_steps`` > 0) continues the model of ``config.without_pose()``: ``pose_steps``
    steps of ``pose_batch`` single frames (:class:`~vasa_lab.latent.data.FramePoseDataset`) train z_pose's CNN alone
    on the pose loss (:meth:`LatentModule.pose_losses`), on the same world as the people phase.
    A config with a faces phase (``faces_pose_steps`` > 0) continues the pose phase's model (``config.without_faces()``)
    and trains z_pose's CNN alone on the pose loss (:meth:`LatentModule.faces_losses`), half of each batch single frames
    of the profile's own clips and half ``new_faces`` people never seen before
    (:func:`~vasa_lab.latent.data.new_face_frames`, drawn at the start of the run).

    ``folder``: the dataset (default: the config's ``data``, else the profile's synthetic world).
    ``trainer_overrides``: extra ``lightning.Trainer`` arguments (devices, strategy, precision ...).
    ``checkpoint_dir``: a folder for ``last.ckpt``, written every ``checkpoint_every`` steps; a run that finds one
    there resumes from it (weights, optimiser, schedule and step) and continues with the pairs it had not drawn.
    """
    from ..data.clips import ClipFrames, dataset_folder
    from .data import FramePairDataset, FramePoseDataset

    cfg = model.config
    seed_everything(cfg.seed)
    if folder is None and (cfg.has_people_phase or cfg.has_pose_phase) and cfg.people_clips and not cfg.data \
            and not cfg.has_faces_phase:               # (the faces phase trains on the profile's own clips)
        from ..world.dataset import grown_world

        folder = grown_world(cfg.profile, cfg.people_clips)
    folder = folder or dataset_folder(cfg)
    clips = ClipFrames(folder, "train")
    if clips.image_size() != cfg.image_size:
        raise ValueError(f"the data in {folder} is {clips.image_size()} px but the model is for "
                         f"{cfg.image_size} px (profile {cfg.profile!r})")
    before, batch_size = cfg.previous_phase(), cfg.batch_size
    if before is None:
        pairs = FramePairDataset(clips, cfg.steps * cfg.batch_size, cfg.min_pair_gap, cfg.other_clip_share,
                                 cfg.seed, cfg.eye_weight)
    else:
        # a later phase: (its name, steps, share of drivers from the person's other clip, seed offset)
        name, steps, other_clip_share, seed_offset = (
            ("faces", cfg.faces_pose_steps, cfg.other_clip_share, 7) if cfg.has_faces_phase
            else ("pose", cfg.pose_steps, cfg.other_clip_share, 5) if cfg.has_pose_phase
            else ("people", cfg.people_steps, cfg.other_clip_share, 4) if cfg.has_people_phase
            else ("emotion", cfg.emotion_steps, cfg.emotion_other_clip_share, 3) if cfg.has_emotion_phase
            else ("gate", cfg.gate_steps, cfg.other_clip_share, 2) if cfg.has_gate_phase
            else ("focus", cfg.focus_steps, cfg.other_clip_share, 1))
        if first_phase is None or first_phase.config != before:
            raise ValueError(f"the {name} phase continues the model of config.previous_phase(): pass it as first_phase")
        missing, unexpected = model.load_state_dict(first_phase.state_dict(), strict=False)
        new_parts = "decoder.gate." if name == "gate" else ()       # the gate phase adds the copy gate, nothing else
        if unexpected or any(not k.startswith(new_parts) for k in missing):
            raise ValueError(f"the model before the {name} phase does not fit: missing {missing}, "
                             f"unexpected {unexpected}")
        if name in ("pose", "faces"):      # single frames and their pose; nothing is rendered
            batch_size = cfg.pose_batch if name == "pose" else cfg.pose_batch // 2    # (the rest: new faces)
            pairs = FramePoseDataset(clips, steps * batch_size, cfg.seed + seed_offset)
        else:
            pairs = FramePairDataset(clips, steps * cfg.batch_size, cfg.min_pair_gap, other_clip_share,
                                     cfg.seed + seed_offset, cfg.focus_eye_weight or cfg.eye_weight, cfg.blink_share)
    scale = (expression_spread(clips) if cfg.has_focus_phase and cfg.focus_scaled_expression
             and trains_expression_read_out(cfg) else None)
    module = LatentModule(model, identity_net, scale)
    if cfg.has_faces_phase:
        from .data import new_face_frames

        drawn = time.perf_counter()
        module.show_new_faces(*new_face_frames(clips, cfg.new_faces, cfg.image_size, f"new-faces/{cfg.seed}"))
        print(f"{cfg.new_faces} new faces drawn in {time.perf_counter() - drawn:.0f} s")
    kwargs, resume, start = {}, None, 0
    if checkpoint_dir is not None:
        kwargs, resume, start = resume_from(checkpoint_dir, checkpoint_every)
    kwargs.update(trainer_overrides or {})
    started = time.perf_counter()
    trainer = make_trainer(module.steps, **kwargs)
    if resume:
        print(f"resuming from {resume} at step {start} of {module.steps}")
    rest = RunSampler(len(pairs), start * batch_size)                   # the items a resumed run has not drawn
    trainer.fit(module, DataLoader(pairs, batch_size=batch_size, sampler=rest, num_workers=num_workers,
                                   drop_last=True, persistent_workers=num_workers > 0), ckpt_path=resume,
                weights_only=True)
    check_finished(trainer, module.steps)
    seconds = time.perf_counter() - started
    model.eval()
    tail = module.history[-50:]
    final = {k: round(sum(r[k] for r in tail) / len(tail), 4) for k in tail[-1] if k != "step"} if tail else {}
    return dict(train_seconds=round(seconds, 1), steps=start + len(module.history), resumed_at=start,
                steps_per_second=round(len(module.history) / max(seconds, 1e-9), 2),
                perceptual_net=module.perceptual_name, final=final,
                history=[{k: round(v, 4) for k, v in r.items()} for r in module.history[:: max(1, module.steps // 60)]])
