"""Profiles, reproducibility helpers and the artifact store."""
import json

import pytest
import torch

from vasa_lab.artifacts import ArtifactMissing, ArtifactStore, config_key
from vasa_lab.config import DataConfig, WorldConfig, resolve_profile
from vasa_lab.repro import setup, trainer_kwargs


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


def test_config_key_changes_with_config():
    assert config_key(DataConfig()) == config_key(DataConfig())
    assert config_key(DataConfig()) != config_key(DataConfig(batch_size=3))


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
    shipped.save("toy", {"w": 1}, _tiny_net())
    store = ArtifactStore(tmp_path / "cache", packaged=tmp_path / "shipped")
    assert store.find("toy", {"w": 1}) == tmp_path / "shipped" / "toy" / config_key({"w": 1})
    assert store.get_or_train("toy", {"w": 1}, _tiny_net, lambda m: pytest.fail("must not train")) is not None


def test_expensive_artifact_under_ci_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    store = ArtifactStore(tmp_path, packaged=None)
    with pytest.raises(ArtifactMissing, match="make it first: python -m train"):
        store.get_or_train("big", {"a": 1}, _tiny_net, lambda m: None, expensive=True,
                           how_to_make="python -m train")
