"""Profiles, reproducibility helpers and the artifact store."""
import json

import pytest
import torch

from vasa_lab.artifacts import ArtifactMissing, ArtifactStore, config_key
from vasa_lab.config import DataConfig, WorldConfig, resolve_profile
from vasa_lab.repro import setup
from vasa_lab.training import trainer_kwargs


def test_profile_from_argument_then_environment(monkeypatch):
    monkeypatch.setenv("VASA_LAB_PROFILE", "small")
    assert resolve_profile() == "small"
    assert resolve_profile("full") == "full"
    assert WorldConfig.for_profile().image_size == 128
    assert WorldConfig.for_profile("tiny").image_size == 64
    assert WorldConfig.for_profile("full").image_size == 512
    monkeypatch.delenv("VASA_LAB_PROFILE")
    assert resolve_profile() == "tiny"


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="tiny, small, full"):
        resolve_profile("huge")


def test_seeding_repeats_random_numbers():
    setup(seed=123)
    a = torch.randn(5)
    setup(seed=123)
    assert torch.equal(a, torch.randn(5))


def test_trainer_is_quiet_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert trainer_kwargs()["enable_progress_bar"] is False
    monkeypatch.setenv("CI", "")
    assert trainer_kwargs()["enable_progress_bar"] is True


def test_a_run_that_stopped_short_is_refused_and_one_that_finished_passes():
    """training.check_finished: one device makes every step; on N devices each takes 1/N of the batches, so a whole
    run makes steps // N steps (a DDP run is not refused at its end); anything less is refused."""
    from types import SimpleNamespace

    from vasa_lab.training import RunSampler, check_finished

    check_finished(SimpleNamespace(global_step=7000, world_size=1), 7000)
    check_finished(SimpleNamespace(global_step=1750, world_size=4), 7000)
    for step, devices in ((3750, 1), (1000, 4)):
        with pytest.raises(RuntimeError, match=f"stopped at step {step} of {7000 // devices}"):
            check_finished(SimpleNamespace(global_step=step, world_size=devices), 7000)
    rest = RunSampler(10, 6)
    assert list(rest) == [6, 7, 8, 9] and len(rest) == 10      # yields the rest, counts the whole run


def test_config_key_follows_the_settings_not_the_object():
    import dataclasses

    base = DataConfig()
    # equal settings reached another way give the same key ...
    assert config_key(dataclasses.replace(DataConfig(batch_size=3, split_seed=5), batch_size=16, split_seed=0)) \
        == config_key(base)
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})    # a dict's order is not a setting
    # ... and a change to any one field gives a key of its own
    keys = {config_key(base)}
    for f in dataclasses.fields(DataConfig):
        value = getattr(base, f.name)
        keys.add(config_key(dataclasses.replace(base, **{f.name: value + 1})))
    assert len(keys) == 1 + len(dataclasses.fields(DataConfig))
    # a hard-coded key: the same on every machine and in every process (Python's own hash() would not be)
    assert config_key(base) == "755e4ecbe2be"


def test_shipped_weights_sit_under_the_key_of_their_config(tmp_path):
    """The store finds shipped weights by key: each folder in vasa_lab/weights/<name>/<key>/ must be the key of the
    config saved next to it, and the tiny profile's configs must ask for a folder that ships."""
    from vasa_lab.artifacts import PACKAGED_WEIGHTS
    from vasa_lab.metrics.capp import CAPPConfig
    from vasa_lab.metrics.fvd import VideoEncoderConfig
    from vasa_lab.metrics.syncnet import SyncNetConfig
    from vasa_lab.tracking.landmark_net import LandmarkNetConfig

    metas = sorted(PACKAGED_WEIGHTS.glob("*/*/meta.json"))
    assert len(metas) >= 5
    for path in metas:
        meta = json.loads(path.read_text())
        assert config_key(meta["config"]) == meta["key"] == path.parent.name, path
        assert meta["name"] == path.parent.parent.name and (path.parent / "model.safetensors").is_file(), path
    for name, config, key in [("landmark_net", LandmarkNetConfig.for_profile("tiny"), "cecee79f4374"),
                              ("metric-capp", CAPPConfig.for_profile("tiny"), "f7c26da93944"),
                              ("metric-syncnet", SyncNetConfig.for_profile("tiny"), "0443d2fd2ec3"),
                              ("metric-video", VideoEncoderConfig.for_profile("tiny"), "2b8a3f1bc79d")]:
        assert config_key(config) == key, name
        assert ArtifactStore(tmp_path).find(name, config) == PACKAGED_WEIGHTS / name / key   # shipped by default


def _tiny_net():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def test_store_trains_once_then_loads(tmp_path):
    store = ArtifactStore(tmp_path, packaged=None)
    calls = []

    def train(model):
        calls.append(1)
        torch.manual_seed(0)
        for p in model.parameters():
            p.data.normal_()
        return {"loss": 0.5}

    cfg = {"width": 4}
    a = store.get_or_train("toy", cfg, _tiny_net, train)
    b = store.get_or_train("toy", cfg, _tiny_net, train)
    assert len(calls) == 1
    x = torch.randn(7, 3)
    assert torch.equal(a(x), b(x))
    folder = store.find("toy", cfg)
    assert (folder / "model.safetensors").is_file()
    assert json.loads((folder / "meta.json").read_text())["metrics"] == {"loss": 0.5}
    assert [i.name for i in store.list()] == ["toy"]


def test_packaged_weights_are_found_first(tmp_path):
    shipped = ArtifactStore(tmp_path / "shipped", packaged=None)
    torch.manual_seed(1)
    net = _tiny_net()
    shipped.save("toy", {"w": 1}, net)
    store = ArtifactStore(tmp_path / "cache", packaged=tmp_path / "shipped")
    assert store.find("toy", {"w": 1}) == tmp_path / "shipped" / "toy" / config_key({"w": 1})
    torch.manual_seed(2)                                     # the module built for loading starts from other weights
    loaded = store.get_or_train("toy", {"w": 1}, _tiny_net, lambda m: pytest.fail("must not train"))
    x = torch.randn(5, 3)
    assert torch.equal(loaded(x), net(x))                    # the shipped weights, loaded into it
    assert not (tmp_path / "cache" / "toy" / config_key({"w": 1})).exists()     # and not copied into the cache


def test_expensive_artifact_under_ci_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    store = ArtifactStore(tmp_path, packaged=None)
    with pytest.raises(ArtifactMissing, match="make it first: python -m train"):
        store.get_or_train("big", {"a": 1}, _tiny_net, lambda m: None, expensive=True,
                           how_to_make="python -m train")
