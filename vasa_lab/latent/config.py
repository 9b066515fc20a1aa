"""The face latent space's settings, one dataclass per profile (see ``vasa_lab.config`` for profiles).

=========  ======  ==========================  =======================  ==========================================
profile    pixels  appearance volume C x D x   motion code              losses
                   H x W
=========  ======  ==========================  =======================  ==========================================
``tiny``   64      16 x 8 x 16 x 16            6 pose + 16 dynamics     L1, MS-SSIM, perceptual (ours), cycle,
                                                                        transfer, cross-identity; no GAN
``small``  128     16 x 8 x 32 x 32            6 pose + 24 dynamics     as tiny + mouth-inside L1 + expression
                                                                        supervision of z_dyn; eyes weighted 2x;
                                                                        then a focus phase on blinks, then a
                                                                        decoder-only gate phase (copy gate), then
                                                                        an emotion phase (the warps learn the
                                                                        landmarks' correspondence), then a
                                                                        people phase (z_dyn's CNN on 2.5x the
                                                                        people), then a pose phase (z_pose's CNN
                                                                        on them), then z_pose's CNN on 12000 new
                                                                        faces, one frame each
``full``   512     96 x 16 x 64 x 64           6 pose + 128 dynamics    as tiny + patch GAN (hinge) + feature
                                                                        matching; VGG19 / ArcFace from local paths
=========  ======  ==========================  =======================  ==========================================

The ``full`` row is MegaPortraits' volume at 512 px (96 channels x 16 depth x 64 x 64). Everything a trained
artifact depends on is in :class:`LatentConfig`, so the artifact store's key changes whenever a setting does.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..artifacts import ADDED_LATER
from ..config import resolve_profile
from ..geometry import CAMERA, POSE_NAMES

# Pose conventions come from the shared camera (vasa_lab.geometry.Camera), which the world and the tracker use:
# a head-frame point p_h at pose (R, tx, ty, s) lands at normalized image position f * (R p_h + (tx, ty - y_c)) /
# (d0 / s). In grid_sample units ([-1, 1] across the image) that is  s * k * (R p_h + (tx, ty - y_c))  with
# k = 2 f / d0: one head unit is k grid units at scale 1, and the rotation pivot sits k * y_c above the centre.
TRANSLATION_GAIN = 2.0 * CAMERA.focal / CAMERA.base_distance   # k = 0.54: head units -> grid units
PIVOT_Y = -TRANSLATION_GAIN * CAMERA.face_centre_y             # -0.27: the head's pivot, in grid units (y down)

# What a tracker can read of a face's expression (and the synthetic world knows exactly): the weak supervision of
# z_dyn (``w_expression``), and what chapter 04's probes read back. Gaze is in degrees / 10, the rest in [-1, 1].
EXPRESSION_NAMES = ("jaw_open", "lip_width", "lip_round", "blink", "gaze_yaw", "gaze_pitch", "brow_raise",
                    "brow_furrow", "smile", "eye_wide")
EXPRESSION_UNIT = (1.0, 1.0, 1.0, 1.0, 10.0, 10.0, 1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class LatentConfig:
    """Everything that decides a trained face latent model (network sizes, losses, training, data)."""

    profile: str = "tiny"
    image_size: int = 64

    # --- networks -------------------------------------------------------------------------------------------
    app_channels: tuple[int, ...] = (16, 32)     # appearance encoder widths; each stage halves the resolution
    volume_channels: int = 16                    # C of V_app
    volume_depth: int = 8                        # D of V_app (H = W = image_size / 2 ** len(app_channels))
    id_dim: int = 32                             # z_id
    motion_channels: tuple[int, ...] = (16, 32, 32, 64)  # motion encoder widths, each halves the resolution
    motion_size: int = 64                        # the motion encoder sees the frame resized to this
    dyn_dim: int = 16                            # z_dyn
    flow_channels: int = 16                      # width of the two warp generators
    flow_upsamples: int = 1                      # generator: (2, 4, 4) seed -> x2 per upsample -> trilinear to V
    max_flow: float = 0.25                       # largest non-rigid displacement, grid units ([-1, 1] = the image)
    g3d_blocks: int = 1                          # 3D residual blocks (G3D) on the canonical volume
    image_skip: bool = True                      # G2D may also copy the portrait's pixels along the 3D warp
    dyn_to_decoder: bool = True                  # G2D also sees z_dyn directly (broadcast planes)
    dec_channels: tuple[int, ...] = (32, 32)    # 2D decoder: at volume resolution, then after each x2 upsample

    # --- losses (weights; 0 switches a term off) ------------------------------------------------------------
    w_l1: float = 1.0
    w_ssim: float = 0.5             # on 1 - MS-SSIM
    w_face_parts: float = 4.0       # extra L1 weight on the driver's eyes, brows and mouth (boxes from landmarks)
    eye_weight: float = 1.0         # ... the eyes' boxes count this much more than the mouth's
    w_perceptual: float = 0.1       # through the feature network below
    perceptual_net: str = "ours"    # "ours": our identity network's features; "vgg19": VGG19 from vgg19_path
    vgg19_path: str = ""            # a local VGG19 state dict (torchvision key names); used when perceptual_net="vgg19"
    w_pose: float = 3.0             # supervision of z_pose by the tracker's (here: the world's) head pose
    warp_with_given_pose: bool = True  # in training the rigid warps use that pose; E_mot's pose head learns it
    w_cycle: float = 0.5            # cycle consistency: E_mot(render(A, motion of B)) = motion of B
    w_cycle_dyn: float = 0.0        # ... its z_dyn part, relative (a plain L1 on z_dyn can collapse the code)
    motion_jitter: bool = True      # the motion encoder sees colour-jittered frames (motion is not colour)
    w_transfer: float = 1.0         # VASA-1 pairwise pose/dynamics transfer loss
    w_cross_id: float = 0.2         # VASA-1 cross-identity loss through the identity network
    arcface_path: str = ""          # a local ArcFace (IResNet) state dict; else our identity network is used
    aux_batch: int = 8              # items per batch that also get the transfer / cross-identity / cycle renders
    # weak supervision of z_dyn by the tracked expression (EXPRESSION_NAMES), through a linear read-out that
    # trains alongside and is not part of the model; the same idea as w_pose for z_pose (0 = off)
    w_expression: float = field(default=0.0, metadata=ADDED_LATER)
    # an extra L1 weight on the mouth's inside (lips to teeth: the box between the inner-lip landmarks), where the
    # copied source pixels are wrong whenever the mouth opens or closes (0 = off)
    w_mouth_inside: float = field(default=0.0, metadata=ADDED_LATER)
    w_gan: float = 0.0              # patch GAN, hinge loss (0 = off, no discriminator is built)
    w_feature_matching: float = 0.0
    disc_channels: tuple[int, ...] = (32, 64, 128)

    # --- training -------------------------------------------------------------------------------------------
    steps: int = 3000
    batch_size: int = 16
    lr: float = 1e-3
    min_pair_gap: int = 10          # frames between source and driver of one clip, at least
    other_clip_share: float = 0.5   # share of pairs whose driver comes from another clip of the same person
    seed: int = 0
    data: str = ""                  # a dataset folder (synthetic or data_prep output); "" = the profile's synthetic world

    # --- a second phase that looks at the eyes (0 steps = none) ---------------------------------------------------
    # Blinks fill ~3 % of frames, so pairs drawn uniformly almost never ask the decoder to close the lids, and the
    # first phase learns to leave them open. ``focus_steps`` more steps continue from the first phase's finished
    # model (the same config without these settings, :meth:`first_phase`) with a share of the drivers drawn
    # mid-blink and the eyes weighted more, at a lower learning rate.
    focus_steps: int = field(default=0, metadata=ADDED_LATER)
    blink_share: float = field(default=0.0, metadata=ADDED_LATER)      # drivers drawn where the eyes are closed
    focus_eye_weight: float = field(default=0.0, metadata=ADDED_LATER)  # the eyes' weight then (0 = eye_weight)
    focus_lr: float = field(default=3e-4, metadata=ADDED_LATER)
    # ... and each expression's error measured in its own spread (divided by its standard deviation over the
    # training frames): in plain units a blink, closed in 3 % of frames, weighs ~30x less than the jaw
    focus_scaled_expression: bool = field(default=False, metadata=ADDED_LATER)
    # ... and an extra L1 weight on the eyes' inside (the box around each eye's six landmarks, lids to iris), as
    # w_mouth_inside does for the mouth: a blink changes only these few pixels, which the eye-and-brow boxes dilute
    focus_eye_inside: float = field(default=0.0, metadata=ADDED_LATER)

    # --- a third phase that teaches G2D where not to copy (0 steps = none) ------------------------------------------
    # The source-pixel path opens a mouth by stretching the lips' pixels over the gap: in the world, where lips and
    # the mouth's inside are both dark red, that passes; on a photo the stretched lips stay pale. ``gate_steps`` more
    # steps continue the model before this phase (:meth:`without_gate`) with only G2D training (encoders and warps
    # frozen, so the motion codes do not change) and a copy gate (see ``Decoder``), pushed to 0 inside the driver's
    # inner-lip polygon and towards 1 outside the mouth and eyes, with ``w_gate``. Pairs as in the focus phase.
    gate_steps: int = field(default=0, metadata=ADDED_LATER)
    gate_lr: float = field(default=3e-4, metadata=ADDED_LATER)
    w_gate: float = field(default=1.0, metadata=ADDED_LATER)

    # --- a fourth phase that teaches the renderer the smile (0 steps = none) ----------------------------------------
    # The smile lives in z_dyn (a ridge probe reads it on the training people) but the renderer did not draw it: it
    # is constant within a clip, so only pairs whose driver comes from the person's other clip ask for it, and it
    # lifts the mouth's corners by a pixel or two, a small share of any image loss. ``emotion_steps`` more steps
    # continue the gate phase's model (:meth:`without_emotion`) with the motion and appearance encoders frozen (the
    # motion codes do not change, so the motion transformer trained on them stays valid) while both warps, G3D and
    # G2D learn. Pairs: ``blink_share`` of the drivers mid-blink, as in the focus phase (so the blinks stay drawn),
    # and ``emotion_other_clip_share`` of the others from the person's other clip (small: 0.4 and 0.8, so 0.68 of all
    # drivers come from the other clip). ``w_lips`` weighs the box around the outer lips (tried: it did not teach the
    # smile); ``w_flow_landmarks`` asks the source-pixel flow to read, where the driver's mouth corner (or another of
    # the landmarks 17-67) is drawn, the source's: that did (small: 50, README "The smile on the pixels").
    emotion_steps: int = field(default=0, metadata=ADDED_LATER)
    emotion_lr: float = field(default=3e-4, metadata=ADDED_LATER)
    emotion_other_clip_share: float = field(default=0.8, metadata=ADDED_LATER)
    w_lips: float = field(default=0.0, metadata=ADDED_LATER)
    # ... and the landmark correspondence of the source-pixel flow (losses.flow_landmark_loss): where the driver's
    # mouth corner, lid or brow is drawn, the flow should read the source's (0 = off)
    w_flow_landmarks: float = field(default=0.0, metadata=ADDED_LATER)
    # ... on which of the lips' landmarks: "all" twenty (48-67), or "corners", the four where the lips meet (48, 54,
    # 60, 64: where a smile shows), leaving how far the lips part to the image losses
    flow_landmark_lips: str = field(default="all", metadata=ADDED_LATER)

    # --- a fifth phase that shows z_dyn more people (0 steps = none) ------------------------------------------------
    # Chapter 04's probes read the jaw and the blinks from z_dyn inside a clip but lose them across new people: each
    # clip's code sits at a level that is largely its person's, learned from the 330 people of small's world
    # (README "Where the latent probes fail"). ``people_steps`` more steps continue the model before this phase
    # (:meth:`without_people`) and train only z_dyn's CNN (``motion_encoder.dyn_net``; the pose CNN, the appearance
    # encoder, the warps and the decoder stay frozen, so the renderer reads the codes as before) on a world of
    # ``people_clips`` clips (the profile's own clips and more people; small: 2000 clips, 816 training people), with
    # the reconstruction terms, colour jitter, ``blink_share`` of the drivers mid-blink and a fresh read-out of the
    # expression (``w_expression``, each value in its spread). The motion codes change, so the motion transformer
    # is trained on this phase's codes (:meth:`codes_config`). ``bench_more_people.py`` measured it first.
    people_steps: int = field(default=0, metadata=ADDED_LATER)
    people_clips: int = field(default=0, metadata=ADDED_LATER)   # the synthetic world's size then (0 = the profile's)
    people_lr: float = field(default=3e-4, metadata=ADDED_LATER)

    # --- a sixth phase that reads the head's angles on more people (0 steps = none) ---------------------------------
    # z_pose's CNN (``motion_encoder.pose_net``) learned the given pose as one loss among many in the first phase.
    # ``pose_steps`` more steps continue the model before this phase (:meth:`without_pose`) and train only that CNN,
    # on single colour-jittered frames (``pose_batch`` a step) of the same world as the people phase, with the pose
    # loss alone (:func:`~vasa_lab.latent.losses.pose_loss`). Nothing else changes: the renderer's rigid warps were
    # trained on the given pose, so they read a closer z_pose as they read that. The motion codes change, so the
    # motion transformer is trained on this phase's codes (:meth:`codes_config`).
    pose_steps: int = field(default=0, metadata=ADDED_LATER)
    pose_batch: int = field(default=32, metadata=ADDED_LATER)
    pose_lr: float = field(default=5e-4, metadata=ADDED_LATER)

    # --- a seventh phase that reads the head's angles on thousands of new faces (0 steps = none) ---------------------
    # Fitted and scored on the people it trained on, z_pose reads the pitch past 0.9; on new people it does not: the
    # CNN learned its 816 training faces (README "Thousands of new people"; ``benchmarks/bench_new_people.py``
    # measured it first). The world can draw anyone in any state, so the faces phase draws ``new_faces`` people never
    # seen before, one frame each, in the true states of random frames of the profile's own training clips
    # (:func:`~vasa_lab.latent.data.new_face_frames`). ``faces_pose_steps`` more steps continue the pose phase's
    # model (:meth:`without_faces`) and train z_pose's CNN alone on the pose loss, half of each ``pose_batch`` from
    # the profile's own clips and half new faces, at ``pose_lr``. The motion codes change, so the motion transformer
    # is trained on this phase's codes (:meth:`codes_config`).
    new_faces: int = field(default=0, metadata=ADDED_LATER)
    faces_pose_steps: int = field(default=0, metadata=ADDED_LATER)

    @property
    def volume_size(self) -> int:
        return self.image_size // 2 ** len(self.app_channels)

    @property
    def volume_shape(self) -> tuple[int, int, int, int]:
        """(C, D, H, W) of the appearance volume."""
        return (self.volume_channels, self.volume_depth, self.volume_size, self.volume_size)

    @property
    def motion_dim(self) -> int:
        """Length of one frame's motion code [z_pose, z_dyn]: what chapter 06 generates."""
        return len(POSE_NAMES) + self.dyn_dim

    @property
    def transfer_losses_on(self) -> bool:
        return self.w_transfer > 0 or self.w_cross_id > 0

    @property
    def has_focus_phase(self) -> bool:
        return self.focus_steps > 0

    @property
    def has_gate_phase(self) -> bool:
        return self.gate_steps > 0

    @property
    def has_emotion_phase(self) -> bool:
        return self.emotion_steps > 0

    @property
    def has_people_phase(self) -> bool:
        return self.people_steps > 0

    @property
    def has_pose_phase(self) -> bool:
        return self.pose_steps > 0

    @property
    def has_faces_phase(self) -> bool:
        return self.faces_pose_steps > 0

    def without_faces(self) -> "LatentConfig":
        """The config of the model the faces phase starts from: this one without the new faces."""
        return replace(self, new_faces=0, faces_pose_steps=0)

    def without_pose(self) -> "LatentConfig":
        """The config of the model the pose phase starts from: this one without the pose (and faces) settings."""
        return replace(self.without_faces(), pose_steps=0, pose_batch=32, pose_lr=5e-4)

    def without_people(self) -> "LatentConfig":
        """The config of the model the people phase starts from: this one without the people (and pose) settings."""
        return replace(self.without_pose(), people_steps=0, people_clips=0, people_lr=3e-4)

    def without_emotion(self) -> "LatentConfig":
        """The config of the model the emotion phase starts from: this one without the emotion (and people and pose)
        settings."""
        return replace(self.without_people(), emotion_steps=0, emotion_lr=3e-4, emotion_other_clip_share=0.8, w_lips=0.0,
                       w_flow_landmarks=0.0, flow_landmark_lips="all")

    def without_gate(self) -> "LatentConfig":
        """The config of the model the gate phase starts from: this one without the gate (and emotion) settings."""
        return replace(self.without_emotion(), gate_steps=0, gate_lr=3e-4, w_gate=1.0)

    def first_phase(self) -> "LatentConfig":
        """The config of the model the focus phase starts from: this one without the focus (and gate) settings."""
        return replace(self.without_gate(), focus_steps=0, blink_share=0.0, focus_eye_weight=0.0, focus_lr=3e-4,
                       focus_scaled_expression=False, focus_eye_inside=0.0)

    def previous_phase(self) -> "LatentConfig | None":
        """The config of the model this one's training continues (None for a first phase)."""
        if self.has_faces_phase:
            return self.without_faces()
        if self.has_pose_phase:
            return self.without_pose()
        if self.has_people_phase:
            return self.without_people()
        if self.has_emotion_phase:
            return self.without_emotion()
        if self.has_gate_phase:
            return self.without_gate()
        if self.has_focus_phase:
            return self.first_phase()
        return None

    def codes_config(self) -> "LatentConfig":
        """The config whose motion encoder this model has: the gate and emotion phases do not train it, so the motion
        codes are exactly those of the focus phase's model; the people, pose and faces phases do, so their codes
        are their own (motion data and generators are keyed by this one)."""
        return self if self.has_people_phase or self.has_pose_phase else self.without_gate()

    def without_disentanglement_losses(self) -> "LatentConfig":
        """The ablation: the same model and training with VASA-1's transfer and cross-identity losses off."""
        return replace(self, w_transfer=0.0, w_cross_id=0.0)

    def check(self) -> None:
        """Raise ValueError with one clear sentence for an impossible setting."""
        if self.image_size % 2 ** len(self.app_channels):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2 ** {len(self.app_channels)}")
        if self.perceptual_net not in ("ours", "vgg19", "none"):
            raise ValueError(f"perceptual_net must be 'ours', 'vgg19' or 'none', not {self.perceptual_net!r}")
        if self.perceptual_net == "vgg19" and not self.vgg19_path:
            raise ValueError("perceptual_net='vgg19' needs vgg19_path: a local file with VGG19 weights")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 (the cross-identity loss pairs items of a batch)")
        if not 0 <= self.blink_share < 1:
            raise ValueError(f"blink_share is a share of the pairs: in [0, 1), not {self.blink_share}")
        if self.gate_steps < 0 or self.gate_lr <= 0 or self.w_gate < 0:
            raise ValueError(f"the gate phase needs gate_steps >= 0, gate_lr > 0 and w_gate >= 0, not {self.gate_steps}, "
                             f"{self.gate_lr} and {self.w_gate}")
        if self.gate_steps > 0 and not self.image_skip:
            raise ValueError("a copy gate (gate_steps > 0) needs the source-pixel path (image_skip=True): without it "
                             "nothing is copied")
        if self.emotion_steps < 0 or self.emotion_lr <= 0 or self.w_lips < 0 \
                or not 0 <= self.emotion_other_clip_share <= 1:
            raise ValueError(f"the emotion phase needs emotion_steps >= 0, emotion_lr > 0, w_lips >= 0 and "
                             f"emotion_other_clip_share in [0, 1], not {self.emotion_steps}, {self.emotion_lr}, "
                             f"{self.w_lips} and {self.emotion_other_clip_share}")
        if self.w_flow_landmarks < 0:
            raise ValueError(f"w_flow_landmarks is a loss weight: it must be >= 0, not {self.w_flow_landmarks}")
        if self.flow_landmark_lips not in ("all", "corners"):
            raise ValueError(f"flow_landmark_lips is 'all' or 'corners', not {self.flow_landmark_lips!r}")
        if self.emotion_steps > 0 and self.gate_steps <= 0:
            raise ValueError("the emotion phase (emotion_steps > 0) continues the gate phase's model: it needs "
                             "gate_steps > 0")
        if self.people_steps < 0 or self.people_clips < 0 or self.people_lr <= 0:
            raise ValueError(f"the people phase needs people_steps >= 0, people_clips >= 0 and people_lr > 0, not "
                             f"{self.people_steps}, {self.people_clips} and {self.people_lr}")
        if self.people_steps > 0 and self.w_expression <= 0:
            raise ValueError("the people phase (people_steps > 0) reads the expression from z_dyn: it needs "
                             "w_expression > 0")
        if self.pose_steps < 0 or self.pose_batch < 1 or self.pose_lr <= 0:
            raise ValueError(f"the pose phase needs pose_steps >= 0, pose_batch >= 1 and pose_lr > 0, not "
                             f"{self.pose_steps}, {self.pose_batch} and {self.pose_lr}")
        if self.pose_steps > 0 and self.people_steps <= 0:
            raise ValueError("the pose phase (pose_steps > 0) continues the people phase's model: it needs "
                             "people_steps > 0")
        if min(self.new_faces, self.faces_pose_steps) < 0:
            raise ValueError(f"the faces phase needs new_faces >= 0 and faces_pose_steps >= 0, not {self.new_faces} "
                             f"and {self.faces_pose_steps}")
        if self.has_faces_phase and self.new_faces <= 0:
            raise ValueError("the faces phase (faces_pose_steps > 0) draws its people: it needs new_faces > 0")
        if self.new_faces > 0 and not self.has_faces_phase:
            raise ValueError("new_faces > 0 draws the people of the faces phase: it needs faces_pose_steps > 0")
        if self.has_faces_phase and self.pose_steps <= 0:
            raise ValueError("the faces phase (faces_pose_steps > 0) continues the pose phase's model: it needs "
                             "pose_steps > 0")
        if self.has_faces_phase and self.pose_batch < 2:
            raise ValueError(f"the faces phase takes half of each pose_batch from new faces: it needs pose_batch >= 2, "
                             f"not {self.pose_batch}")
        if min(self.volume_depth, self.volume_size) < 4:
            raise ValueError(f"the volume {self.volume_shape} is too small: depth and size must be at least 4")

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "LatentConfig":
        name = resolve_profile(profile)
        if name == "tiny":
            cfg = cls()
        elif name == "small":
            # 128 px for a CPU: the volume and the 3D networks stay tiny-sized (3D convolutions dominate the cost),
            # the extra pixels go to the motion encoder (a full 128 px view of eyes and mouth) and the 2D decoder;
            # losses weigh the eyes, brows and mouth (w_face_parts, eye_weight, w_mouth_inside) and z_dyn is told what
            # a tracker reads of the expression (w_expression). Trains in ~1.5 h on 2 CPU cores; then a focus phase
            # (~40 min) shows it closed eyes: 40 % of the drivers mid-blink, the eyes weighted 4x, each expression's
            # error in its own spread, and an extra L1 on the eyes' inside; then a gate phase (~20 min, G2D alone)
            # teaches the decoder to paint the inside of an open mouth instead of stretching the lips over it; then
            # an emotion phase (~15 min, the renderer alone) teaches the warps to lift the mouth's corners; then a
            # people phase (~10 min, z_dyn's CNN alone, on 2000 clips: 1200 more, ~8 min and 4.8 GB to make) shows
            # z_dyn 2.5x as many people, so it reads the jaw and the blinks of new people; then a pose phase (~8 min,
            # z_pose's CNN alone, on the same people) reads the head's roll and yaw closer; then a faces phase (~6 min,
            # z_pose's CNN alone, half of each batch from 12000 people drawn once each) reads new faces' angles
            # closer still.
            cfg = cls(profile="small", image_size=128, app_channels=(24, 48), volume_channels=16, volume_depth=8,
                      id_dim=32, motion_channels=(16, 32, 48, 64, 96), motion_size=128, dyn_dim=24,
                      flow_channels=16, flow_upsamples=2, dec_channels=(64, 32), g3d_blocks=1,
                      w_face_parts=8.0, eye_weight=2.0, w_mouth_inside=4.0, w_expression=2.0,
                      batch_size=8, aux_batch=4, steps=7000, lr=1e-3,
                      focus_steps=2000, blink_share=0.4, focus_eye_weight=4.0, focus_lr=7e-4,
                      focus_scaled_expression=True, focus_eye_inside=8.0, gate_steps=5000, gate_lr=3e-4,
                      emotion_steps=6000, emotion_lr=1e-3, w_flow_landmarks=50.0,
                      people_steps=3000, people_clips=2000, pose_steps=15000,
                      new_faces=12000, faces_pose_steps=5000)
        else:
            # MegaPortraits' sizes at 512 px: V_app 96 x 16 x 64 x 64; the motion encoder sees a 256 px copy.
            cfg = cls(profile="full", image_size=512, app_channels=(64, 128, 256), volume_channels=96,
                      volume_depth=16, id_dim=256, motion_channels=(64, 128, 256, 256, 512, 512),
                      motion_size=256, dyn_dim=128, flow_channels=64, flow_upsamples=2,
                      dec_channels=(512, 256, 128), g3d_blocks=4, w_perceptual=1.0, w_gan=0.1,
                      w_feature_matching=1.0, disc_channels=(64, 128, 256, 512), aux_batch=2, steps=200_000,
                      image_skip=False, dyn_to_decoder=False, w_face_parts=1.0,
                      batch_size=4, lr=2e-4)
        return replace(cfg, **overrides) if overrides else cfg


def emotion_phase(config: LatentConfig, steps: int | None = None, w_lips: float | None = None,
                  w_flow_landmarks: float | None = None, flow_landmark_lips: str | None = None) -> LatentConfig:
    """``config`` with ``steps`` emotion-phase steps, lips weight ``w_lips``, landmark-correspondence weight
    ``w_flow_landmarks`` and its lips' points ``flow_landmark_lips`` (None keeps the config's own); 0 steps gives
    exactly the model before that phase (the benchmarks' ``--emotion-steps``). Any setting given compares renderers:
    the result stops at the emotion phase (no people phase after it)."""
    if any(value is not None for value in (steps, w_lips, w_flow_landmarks, flow_landmark_lips)):
        config = config.without_people()
    if steps is not None:
        config = replace(config, emotion_steps=steps)
    for name, value in (("w_lips", w_lips), ("w_flow_landmarks", w_flow_landmarks),
                        ("flow_landmark_lips", flow_landmark_lips)):
        if value is not None:
            if not config.has_emotion_phase:
                raise ValueError(f"{name} sets a loss of the emotion phase: it needs emotion steps > 0")
            config = replace(config, **{name: value})
    return config if config.has_emotion_phase else config.without_emotion()
