"""The motion generator's settings: one frozen dataclass, a size per profile (see ``vasa_lab.config``).

=========  ===============================  ===================  =================================================
profile    transformer (layers x width x    window W / context K  trains
           heads)
=========  ===============================  ===================  =================================================
``tiny``   3 x 96 x 4                       25 / 10 frames        ~8 min on 2 CPU cores; weights shipped
``small``  4 x 128 x 4                      25 / 10 frames        ~30 min on 2 CPU cores (small latent codes)
``full``   8 x 512 x 8 (VASA-1's DiT)       50 / 10 frames        one 24 GB GPU (or DDP), real video
=========  ===============================  ===================  =================================================

VASA-1 does not publish its window and prefix lengths; FLOAT uses 2 s windows with 10 previous frames, which is
what ``full`` takes. Everything a trained motion model depends on lives in :class:`MotionConfig`: the
audio feature settings (a nested :class:`vasa_lab.audio.AudioConfig`) and the artifact key of the face latent
model whose motion codes it generates (``latent_key``), so the store's key changes whenever any of them does.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..audio.config import AudioConfig
from ..artifacts import ADDED_LATER
from ..config import resolve_profile

SAMPLERS = ("ddim", "dpm++", "ddpm")
CONDITIONS = ("audio", "gaze", "distance", "emotion")   # what classifier-free guidance can steer
CODE_SOURCES = ("latent", "truth")
# The default audio guidance scale l_audio (VASA-1's is 0.5), by profile and by how much of its audio a window hears.
# Whole windows (vasa-lab animate, generate_motion, chapter 10):
# - tiny 1.5. On chapter 10's pixels (6000-step model, 12 clips x 3 seeds; benchmarks/bench_head_audio.py --part
#   pixels) it reads better than 1 on every column: lip sync S_C 4.567 -> 4.616, CAPP 0.359 -> 0.375, FVD_25 79.0 ->
#   72.8, identity 0.980 both (next 12 clips: S_C 4.344 -> 4.415, CAPP 0.414 -> 0.430); 0.5 reads worse (4.343, 0.328).
# - small 1. On small's pixels 1.5 buys nothing measurable (16 held-out clips, 9000-step model: generated mouth vs
#   true jaw r 0.865 -> 0.868, range 1.199 -> 1.205 of real) and moves a mouth un-expressed from a wrong reading more
#   (Grace Hopper's encoded-source mouth std 0.013 -> 0.018; README, "The audio guidance scale").
# - full 1: not measured on real video yet.
# A live stream that hears only `lookahead` frames ahead (the avatar, the browser page, chapter 08): 1, every profile.
# There 1.5 is mixed and sometimes worse (tiny; benchmarks/bench_stream.py --skip-pace --pixels --sync --audio-scales
# 1,1.5, 16 clips): at 80 ms the jaw read from the codes drops 0.866 -> 0.847 while S_C rises 4.274 -> 4.327, and at
# 320 ms it breaks (jaw 0.873 -> 0.763, S_C 4.299 -> 4.076).
AUDIO_GUIDANCE = {"tiny": 1.5, "small": 1.0, "full": 1.0}
LIVE_AUDIO_GUIDANCE = 1.0
# DDIM steps per window when a whole clip is drawn (vasa-lab animate, make demo, chapter 10's row); a live stream
# keeps LIVE_STEPS, where every step is latency. Small 25: generated blinks reach the pixels about twice as often
# (16 held-out clips, tracked blinks per second over seeds 0 and 100: 10 steps 0.047 / 0.094, 25 steps 0.078 / 0.203,
# 50 steps 0.094 / 0.219, DDPM 200 0.188 / 0.188; real frames 0.359) with lip sync unchanged (generated mouth vs the
# true jaw 0.917-0.921 of the real frames' r either way); the motion costs 2.5x (README, "Blinks on the pixels").
# Tiny 10: there 25 steps cost lip sync on chapter 10's pixels (README, "The audio guidance scale"). Full 50, VASA-1's.
SAMPLE_STEPS = {"tiny": 10, "small": 25, "full": 50}
LIVE_STEPS = 10
JOIN_FRAMES = 3.0   # the first window's head pose joins the motion it continues, the join fading over this many frames
                    # (120 ms); None leaves it as drawn (vasa_lab.motion.diffusion.join_to, MotionStream._joins)


def default_audio_guidance(profile: str, lookahead: int | None = None) -> float:
    """The default audio guidance for a motion model of ``profile`` drawing whole windows (``lookahead`` None, the
    offline path) or streaming with ``lookahead`` frames of audio ahead (:data:`LIVE_AUDIO_GUIDANCE`)."""
    if lookahead is not None:
        return LIVE_AUDIO_GUIDANCE
    return AUDIO_GUIDANCE.get(profile, LIVE_AUDIO_GUIDANCE)


def default_steps(profile: str) -> int:
    """DDIM steps per window for drawing a whole clip with a motion model of ``profile`` (:data:`SAMPLE_STEPS`)."""
    return SAMPLE_STEPS.get(profile, LIVE_STEPS)


def latent_key_for(profile: str) -> str:
    """The artifact key of the profile's face latent model (``vasa_lab.latent``) whose motion encoder makes the codes
    we generate: :meth:`LatentConfig.codes_config` (a gate phase trains only the decoder, so it keeps the key of the
    model it continues, and the codes and generators made for that model stay valid)."""
    from ..artifacts import config_key
    from ..latent.config import LatentConfig

    return config_key(LatentConfig.for_profile(profile).codes_config())


@dataclass(frozen=True)
class MotionConfig:
    """Everything that decides a trained motion diffusion transformer."""

    profile: str = "tiny"

    # --- what is generated: one motion code X = [z_pose, z_dyn] per frame at 25 fps --------------------------
    pose_dim: int = 6                 # yaw, pitch, roll (deg), tx, ty, scale: z_pose of vasa_lab.latent
    dyn_dim: int = 16                 # z_dyn of the face latent model
    codes: str = "latent"             # "latent": codes encoded by the face latent model from the clips' frames;
                                      # "truth": a stand-in made from the world's FaceStates (tests, no latent model)
    latent_key: str = ""              # artifact key of that face latent model ("" only with codes="truth")
    audio: AudioConfig = field(default_factory=AudioConfig)

    # --- sliding windows ------------------------------------------------------------------------------------
    window: int = 25                  # W: frames generated per window
    context: int = 10                 # K: frames of the previous window the next one sees

    # --- the transformer --------------------------------------------------------------------------------------
    width: int = 96
    layers: int = 3
    heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    anchor_to_context: bool = True    # predict the window as an offset from the last context frame (model.py)

    # --- diffusion --------------------------------------------------------------------------------------------
    timesteps: int = 1000             # N of the forward process
    beta_schedule: str = "squaredcos_cap_v2"   # diffusers' name for the cosine schedule (Nichol & Dhariwal)

    # --- condition dropout (classifier-free guidance training), VASA-1's rates ---------------------------------
    p_drop: float = 0.1               # each of audio, gaze, distance, emotion, independently
    p_drop_context: float = 0.5       # the previous window's motion and audio (X_pre, A_pre), together
    p_cut_audio_tail: float = 0.2     # the audio stops at a random frame of the window (short audio, streaming)
    context_noise: float = field(default=0.0, metadata=ADDED_LATER)   # the context moved by up to this many std
                                      # in training (diffusion.noise_context): a model that expects its own errors

    # --- loss -------------------------------------------------------------------------------------------------
    w_velocity: float = 1.0           # L2 on frame-to-frame differences of X_0 too (0 = VASA-1's plain loss)
    w_join: float = 10.0              # ... and the step from the last context frame into the window weighs this much
    w_pose: float = field(default=1.0, metadata=ADDED_LATER)   # the head pose's dimensions weigh this much in both
                                      # terms (1 = like every other dimension; benchmarks/bench_capp_training.py)
    blink_windows: float = field(default=0.0, metadata=ADDED_LATER)   # this share of training windows is drawn
                                      # around a blink (data.MotionWindows; 0 = every window uniformly, as VASA-1)

    # --- training ---------------------------------------------------------------------------------------------
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    seed: int = 0
    data: str = ""                    # a dataset folder; "" = the profile's synthetic world

    @property
    def motion_dim(self) -> int:
        """Length of one frame's code [z_pose, z_dyn]."""
        return self.pose_dim + self.dyn_dim

    @property
    def audio_dim(self) -> int:
        return self.audio.feature_dim

    @property
    def n_emotions(self) -> int:
        from ..world.behaviour import EMOTIONS

        return len(EMOTIONS)

    def check(self) -> None:
        """Raise ValueError with one clear sentence for an impossible setting."""
        if self.codes not in CODE_SOURCES:
            raise ValueError(f"codes must be one of {', '.join(CODE_SOURCES)}, not {self.codes!r}")
        if not 0.0 <= self.blink_windows <= 1.0:
            raise ValueError(f"blink_windows is a share of the training windows, between 0 and 1, not "
                             f"{self.blink_windows}")
        if self.codes == "latent" and not self.latent_key:
            raise ValueError("codes='latent' needs latent_key: the artifact key of the face latent model")
        if self.window < 1 or self.context < 1:
            raise ValueError(f"window and context must be at least 1 frame, got {self.window} and {self.context}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")
        for name in ("p_drop", "p_drop_context", "p_cut_audio_tail"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "MotionConfig":
        """The profile's config; keyword arguments override fields (``for_profile("tiny", codes="truth")``)."""
        from ..latent.config import LatentConfig

        name = resolve_profile(profile)
        audio = AudioConfig.for_profile(name)
        dyn_dim = LatentConfig.for_profile(name).dyn_dim      # the face latent model's z_dyn size
        # every profile trains on a noised context (noise_context): without it the model leans on its own errors
        # and a long stream walks away unless chapter 08's drift control holds it (benchmarks/bench_long_audio.py)
        if name == "tiny":
            # 6000 steps, not 2000: on chapter 10's pixels lip sync S_C 4.260 -> 4.567 and 4.552 (two seeds; real
            # video 4.528), CAPP 0.356 -> 0.359 and 0.369 (benchmarks/bench_capp_training.py --pixels)
            cfg = cls(dyn_dim=dyn_dim, audio=audio, context_noise=0.5, steps=6000)
        elif name == "small":
            # tiny's windows on the small latent space's codes, a little wider: ~30 minutes on 2 cores. 9000 steps,
            # not 3000: on small's pixels the generated mouth follows the true jaw better (r 0.820 -> 0.865, 16
            # held-out clips; on the codes 0.876 -> 0.939), validation loss 0.255 -> 0.205. 0.3 of the windows drawn
            # around a blink: the tracker reads 0.352 generated blinks a second (seeds 0 and 100; real frames 0.359,
            # uniform windows 0.180) with lip sync kept (r 0.840 -> 0.852; benchmarks/bench_small_motion.py
            # --blink-windows 0,0.3,0.5; README, "Windows around blinks")
            cfg = cls(profile="small", dyn_dim=dyn_dim, audio=audio, width=128, layers=4, heads=4, steps=9000,
                      batch_size=32, context_noise=0.5, blink_windows=0.3)
        else:
            cfg = cls(profile="full", dyn_dim=dyn_dim, audio=audio, window=50, context=10, width=512, layers=8,
                      heads=8, steps=200_000, batch_size=128, lr=2e-4, warmup_steps=2000, context_noise=0.5)
        if overrides.get("codes", cfg.codes) == "latent" and "latent_key" not in overrides:
            cfg = replace(cfg, latent_key=latent_key_for(name))
        cfg = replace(cfg, **overrides) if overrides else cfg
        cfg.check()
        return cfg
