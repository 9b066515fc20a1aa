"""The synthetic world end to end: clips, ground truth, determinism, datasets, the DataModule."""
import numpy as np
import pytest

from vasa_lab.world.behaviour import EMOTIONS, ClipConditions, damped_response, ou_process
from vasa_lab.world.clip import load_truth, make_clip, save_clip
from vasa_lab.world.dataset import WorldSpec, read_index, synthesize_dataset
from vasa_lab.world.state import STATE_NAMES


@pytest.fixture(scope="module")
def clip():
    return make_clip(seed=5, index=3, seconds=3.0, size=64)


def test_clip_shapes_line_up(clip):
    t = clip.n_frames
    assert t == 75
    assert clip.frames.shape == (t, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.shape == (t * 640,) and clip.audio.dtype == np.float32
    assert clip.states.shape == (t, len(STATE_NAMES))
    assert clip.landmarks.shape == (t, 68, 2)
    assert clip.viseme_ids.shape == (t,)


def test_same_seed_same_clip():
    a = make_clip(seed=9, index=1, seconds=1.5, size=64)
    b = make_clip(seed=9, index=1, seconds=1.5, size=64)
    assert np.array_equal(a.audio, b.audio)
    assert np.array_equal(a.states, b.states)
    assert np.array_equal(a.landmarks, b.landmarks)
    assert np.array_equal(a.frames, b.frames)
    c = make_clip(seed=9, index=2, seconds=1.5, size=64)
    assert not np.array_equal(a.audio[: c.audio.size], c.audio)


def test_landmarks_inside_the_frame(clip):
    assert np.all(clip.landmarks >= 0) and np.all(clip.landmarks <= 63)


def test_pose_agrees_with_the_render(clip):
    """The rendered eye line tilts by the ground-truth roll, and the nose moves with yaw, frame by frame."""
    lm = clip.landmarks
    roll = clip.track("roll")
    eye = lm[:, 45] - lm[:, 36]
    measured_roll = np.degrees(np.arctan2(eye[:, 1], eye[:, 0]))
    # yaw and pitch foreshorten the eye line a little, so compare where the head is near frontal
    frontal = (np.abs(clip.track("yaw")) < 10) & (np.abs(clip.track("pitch")) < 10)
    assert frontal.sum() > 5
    assert np.median(np.abs(measured_roll - roll)[frontal]) < 2.0
    nose_offset = lm[:, 30, 0] - lm[:, [36, 45], 0].mean(axis=1)
    assert np.corrcoef(nose_offset, clip.track("yaw"))[0, 1] > 0.8


def test_mouth_in_the_render_follows_the_truth(clip):
    """The rendered inner-lip gap (landmarks 62 and 66) grows with the ground-truth jaw opening."""
    gap = clip.landmarks[:, 66, 1] - clip.landmarks[:, 62, 1]
    assert np.corrcoef(gap, clip.track("jaw_open"))[0, 1] > 0.8


def test_people_keep_their_face_voice_and_style_across_clips():
    a = make_clip(seed=2, index=0, seconds=0.5, size=64)
    b = make_clip(seed=2, index=1, seconds=0.5, size=64)
    c = make_clip(seed=2, index=2, seconds=0.5, size=64)
    assert a.meta["identity_index"] == b.meta["identity_index"] != c.meta["identity_index"]
    assert a.meta["identity"] == b.meta["identity"] != c.meta["identity"]
    assert a.meta["voice"] == b.meta["voice"] and a.meta["style"] == b.meta["style"]


def test_given_conditions_are_obeyed():
    cond = ClipConditions(gaze_yaw=15.0, gaze_pitch=-5.0, distance=1.2, emotion="happy")
    c = make_clip(seed=0, index=0, seconds=2.0, size=64, conditions=cond)
    assert c.meta["emotion"] == "happy"
    assert abs(np.median(c.track("gaze_yaw")) - 15) < 4
    assert abs(np.mean(c.track("scale")) - 1.2) < 0.05
    assert np.mean(c.track("smile")) > 0.3


def test_clip_round_trips_through_files(clip, tmp_path):
    paths = save_clip(clip, tmp_path, "x")
    assert all(p.exists() for p in paths.values())
    truth = load_truth(paths["npz"])
    assert np.array_equal(truth.states, clip.states)
    assert np.array_equal(truth.landmarks, clip.landmarks)
    assert truth.state_names == STATE_NAMES
    assert [p.symbol for p in truth.phonemes] == [p.symbol for p in clip.phonemes]
    assert truth.meta["identity_index"] == clip.meta["identity_index"]
    from vasa_lab.media import load_audio, read_video

    frames, fps = read_video(paths["mp4"])
    assert frames.shape == clip.frames.shape and fps == 25
    assert np.abs(frames.astype(int) - clip.frames.astype(int)).mean() < 6  # H.264 at crf 18: near lossless
    wav = load_audio(paths["wav"])
    assert np.abs(wav - clip.audio).max() < 1e-3


def test_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="en, fr, zh"):
        make_clip(0, 0, language="xx")


def test_motion_building_blocks():
    rng = np.random.default_rng(0)
    x = ou_process(rng, 20_000, tau_frames=20, sigma=2.0)
    assert abs(x.std() - 2.0) < 0.3  # stationary standard deviation is sigma
    step = damped_response(np.ones(200, np.float32), freq_hz=2.0, damping=0.5)
    assert abs(step[-1] - 1.0) < 1e-3 and step.max() > 1.0  # unit gain, overshoots once
    # each emotion moves the face the way its offsets say, against the same clip told neutral (same seed, audio)
    from vasa_lab.world.behaviour import EMOTION_OFFSETS, MotionStyle, motion_tracks

    audio = (0.1 * np.sin(np.arange(32000) / 8) * (1 + np.sin(np.arange(32000) / 2000))).astype(np.float32)
    tracks = {e: motion_tracks(np.random.default_rng(5), audio, 16000, 50, MotionStyle(), ClipConditions(emotion=e))
              for e in EMOTIONS}
    for emotion in EMOTIONS[1:]:
        moved = {k for k in tracks["neutral"] if np.abs(tracks[emotion][k] - tracks["neutral"][k]).max() > 1e-6}
        expected = set(EMOTION_OFFSETS[emotion]) & set(tracks["neutral"])           # jaw_open: the mouth's business
        assert moved == expected and expected, (emotion, moved)
        for name in expected:
            shift = np.mean(tracks[emotion][name] - tracks["neutral"][name])
            assert np.sign(shift) == np.sign(EMOTION_OFFSETS[emotion][name]), (emotion, name, shift)


def test_dataset_folder_and_index(tiny_world):
    index = read_index(tiny_world)
    assert len(index["clips"]) == 12 and not index["failed"]
    assert len({c["identity"] for c in index["clips"]}) == 6
    for c in index["clips"]:
        for suffix in (".mp4", ".wav", ".npz"):
            assert (tiny_world / f"{c['stem']}{suffix}").exists()


def test_dataset_is_resumable(tiny_world):
    before = (tiny_world / "000000.npz").stat().st_mtime_ns
    index = synthesize_dataset(tiny_world, WorldSpec(clips=12, seconds=2.0, size=64, seed=3), workers=1,
                               progress=False)
    assert index["reused"] == 12
    assert (tiny_world / "000000.npz").stat().st_mtime_ns == before


def test_dataset_refuses_other_settings_in_the_same_folder(tiny_world):
    with pytest.raises(ValueError, match="other settings"):
        synthesize_dataset(tiny_world, WorldSpec(clips=12, seconds=2.0, size=64, seed=4), progress=False)


def test_datamodule_splits_by_identity(tiny_world):
    from vasa_lab.config import DataConfig
    from vasa_lab.data.datamodule import TalkingHeadDataModule

    dm = TalkingHeadDataModule(tiny_world, DataConfig(batch_size=2, window_frames=10, window_stride=10))
    dm.setup()
    ids = {s: set(d.identities) for s, d in dm.datasets.items()}
    assert all(ids.values())
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (2, 10, 3, 64, 64)
    assert 0.0 <= batch["frames"].min() and batch["frames"].max() <= 1.0
    assert batch["audio"].shape == (2, 6400)
    assert batch["states"].shape == (2, 10, len(STATE_NAMES))
    # the window's ground truth is the clip's ground truth at that place
    ds = dm.datasets["train"]
    item = ds[1]
    truth = ds.truth_of(ds.windows[1].clip)
    s = int(item["start"])
    assert np.allclose(item["states"].numpy(), truth.states[s:s + 10])
