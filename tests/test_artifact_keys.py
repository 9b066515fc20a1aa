"""Artifact keys: a setting added later keeps every older artifact's key while it sits at its default."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from vasa_lab.artifacts import ADDED_LATER, config_key


@dataclass(frozen=True)
class Inner:
    a: int = 1


@dataclass(frozen=True)
class InnerLater:
    a: int = 1
    b: bool = field(default=False, metadata=ADDED_LATER)


@dataclass(frozen=True)
class Outer:
    x: float = 0.5
    inner: Inner = field(default_factory=Inner)


@dataclass(frozen=True)
class OuterLater:
    x: float = 0.5
    inner: InnerLater = field(default_factory=InnerLater)
    y: str = field(default="", metadata=ADDED_LATER)


def test_a_later_setting_at_its_default_keeps_the_key_at_any_depth():
    assert config_key(OuterLater()) == config_key(Outer())


def test_a_later_setting_away_from_its_default_changes_the_key():
    assert config_key(OuterLater(y="on")) != config_key(Outer())
    assert config_key(OuterLater(inner=InnerLater(b=True))) != config_key(Outer())
    assert config_key(OuterLater(x=0.7)) != config_key(OuterLater())


def test_the_shipped_tiny_keys_did_not_move():
    """The shipped tiny weights are found by these keys (vasa_lab/weights/); new settings must not move them."""
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.motion.config import MotionConfig

    assert config_key(LatentConfig.for_profile("tiny")) == "cfae38a76e1a"
    # the motion models trained for 6000 steps (2000 until bench_capp_training.py --pixels chose 6000)
    assert config_key(MotionConfig.for_profile("tiny")) == "b583516c1fc3"                # noised context
    assert config_key(MotionConfig.for_profile("tiny", codes="truth")) == "8ef8a932ed1f"
    # trained on the clean context, as before context_noise: chapter 08's model that drifts
    assert config_key(MotionConfig.for_profile("tiny", context_noise=0.0)) == "a5b7bca89e1d"


def test_the_small_phases_keep_their_keys_and_the_motion_codes_name_the_last_phase():
    """small's gate and emotion phases train only the renderer, so their keys (and the shipped models) stay; the
    people, pose and faces phases train the motion encoder's CNNs, so the motion config (codes, generator) names
    the last of them, not the focus phase's model."""
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.motion.config import MotionConfig

    small = LatentConfig.for_profile("small")
    assert small.has_gate_phase and config_key(small.without_gate()) == "c5dc7a1f6282"
    assert config_key(small.without_emotion()) == "710ee6c1ca71"                          # 5000 gate steps, shipped
    assert config_key(small.without_people()) == "ea3360dd5388"                          # + 6000 emotion steps
    assert config_key(small.without_pose()) == "ae1bd9e5b788"                            # + 3000 people steps
    assert small.has_pose_phase and config_key(small.without_faces()) == "44e0168cdb1c"   # + 15000 pose steps
    assert small.has_faces_phase and config_key(small) == "de5e4bee346d"     # + 5000 steps of z_pose on new faces
    assert config_key(small.first_phase()) == "2b3f2dd889c1"
    assert config_key(small.without_people().codes_config()) == "c5dc7a1f6282"            # the codes before
    assert config_key(small.without_pose().codes_config()) == "ae1bd9e5b788"              # the people phase's codes
    assert MotionConfig.for_profile("small").latent_key == "de5e4bee346d"
    assert config_key(MotionConfig.for_profile("small")) == "986274e35801"          # on the faces phase's codes
    before = MotionConfig.for_profile("small", latent_key="44e0168cdb1c")
    assert config_key(before) == "20d4351df5d8"                          # the pose phase's, 0.3 of windows on a blink
    assert config_key(replace(before, blink_windows=0.0)) == "f32e31db5ef5"                     # shipped before
