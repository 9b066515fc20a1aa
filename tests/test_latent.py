"""The face latent space (vasa_lab.latent): geometry with known answers, losses against references, the API's
errors, and a few training steps end to end through the artifact store."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from vasa_lab.latent.config import PIVOT_Y, TRANSLATION_GAIN, LatentConfig
from vasa_lab.latent.model import (FaceLatentModel, base_grid, count_parameters, rigid, rigid_inverse,
                                   rotation_matrix, sample)

TINY = LatentConfig()


def small_model(**overrides) -> FaceLatentModel:
    torch.manual_seed(0)
    return FaceLatentModel(LatentConfig(**overrides))


# ---------------------------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------------------------
def test_rotation_matches_the_world_convention():
    from vasa_lab.geometry import rotation_matrix as world_rotation

    angles = torch.tensor([[20.0, -10.0, 5.0], [-35.0, 25.0, -15.0], [0.0, 0.0, 0.0]])
    ours = rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2]).numpy()
    for row, r in zip(angles.numpy(), ours):
        np.testing.assert_allclose(r, world_rotation(*row), atol=1e-6)


def test_rigid_transform_and_inverse_round_trip():
    pose = torch.tensor([[15.0, -8.0, 4.0, 0.1, -0.05, 1.1], [-20.0, 5.0, 0.0, 0.0, 0.0, 0.9]])
    p = torch.rand(2, 50, 3) * 2 - 1
    torch.testing.assert_close(rigid_inverse(rigid(p, pose), pose), p, atol=1e-5, rtol=0)


def test_positive_yaw_moves_the_nose_to_the_image_right_and_the_pivot_stays():
    nose = torch.tensor([[[0.0, PIVOT_Y, -0.5]]])           # in front of the pivot, towards the camera
    pivot = torch.tensor([[[0.0, PIVOT_Y, 0.0]]])
    pose = torch.tensor([[20.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    assert rigid(nose, pose)[0, 0, 0] > 0.1
    torch.testing.assert_close(rigid(pivot, pose), pivot)
    shifted = rigid(pivot, torch.tensor([[0.0, 0.0, 0.0, 0.2, 0.0, 1.0]]))
    assert abs(float(shifted[0, 0, 0]) - 0.2 * TRANSLATION_GAIN) < 1e-6


def test_sampling_at_the_identity_grid_returns_the_volume():
    v = torch.randn(2, 4, 8, 16, 16)
    grid = base_grid(8, 16, 16).expand(2, 8, 16, 16, 3)
    torch.testing.assert_close(sample(v, grid), v, atol=1e-5, rtol=0)


def test_same_pose_and_no_flow_round_trip_is_the_identity_warp():
    """With the flow generators at their zero start, g_s(g_d(q)) = T_s(T_d^-1(q)) = q when the poses agree."""
    m = small_model()
    pose = torch.tensor([[12.0, -6.0, 3.0, 0.05, 0.02, 1.05]])
    dyn, z_id = torch.zeros(1, TINY.dyn_dim), torch.zeros(1, TINY.id_dim)
    g_d = m.to_canonical_grid(pose, dyn, z_id)                   # driver voxel -> canonical point
    g_s = m.to_source_grid(pose, dyn, z_id)                      # canonical point -> source point
    composed = sample(g_s.permute(0, 4, 1, 2, 3), g_d, padding="border").permute(0, 2, 3, 4, 1)
    inside = (g_d.abs() < 0.8).all(-1)                           # away from the border of the volume
    err = (composed - m.grid)[inside].abs().max()
    assert inside.float().mean() > 0.5 and err < 1e-4


def test_shapes_of_every_part_and_a_broadcast_portrait():
    m = small_model()
    x = torch.rand(3, 3, 64, 64)
    z_pose, z_dyn = m.encode_motion(x)
    assert z_pose.shape == (3, 6) and z_dyn.shape == (3, TINY.dyn_dim)
    app = m.encode_appearance(x[:1])
    assert app.volume.shape == (1, *TINY.volume_shape) == (1, 16, 8, 16, 16) and app.z_id.shape == (1, TINY.id_dim)
    out = m.render(app, z_pose, z_dyn)
    assert out.shape == (3, 3, 64, 64) and 0 <= float(out.min()) and float(out.max()) <= 1
    assert m(x, x.flip(0)).shape == (3, 3, 64, 64)
    assert count_parameters(m) < 1_000_000


def test_profiles_build_and_full_has_the_megaportraits_volume():
    full = LatentConfig.for_profile("full")
    assert full.volume_shape == (96, 16, 64, 64) and full.image_size == 512 and full.w_gan > 0
    assert LatentConfig.for_profile("tiny").w_gan == 0
    small = LatentConfig.for_profile("small")
    small.check()
    assert small.volume_shape[2] * 4 == small.image_size
    with pytest.raises(ValueError, match="divisible"):
        LatentConfig(image_size=66).check()
    with pytest.raises(ValueError, match="vgg19_path"):
        LatentConfig(perceptual_net="vgg19").check()


# ---------------------------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------------------------
def test_ms_ssim_matches_torchmetrics():
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as tm_ms_ssim
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    from vasa_lab.latent.losses import MS_SSIM_BETAS, ms_ssim, ssim

    torch.manual_seed(0)
    for size, scales in ((64, 3), (128, 4)):
        a = torch.nn.functional.avg_pool2d(torch.rand(3, 3, size, size), 5, 1, 2)
        b = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
        betas = torch.tensor(MS_SSIM_BETAS[:scales])
        betas = tuple((betas / betas.sum()).tolist())
        ours = ms_ssim(a, b, reflect=True)
        theirs = tm_ms_ssim(a, b, data_range=1.0, betas=betas, reduction="none")
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
        torch.testing.assert_close(ssim(a, b, reflect=True), tm_ssim(a, b, data_range=1.0, reduction="none"),
                                   atol=1e-5, rtol=0)
        # the default (windows inside the image only, the paper's definition) stays close
        assert (ms_ssim(a, b) - theirs).abs().max() < 0.05
    assert torch.allclose(ms_ssim(a, a), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match="at least"):
        ms_ssim(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), scales=3)


def test_psnr_and_the_small_losses_have_known_values():
    from vasa_lab.latent.losses import hinge_d_loss, hinge_g_loss, identity_loss, pose_loss, psnr

    x = torch.zeros(1, 3, 8, 8)
    assert abs(float(psnr(x, x + 0.1)) - 20.0) < 1e-4                # MSE 0.01 -> 20 dB
    real, fake = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -2.0)
    assert float(hinge_d_loss(real, fake)) == 0.0 and float(hinge_g_loss(fake)) == 2.0
    e = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    assert float(identity_loss(e, e)) < 1e-6
    assert float(identity_loss(e, -e, mask=torch.tensor([1.0, 0, 0, 0]))) == pytest.approx(2.0)
    p = torch.tensor([[10.0, 0, 0, 0, 0, 1]])
    assert float(pose_loss(p, torch.tensor([[0.0, 0, 0, 0, 0, 1]]))) == pytest.approx(1 / 6)


def test_vgg19_and_arcface_load_from_local_files(tmp_path):
    from safetensors.torch import save_file

    from vasa_lab.latent.id_net import ArcFaceIdentity, IResNet
    from vasa_lab.latent.losses import PerceptualLoss, VGG19Features

    # a VGG19-shaped state dict with torchvision's key names (random weights: the point is the loading)
    layout, state, c_in, i = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"] + [512] * 4 + ["M"] + [512] * 4, {}, 3, 0
    for item in layout:
        if item != "M":
            state[f"features.{i}.weight"] = torch.randn(item, c_in, 3, 3) * 0.01
            state[f"features.{i}.bias"] = torch.zeros(item)
            c_in, i = item, i + 2
        else:
            i += 1
    save_file(state, str(tmp_path / "vgg19.safetensors"))
    loss = PerceptualLoss(VGG19Features(tmp_path / "vgg19.safetensors"))
    x = torch.rand(1, 3, 32, 32)
    assert float(loss(x, x)) == 0.0 and float(loss(x, 1 - x)) > 0
    save_file({"other.weight": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="VGG19"):
        VGG19Features(tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError):
        VGG19Features(tmp_path / "missing.pth")

    torch.manual_seed(0)
    torch.save(IResNet((1, 1, 1, 1), embed_dim=32).state_dict(), tmp_path / "arcface.pth")
    arc = ArcFaceIdentity(tmp_path / "arcface.pth")
    e = arc(torch.rand(2, 3, 64, 64))
    assert e.shape == (2, 32) and torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# probes
# ---------------------------------------------------------------------------------------------------------------
def test_probes_have_known_answers():
    from vasa_lab.latent.probes import Codes, identity_probe, r2_score, ridge_fit, ridge_predict

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x @ rng.normal(size=(5, 2)) + 1.0
    fit = ridge_fit(x, y, alpha=1e-6)
    assert np.all(r2_score(y, ridge_predict(fit, x)) > 0.999)
    assert np.all(np.abs(r2_score(y, np.repeat(y.mean(0, keepdims=True), 200, 0))) < 1e-9)
    # 4 people x 2 clips: a code that holds the person is read perfectly, noise is read at chance
    identity = np.repeat(np.arange(4), 50)
    clip = np.repeat(np.arange(8), 25)
    codes = Codes(z_pose=None, z_dyn=None, z_id=None, states=None, identity=identity, clip=clip)
    acc, chance = identity_probe(codes, np.eye(4)[identity] + 0.01 * rng.normal(size=(200, 4)))
    assert acc == 1.0 and chance == 0.25
    acc, _ = identity_probe(codes, rng.normal(size=(200, 4)))
    assert acc < 0.6


def test_within_clip_probes_have_known_answers():
    """A code that follows the jaw inside each clip but sits at its person's own level: across people the probe
    misses the jaw, within clips it reads it; a code held still in each clip reads nothing there."""
    from vasa_lab.latent.probes import (Codes, between_clip_share, clip_levels, nearest_level_same_person, probe_r2,
                                        within_clips)
    from vasa_lab.world.state import STATE_NAMES

    rng = np.random.default_rng(1)
    jaw, smile = STATE_NAMES.index("jaw_open"), STATE_NAMES.index("smile")

    def codes(people, held=False):           # 2 clips of 50 frames each
        n = 100 * len(people)
        states = np.zeros((n, len(STATE_NAMES)), np.float32)
        states[:, jaw] = 0.3 + 0.2 * np.sin(np.tile(np.linspace(0, 4 * np.pi, 50), 2 * len(people)))
        states[:, smile] = np.repeat(rng.uniform(-1, 1, 2 * len(people)), 50)       # one level per clip
        level = np.repeat(rng.normal(0, 3, (len(people), 2)), 100, axis=0)            # the person's own offsets
        z_dyn = states[:, [jaw, smile]] + level
        clip = np.repeat(np.arange(2 * len(people)), 50)
        if held:
            z_dyn = np.repeat(z_dyn[::50], 50, axis=0)
        return Codes(z_pose=None, z_dyn=z_dyn.astype(np.float32), z_id=None, states=states,
                     identity=np.repeat(people, 100), clip=clip)

    fit, test = codes(np.arange(10)), codes(np.arange(10, 20))
    assert probe_r2(fit, test, "z_dyn", ("jaw_open",))["jaw_open"] < 0.1
    assert probe_r2(within_clips(fit), within_clips(test), "z_dyn", ("jaw_open",))["jaw_open"] > 0.99
    held = within_clips(codes(np.arange(10, 20), held=True))
    assert abs(probe_r2(within_clips(fit), held, "z_dyn", ("jaw_open",))["jaw_open"]) < 0.05
    share = between_clip_share(test, ("jaw_open", "smile"))
    assert share["jaw_open"] < 1e-6 and share["smile"] > 1 - 1e-6
    assert np.allclose(within_clips(test).states[:, smile], 0, atol=1e-6)
    # each clip's level: the code's is its person's (the nearest clip level is the same person's other clip), the
    # truth's (a smile drawn per clip) is not
    levels, person = clip_levels(test, "z_dyn")
    assert levels.shape == (20, 2) and np.array_equal(person, np.repeat(np.arange(10, 20), 2))
    same, chance = nearest_level_same_person(levels, person)
    assert chance == 1 / 19 and same >= 0.75          # the person's offsets (spread 3) outweigh the smile's (0.6)
    assert nearest_level_same_person(levels[:, :1], person)[0] == 1.0     # the jaw's column: the person's alone
    assert nearest_level_same_person(*clip_levels(test, "states"))[0] < 0.5


# ---------------------------------------------------------------------------------------------------------------
# data, API, training
# ---------------------------------------------------------------------------------------------------------------
def test_the_flow_landmark_loss_has_known_answers():
    """flow(q_k) read at the driver's points against the source's points, in pixels, Huber with delta 1 px; pairs
    without landmarks do not count."""
    import torch.nn.functional as F

    from vasa_lab.latent.losses import CORNER_POINTS, CORRESPONDING_POINTS, flow_landmark_loss

    size = 32
    identity = F.affine_grid(torch.eye(2, 3)[None].expand(2, 2, 3), (2, 3, size, size), align_corners=False)
    points = torch.rand(2, 68, 2) * (size - 4) + 2                       # pixels, away from the border
    ok = torch.tensor([True, True])
    assert float(flow_landmark_loss(identity, points, points, ok)) < 1e-5      # reads each point where it is
    shifted = identity + torch.tensor([2 * 2.0 / size, 0.0])              # reads 2 px to the right of every pixel
    assert float(flow_landmark_loss(shifted, points, points, ok)) == pytest.approx(1.5, abs=1e-4)   # 2 - 0.5
    source = points.clone()
    source[:, :, 0] += 2.0                                                # ... which is where the source's points are
    assert float(flow_landmark_loss(shifted, source, points, ok)) < 1e-5
    half = identity + torch.tensor([0.0, 0.5 * 2.0 / size])               # 0.5 px down: inside the quadratic part
    assert float(flow_landmark_loss(half, points, points, ok)) == pytest.approx(0.125, abs=1e-4)
    wrong = source.clone()
    wrong[1] += 50.0                                                      # the second pair's landmarks are unknown
    assert float(flow_landmark_loss(shifted, wrong, points, torch.tensor([True, False]))) < 1e-5
    assert {48, 54, 37, 38} <= set(CORRESPONDING_POINTS)                           # the mouth's corners, a lid
    assert not set(range(17)) & set(CORRESPONDING_POINTS)                             # not the jaw's outline
    lips_apart = source.clone()
    lips_apart[:, [50, 51, 52, 56, 57, 58]] += torch.tensor([0.0, 3.0])   # the lips' edges 3 px off, corners kept
    assert float(flow_landmark_loss(shifted, lips_apart, points, ok)) > 0.1
    assert float(flow_landmark_loss(shifted, lips_apart, points, ok, points=CORNER_POINTS)) < 1e-5
    assert {48, 54, 60, 64, 37, 38} <= set(CORNER_POINTS) and not {51, 57, 62, 66} & set(CORNER_POINTS)


def test_pairs_are_the_same_person_and_reproducible(tiny_world):
    from vasa_lab.data.clips import ClipFrames
    from vasa_lab.latent.data import FramePairDataset

    clips = ClipFrames(tiny_world, None)
    pairs = FramePairDataset(clips, 40, min_gap=10, other_clip_share=0.5, seed=1)
    seen_other = False
    for i in range(40):
        c, s, c2, d = pairs.pair(i)
        assert clips.identity[c] == clips.identity[c2]
        if c == c2:
            assert abs(s - d) >= 10
        seen_other |= c != c2
    assert seen_other
    a, b = pairs[3], pairs[3]
    assert torch.equal(a["driver"], b["driver"]) and a["source"].shape == (3, 64, 64)
    assert torch.equal(a["driver_pose"], torch.from_numpy(clips.pose(pairs.pair(3)[2])[0][pairs.pair(3)[3]]))
    c, s, c2, d = pairs.pair(3)
    assert torch.equal(a["driver_landmarks"], torch.from_numpy(clips.landmarks(c2)[d]))
    assert torch.equal(a["source_landmarks"], torch.from_numpy(clips.landmarks(c)[s])) and bool(a["landmarks_ok"])


def test_blink_share_draws_closed_eyes_and_leaves_the_other_pairs_alone(tiny_world):
    """A focus phase draws a share of its drivers mid-blink (blinks are ~3 % of frames, so uniform pairs almost never
    show closed eyes); with no share the pairs are exactly the first phase's."""
    from vasa_lab.data.clips import ClipFrames
    from vasa_lab.latent.config import EXPRESSION_NAMES, EXPRESSION_UNIT
    from vasa_lab.latent.data import FramePairDataset

    clips = ClipFrames(tiny_world, None)
    k = EXPRESSION_NAMES.index("blink")

    def closed_share(pairs):
        drivers = [pairs.pair(i)[2:] for i in range(200)]
        return np.mean([clips.expression(c, EXPRESSION_NAMES, EXPRESSION_UNIT)[0][d, k] > 0.5 for c, d in drivers])

    plain = FramePairDataset(clips, 200, seed=1)
    focused = FramePairDataset(clips, 200, seed=1, blink_share=0.4)
    assert focused.closed_eyes, "the tiny world has blinks"
    assert closed_share(plain) < 0.1 and closed_share(focused) > 0.3
    assert [plain.pair(i) for i in range(50)] == [FramePairDataset(clips, 200, seed=1, blink_share=0.0).pair(i)
                                                  for i in range(50)]
    for i in range(50):   # still one person per pair
        c, _, c2, _ = focused.pair(i)
        assert clips.identity[c] == clips.identity[c2]


def test_api_errors_are_one_clear_sentence():
    from vasa_lab.latent.api import as_frames, encode_appearance, render

    m = small_model()
    with pytest.raises(ValueError, match="64x64"):
        as_frames(np.zeros((32, 32, 3), np.uint8), 64)
    with pytest.raises(ValueError, match="uint8 images"):
        as_frames(np.zeros((64, 64), np.uint8), 64)
    with pytest.raises(ValueError, match="NaN"):
        as_frames(torch.full((3, 64, 64), float("nan")), 64)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_frames(torch.full((3, 64, 64), 255.0), 64)
    with pytest.raises(ValueError, match="numpy array or a torch tensor"):
        as_frames([1, 2, 3], 64)
    app = encode_appearance(m, np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="one length"):
        render(m, app, torch.zeros(4, 6), torch.zeros(3, TINY.dyn_dim))
    assert render(m, app, torch.zeros(5, 6) + torch.tensor([0, 0, 0, 0, 0, 1.0]),
                  torch.zeros(5, TINY.dyn_dim)).shape == (5, 3, 64, 64)


def test_a_few_training_steps_through_the_artifact_store(tiny_world, tmp_path):
    """Identity network + latent model train (a handful of steps), are cached, and load back identical."""
    from vasa_lab.artifacts import ArtifactStore
    from vasa_lab.latent.api import encode_motion, load_latent_model
    from vasa_lab.latent.id_net import IdentityNetConfig

    store = ArtifactStore(tmp_path / "store", packaged=None)
    cfg = LatentConfig(data=str(tiny_world), steps=3, batch_size=4, aux_batch=2, min_pair_gap=5)
    id_cfg = IdentityNetConfig(data=str(tiny_world), steps=3, batch_size=8)
    model = load_latent_model(config=cfg, store=store, identity_config=id_cfg)
    assert store.has("latent", cfg) and store.has("latent-identity", id_cfg)
    meta = store.meta("latent", cfg)["metrics"]
    assert meta["steps"] == 3 and {"l1", "ssim", "transfer", "cross_id", "cycle", "pose"} <= set(meta["final"])
    again = load_latent_model(config=cfg, store=store, identity_config=id_cfg)
    x = torch.rand(2, 3, 64, 64)
    for a, b in zip(encode_motion(model, x), encode_motion(again, x)):
        torch.testing.assert_close(a, b)


def test_a_focus_phase_continues_the_first_phase_model(tiny_world, tmp_path):
    """focus_steps > 0: the first phase (the same config without the focus settings) is found or trained first, the
    focus phase starts from its weights, and both land in the store under their own keys."""
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.id_net import IdentityNetConfig
    from vasa_lab.latent.model import FaceLatentModel
    from vasa_lab.latent.module import train_latent

    store = ArtifactStore(tmp_path / "store", packaged=None)
    first = LatentConfig(data=str(tiny_world), steps=2, batch_size=4, aux_batch=2, min_pair_gap=5, w_cross_id=0,
                         w_perceptual=0)
    cfg = replace(first, focus_steps=3, blink_share=0.5, focus_eye_weight=4.0, focus_eye_inside=8.0)
    assert cfg.first_phase() == first and config_key(cfg) != config_key(first)
    model = load_latent_model(config=cfg, store=store, identity_config=IdentityNetConfig(data=str(tiny_world)))
    assert store.has("latent", first) and store.has("latent", cfg)
    assert store.meta("latent", cfg)["metrics"]["steps"] == 3
    assert "eyes_inside" in store.meta("latent", cfg)["metrics"]["final"]     # the focus phase's eye loss ran
    assert "eyes_inside" not in store.meta("latent", first)["metrics"]["final"]
    start = load_latent_model(config=first, store=store)
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), start.state_dict().values()))
    with pytest.raises(ValueError, match="first_phase"):
        train_latent(FaceLatentModel(cfg))


def test_the_eyes_inside_mask_boxes_each_eye_and_nothing_else():
    """The boxes around each eye's six points (margin size / 32), where a blink changes the pixels; none for a lost
    face. The mouth's inside box is the same rule on the inner lips."""
    from vasa_lab.geometry import LEFT_EYE, RIGHT_EYE
    from vasa_lab.latent.data import MOUTH_INSIDE, eyes_inside_mask, mouth_inside_mask

    points = np.full((68, 2), 64.0)                       # everything else in the middle of a 128 px frame
    points[RIGHT_EYE] = [[30, 40], [34, 38], [38, 38], [42, 40], [38, 42], [34, 42]]
    points[LEFT_EYE] = points[RIGHT_EYE] + [50, 0]
    points[MOUTH_INSIDE] = [[54, 90], [64, 88], [74, 90], [64, 94]] * 2
    eyes = eyes_inside_mask(points, 128)[0]
    assert eyes.shape == (128, 128) and set(eyes.unique().tolist()) == {0.0, 1.0}
    for group in (RIGHT_EYE, LEFT_EYE):
        (x0, y0), (x1, y1) = points[group].min(0), points[group].max(0)
        assert eyes[int(y0) - 4:int(y1) + 5, int(x0) - 4:int(x1) + 5].all()       # the eye and its 4 px margin
    assert eyes[30:50, 20:100].sum() == eyes.sum()                                # and nothing else
    assert not eyes[30:50, 50:75].any()                                            # not between the eyes
    mouth = mouth_inside_mask(points, 128)[0]
    assert mouth[84:99, 50:79].all() and mouth.sum() == 15 * 29 and not (mouth * eyes).any()
    assert not eyes_inside_mask(None, 128).any()
    assert not eyes_inside_mask(np.full((68, 2), np.nan), 128).any()


def test_masked_l1_is_the_mean_error_inside_the_mask():
    """The face-parts and inside losses: L1 per masked pixel and channel, weights scaling it, 0 for an empty mask."""
    from vasa_lab.latent.losses import masked_l1

    x, y = torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8)
    y[:, :, :4] = 1.0                                       # wrong in the top half only
    top, bottom = torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8)
    top[:, :, 1:3, 2:6], bottom[:, :, 5:7] = 1.0, 1.0
    assert masked_l1(x, y, top).item() == pytest.approx(1.0)
    assert masked_l1(x, y, bottom).item() == 0.0
    assert masked_l1(x, y, 2 * top).item() == pytest.approx(2.0)        # a weight of 2 counts twice
    assert masked_l1(x, y, top + bottom).item() == pytest.approx(8 / 24)   # 8 wrong of 24 pixels
    assert masked_l1(x, y, torch.zeros(2, 1, 8, 8)).item() == 0.0


def test_expression_spread_has_a_known_answer():
    """Each expression's spread over the known frames of all clips (what focus_scaled_expression divides by)."""
    from vasa_lab.latent.config import EXPRESSION_NAMES
    from vasa_lab.latent.module import expression_spread

    class TwoClips:
        def __len__(self):
            return 2

        def expression(self, clip, names, units):
            values = np.zeros((4, len(names)), np.float32)
            values[:, 0] = [0, 2, 0, 2] if clip == 0 else [1, 1, 5, 5]   # 5 is unknown below: left out
            known = np.ones(values.shape, bool)
            known[2:, 0] = clip == 0
            return values, known

    spread = expression_spread(TwoClips())
    assert spread.shape == (len(EXPRESSION_NAMES),)
    assert spread[0].item() == pytest.approx(np.std([0, 2, 0, 2, 1, 1]))
    assert torch.all(spread[1:] == 1e-3)   # constant: the floor, never a division by zero


def test_a_gate_phase_trains_only_the_decoder_and_keeps_the_motion_codes(tiny_world, tmp_path):
    """gate_steps > 0: the model before (the config without the gate settings) is found or trained first; the gate
    phase copies its weights, adds the copy gate, and trains G2D alone, so the motion encoder (and with it every
    motion code and the generators trained on them) is unchanged, and motion data keys by that earlier model."""
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.id_net import IdentityNetConfig
    from vasa_lab.latent.model import FaceLatentModel
    from vasa_lab.latent.module import train_latent

    store = ArtifactStore(tmp_path / "store", packaged=None)
    before = LatentConfig(data=str(tiny_world), steps=2, batch_size=4, aux_batch=2, min_pair_gap=5, w_cross_id=0,
                          w_perceptual=0)
    cfg = replace(before, gate_steps=3, gate_lr=1e-2)
    assert cfg.without_gate() == before and cfg.previous_phase() == before and config_key(cfg) != config_key(before)
    assert config_key(cfg.codes_config()) == config_key(before)
    model = load_latent_model(config=cfg, store=store, identity_config=IdentityNetConfig(data=str(tiny_world)))
    start = load_latent_model(config=before, store=store)
    assert store.meta("latent", cfg)["metrics"]["steps"] == 3
    assert {"gate_mouth", "gate_rest"} <= set(store.meta("latent", cfg)["metrics"]["final"])
    assert start.decoder.gate is None and model.decoder.gate is not None
    old = start.state_dict()
    for name, value in model.state_dict().items():
        if not name.startswith("decoder."):
            assert torch.equal(value, old[name]), f"{name} changed in the gate phase"
    assert not torch.equal(model.decoder.out.weight, start.decoder.out.weight)     # G2D did learn
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        rendered = model.render_parts(model.encode_appearance(x), *model.encode_motion(x))
    assert rendered.gate.shape == (3, 1, 64, 64) and 0 < rendered.gate.min() and rendered.gate.max() < 1
    assert rendered.image.shape == (3, 3, 64, 64)
    with pytest.raises(ValueError, match="gate phase"):
        train_latent(FaceLatentModel(cfg), first_phase=FaceLatentModel(replace(before, steps=5)))


def test_an_emotion_phase_trains_the_renderer_and_keeps_the_encoders(tiny_world, tmp_path):
    """emotion_steps > 0 continues the gate phase's model: both warps, G3D and G2D learn (with the lips' box
    weighted), the motion and appearance encoders do not, so the motion codes and every model trained on them stay
    valid; the config refuses an emotion phase without a gate phase."""
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.id_net import IdentityNetConfig

    store = ArtifactStore(tmp_path / "store", packaged=None)
    first = LatentConfig(data=str(tiny_world), steps=2, batch_size=4, aux_batch=2, min_pair_gap=5, w_cross_id=0,
                         w_perceptual=0)
    gated = replace(first, gate_steps=2)
    cfg = replace(gated, emotion_steps=3, emotion_lr=1e-2, w_lips=8.0, w_flow_landmarks=2.0)
    assert cfg.previous_phase() == gated and cfg.without_gate() == first and cfg.first_phase() == first
    assert config_key(cfg.codes_config()) == config_key(first) and config_key(cfg) != config_key(gated)
    model = load_latent_model(config=cfg, store=store, identity_config=IdentityNetConfig(data=str(tiny_world)))
    start = load_latent_model(config=gated, store=store)
    assert {"lips", "flow_landmarks"} <= set(store.meta("latent", cfg)["metrics"]["final"])
    old = start.state_dict()
    learned = ("decoder.", "warp_to_canonical.", "warp_to_driver.", "canonical_3d.")
    for name, value in model.state_dict().items():
        if name.startswith(("motion_encoder.", "appearance_encoder.")):
            assert torch.equal(value, old[name]), f"{name} changed in the emotion phase"
    for part in learned:
        assert any(not torch.equal(v, old[k]) for k, v in model.state_dict().items() if k.startswith(part)), part
    with pytest.raises(ValueError, match="gate_steps > 0"):
        replace(first, emotion_steps=3).check()


def test_a_people_phase_trains_only_z_dyns_cnn_and_keys_the_motion_codes_by_itself(tiny_world, tmp_path):
    """people_steps > 0 continues the model before (here an emotion phase's): only ``motion_encoder.dyn_net``
    learns, so the pose codes and the whole renderer are unchanged while z_dyn moves; the motion codes are this
    phase's own (codes_config), and asking for another emotion phase drops the people phase."""
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.config import emotion_phase
    from vasa_lab.latent.id_net import IdentityNetConfig
    from vasa_lab.latent.model import FaceLatentModel
    from vasa_lab.latent.module import train_latent

    store = ArtifactStore(tmp_path / "store", packaged=None)
    first = LatentConfig(data=str(tiny_world), steps=2, batch_size=4, aux_batch=2, min_pair_gap=5, w_cross_id=0,
                         w_perceptual=0, w_expression=1.0)
    emotion = replace(first, gate_steps=2, emotion_steps=2)
    cfg = replace(emotion, people_steps=3, people_lr=1e-2)
    assert cfg.previous_phase() == emotion and cfg.without_emotion() == replace(first, gate_steps=2)
    assert config_key(cfg.codes_config()) == config_key(cfg) != config_key(emotion.codes_config())
    assert emotion_phase(cfg, steps=4) == replace(emotion, emotion_steps=4) and emotion_phase(cfg) == cfg
    model = load_latent_model(config=cfg, store=store, identity_config=IdentityNetConfig(data=str(tiny_world)))
    start = load_latent_model(config=emotion, store=store)
    assert store.meta("latent", cfg)["metrics"]["steps"] == 3
    assert "expression" in store.meta("latent", cfg)["metrics"]["final"]
    old = start.state_dict()
    for name, value in model.state_dict().items():
        if not name.startswith("motion_encoder.dyn_net."):
            assert torch.equal(value, old[name]), f"{name} changed in the people phase"
    assert any(not torch.equal(v, old[k]) for k, v in model.state_dict().items()
               if k.startswith("motion_encoder.dyn_net."))
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        (pose, dyn), (pose_before, dyn_before) = model.encode_motion(x), start.encode_motion(x)
    assert torch.equal(pose, pose_before) and not torch.allclose(dyn, dyn_before)
    with pytest.raises(ValueError, match="people phase"):
        train_latent(FaceLatentModel(cfg), first_phase=FaceLatentModel(first))
    with pytest.raises(ValueError, match="w_expression"):
        replace(cfg, w_expression=0.0).check()


def test_a_pose_phase_trains_only_z_poses_cnn_on_the_pose_loss(tiny_world, tmp_path):
    """pose_steps > 0 continues the model before (here a people phase's): only ``motion_encoder.pose_net`` learns,
    so z_dyn and the renderer are unchanged while z_pose comes closer to the given pose; the motion codes are this
    phase's own, and ``without_people`` drops the pose phase too."""
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.data.clips import ClipFrames
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.data import FramePoseDataset
    from vasa_lab.latent.id_net import IdentityNetConfig
    from vasa_lab.latent.losses import pose_loss
    from vasa_lab.latent.model import FaceLatentModel
    from vasa_lab.latent.module import train_latent

    store = ArtifactStore(tmp_path / "store", packaged=None)
    first = LatentConfig(data=str(tiny_world), steps=2, batch_size=4, aux_batch=2, min_pair_gap=5, w_cross_id=0,
                         w_perceptual=0, w_expression=1.0)
    people = replace(first, gate_steps=2, emotion_steps=2, people_steps=2)
    cfg = replace(people, pose_steps=40, pose_batch=8, pose_lr=3e-3)
    assert cfg.previous_phase() == people and cfg.without_people() == people.without_people()
    assert config_key(cfg.codes_config()) == config_key(cfg) != config_key(people.codes_config())
    clips = ClipFrames(tiny_world, "train")
    items = FramePoseDataset(clips, 64, seed=1)
    assert torch.equal(items[5]["image"], FramePoseDataset(clips, 64, seed=1)[5]["image"])   # drawn from (seed, i)
    batch = torch.utils.data.default_collate([items[i] for i in range(64)])
    model = load_latent_model(config=cfg, store=store, identity_config=IdentityNetConfig(data=str(tiny_world)))
    start = load_latent_model(config=people, store=store)
    assert store.meta("latent", cfg)["metrics"]["steps"] == 40
    old = start.state_dict()
    for name, value in model.state_dict().items():
        if not name.startswith("motion_encoder.pose_net."):
            assert torch.equal(value, old[name]), f"{name} changed in the pose phase"
    with torch.no_grad():
        errors = [pose_loss(m.motion_encoder.pose(batch["image"]), batch["pose"]) for m in (start, model)]
        (pose, dyn), (pose_before, dyn_before) = model.encode_motion(batch["image"]), start.encode_motion(batch["image"])
    assert errors[1] < errors[0], errors                          # the pose reads closer than before the phase
    assert torch.equal(dyn, dyn_before) and not torch.allclose(pose, pose_before)
    with pytest.raises(ValueError, match="pose phase"):
        train_latent(FaceLatentModel(cfg), first_phase=FaceLatentModel(first))
    with pytest.raises(ValueError, match="pose_batch >= 1"):
        replace(cfg, pose_batch=0).check()


def test_the_faces_phase_trains_only_z_poses_cnn_on_people_never_seen_before(tiny_world, tmp_path):
    """faces_pose_steps > 0 continues the pose phase's model and trains only z_pose's CNN, half of each batch new
    faces, so new people's angles read closer. The faces are drawn in the states of the world's frames, the same
    from the same tag, on people of no clip."""
    from vasa_lab.artifacts import ArtifactStore, config_key
    from vasa_lab.data.clips import ClipFrames
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.latent.data import new_face_frames
    from vasa_lab.latent.id_net import IdentityNetConfig
    from vasa_lab.latent.losses import pose_loss

    clips = ClipFrames(tiny_world, "train")
    images, states = new_face_frames(clips, 6, 64, "test")
    again, _ = new_face_frames(clips, 6, 64, "test")
    assert images.shape == (6, 3, 64, 64) and images.dtype == torch.uint8 and states.shape == (6, 17)
    assert torch.equal(images, again) and not torch.equal(images, new_face_frames(clips, 6, 64, "other")[0])
    known = np.concatenate([clips.states(c) for c in range(len(clips))])
    assert all(np.abs(known - s).sum(1).min() < 1e-5 for s in states)          # each a state of a world frame
    with pytest.raises(ValueError, match="at least one"):
        new_face_frames(clips, 0, 64, "test")

    store = ArtifactStore(tmp_path / "store", packaged=None)
    first = LatentConfig(data=str(tiny_world), steps=2, batch_size=4, aux_batch=2, min_pair_gap=5, w_cross_id=0,
                         w_perceptual=0, w_expression=1.0)
    pose = replace(first, gate_steps=2, emotion_steps=2, people_steps=2, pose_steps=2, pose_batch=8, pose_lr=3e-3)
    cfg = replace(pose, new_faces=40, faces_pose_steps=30)      # (at the pose phase's rate)
    assert cfg.previous_phase() == pose and cfg.without_pose() == pose.without_pose() and cfg.has_faces_phase
    assert config_key(cfg.codes_config()) == config_key(cfg) != config_key(pose.codes_config())
    model = load_latent_model(config=cfg, store=store, identity_config=IdentityNetConfig(data=str(tiny_world)))
    start = load_latent_model(config=pose, store=store)
    assert store.meta("latent", cfg)["metrics"]["steps"] == 30
    old = start.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, old[name]) != name.startswith("motion_encoder.pose_net."), name
    faces_read, faces_states = new_face_frames(clips, 32, 64, "test-read")
    x, y = faces_read.float() / 255, torch.from_numpy(faces_states[:, :6])
    with torch.no_grad():
        errors = [pose_loss(m.motion_encoder.pose(x), y) for m in (start, model)]
    assert errors[1] < errors[0], errors                 # new people's pose reads closer than before the phase
    for bad, match in ((dict(new_faces=0), "draws its people"), (dict(pose_steps=0), "continues the pose phase"),
                       (dict(pose_batch=1), "pose_batch >= 2"), (dict(faces_pose_steps=0), "needs faces_pose_steps"),
                       (dict(faces_pose_steps=-1), "faces_pose_steps >= 0")):
        with pytest.raises(ValueError, match=match):
            replace(cfg, **bad).check()
    # each step's loss reads the batch's own frames and as many new faces, drawn from (seed, step): the same on resume
    from vasa_lab.latent.module import LatentModule

    module = LatentModule(model)
    module.show_new_faces(faces_read, faces_states)
    seen = []
    module.pose_losses = lambda both: seen.append(both) or (torch.zeros(()), {}, None)
    own = dict(image=x[:4], pose=y[:4], pose_ok=torch.ones(4, dtype=torch.bool))
    module.faces_losses(own)
    module.faces_losses(own)
    assert seen[0]["image"].shape[0] == 8 and torch.equal(seen[0]["image"][:4], x[:4])
    drawn = seen[0]["image"][4:]
    assert all(any(torch.equal(d, f) for f in x) for d in drawn)                       # the new faces themselves
    assert torch.equal(seen[1]["image"], seen[0]["image"]) and seen[0]["pose_ok"].all()  # same step, same draw


def test_a_gate_region_lets_the_gate_close_only_where_the_portraits_lips_and_eyes_are():
    """With a gate_region (from the portrait's landmarks) the copy gate stays open, and the paint that came with a
    closed gate is dropped, wherever the flow reads outside it; a region of ones changes nothing."""
    from vasa_lab.latent.api import copy_gate_region, encode_appearance

    torch.manual_seed(0)
    model = FaceLatentModel(LatentConfig(gate_steps=1)).eval()
    torch.nn.init.constant_(model.decoder.gate.bias, -8.0)                 # a gate shut everywhere: paint only
    torch.nn.init.normal_(model.decoder.out.weight, std=0.05)
    portrait = (torch.rand(64, 64, 3) * 255).byte().numpy()
    z_pose, z_dyn = model.encode_motion(torch.rand(2, 3, 64, 64))
    free = encode_appearance(model, portrait)
    assert free.gate_region is None                                          # no landmarks: no restriction
    with torch.no_grad():
        painted_only = model.render_parts(free, z_pose, z_dyn)
        nowhere = model.render_parts(replace(free, gate_region=torch.zeros(1, 1, 64, 64)), z_pose, z_dyn)
        everywhere = model.render_parts(replace(free, gate_region=torch.ones(1, 1, 64, 64)), z_pose, z_dyn)
    assert painted_only.gate.max() < 1e-3
    torch.testing.assert_close(nowhere.image, nowhere.copied.clamp(0, 1), atol=1e-3, rtol=0)   # all copied
    torch.testing.assert_close(everywhere.image, painted_only.image)

    lm = np.full((68, 2), 32.0)
    lm[48:60] = np.array([[22, 44], [27, 41], [32, 40], [37, 41], [42, 44], [37, 48], [32, 49], [27, 48],
                          [24, 44], [32, 43], [40, 44], [32, 45]])
    lm[36:42] = np.array([[16, 22], [19, 20], [22, 20], [25, 22], [22, 24], [19, 24]])
    lm[42:48] = lm[36:42] + [22, 0]
    region = copy_gate_region(lm, 64)
    assert region.shape == (1, 1, 64, 64) and region[0, 0, 44, 32] == 1 and region[0, 0, 22, 20] == 1
    assert region[0, 0, 5, 5] == 0 and region[0, 0, 60, 32] == 0 and region.mean() < 0.2
    assert copy_gate_region(np.full((68, 2), np.nan), 64).min() == 1       # no landmarks: anywhere
    assert encode_appearance(model, portrait, lm).gate_region.shape == (1, 1, 64, 64)


def test_the_mouth_opening_mask_fills_the_inner_lips():
    from vasa_lab.latent.data import mouth_opening_mask

    lm = np.zeros((68, 2), np.float32)
    ring = np.array([[20, 30], [26, 28], [32, 28], [38, 30], [32, 36], [26, 36], [20, 30], [20, 30]], np.float32)
    lm[60:68] = ring
    mask = mouth_opening_mask(lm, 64)
    assert mask.shape == (1, 64, 64) and mask[0, 32, 28] == 1 and mask[0, 10, 10] == 0
    assert 40 < mask.sum() < 120                                     # about the polygon's area (~90 px)
    closed = lm.copy()
    closed[60:68, 1] = 30                                            # the inner lips on one line: nothing inside
    assert mouth_opening_mask(closed, 64).sum() < mouth_opening_mask(lm, 64).sum() / 4
    assert mouth_opening_mask(None, 64).sum() == 0 and mouth_opening_mask(np.full((68, 2), np.nan), 64).sum() == 0


def test_training_cli_options(tmp_path):
    from vasa_lab.latent.train import config_from_args, main, parse_args

    cfg = config_from_args(parse_args(["--profile", "tiny", "--ablation", "--steps", "5"]))
    assert cfg.w_transfer == 0 and cfg.w_cross_id == 0 and cfg.steps == 5 and cfg.w_cycle > 0
    cfg = config_from_args(parse_args(["--profile", "full", "--vgg19", "v.safetensors"]))
    assert cfg.perceptual_net == "vgg19" and cfg.image_size == 512
    assert main(["--profile", "tiny", "--batch-size", "1", "--store", str(tmp_path)]) == 2
    small = config_from_args(parse_args(["--profile", "small", "--focus-steps", "0"]))
    assert small == LatentConfig.for_profile("small").first_phase() and not small.has_focus_phase
    plain = config_from_args(parse_args(["--profile", "small", "--focus-eye-inside", "0", "--blink-share", "0.3"]))
    assert plain.focus_eye_inside == 0 and plain.blink_share == 0.3 and plain.first_phase() == small
    assert main(["--profile", "small", "--blink-share", "1.5", "--store", str(tmp_path)]) == 2
    focus = config_from_args(parse_args(["--profile", "small", "--gate-steps", "0"]))
    assert focus == LatentConfig.for_profile("small").without_gate() and focus.has_focus_phase
    assert not focus.has_gate_phase and LatentConfig.for_profile("small").has_gate_phase
    emotion = config_from_args(parse_args(["--profile", "small", "--emotion-steps", "30", "--w-lips", "8"]))
    small_gated = LatentConfig.for_profile("small").without_emotion()
    assert emotion.has_emotion_phase and emotion.w_lips == 8 and emotion.without_emotion() == small_gated
    small_emotion = LatentConfig.for_profile("small", people_steps=0, people_clips=0, pose_steps=0, new_faces=0,
                                             faces_pose_steps=0)
    gated = config_from_args(parse_args(["--profile", "small", "--emotion-steps", "0"]))
    assert gated == small_gated and not gated.has_emotion_phase and LatentConfig.for_profile("small").has_emotion_phase
    for flag in ("--w-lips", "--w-flow-landmarks"):                                               # no emotion steps
        assert main(["--profile", "small", "--emotion-steps", "0", flag, "8", "--store", str(tmp_path)]) == 2
    flow = config_from_args(parse_args(["--profile", "small", "--emotion-steps", "30", "--w-flow-landmarks", "2"]))
    assert flow.w_flow_landmarks == 2 and flow.without_emotion() == small_gated
    with pytest.raises(ValueError, match="w_flow_landmarks"):
        replace(flow, w_flow_landmarks=-1.0).check()
    corners = config_from_args(parse_args(["--profile", "small", "--flow-landmark-lips", "corners"]))
    assert corners.flow_landmark_lips == "corners" and corners.without_emotion() == small_gated
    assert LatentConfig.for_profile("small").flow_landmark_lips in ("all", "corners")
    with pytest.raises(ValueError, match="flow_landmark_lips"):
        replace(flow, flow_landmark_lips="edges").check()
    assert main(["--profile", "small", "--emotion-steps", "0", "--flow-landmark-lips", "corners",
                 "--store", str(tmp_path)]) == 2
    # the benchmarks read a model of another emotion phase through the same options
    import argparse

    from vasa_lab.latent.config import emotion_phase
    from vasa_lab.latent.train import add_emotion_phase_options, emotion_phase_from_args
    bench = argparse.ArgumentParser()
    add_emotion_phase_options(bench)
    small = LatentConfig.for_profile("small")
    assert emotion_phase_from_args(small, bench.parse_args(["--flow-landmark-lips", "corners"])) \
        == corners.without_people()          # another renderer: the benchmarks compare it without the people phase
    assert emotion_phase_from_args(small, bench.parse_args(["--emotion-steps", "0"])) == small_gated
    assert emotion_phase_from_args(small, bench.parse_args([])) == small
    assert emotion_phase_from_args(small, bench.parse_args(["--people-steps", "0"])) == small.without_people()
    assert emotion_phase_from_args(small, bench.parse_args(["--people-steps", "9"])).people_steps == 9
    assert emotion_phase_from_args(small, bench.parse_args(["--pose-steps", "0"])) == small.without_pose()
    assert emotion_phase_from_args(small, bench.parse_args(["--pose-steps", "9"])).pose_steps == 9
    with pytest.raises(ValueError, match="flow_landmark_lips"):
        emotion_phase(small_gated, flow_landmark_lips="corners")
    assert main(["--profile", "small", "--gate-steps", "0", "--emotion-steps", "30", "--store", str(tmp_path)]) == 2
    # the people phase (small has it) follows the emotion phase; --people-steps 0 stops before it
    people = config_from_args(parse_args(["--profile", "small", "--people-steps", "10"]))
    assert people.people_steps == 10 and people.without_people() == small.without_people() == small_emotion
    assert config_from_args(parse_args(["--profile", "small", "--people-steps", "0"])) == small_emotion
    assert small.has_people_phase and small.people_clips > 800 and gated == small.without_emotion()
    with pytest.raises(ValueError, match="people_steps >= 0"):
        replace(small, people_clips=-5).check()
    # the pose phase (small has it) follows the people phase; --pose-steps 0 stops before it
    pose = config_from_args(parse_args(["--profile", "small", "--pose-steps", "20"]))
    assert pose.pose_steps == 20 and pose.without_pose() == small.without_pose() and small.has_pose_phase
    assert config_from_args(parse_args(["--profile", "small", "--pose-steps", "0"])) == small.without_pose()
    assert small.without_pose().has_people_phase and not small.without_people().has_pose_phase
    with pytest.raises(ValueError, match="people_steps > 0"):
        replace(small, people_steps=0).check()
    assert main(["--profile", "small", "--people-steps", "0", "--pose-steps", "5", "--store", str(tmp_path)]) == 2
    with pytest.raises(ValueError, match="--people-steps > 0"):
        emotion_phase_from_args(small, bench.parse_args(["--people-steps", "0", "--pose-steps", "5"]))
    # the faces phase (small has it) follows the pose phase; --new-faces 0 stops before it
    assert small.has_faces_phase and small.previous_phase() == small.without_faces()
    before = config_from_args(parse_args(["--profile", "small", "--new-faces", "0"]))
    assert before == small.without_faces() and before.has_pose_phase and not before.has_faces_phase
    assert emotion_phase_from_args(small, bench.parse_args(["--new-faces", "0"])) == small.without_faces()
    assert emotion_phase_from_args(small, bench.parse_args(["--new-faces", "99"])).new_faces == 99
    assert emotion_phase_from_args(small, bench.parse_args(["--pose-steps", "0"])) == small.without_pose()
    assert not small.without_pose().has_faces_phase and small.without_faces().without_pose() == small.without_pose()
    assert main(["--profile", "small", "--pose-steps", "0", "--new-faces", "5", "--store", str(tmp_path)]) == 2
    with pytest.raises(ValueError, match="--pose-steps > 0"):
        emotion_phase_from_args(small, bench.parse_args(["--pose-steps", "0", "--new-faces", "5"]))
    assert main(["--profile", "tiny", "--new-faces", "5", "--store", str(tmp_path)]) == 2      # tiny has no faces phase
    assert main(["--profile", "small", "--new-faces", "-5", "--store", str(tmp_path)]) == 2
    with pytest.raises(ValueError, match="needs faces_pose_steps"):
        replace(small.without_faces(), new_faces=5).check()


def test_shipped_tiny_weights_load_into_todays_code(tmp_path):
    """The tiny latent model, its ablation and the identity network ship in vasa_lab/weights (so no chapter has to
    train them); an empty store must find them, they must load into today's classes, and they must still draw a
    face (a trained model reconstructs a frame far better than noise would)."""
    import torch

    from vasa_lab.artifacts import PACKAGED_WEIGHTS, ArtifactStore
    from vasa_lab.latent.api import encode_appearance, encode_motion, load_latent_model, render
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.latent.id_net import IdentityNetConfig
    from vasa_lab.world.clip import make_clip

    store = ArtifactStore(tmp_path / "empty")
    cfg = LatentConfig.for_profile("tiny")
    for c in (cfg, cfg.without_disentanglement_losses()):
        assert store.find("latent", c).parent.parent == PACKAGED_WEIGHTS, "the tiny latent weights are not shipped"
    assert store.find("latent-identity", IdentityNetConfig.for_profile("tiny")) is not None
    model = load_latent_model(config=cfg, store=store)      # strict load: a changed class fails here
    clip = make_clip(seed=12345, index=0, seconds=1.0, size=64)
    z_pose, z_dyn = encode_motion(model, clip.frames)
    out = render(model, encode_appearance(model, clip.frames[0]), z_pose, z_dyn)
    truth = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255
    assert (out - truth).abs().mean() < 0.06


def test_shipped_small_weights_load_and_draw_a_moving_mouth(tmp_path):
    """The small profile's latent model ships (python -m vasa_lab.latent.train --profile small): an empty store finds
    it, it loads strictly into today's classes, reconstructs a held-out 128 px clip far better than noise, and the
    mouth it draws opens and closes (the tracker's mouth opening varies, unlike a held frame's)."""
    import numpy as np
    import torch

    from vasa_lab.artifacts import PACKAGED_WEIGHTS, ArtifactStore
    from vasa_lab.latent.api import encode_appearance, encode_motion, load_latent_model, render, to_uint8
    from vasa_lab.latent.config import LatentConfig
    from vasa_lab.metrics.expression import read_pixels
    from vasa_lab.data.clips import heldout_clips

    from vasa_lab.latent.id_net import IdentityNetConfig

    store = ArtifactStore(tmp_path / "empty")
    cfg = LatentConfig.for_profile("small")
    # the model, the first phase it continues and the identity network its losses use: retraining starts from these
    for name, c in (("latent", cfg), ("latent", cfg.without_faces()),
                    ("latent", cfg.without_emotion()), ("latent", cfg.without_gate()),
                    ("latent", cfg.first_phase()),
                    ("latent-identity", IdentityNetConfig.for_profile("small"))):
        assert store.find(name, c).parent.parent == PACKAGED_WEIGHTS, f"the small {name} weights are not shipped"
    model = load_latent_model(config=cfg, store=store)
    clip = heldout_clips("small", "test", n=1)[0]
    z_pose, z_dyn = encode_motion(model, clip.frames)
    out = render(model, encode_appearance(model, clip.frames[0]), z_pose, z_dyn)
    truth = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255
    assert (out - truth).abs().mean() < 0.05
    mouth = read_pixels(to_uint8(out)).mouth
    held = read_pixels(np.repeat(clip.frames[:1], len(clip.frames), axis=0)).mouth
    assert np.nanstd(mouth) > 3 * np.nanstd(held)


def test_an_interrupted_latent_training_resumes_to_its_last_step_and_matches_an_uninterrupted_one(tmp_path,
                                                                                                   tiny_world):
    """`python -m vasa_lab.latent.train` checkpoints every N steps; run again after a stop, it resumes there and
    trains to the config's last step, with the weights an uninterrupted run ends with. A run that stops short raises
    instead of returning a model that looks finished (it would go into the store as the config's model)."""
    import torch

    from vasa_lab.latent.model import FaceLatentModel
    from vasa_lab.latent.module import train_latent

    cfg = LatentConfig(data=str(tiny_world), steps=6, batch_size=2, aux_batch=2, min_pair_gap=5, w_cross_id=0,
                       w_perceptual=0)
    torch.manual_seed(0)                          # the same initial weights (the training command seeds first too)
    whole = FaceLatentModel(cfg)
    done = train_latent(whole, checkpoint_dir=tmp_path / "whole", checkpoint_every=2)
    assert done["steps"] == 6 and done["resumed_at"] == 0

    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match="stopped at step 2 of 6"):   # stands in for a kill after step 2
        train_latent(FaceLatentModel(cfg), checkpoint_dir=tmp_path / "cut", checkpoint_every=2,
                     trainer_overrides=dict(max_steps=2))
    resumed = FaceLatentModel(cfg)                # its weights, optimiser, schedule and jitter come from the checkpoint
    again = train_latent(resumed, checkpoint_dir=tmp_path / "cut", checkpoint_every=2)
    # resumed before the middle of its run: a loader of only the rest (4 batches) made Lightning, which restores
    # "2 batches of this epoch done", stop at 4 batches done, step 4 of 6 (at 3250 of 7000 it stopped at 3750)
    assert again["resumed_at"] == 2 and again["steps"] == 6
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), f"{name} differs after resuming"


def test_the_learning_rate_schedule_spans_the_steps_each_device_makes():
    """On N devices a latent run makes steps // N optimiser steps (each device takes 1/N of the batches): its
    one-cycle schedule must end there, at a rate near 0, and not stop a quarter of the way with the rate still high."""
    from types import SimpleNamespace

    from vasa_lab.latent.module import LatentModule

    module = LatentModule(small_model(steps=400, w_cross_id=0, w_perceptual=0, w_gan=0))
    for trainer, made in ((None, 400), (SimpleNamespace(world_size=1), 400), (SimpleNamespace(world_size=4), 100)):
        module.trainer = trainer
        [opt], [sched] = module.configure_optimizers()
        for _ in range(made):
            opt.step()
            sched["scheduler"].step()
        assert sched["scheduler"].total_steps == made
        assert opt.param_groups[0]["lr"] < 0.01 * module.lr, f"{made} steps: the rate has not come down"


def test_each_clips_angle_offset_and_a_clip_without_a_reading():
    """``probes.clip_offsets``: a reader off by a constant in each clip gives back those constants; a clip
    it never read is NaN, left out of the spread and stored as null (chapter 04 and the README read these)."""
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = importlib.import_module("bench_more_people")
    from vasa_lab.latent import probes

    rng = np.random.default_rng(0)
    states = rng.normal(size=(200, 17)) * 3
    clip = np.repeat(np.arange(4), 50)
    offset = np.array([[1.0, 0.0, 0.0], [-1.0, 0.5, 0.0], [0.0, -0.5, 0.2], [0.0, 0.0, -0.2]])
    got = probes.clip_offsets(states[:, :3], states, states[:, :3] + offset[clip], states, clip, n_clips=5)
    assert got.shape == (5, 3) and np.isnan(got[4]).all()
    np.testing.assert_allclose(got[:4], offset, atol=0.02)
    summary = bench.offset_summary(got)
    assert summary["offsets (deg)"][4] == [None, None, None]
    assert abs(summary["std (deg)"]["yaw"] - offset[:, 0].std()) < 0.02
    np.testing.assert_allclose(bench.offsets_of(summary)[:4], np.round(got[:4], 4))
