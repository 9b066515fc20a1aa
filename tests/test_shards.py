"""Reading prepared clips (vasa_lab.data.shards): the same windows as the synthetic world's dataset, the tracked
signals beside them, the ground truth carried through preparation, and splits by speaker."""
import json

import numpy as np
import pytest
import torch

from vasa_lab.config import DataConfig
from vasa_lab.data.datamodule import ClipWindowDataset
from vasa_lab.data.shards import PreparedClipDataset, PreparedDataModule, read_prepared_index

SIZE = 64
CONFIG = DataConfig(window_frames=10, window_stride=10, batch_size=2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A synthetic world (6 clips of 1.2 s at 128 px, 3 speakers) and its prepared twin."""
    from vasa_lab.data.prepare import PrepareOptions, prepare
    from vasa_lab.world.dataset import WorldSpec, synthesize_dataset

    source = tmp_path_factory.mktemp("world")
    synthesize_dataset(source, WorldSpec(clips=6, seconds=1.2, size=128, seed=11), workers=1, progress=False)
    out = tmp_path_factory.mktemp("prepared")
    report = prepare(source, out, PrepareOptions(size=SIZE, min_face=24, shard_clips=4), workers=1, progress=False)
    assert report["skipped"] == 0, report["clips"]
    return source, out


def test_windows_have_the_synthetic_datasets_fields_and_the_tracks(world):
    source, out = world
    ds = PreparedClipDataset(out, config=CONFIG)
    ref = ClipWindowDataset(source, config=CONFIG)
    assert len(ds) == len(ref) == 6 * 3 and ds.has_truth
    item, ref_item = ds[4], ref[4]
    for name in ("audio", "states", "viseme_ids", "identity", "emotion", "clip", "start"):
        assert item[name].shape == ref_item[name].shape and item[name].dtype == ref_item[name].dtype, name
    assert item["frames"].shape == (10, 3, SIZE, SIZE) and item["frames"].dtype == torch.float32
    assert 0 <= item["frames"].min() and item["frames"].max() <= 1
    shapes = dict(pose=(10, 6), gaze=(10, 2), landmarks=(10, 68, 2), true_landmarks=(10, 68, 2), mouth_open=(10,),
                  blink=(10,), eye_openness=(10,), detected=(10,), gaze_main=(2,), head_distance=())
    for name, shape in shapes.items():
        assert tuple(item[name].shape) == shape, name
    assert int(item["identity"]) == int(ref_item["identity"]) and int(item["clip"]) == int(ref_item["clip"])


def test_ground_truth_travels_with_the_clip(world):
    source, out = world
    from vasa_lab.world.clip import load_truth

    ds = PreparedClipDataset(out, config=CONFIG)
    for i in (0, 7, len(ds) - 1):
        item = ds[i]
        key = ds.entries[ds.windows[i].clip]["key"]
        truth = load_truth(source / f"{key}.npz")
        t0 = int(item["start"])
        assert np.array_equal(item["states"].numpy(), truth.states[t0:t0 + 10])   # 25 fps in, 25 fps out
        assert np.array_equal(item["viseme_ids"].numpy(), truth.viseme_ids[t0:t0 + 10])
        # tracked and true landmarks, both in crop pixels, agree to a few pixels
        err = (item["landmarks"] - item["true_landmarks"]).norm(dim=-1).mean()
        assert err < 0.06 * SIZE, float(err)
        # the audio is the clip's speech (through AAC): it correlates with the original under these frames
        import soundfile as sf

        wav, _ = sf.read(source / f"{key}.wav", dtype="float32")
        a = wav[t0 * 640:(t0 + 10) * 640]
        b = item["audio"].numpy()
        if np.abs(a).max() > 0.05:
            assert np.corrcoef(a, b)[0, 1] > 0.9


def test_splits_are_by_speaker_and_match_the_synthetic_world(world):
    source, out = world
    seen = {}
    for split in ("train", "val", "test"):
        ds = PreparedClipDataset(out, split, config=CONFIG)
        ref = ClipWindowDataset(source, split, config=CONFIG)
        assert ds.identities == ref.identities and ds.identities
        seen[split] = set(ds.identities)
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])
    assert set().union(*seen.values()) == {e["identity"] for e in read_prepared_index(out)["clips"]}


def test_frames_are_decoded_once_and_cached(world, tmp_path):
    _, out = world
    ds = PreparedClipDataset(out, config=CONFIG, cache_dir=tmp_path)
    first = ds[0]["frames"]
    cached = list(tmp_path.glob("*.frames.npy"))
    assert len(cached) == 1
    again = PreparedClipDataset(out, config=CONFIG, cache_dir=tmp_path)[0]["frames"]
    assert torch.equal(first, again)


def test_the_datamodule_serves_batches(world):
    _, out = world
    dm = PreparedDataModule(out, config=CONFIG)
    dm.prepare_data()
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (2, 10, 3, SIZE, SIZE) and batch["audio"].shape == (2, 6400)
    assert batch["pose"].shape == (2, 10, 6) and batch["states"].shape == (2, 10, 17)
    assert batch["speaker"].dtype == torch.int64


def test_real_video_layout_has_no_truth_fields(world, tmp_path):
    """The same videos read as a plain folder (no index): tracks only, one speaker per file."""
    from vasa_lab.data.prepare import PrepareOptions, prepare

    source, _ = world
    report = prepare(source, tmp_path / "plain", PrepareOptions(size=SIZE, min_face=24, layout="folder"),
                     workers=1, progress=False)
    assert report["kept"] == 6
    ds = PreparedClipDataset(tmp_path / "plain", config=CONFIG)
    item = ds[0]
    assert not ds.has_truth and "states" not in item and "true_landmarks" not in item
    assert len(ds.speaker_names) == 6 and item["pose"].shape == (10, 6)


def test_a_folder_without_an_index_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="vasa-lab prepare"):
        PreparedClipDataset(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a prepared-clips index"):
        PreparedClipDataset(tmp_path)
