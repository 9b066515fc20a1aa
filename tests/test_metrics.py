"""The evaluation metrics (chapter 10): known answers for every formula, bad input, and one small end-to-end run.

The networks here are trained for a few dozen steps on the ``tiny_world`` fixture (a few seconds); the real tiny
networks and their validation numbers are chapter 10's business.
"""
import json
import math
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vasa_lab.media import MediaError, to_fps, write_mp4
from vasa_lab.metrics.capp import CAPP, CAPPConfig, CAPPScore, info_nce, window_starts
from vasa_lab.metrics.features import (EvalClip, fixed_mouth_crops, load_eval_clip, log_mel, mouth_boxes,
                                       mouth_crops, shift_audio, world_clips)
from vasa_lab.metrics.fvd import FVD, VideoEncoderConfig, frechet_distance
from vasa_lab.metrics.paper_table import Evaluator, format_table, read_folder
from vasa_lab.metrics.pose_intensity import PoseIntensity, pose_intensity
from vasa_lab.metrics.syncnet import SyncNet, SyncNetConfig, contrastive_loss, offset_distances, sync_scores


# ---------------------------------------------------------------------------------------------------------------
# S_C / S_D: the public scoring procedure on hand-made numbers
# ---------------------------------------------------------------------------------------------------------------
def test_sync_scores_on_a_hand_made_distance_matrix():
    # 3 windows x 5 offsets (K = 2). Column means D(k) = [5, 3, 1, 4, 6]:
    # S_D = min = 1 (at k index 2, offset 0); S_C = median(5, 3, 1, 4, 6) - 1 = 4 - 1 = 3
    d = np.array([[5, 2, 1, 4, 6],
                  [4, 3, 0, 5, 7],
                  [6, 4, 2, 3, 5]], float)
    r = sync_scores(d)
    assert r.distance == pytest.approx(1.0)
    assert r.confidence == pytest.approx(3.0)
    assert r.offset == 0
    np.testing.assert_allclose(r.curve, [5, 3, 1, 4, 6])
    # the best fit one column to the left: argmin index 1 -> the public "AV offset" K - 1 = +1
    assert sync_scores(d[:, [1, 2, 0, 3, 4]]).offset == 1


def test_offset_distances_pad_with_zero_vectors():
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    d = offset_distances(v, a, max_offset=1)                 # (3 windows, 3 offsets -1, 0, +1)
    assert d.shape == (3, 3)
    assert torch.allclose(d[:, 1], torch.zeros(3))           # offset 0: each window meets its own audio
    assert d[0, 0] == pytest.approx(1.0)                     # window 0, offset -1: the zero vector -> |v_0| = 1
    assert d[2, 2] == pytest.approx(math.sqrt(2))            # window 2, offset +1: beyond the end -> |v_2|
    assert d[1, 2] == pytest.approx(1.0)                     # window 1 vs audio 2: |(0,1) - (1,1)| = 1


def test_sync_scores_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2K \\+ 1"):
        sync_scores(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="at least one window"):
        sync_scores(np.zeros((0, 5)))


def test_contrastive_loss_known_values():
    d = torch.tensor([2.0, 3.0, 12.0])
    y = torch.tensor([1.0, 0.0, 0.0])
    # (1/2N) [ 2^2 + (10 - 3)^2 + max(10 - 12, 0)^2 ] = (4 + 49 + 0) / 6
    assert float(contrastive_loss(d, y, margin=10.0)) == pytest.approx(53 / 6)


def test_syncnet_weights_from_a_local_file(tmp_path):
    from safetensors.torch import save_file

    from vasa_lab.metrics.syncnet import load_syncnet

    cfg = SyncNetConfig(channels=(8, 8, 8, 8), embed_dim=8)
    torch.manual_seed(0)
    net = SyncNet(cfg).eval()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "sync.safetensors"))
    loaded = load_syncnet(config=replace(cfg, weights_path=str(tmp_path / "sync.safetensors")))
    crops, mel = torch.rand(2, 5, 24, 24), torch.randn(2, 20, 40)
    assert torch.allclose(loaded(crops, mel), net(crops, mel))
    save_file({"netcnnaud.0.weight": torch.zeros(1)}, str(tmp_path / "public.safetensors"))
    with pytest.raises(ValueError, match="syncnet_python"):
        load_syncnet(config=replace(cfg, weights_path=str(tmp_path / "public.safetensors")))
    with pytest.raises(FileNotFoundError):
        load_syncnet(config=replace(cfg, weights_path=str(tmp_path / "missing.safetensors")))


# ---------------------------------------------------------------------------------------------------------------
# CAPP: the symmetric InfoNCE on a known case
# ---------------------------------------------------------------------------------------------------------------
def test_info_nce_known_case_and_symmetry():
    b, s = 4, 5.0
    eye = torch.eye(b)
    # matching unit vectors, orthogonal to the others: logits s I, each row's softmax gives e^s / (e^s + b - 1)
    expected = -math.log(math.exp(s) / (math.exp(s) + b - 1))
    assert float(info_nce(eye, eye, s)) == pytest.approx(expected, rel=1e-6)
    a = F.normalize(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    p = F.normalize(torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    logits = 2.0 * a @ p.T
    by_hand = 0.5 * (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6)))
    assert float(info_nce(a, p, 2.0)) == pytest.approx(float(by_hand), rel=1e-6)
    assert float(info_nce(a, p, 2.0)) == pytest.approx(float(info_nce(p, a, 2.0)), rel=1e-6)   # symmetric


def test_head_activity_and_frame_scale_motion():
    """What chapter 10's section 7 measures: the world's head activity from loudness, and whether a pose's
    frame-scale jitter follows it."""
    from vasa_lab.metrics.capp import frame_scale_motion, taken_apart
    from vasa_lab.world.behaviour import head_activity, loudness_db

    sr, n = 16_000, 100
    t = np.arange(sr * 4) / sr
    audio = np.where(t < 2, 0.3 * np.sin(2 * np.pi * 200 * t), 1e-4).astype(np.float32)   # 2 s speech, 2 s pause
    loud = loudness_db(audio, sr, n)
    assert loud.max() == pytest.approx(0.0, abs=1e-4) and loud.min() >= -60 and loud[75:].max() < -30
    act = head_activity(loud)
    assert act.shape == (n,) and act[40:50].min() > 0.9 and act[-1] < 0.2 and act.min() >= 0.1 - 1e-6

    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.normal(0, 0.05, (n, 6)), axis=0)
    follows = smooth + rng.normal(0, 1.0, (n, 6)) * act[:, None]         # jitters while speaking only
    constant = smooth + rng.normal(0, 0.6, (n, 6))                         # jitters all along
    size_f, r_f = frame_scale_motion(follows, act)
    size_c, r_c = frame_scale_motion(constant, act)
    size_s, _ = frame_scale_motion(smooth, act)
    assert r_f > 0.7 and r_c < 0.4 and size_s < 0.1 * size_c

    parts = taken_apart(follows, act, constant, rng)
    np.testing.assert_allclose(parts["true pose"], follows, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(parts["true pose 5 frames late"][5:], follows[:-5], rtol=1e-5, atol=1e-5)
    assert all(v.shape == (n, 6) and v.dtype == np.float32 for v in parts.values())
    assert frame_scale_motion(parts["smoothed, sigma 2 frames"], act)[0] < 0.3 * size_f
    assert frame_scale_motion(parts["smoothed + white noise x activity"], act)[1] > 0.7
    assert frame_scale_motion(parts["smoothed + white noise, constant"], act)[1] < 0.4
    walk_follows = frame_scale_motion(parts["a random walk alone, steps x activity"], act)[1]
    assert walk_follows > frame_scale_motion(parts["a random walk alone, constant steps"], act)[1] + 0.3
    shuffled = parts["smoothed + its jitter shuffled in time"]
    assert frame_scale_motion(shuffled, act)[1] < r_f - 0.2       # the same jitter, no longer where the speech is


def test_capp_windows_and_short_clips():
    assert window_starts(100, 75) == [0, 25]
    assert window_starts(60, 75) == [0]
    from vasa_lab.metrics.features import POSE_UNITS

    class Known(torch.nn.Module):
        """An encoder stand-in: a known unit vector per window; remembers its input."""

        def __init__(self, vector):
            super().__init__()
            self.vector, self.seen = vector, []

        def forward(self, x):
            self.seen.append(x.clone())
            return torch.stack([self.vector(w) for w in x])

    # audio -> (c, sqrt(1 - c^2)) with c the window's mean log-mel value, pose -> (1, 0): each window's cosine is c
    net = CAPP(CAPPConfig()).eval()
    net.audio = Known(lambda m: torch.stack([m.mean(), (1 - m.mean() ** 2).clamp_min(0).sqrt()]))
    net.pose = Known(lambda p: torch.tensor([1.0, 0.0]))
    metric = CAPPScore(net)
    # shorter than 3 s: one window, padded with stillness and with silence (normalised log-mel -2): 60 frames at
    # 0.5 and 15 at -2 average to 0 (zero padding would give 0.4, no padding 0.5)
    pose = np.random.default_rng(0).normal(size=(60, 6)).astype(np.float32)
    metric.update(np.full((240, 40), 0.5, np.float32), pose)
    seen = net.pose.seen[-1]
    assert seen.shape == (1, 75, 6) and torch.all(seen[0, 60:] == 0)
    np.testing.assert_allclose(seen[0, :60].numpy(), (pose - pose.mean(axis=0)) / POSE_UNITS, rtol=1e-5, atol=1e-6)
    # 4 s: windows at frames 0 and 25; mel 0.2 for 2 s then 0.8 -> window means 0.4 and 0.6 -> the clip 0.5
    metric.update(np.repeat(np.float32([0.2, 0.8]), 200)[:, None].repeat(40, axis=1), np.zeros((100, 6), np.float32))
    assert metric.per_clip == pytest.approx([0.0, 0.5], abs=1e-6)
    assert metric.compute() == pytest.approx(dict(CAPP=0.25, n=2), abs=1e-6)      # the mean over clips
    with pytest.raises(ValueError, match="at least 25 frames"):
        metric.update(np.zeros((40, 40), np.float32), pose[:10])
    with pytest.raises(ValueError, match="NaN"):
        metric.update(np.zeros((240, 40), np.float32), np.full((60, 6), np.nan, np.float32))


# ---------------------------------------------------------------------------------------------------------------
# dP on a known sinusoid
# ---------------------------------------------------------------------------------------------------------------
def test_pose_intensity_of_a_sinusoid():
    # yaw = A sin(w t): |yaw_t - yaw_(t-1)| = 2 A sin(w/2) |cos(w t - w/2)|, whose mean over whole periods is
    # 2 A sin(w/2) * 2/pi; pitch and roll are still, so dP (the mean over 3 angles) is a third of that
    a, period = 4.0, 50
    t = np.arange(period * 20 + 1)
    w = 2 * np.pi / period
    pose = np.zeros((len(t), 6))
    pose[:, 0] = a * np.sin(w * t)
    expected = 2 * a * np.sin(w / 2) * (2 / np.pi) / 3
    assert pose_intensity(pose) == pytest.approx(expected, rel=2e-3)
    m = PoseIntensity()
    m.update(pose)
    m.update(pose * 2)                                        # twice the amplitude, twice the dP
    assert m.compute()["dP"] == pytest.approx(1.5 * expected, rel=2e-3)
    assert pose_intensity(np.zeros((10, 3))) == 0.0
    with pytest.raises(ValueError, match="at least 2 frames"):
        pose_intensity(np.zeros((1, 3)))


# ---------------------------------------------------------------------------------------------------------------
# FVD: the Fréchet distance in closed form
# ---------------------------------------------------------------------------------------------------------------
def test_frechet_distance_closed_forms():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt v1 - sqrt v2)^2 = 5 + (1 + 0 + 4) = 10
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(10.0)
    assert frechet_distance(mu1, np.diag(v1), mu1, np.diag(v1)) == pytest.approx(0.0, abs=1e-9)
    # full covariances against scipy's matrix square root
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    ref = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-6)


def test_fvd_metric_accumulates_like_one_batch():
    class Mean(torch.nn.Module):                 # a "video encoder": per-clip mean colour and its change
        name = "test encoder"

        def forward(self, x):
            return torch.cat([x.mean(dim=(1, 3, 4)), (x[:, 1:] - x[:, :-1]).abs().mean(dim=(1, 3, 4))], 1)

    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 255, (30, 8, 8, 3), dtype=np.uint8) for _ in range(6)]
    m = FVD(Mean(), stride=1)
    for v in videos[:3]:
        m.update(v, real=True)
    for v in videos[3:]:
        m.update(v, real=False)
    r = m.compute()
    assert r["encoder"] == "test encoder" and r["n_real"] == 18 and r["n_fake"] == 18
    f_real = torch.cat([m.features(v) for v in videos[:3]]).numpy()
    f_fake = torch.cat([m.features(v) for v in videos[3:]]).numpy()
    ref = frechet_distance(f_real.mean(0), np.cov(f_real, rowvar=False), f_fake.mean(0), np.cov(f_fake, rowvar=False))
    assert r["FVD"] == pytest.approx(ref, rel=1e-6)
    frozen = FVD(Mean(), stride=1)
    for v in videos[:3]:
        frozen.update(v, real=True)
    for v in videos[3:]:
        frozen.update(np.repeat(v[:1], 30, 0), real=False)
    assert frozen.compute()["FVD"] > r["FVD"]
    with pytest.raises(ValueError, match="at least 25 frames"):
        m.update(videos[0][:10], real=True)


def test_i3d_path_takes_a_torchscript_file(tmp_path):
    from vasa_lab.metrics.fvd import I3DEncoder

    class FakeI3D(torch.nn.Module):
        def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = True, return_features: bool = True):
            return x.mean(dim=(2, 3, 4))                       # (B, 3, T, H, W) -> (B, 3)

    path = tmp_path / "i3d.pt"
    torch.jit.script(FakeI3D()).save(str(path))
    enc = I3DEncoder(path)
    out = enc(torch.ones(2, 25, 3, 8, 8))
    assert out.shape == (2, 3) and torch.allclose(out, torch.ones(2, 3))   # [0, 1] -> [-1, 1]
    assert "I3D" in enc.name
    (tmp_path / "bad.pt").write_text("not torchscript")
    with pytest.raises(ValueError, match="not a TorchScript file"):
        I3DEncoder(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        I3DEncoder(tmp_path / "missing.pt")


# ---------------------------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------------------------
def test_log_mel_rows_and_shift_audio():
    audio = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)
    mel = log_mel(audio, 25)
    assert mel.shape == (100, 40) and mel.dtype == np.float32 and np.isfinite(mel).all()
    assert log_mel(audio[:1000], 25).shape == (100, 40)      # short audio is padded with silence
    shifted = shift_audio(audio, 3)
    assert shifted.shape == audio.shape
    np.testing.assert_array_equal(shifted[:1920], 0)
    np.testing.assert_array_equal(shifted[1920:], audio[:-1920])
    np.testing.assert_array_equal(shift_audio(audio, -2)[:-1280], audio[1280:])


def test_mouth_crops_follow_the_head(tiny_world):
    clip = world_clips(tiny_world, None, limit=1)[0]
    boxes = mouth_boxes(clip.landmarks)
    mouth = clip.landmarks[:, 48:60].mean(1)
    assert np.abs(boxes[:, :2] - mouth).max() < 0.25 * boxes[:, 2].mean()   # the box sits over the mouth
    crops = mouth_crops(clip.frames, clip.landmarks, 24)
    assert crops.shape == (clip.n_frames, 24, 24) and 0 <= crops.min() and crops.max() <= 1
    assert fixed_mouth_crops(clip.frames, 16).shape == (clip.n_frames, 16, 16)
    lm = clip.landmarks.copy()
    lm[3] = np.nan                                            # a frame without a face: filled from its neighbours
    assert np.isfinite(mouth_boxes(lm)).all()
    with pytest.raises(ValueError, match="68, 2"):
        mouth_boxes(np.zeros((5, 10, 2)))


def test_eval_clip_rejects_bad_input():
    frames = np.zeros((30, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        EvalClip("x", frames.astype(np.float32), np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="too short"):
        EvalClip("x", frames[:3], np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="no audio"):
        EvalClip("x", frames, np.zeros(0, np.float32))
    assert len(to_fps(frames, 50.0)) == 15 and len(to_fps(frames, 25.0)) == 30


def test_load_eval_clip_reads_mp4_and_reports_bad_files(tmp_path, tiny_world):
    clip = load_eval_clip(tiny_world / "000000.mp4")
    assert clip.n_frames == 50 and clip.audio.size > 0
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(MediaError, match="not a readable video"):
        load_eval_clip(tmp_path / "junk.mp4")
    write_mp4(tmp_path / "silent.mp4", np.zeros((30, 16, 16, 3), np.uint8), 25.0)
    with pytest.raises(MediaError, match="no audio"):
        load_eval_clip(tmp_path / "silent.mp4")


# ---------------------------------------------------------------------------------------------------------------
# the command: bad input gets one clear line and a nonzero exit
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture()
def folders(tmp_path, tiny_world):
    """gen/: 2 good clips + 1 broken file; ref/: 2 other good clips; plus an empty, a junk and a silent folder."""
    out = {k: tmp_path / k for k in ("gen", "ref", "empty", "junk", "silent")}
    for f in out.values():
        f.mkdir()
    for i, stem in enumerate(("000000", "000001", "000002", "000003")):
        dest = out["gen"] if i < 2 else out["ref"]
        for ext in ("mp4", "wav"):
            shutil.copy(tiny_world / f"{stem}.{ext}", dest / f"{stem}.{ext}")
    (out["gen"] / "broken.mp4").write_bytes(b"\x00" * 64)
    (out["junk"] / "a.mp4").write_text("junk")
    write_mp4(out["silent"] / "quiet.mp4", np.zeros((30, 64, 64, 3), np.uint8), 25.0)
    return out


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "holds no videos"),
    ("junk", "none of its 1 videos could be read"),
    ("silent", "no audio"),
])
def test_evaluate_command_bad_input(folders, capsys, case, message):
    from vasa_lab.cli import main

    generated = folders["gen"].parent / "nope" if case == "missing" else folders[case]
    code = main(["evaluate", "--generated", str(generated), "--reference", str(folders["ref"])])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_read_folder_skips_a_bad_file(folders):
    clips, skipped = read_folder(folders["gen"], "generated")
    assert [c.name for c in clips] == ["000000", "000001"]
    assert len(skipped) == 1 and skipped[0]["name"] == "broken.mp4"


# ---------------------------------------------------------------------------------------------------------------
# end to end, with networks trained for a few steps on the tiny world
# ---------------------------------------------------------------------------------------------------------------
class GroundTruthTracker:
    """Stands in for chapter 02's tracker: returns the world's true landmarks of the clip with these frames."""

    def __init__(self, clips):
        self.by_first = {c.frames[0].tobytes(): c for c in clips}
        self.fallback = clips[0].landmarks

    def track(self, frames, fps=25.0):
        from vasa_lab.tracking.types import FaceTrack

        clip = self.by_first.get(np.asarray(frames[0]).tobytes())
        lm = clip.landmarks if clip is not None and clip.n_frames == len(frames) else \
            np.resize(self.fallback, (len(frames), 68, 2))
        t = len(frames)
        return FaceTrack(detected=np.ones(t, bool), boxes=np.zeros((t, 4), np.float32), landmarks=lm.astype(np.float32),
                         pose=np.zeros((t, 6), np.float32), gaze=np.zeros((t, 2), np.float32),
                         eye_openness=np.zeros(t, np.float32), blink=np.zeros(t, bool),
                         mouth_open=np.zeros(t, np.float32))


@pytest.fixture(scope="module")
def small_nets(tiny_world, tmp_path_factory):
    """SyncNet, CAPP (1 s windows) and the video encoder, each trained for a few steps on the tiny world."""
    from vasa_lab.artifacts import ArtifactStore
    from vasa_lab.metrics.capp import load_capp
    from vasa_lab.metrics.fvd import load_video_encoder
    from vasa_lab.metrics.id_similarity import load_identity_metric_net
    from vasa_lab.metrics.syncnet import load_syncnet

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                 # small networks: one thread is faster than two fighting over 2 cores
    store = ArtifactStore(tmp_path_factory.mktemp("store"))
    data = str(tiny_world)
    small_sync = SyncNetConfig(data=data, steps=300, batch_size=32, channels=(8, 16, 16, 16), embed_dim=32, lr=3e-3)
    sync = load_syncnet(config=small_sync, store=store)
    capp = load_capp(config=CAPPConfig(data=data, window=25, steps=15, batch_size=16), store=store)
    video = load_video_encoder(config=VideoEncoderConfig(data=data, steps=10, batch_size=16), store=store)
    assert store.has("metric-syncnet", small_sync)            # cached: the next load reads it back
    torch.set_num_threads(threads)
    return dict(syncnet=sync, capp=capp, video=video, identity=load_identity_metric_net("tiny", store=store))


def test_end_to_end_ground_truth_beats_a_frozen_face(small_nets, tiny_world):
    clips = world_clips(tiny_world, None)
    ev = Evaluator("tiny", crop_source="given", pose_source="given")
    ev._nets = dict(small_nets)
    real = ev.measure(clips[:6], reference=clips[6:])
    frozen = [replace(c, frames=np.repeat(c.frames[:1], c.n_frames, 0), pose=np.repeat(c.pose[:1], c.n_frames, 0))
              for c in clips[:6]]
    static = ev.measure(frozen, reference=clips[6:])
    assert real["n"] == 6 and not real["skipped"]
    # (the tiny world's few clips are partly the networks' training clips: this checks the plumbing end to end;
    # chapter 10 validates the real tiny networks on held-out people)
    assert real["S_C"] > static["S_C"]                        # a frozen mouth has nothing to sync
    assert real["dP"] > 0.1 and static["dP"] == 0.0
    assert real["FVD_25"] < static["FVD_25"]
    assert static["identity"] == pytest.approx(1.0, abs=1e-5)  # the first frame is the portrait
    text = format_table({"real": real, "static": static})
    assert "S_C ↑" in text and "FVD_25 ↓" in text and "static" in text
    swapped = ev.measure([replace(c, audio=clips[(i + 3) % 6].audio) for i, c in enumerate(clips[:6])])
    assert swapped["S_D"] > real["S_D"]                       # audio of another clip fits worse


def test_evaluate_command_end_to_end_skips_a_bad_file(small_nets, folders, capsys, monkeypatch, tmp_path,
                                                      tiny_world):
    import vasa_lab.metrics.paper_table as evaluate_module
    import vasa_lab.metrics.pose_intensity as motion_module
    from vasa_lab.cli import main

    class Injected(Evaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._nets = dict(small_nets)

    clips = world_clips(tiny_world, None)
    monkeypatch.setattr(evaluate_module, "Evaluator", Injected)
    monkeypatch.setattr(motion_module, "make_tracker", lambda size: GroundTruthTracker(clips))
    out = tmp_path / "table.json"
    code = main(["evaluate", "--generated", str(folders["gen"]), "--reference", str(folders["ref"]),
                 "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 1                                          # one file skipped
    assert "skipped generated/broken.mp4" in captured.err
    assert "generated" in captured.out and "reference (real)" in captured.out and "FVD_25" in captured.out
    result = json.loads(out.read_text())
    assert result["generated"]["n"] == 2 and result["reference"]["n"] == 2
    assert np.isfinite(result["generated"]["FVD_25"])


def test_halves_by_person_keeps_each_persons_first_clip_for_the_reference():
    from vasa_lab.metrics import EvalClip, halves_by_person

    frames, audio = np.zeros((5, 8, 8, 3), np.uint8), np.zeros(3200, np.float32)
    people = [3, 1, 3, 2, 1, 3]
    clips = [EvalClip(f"c{i}", frames, audio, meta=dict(identity=p)) for i, p in enumerate(people)]
    a, b = halves_by_person(clips)
    assert [c.name for c in a] == ["c0", "c1", "c3"] and [c.name for c in b] == ["c2", "c4", "c5"]
    assert {c.meta["identity"] for c in b} <= {c.meta["identity"] for c in a}     # every measured person is in A
    assert halves_by_person([]) == ([], [])


def test_generator_clip_is_the_pipeline_row_and_its_two_older_drawings(tiny_world):
    from vasa_lab.metrics import world_clips
    from vasa_lab.metrics.baselines import generator_clip
    from vasa_lab.pipeline.animate import Animator

    clip = world_clips(tiny_world, None, limit=1)[0]
    animator = Animator("tiny", device="cpu")
    with torch.no_grad():
        rows = {(start, pasted): generator_clip(animator, clip, seed=0, from_portrait=start, pasted=pasted)
                for start, pasted in ((True, True), (False, True), (False, False))}
    for row in rows.values():
        assert row.frames.shape == clip.frames.shape and row.frames.dtype == np.uint8
        assert row.pose.shape == (clip.n_frames, 6) and np.all(row.portrait == clip.frames[0])
    portrait = animator.portrait_motion(animator.portrait(clip.frames[0]))
    started, free = rows[True, True].pose[0], rows[False, True].pose[0]
    assert np.abs(started[:3] - portrait[0, :3]).max() < np.abs(free[:3] - portrait[0, :3]).max()  # starts there
    assert np.array_equal(rows[False, True].pose, rows[False, False].pose)      # same motion, drawn two ways
    assert not np.array_equal(rows[False, True].frames, rows[False, False].frames)


def test_blink_rate_counts_each_blink_once_per_second_of_frames():
    from vasa_lab.metrics.expression import blink_rate

    flags = np.zeros(50, bool)                   # 2 s at 25 fps
    flags[[5, 6, 7, 30, 31]] = True              # two blinks, of 3 and 2 frames
    assert blink_rate(flags) == pytest.approx(1.0)
    flags[0] = True                              # one already shut at the first frame counts too
    assert blink_rate(flags) == pytest.approx(1.5)
    assert blink_rate(np.zeros(25, bool)) == 0.0 and np.isnan(blink_rate(np.zeros(0, bool)))


def test_compare_reads_the_mouth_at_its_most_closed():
    """The 10th percentile of the tracked opening: a mouth that shuts between words reads ~0, one that never quite
    closes reads its lowest opening, frames where no face was found do not count."""
    from vasa_lab.metrics.expression import PixelReading, compare

    def reading(mouth):
        t = len(mouth)
        return PixelReading(detected=np.isfinite(mouth), mouth=np.asarray(mouth, float), eyes=np.full(t, 0.3),
                            blink=np.zeros(t, bool), gaze=np.zeros((t, 2)), main_gaze=np.zeros(2),
                            smile=np.zeros(t), brow=np.zeros(t))

    talking = np.tile([0.0, 0.0, 0.1, 0.3, 0.2], 8)             # shut in 2 frames of 5
    never_shut = talking + 0.08
    row = compare(reading(talking), reading(never_shut))
    assert row["mouth_closed_real"] == pytest.approx(0.0) and row["mouth_closed_shown"] == pytest.approx(0.08)
    assert row["mouth_range"] == pytest.approx(1.0)             # the same range: only the new reading tells them apart
    lost = never_shut.copy()
    lost[:20] = np.nan                                          # the first half not found
    assert compare(reading(talking), reading(lost))["mouth_closed_shown"] == pytest.approx(0.08)
    assert np.isnan(compare(reading(talking), reading(np.full(40, np.nan)))["mouth_closed_shown"])
