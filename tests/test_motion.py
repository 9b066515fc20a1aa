"""The motion diffusion transformer (vasa_lab.motion): shapes, guidance, dropout, windows, samplers, bad input."""
import json

import numpy as np
import pytest
import torch

from vasa_lab.motion import Conditioning, MotionConditions, MotionConfig, MotionDiT, generate_motion, join_jumps
from vasa_lab.motion import diffusion as diff


def small_config(**overrides) -> MotionConfig:
    kw = dict(codes="truth", width=32, layers=1, heads=2, window=8, context=3, steps=4, batch_size=8, warmup_steps=1)
    kw.update(overrides)
    return MotionConfig.for_profile("tiny", **kw)


def make_cond(cfg: MotionConfig, B: int, seed: int = 0) -> Conditioning:
    g = torch.Generator().manual_seed(seed)
    K, W, M, A, E = cfg.context, cfg.window, cfg.motion_dim, cfg.audio_dim, cfg.n_emotions
    true = lambda *s: torch.ones(*s, dtype=torch.bool)  # noqa: E731
    return Conditioning(
        context=torch.randn(B, K, M, generator=g), context_keep=true(B),
        context_audio=torch.randn(B, K, A, generator=g), context_audio_keep=true(B, K),
        audio=torch.randn(B, W, A, generator=g), audio_keep=true(B, W),
        gaze=torch.randn(B, 2, generator=g) * 10, gaze_keep=true(B),
        distance=1 + 0.1 * torch.randn(B, generator=g), distance_keep=true(B),
        emotion=torch.eye(E)[torch.randint(E, (B,), generator=g)], emotion_keep=true(B))


@pytest.fixture(scope="module")
def cfg():
    return small_config()


@pytest.fixture(scope="module")
def model(cfg):
    torch.manual_seed(0)
    return MotionDiT(cfg).eval()


# --- the network -------------------------------------------------------------------------------------------------
def test_profiles():
    full = MotionConfig.for_profile("full")
    assert (full.layers, full.width, full.heads) == (8, 512, 8)
    tiny = MotionConfig.for_profile("tiny")
    assert tiny.motion_dim == 22 and tiny.latent_key and tiny.audio_dim == tiny.audio.feature_dim
    with pytest.raises(ValueError, match="divisible"):
        MotionConfig.for_profile("tiny", width=30, heads=4)


def test_forward_shapes(cfg, model):
    B = 3
    x_t = torch.randn(B, cfg.window, cfg.motion_dim)
    out = model(x_t, torch.tensor([0, 500, 999]), make_cond(cfg, B))
    assert out.shape == (B, cfg.window, cfg.motion_dim)
    with pytest.raises(ValueError, match="x_t must be"):
        model(torch.randn(B, cfg.window + 1, cfg.motion_dim), torch.zeros(B, dtype=torch.long), make_cond(cfg, B))


def test_dropped_condition_changes_the_prediction(cfg, model):
    x_t, t, cond = torch.randn(2, cfg.window, cfg.motion_dim), torch.tensor([10, 10]), make_cond(cfg, 2)
    with torch.no_grad():
        full = model(x_t, t, cond)
        for name in ("audio", "gaze", "distance", "emotion", "context"):
            assert not torch.allclose(full, model(x_t, t, cond.without(name))), name


# --- guidance ----------------------------------------------------------------------------------------------------
def test_guidance_with_all_scales_zero_is_the_plain_prediction(cfg, model):
    x_t, t, cond = torch.randn(2, cfg.window, cfg.motion_dim), torch.tensor([100, 700]), make_cond(cfg, 2)
    with torch.no_grad():
        plain = model(x_t, t, cond)
        guided = diff.guided_x0(model, x_t, t, cond, dict(audio=0.0, gaze=0.0, distance=0.0, emotion=0.0))
    assert torch.allclose(guided, plain, atol=1e-6)


def test_guidance_without_conditions_is_the_unconditional_prediction(cfg, model):
    x_t, t = torch.randn(2, cfg.window, cfg.motion_dim), torch.tensor([100, 700])
    empty = make_cond(cfg, 2)
    for name in ("audio", "gaze", "distance", "emotion"):
        empty = empty.without(name)
    with torch.no_grad():
        uncond = model(x_t, t, empty)
        guided = diff.guided_x0(model, x_t, t, empty, dict(audio=2.0, gaze=1.0, distance=0.5, emotion=3.0))
    assert torch.allclose(guided, uncond, atol=1e-6)


def test_guidance_formula(cfg, model):
    x_t, t, cond = torch.randn(2, cfg.window, cfg.motion_dim), torch.tensor([100, 700]), make_cond(cfg, 2)
    la, lg = 0.5, 1.0
    with torch.no_grad():
        h, h_a, h_g = model(x_t, t, cond), model(x_t, t, cond.without("audio")), model(x_t, t, cond.without("gaze"))
        guided = diff.guided_x0(model, x_t, t, cond, dict(audio=la, gaze=lg))
    assert torch.allclose(guided, (1 + la + lg) * h - la * h_a - lg * h_g, atol=1e-5)
    with pytest.raises(ValueError, match="unknown guidance"):
        diff.guided_x0(model, x_t, t, cond, dict(lips=1.0))


def test_condition_dropout_rates(cfg):
    B = 20_000
    cond = make_cond(cfg, B)
    dropped = diff.drop_conditions(cond, cfg, torch.Generator().manual_seed(0))
    for name, p in (("gaze", cfg.p_drop), ("distance", cfg.p_drop), ("emotion", cfg.p_drop),
                    ("context", cfg.p_drop_context), ("context_audio", cfg.p_drop)):
        rate = 1 - getattr(dropped, f"{name}_keep").float().mean().item()
        assert abs(rate - p) < 0.015, (name, rate, p)
    whole = ~dropped.audio_keep.any(1)                     # the window's audio dropped entirely
    assert abs(whole.float().mean().item() - cfg.p_drop) < 0.015
    cut = dropped.audio_keep[:, 0] & ~dropped.audio_keep[:, -1]   # audio that stops inside the window
    assert abs(cut.float().mean().item() - cfg.p_cut_audio_tail * (1 - cfg.p_drop)) < 0.02
    # a cut audio stays off after it stops
    k = dropped.audio_keep[cut].int()
    assert (k.diff(dim=1) <= 0).all()


def test_context_noise_moves_only_the_context_by_a_shared_offset_and_a_jitter(cfg):
    B = 4000
    cond = make_cond(cfg, B)
    noised = diff.noise_context(cond, 0.6, torch.Generator().manual_seed(1))
    moved = noised.context - cond.context                                  # (B, K, M)
    for name, value in cond.__dict__.items():                              # everything else untouched
        if name != "context":
            assert torch.equal(getattr(noised, name), value), name
    # sigma ~ U(0, 0.6) per window, each frame's move N(0, sigma^2): variance E[sigma^2] = 0.6^2 / 3
    assert abs(moved.var().item() - 0.6 ** 2 / 3) < 0.005
    # half of it is one offset shared by the window's K frames: frames of a window move together (corr 1/2)
    a, b = moved[:, 0].flatten(), moved[:, 1].flatten()
    assert abs(torch.corrcoef(torch.stack([a, b]))[0, 1].item() - 0.5) < 0.03
    assert torch.equal(diff.noise_context(cond, 0.0).context, cond.context)


# --- the samplers against the formulas -------------------------------------------------------------------------
def test_forward_process_matches_diffusers(cfg):
    sched = diff.make_scheduler(cfg, "ddpm")
    x0, noise = torch.randn(4, 8, 22), torch.randn(4, 8, 22)
    t = torch.tensor([0, 10, 500, 999])
    assert torch.allclose(diff.q_sample(x0, t, noise, sched.alphas_cumprod), sched.add_noise(x0, noise, t), atol=1e-5)


def test_ddim_step_by_hand_matches_diffusers(cfg):
    sched = diff.make_scheduler(cfg, "ddim")
    sched.set_timesteps(10)
    ts = [int(t) for t in sched.timesteps]
    x_t, x0_hat = torch.randn(2, 8, 22), torch.randn(2, 8, 22)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        lib = sched.step(x0_hat, t, x_t).prev_sample
        hand = diff.ddim_step_by_hand(x_t, x0_hat, t, t_prev, sched.alphas_cumprod)
        assert torch.allclose(lib, hand, atol=1e-5), t
    assert torch.allclose(hand, x0_hat, atol=1e-5)    # the last step lands on the clean prediction


def test_ddpm_step_by_hand_matches_diffusers(cfg):
    sched = diff.make_scheduler(cfg, "ddpm")
    sched.set_timesteps(cfg.timesteps)
    x_t, x0_hat = torch.randn(2, 8, 22), torch.randn(2, 8, 22)
    for t in (999, 500, 1):
        lib = sched.step(x0_hat, t, x_t, generator=torch.Generator().manual_seed(t)).prev_sample
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t))
        hand = diff.ddpm_step_by_hand(x_t, x0_hat, t, sched.alphas_cumprod, noise)
        assert torch.allclose(lib, hand, atol=1e-5), t


def test_join_to_continues_the_head_from_the_frame_before_and_leaves_the_rest():
    """The first frame's join (MotionStream's join_frames): only the first P numbers move, and the move fades."""
    x0 = torch.randn(2, 25, 10, generator=torch.Generator().manual_seed(0))
    last = torch.randn(2, 6, generator=torch.Generator().manual_seed(1)) * 3
    out = diff.join_to(x0, last, frames=3.0)
    first_step = out[:, 0, :6] - last
    assert torch.allclose(first_step, x0[:, 1, :6] - x0[:, 0, :6], atol=1e-5)   # as far as the window's own step
    assert torch.equal(out[..., 6:], x0[..., 6:])                               # z_dyn untouched
    moved = (out - x0)[..., :6].abs().mean((0, 2))
    assert torch.all(moved[1:] < moved[:-1]) and moved[-1] < 1e-3 * moved[0]   # the move fades over the window


# --- sliding windows -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frames", ["short", "one", "three_and_a_half"])
def test_window_joins(cfg, model, monkeypatch, frames):
    from vasa_lab.motion.stream import CONTEXT_BOUND, soft_bound

    W, K = cfg.window, cfg.context
    T = dict(short=W // 2, one=W, three_and_a_half=int(3.5 * W))[frames]
    seen = []
    original = diff.sample_window

    def recording(model_, cond, *args, **kwargs):
        out = original(model_, cond, *args, **kwargs)
        seen.append((cond, out))
        return out

    monkeypatch.setattr("vasa_lab.motion.stream.sample_window", recording)
    audio = np.random.default_rng(0).standard_normal((T, cfg.audio_dim)).astype(np.float32)
    motion = generate_motion(model, audio, MotionConditions(), steps=2)
    assert motion.shape == (T, cfg.motion_dim) and motion.dtype == np.float32
    assert len(seen) == -(-T // W)
    assert not seen[0][0].context_keep.any()                              # the first window has no past
    assert seen[-1][0].audio_keep.sum() == T - (len(seen) - 1) * W       # padding past the audio is "no audio"
    drawn = model.normalize_motion(torch.from_numpy(motion))              # the frames made (after drift control)
    for i, ((prev_cond, prev_out), (cond, _)) in enumerate(zip(seen, seen[1:]), start=1):
        assert cond.context_keep.all()
        made = soft_bound(drawn[i * W - K:i * W], CONTEXT_BOUND)              # X_pre = the last K frames made,
        assert torch.allclose(cond.context[0], made, atol=1e-5)                # as the network sees them
        assert torch.allclose(cond.context_audio[0], prev_cond.audio[0, -K:])
    j = join_jumps(motion, W)
    assert j["n_joins"] == len(seen) - 1


def test_first_motion_becomes_the_context(cfg, model, monkeypatch):
    seen = []
    original = diff.sample_window
    monkeypatch.setattr("vasa_lab.motion.stream.sample_window",
                        lambda m, c, *a, **k: seen.append(c) or original(m, c, *a, **k))
    first = np.random.default_rng(1).standard_normal((2, cfg.motion_dim)).astype(np.float32)
    generate_motion(model, np.zeros((5, cfg.audio_dim), np.float32), first_motion=first, steps=1,
                    context_bound=None)                                 # the context as given (bounded: its own test)
    ctx = seen[0].context[0]
    assert seen[0].context_keep.all() and not seen[0].context_audio_keep.any()
    expected = model.normalize_motion(torch.from_numpy(first))
    assert torch.allclose(ctx[-2:], expected) and torch.allclose(ctx[0], expected[0])   # a short one is edge-padded


def test_first_audio_is_the_context_audio(cfg, model, monkeypatch):
    seen = []
    original = diff.sample_window
    monkeypatch.setattr("vasa_lab.motion.stream.sample_window",
                        lambda m, c, *a, **k: seen.append(c) or original(m, c, *a, **k))
    rng = np.random.default_rng(2)
    first = rng.standard_normal((cfg.context + 2, cfg.motion_dim)).astype(np.float32)
    first_audio = rng.standard_normal((cfg.context + 2, cfg.audio_dim)).astype(np.float32)
    generate_motion(model, np.zeros((5, cfg.audio_dim), np.float32), first_motion=first, first_audio=first_audio,
                    steps=1)
    assert seen[0].context_audio_keep.all()
    assert torch.allclose(seen[0].context_audio[0], torch.from_numpy(first_audio[-cfg.context:]))
    with pytest.raises(ValueError, match="one row per first_motion frame"):
        generate_motion(model, np.zeros((5, cfg.audio_dim), np.float32), first_motion=first,
                        first_audio=first_audio[:3])
    with pytest.raises(ValueError, match="first_audio needs first_motion"):
        generate_motion(model, np.zeros((5, cfg.audio_dim), np.float32), first_audio=first_audio)


def test_deterministic_with_a_seed(cfg, model):
    audio = np.random.default_rng(0).standard_normal((20, cfg.audio_dim)).astype(np.float32)
    cond = MotionConditions(gaze=(10, -5), distance=1.1, emotion="happy")
    for sampler in ("ddim", "dpm++", "ddpm"):
        a = generate_motion(model, audio, cond, steps=3, sampler=sampler, seed=7)
        b = generate_motion(model, torch.from_numpy(audio), cond, steps=3, sampler=sampler, seed=7)
        c = generate_motion(model, audio, cond, steps=3, sampler=sampler, seed=8)
        assert np.array_equal(a, b) and not np.allclose(a, c), sampler


def test_ddim_eta_adds_seeded_noise_and_zero_changes_nothing(cfg, model):
    audio = np.random.default_rng(1).standard_normal((20, cfg.audio_dim)).astype(np.float32)
    plain = generate_motion(model, audio, steps=4, seed=3)
    assert np.array_equal(plain, generate_motion(model, audio, steps=4, seed=3, eta=0.0))
    noisy = generate_motion(model, audio, steps=4, seed=3, eta=1.0)
    assert np.array_equal(noisy, generate_motion(model, audio, steps=4, seed=3, eta=1.0))    # the seed draws it
    half = generate_motion(model, audio, steps=4, seed=3, eta=0.5)
    assert not np.allclose(noisy, plain) and not np.allclose(half, noisy) and not np.allclose(half, plain)
    # with one step the sampler jumps straight to the clean prediction: no variance is left to add, whatever eta,
    # so the first window is the same (the noise still drawn moves the seed on for the next window's start)
    W = cfg.window
    assert np.allclose(generate_motion(model, audio, steps=1, seed=3, eta=1.0)[:W],
                       generate_motion(model, audio, steps=1, seed=3)[:W], atol=1e-6)


def test_join_jumps_measure():
    smooth = np.linspace(0, 1, 40)[:, None].repeat(3, 1)
    assert join_jumps(smooth, 10)["ratio"] == pytest.approx(1.0)
    jumpy = smooth.copy()
    jumpy[20:] += 1.0
    assert join_jumps(jumpy, 10)["ratio"] > 5
    assert np.isnan(join_jumps(smooth[:10], 10)["ratio"])


# --- bad input -----------------------------------------------------------------------------------------------------
def test_unknown_emotion_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown emotion 'joyful'.*neutral, happy, angry, surprised, sad"):
        MotionConditions(emotion="joyful")
    with pytest.raises(ValueError, match="unknown emotion"):
        MotionConditions(emotion={"happy": 0.5, "bored": 0.5})
    assert MotionConditions(emotion={"happy": 0.5, "sad": 0.5}).emotion_scores().sum() == pytest.approx(1.0)


def test_bad_conditions():
    with pytest.raises(ValueError, match="gaze must be two"):
        MotionConditions(gaze=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="gaze must be two"):
        MotionConditions(gaze=(float("nan"), 0.0))
    with pytest.raises(ValueError, match="distance must be"):
        MotionConditions(distance=-1)


def test_bad_generate_input(cfg, model):
    good = np.zeros((10, cfg.audio_dim), np.float32)
    with pytest.raises(ValueError, match=r"audio_features must be \(T, "):
        generate_motion(model, np.zeros((10, cfg.audio_dim + 1), np.float32))
    with pytest.raises(ValueError, match="empty"):
        generate_motion(model, np.zeros((0, cfg.audio_dim), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        generate_motion(model, np.full((10, cfg.audio_dim), np.nan, np.float32))
    with pytest.raises(ValueError, match="unknown sampler"):
        generate_motion(model, good, sampler="euler")
    with pytest.raises(ValueError, match="steps must be"):
        generate_motion(model, good, steps=0)
    with pytest.raises(ValueError, match="eta must be a number from 0"):
        generate_motion(model, good, eta=1.5)
    with pytest.raises(ValueError, match="eta must be a number from 0"):
        generate_motion(model, good, eta=float("nan"))
    with pytest.raises(ValueError, match="the ddpm sampler takes none"):
        generate_motion(model, good, sampler="ddpm", eta=0.5)
    with pytest.raises(ValueError, match="first_motion must be"):
        generate_motion(model, good, first_motion=np.zeros((3, 5)))


def test_blink_count_and_window_position_speed_have_known_answers():
    from vasa_lab.metrics.motion_codes import blinks_per_second, speed_by_window_position

    eyelid = np.zeros(250)                                   # 10 s at 25 fps with 3 blinks, one of them held shut
    eyelid[[20, 21, 100]] = 1.0
    eyelid[180:190] = 0.9
    assert blinks_per_second(eyelid) == pytest.approx(0.3)
    assert blinks_per_second(np.full(250, 0.4)) == 0.0      # half-closed all along is no blink
    yaw = np.cumsum(np.tile([3.0] + [1.0] * 4, 20))          # a jump of 3 degrees into every 5-frame window
    motion = np.zeros((100, 6))
    motion[:, 0] = yaw
    profile = speed_by_window_position(motion, 5)
    assert profile == pytest.approx([3.0, 1.0, 1.0, 1.0, 1.0])


def test_blink_depths_are_the_peaks_of_each_closing():
    from vasa_lab.metrics.motion_codes import blink_depths

    eyelid = np.zeros(100)
    eyelid[10:15] = [0.4, 0.9, 1.0, 0.8, 0.35]          # a full blink
    eyelid[50:53] = [0.35, 0.5, 0.4]                      # a half one
    eyelid[98:] = 0.6                                     # one still closing when the clip ends
    assert blink_depths(eyelid).tolist() == pytest.approx([1.0, 0.5, 0.6])
    assert blink_depths(np.zeros(50)).size == 0 and blink_depths(np.full(5, 0.2)).size == 0


def test_largest_lean_reads_the_furthest_pose_number_over_whole_blocks(model, cfg):
    import copy

    from vasa_lab.metrics.motion_codes import largest_lean

    M, P = cfg.motion_dim, cfg.pose_dim
    home = copy.deepcopy(model)
    home.motion_mean.fill_(1.0)
    home.motion_std.fill_(2.0)
    motion = np.ones((60, M), np.float32)                # at the data's mean: 1-s blocks of 25 frames, 10 left over
    motion[:25, 0] = 1 - 2 * 1.5                         # yaw 1.5 std to one side for the first second
    motion[25:50, 3] = 1 + 2 * 3.0                       # tx 3 std to the other for the second
    motion[:, P:] = 50.0                                 # the face codes are not the head's lean
    motion[50:, 1] = 1 + 2 * 10.0                        # nor are frames after the last whole block
    assert largest_lean(home, motion, seconds=1.0) == pytest.approx(3.0)
    assert largest_lean(home, motion[:25], seconds=1.0) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="at least one 1-s block"):
        largest_lean(home, motion[:20], seconds=1.0)


def test_w_pose_weighs_the_head_pose_in_both_loss_terms(cfg):
    from vasa_lab.motion.module import MotionDiffusionModule

    B, K, W, M, A = 4, cfg.context, cfg.window, cfg.motion_dim, cfg.audio_dim
    g = torch.Generator().manual_seed(3)
    batch = dict(x0=torch.randn(B, W, M, generator=g), context=torch.randn(B, K, M, generator=g),
                 context_ok=torch.ones(B), context_audio=torch.randn(B, K, A, generator=g),
                 audio=torch.randn(B, W, A, generator=g), gaze=torch.zeros(B, 2), distance=torch.ones(B),
                 emotion=torch.eye(cfg.n_emotions)[:1].repeat(B, 1), emotion_ok=torch.ones(B))

    def loss(w_pose, w_velocity):
        torch.manual_seed(0)
        module = MotionDiffusionModule(MotionDiT(small_config(w_pose=w_pose, w_velocity=w_velocity)).eval())
        with torch.no_grad():
            return float(module.diffusion_loss(batch, torch.Generator().manual_seed(1), t=torch.full((B,), 50)))

    for w_velocity in (0.0, 1.0):
        no_pose, plain, heavy = loss(0.0, w_velocity), loss(1.0, w_velocity), loss(3.0, w_velocity)
        assert plain > no_pose > 0                                   # the pose's own error is in the plain loss ...
        assert heavy == pytest.approx(no_pose + 3 * (plain - no_pose), rel=1e-5)   # ... and weighs w_pose times
    from vasa_lab.artifacts import config_key

    assert config_key(MotionConfig.for_profile("tiny", w_pose=1.0)) == config_key(MotionConfig.for_profile("tiny"))
    assert config_key(MotionConfig.for_profile("tiny", w_pose=2.0)) != config_key(MotionConfig.for_profile("tiny"))


# --- data and training on a small world ---------------------------------------------------------------------------
def test_data_and_a_short_training_run(tiny_world, tmp_path):
    from vasa_lab.motion.data import MotionWindows, motion_clips
    from vasa_lab.metrics.motion_codes import JawProbe, head_dp
    from vasa_lab.motion.module import train_motion
    from vasa_lab.world.behaviour import EMOTIONS

    cfg = small_config(data=str(tiny_world))
    clips = motion_clips(cfg, store_root=tmp_path)
    assert len(clips) == 12 and clips.motion.shape == (12 * 50, cfg.motion_dim)
    assert clips.audio.shape == (12 * 50, cfg.audio_dim) and np.isfinite(clips.audio).all()
    assert np.allclose(clips.emotion.sum(1), 1) and clips.emotion.shape == (12, len(EMOTIONS))
    assert set(clips.split) <= {"train", "val", "test"} and (clips.split == "train").any()
    assert motion_clips(cfg, store_root=tmp_path).motion.shape == clips.motion.shape   # from the cache
    item = MotionWindows(clips, cfg, "train", length=4)[0]
    assert item["x0"].shape == (cfg.window, cfg.motion_dim) and item["context"].shape == (cfg.context, cfg.motion_dim)
    assert item["audio"].shape == (cfg.window, cfg.audio_dim)
    probe = JawProbe.fit(clips)
    jaw = probe(clips.motion[:50])
    assert np.corrcoef(jaw, clips.states[:50, 6])[0, 1] > 0.95    # truth codes carry jaw_open itself
    from vasa_lab.metrics.motion_codes import StateProbe
    from vasa_lab.world.state import STATE_NAMES

    eyelid = StateProbe.fit(clips, state="blink")(clips.motion)
    assert np.corrcoef(eyelid, clips.states[:, STATE_NAMES.index("blink")])[0, 1] > 0.95    # and the eyelid
    assert head_dp(clips.motion) > 0

    model = MotionDiT(cfg)
    metrics = train_motion(model, clips, progress=False, val_batches=1)
    assert np.isfinite(metrics["train_loss_end"]) and metrics["steps"] == cfg.steps
    assert torch.allclose(model.motion_mean, torch.from_numpy(clips.motion[np.concatenate(
        [np.arange(clips.offsets[i], clips.offsets[i + 1]) for i in clips.indices("train")])].mean(0)), atol=1e-4)


def test_blink_windows_draw_that_share_of_windows_around_a_blink(tiny_world, tmp_path):
    from vasa_lab.motion.data import MotionWindows, motion_clips

    cfg = small_config(data=str(tiny_world))
    clips = motion_clips(cfg, store_root=tmp_path)
    around = MotionWindows(clips, cfg, "train", length=64, blink_windows=1.0)
    middles = {tuple(b) for b in around.blinks}
    assert len(middles) > 0
    for i in range(64):                  # every window holds a blink's middle frame, and drawing it again gives the same
        c, start = around.place(i)
        assert any(c == bc and start <= f < start + cfg.window for bc, f in middles) and around.place(i) == (c, start)
    # 0 draws exactly the windows drawn before the setting existed: the clip, then the start, from (seed, index)
    uniform = MotionWindows(clips, cfg, "train", length=64, seed=5)
    for i in range(16):
        rng = np.random.default_rng([5, i])
        c = int(uniform.index[rng.integers(uniform.index.size)])
        assert uniform.place(i) == (c, int(rng.integers(0, clips.n_frames(c) - cfg.window + 1)))
    assert torch.equal(uniform[3]["x0"], uniform.window(*uniform.place(3))["x0"])
    half = MotionWindows(clips, cfg, "train", length=200, blink_windows=0.5)
    near = sum(any(c == bc and s <= f < s + cfg.window for bc, f in middles) for c, s in map(half.place, range(200)))
    assert 100 <= near < 200     # about half drawn around one, plus uniform ones that hold one; not every window
    # the config's setting is the default; a share outside [0, 1] is one clear sentence
    assert MotionWindows(clips, small_config(data=str(tiny_world), blink_windows=1.0), "train").blink_windows == 1.0
    with pytest.raises(ValueError, match="blink_windows"):
        small_config(blink_windows=1.5)
    with pytest.raises(ValueError, match="blink_windows"):
        MotionWindows(clips, cfg, "train", blink_windows=-0.1)
    # the blinks are the clips' ``shut`` frames: the world's eyelid above TRUE_BLINK ...
    from vasa_lab.motion.data import MotionClips, shut_from_states
    from vasa_lab.world.state import STATE_NAMES, TRUE_BLINK

    eyelid = clips.states[:, STATE_NAMES.index("blink")]
    assert clips.shut.dtype == bool and np.array_equal(clips.shut, eyelid > TRUE_BLINK)
    # ... and a cache written before ``shut`` existed loads with the same frames
    old = tmp_path / "old.npz"
    np.savez(old, **{k: v for k, v in vars(clips).items() if k != "shut"})
    assert np.array_equal(MotionClips.load(old).shut, clips.shut)
    # real video: no truth (NaN states), the tracker's blink flag marks the frames instead; windows centre on those
    tracked = MotionClips(**{**vars(clips), "states": np.full_like(clips.states, np.nan)})
    assert not shut_from_states(tracked.states).any()
    flagged = MotionWindows(tracked, cfg, "train", length=8, blink_windows=0.5)
    assert flagged.blink_windows == 0.5 and {tuple(b) for b in flagged.blinks} == middles
    # clips with neither (no truth, no tracker flag) have no blinks to find: uniform, with a warning
    tracked.shut[:] = False
    with pytest.warns(UserWarning, match="no blink"):
        assert MotionWindows(tracked, cfg, "train", length=8, blink_windows=0.5).blink_windows == 0.0


def test_an_interrupted_motion_training_resumes_and_matches_an_uninterrupted_one(tiny_world, tmp_path):
    """`python -m vasa_lab.motion.train` checkpoints every N steps; run again after a stop, it resumes there (weights,
    optimiser, schedule and the random state that draws noise, t and dropped conditions) and ends with the weights
    an uninterrupted run ends with. A run that stops short raises instead of returning a model that looks finished."""
    from vasa_lab.motion.data import motion_clips
    from vasa_lab.motion.module import train_motion

    cfg = small_config(data=str(tiny_world), steps=6, batch_size=4)
    clips = motion_clips(cfg, store_root=tmp_path)
    torch.manual_seed(0)                          # the same initial weights (the training command seeds first too)
    whole = MotionDiT(cfg)
    done = train_motion(whole, clips, progress=False, val_batches=0, checkpoint_dir=tmp_path / "whole",
                        checkpoint_every=2)
    assert done["steps"] == 6 and done["resumed_at"] == 0

    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match="stopped at step 2 of 6"):   # stands in for a kill after step 2
        train_motion(MotionDiT(cfg), clips, progress=False, val_batches=0, checkpoint_dir=tmp_path / "cut",
                     checkpoint_every=2, trainer_overrides=dict(max_steps=2))
    torch.manual_seed(123)                        # a fresh process: its random state is not the killed one's
    resumed = MotionDiT(cfg)
    again = train_motion(resumed, clips, progress=False, val_batches=0, checkpoint_dir=tmp_path / "cut",
                         checkpoint_every=2)
    assert again["resumed_at"] == 2
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), f"{name} differs after resuming"


# --- the shipped weights ---------------------------------------------------------------------------------------------
def test_shipped_motion_weights_load(tmp_path):
    from vasa_lab.artifacts import PACKAGED_WEIGHTS, ArtifactStore, config_key
    from vasa_lab.motion import load_motion_model

    cfg = MotionConfig.for_profile("tiny")
    folder = PACKAGED_WEIGHTS / "motion" / config_key(cfg)
    assert (folder / "model.safetensors").is_file(), (
        f"no shipped tiny motion weights for config key {config_key(cfg)} in {folder.parent}: the config changed; "
        f"retrain with `python -m vasa_lab.motion.train --profile tiny --store DIR` and copy DIR/motion/<key>")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["key"] == config_key(cfg)
    assert (folder / "model.safetensors").stat().st_size < 8e6
    model = load_motion_model("tiny", store=ArtifactStore(tmp_path / "empty"))   # must not train: shipped
    assert not model.training and (model.motion_std != 1).any()
    motion = generate_motion(model, np.zeros((30, cfg.audio_dim), np.float32), steps=2)
    assert motion.shape == (30, 22) and np.isfinite(motion).all()


def test_shipped_small_motion_weights_load(tmp_path):
    from vasa_lab.artifacts import ArtifactStore
    from vasa_lab.motion import load_motion_model

    cfg = MotionConfig.for_profile("small")
    model = load_motion_model("small", store=ArtifactStore(tmp_path / "empty"))   # must not train: shipped
    assert not model.training and (model.motion_std != 1).any()
    motion = generate_motion(model, np.zeros((30, cfg.audio_dim), np.float32), steps=2)
    assert motion.shape == (30, cfg.motion_dim) and np.isfinite(motion).all()


def test_motion_models_for_earlier_codes_are_the_shipped_ones(tmp_path, monkeypatch):
    """The benchmarks' --people-steps 0 / --pose-steps 0 read the motion model shipped for those codes, trained before
    blink windows existed; --new-faces 0 the one trained with blink windows on the pose phase's codes; the profile's
    own codes get the profile's model."""
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.motion import load_motion_model_for_codes

    monkeypatch.setenv("CI", "true")                         # a missing small model is an error, not a training run
    empty = ArtifactStore(tmp_path / "empty")                # shipped weights only
    small = LatentConfig.for_profile("small")
    for latent, key in ((small.without_pose(), "ab5a98eff322"), (small.without_people(), "8b22cd875461")):
        model = load_motion_model_for_codes("small", config_key(latent.codes_config()), store=empty)
        assert config_key(model.config) == key and model.config.blink_windows == 0.0
    before = load_motion_model_for_codes("small", config_key(small.without_faces().codes_config()), store=empty)
    assert config_key(before.config) == "20d4351df5d8" and before.config.blink_windows == 0.3
    own = load_motion_model_for_codes("small", config_key(small.codes_config()), store=empty)
    assert config_key(own.config) == config_key(MotionConfig.for_profile("small")) and own.config.blink_windows == 0.3
