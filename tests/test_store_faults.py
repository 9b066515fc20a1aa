"""The artifact store under faults: damaged files are caught, concurrent askers train once, a full or unwritable
disk gives one clear error and leaves nothing half-written."""
from __future__ import annotations

import errno
import json
import multiprocessing as mp
import time
from pathlib import Path

import pytest
import torch

from vasa_lab.artifacts import ArtifactCorrupt, ArtifactStore, ArtifactUnwritable

CONFIG = {"what": "a test model", "width": 3}


def build() -> torch.nn.Module:
    return torch.nn.Linear(3, 2)


def trained(value: float = 1.0):
    def train(module):
        with torch.no_grad():
            module.weight.fill_(value)
            module.bias.fill_(0.0)
        return {"value": value}
    return train


def store_with_model(tmp_path) -> tuple[ArtifactStore, Path]:
    store = ArtifactStore(tmp_path / "home", packaged=None)
    store.get_or_train("toy", CONFIG, build, trained(1.0))
    return store, store.find("toy", CONFIG)


@pytest.mark.parametrize("damage", ["truncated", "garbage_meta", "nan", "flipped_byte"])
def test_a_damaged_cached_artifact_is_reported_and_trained_again(tmp_path, capsys, damage):
    store, folder = store_with_model(tmp_path)
    weights, meta = folder / "model.safetensors", folder / "meta.json"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage_meta":
        meta.write_text("{ this is not json")
    elif damage == "flipped_byte":
        data = bytearray(weights.read_bytes())
        data[-3] ^= 0xFF
        weights.write_bytes(bytes(data))
    else:   # NaN weights with a matching checksum: caught by the finite check, not the checksum
        from safetensors.torch import save_file

        from vasa_lab.artifacts import file_sha256

        save_file({"weight": torch.full((2, 3), float("nan")), "bias": torch.zeros(2)}, str(weights))
        m = json.loads(meta.read_text())
        m["sha256"] = file_sha256(weights)
        meta.write_text(json.dumps(m))
    with pytest.raises(ArtifactCorrupt) as info:
        store.verify(folder)
    assert "\n" not in str(info.value) and str(folder) in str(info.value)
    calls = []

    def train(module):
        calls.append(1)
        return trained(2.0)(module)

    model = store.get_or_train("toy", CONFIG, build, train)
    assert calls == [1] and torch.all(model.weight == 2.0)          # retrained, not loaded silently
    assert "training it again" in capsys.readouterr().err
    assert len(list(folder.parent.glob(f"{folder.name}.corrupt-*"))) == 1   # the damaged copy kept aside
    store.verify(store.find("toy", CONFIG))                          # the new one is sound


def test_damaged_shipped_weights_are_refused(tmp_path):
    shipped, _ = store_with_model(tmp_path / "pkg")
    folder = shipped.find("toy", CONFIG)
    (folder / "model.safetensors").write_bytes(b"\x00" * 10)
    store = ArtifactStore(tmp_path / "home", packaged=shipped.root)
    with pytest.raises(ArtifactCorrupt, match="reinstall"):
        store.get_or_train("toy", CONFIG, build, trained(3.0))


def _ask(root: str, log: str) -> float:
    def train(module):
        with open(log, "a") as f:
            f.write("trained\n")
        time.sleep(1.5)
        return trained(5.0)(module)

    model = ArtifactStore(root, packaged=None).get_or_train("toy", CONFIG, build, train)
    return float(model.weight[0, 0])


def test_two_processes_asking_at_once_train_once(tmp_path):
    log = tmp_path / "log.txt"
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_ask, [(str(tmp_path / "home"), str(log))] * 2)
    assert results == [5.0, 5.0]
    assert log.read_text().count("trained") == 1
    store = ArtifactStore(tmp_path / "home", packaged=None)
    store.verify(store.find("toy", CONFIG))
    assert not list((tmp_path / "home" / "toy").glob("*.tmp*"))


def test_an_unwritable_home_is_one_clear_error_naming_the_path(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the store's folder should be")
    store = ArtifactStore(blocker / "home", packaged=None)
    with pytest.raises(ArtifactUnwritable, match=str(blocker)):
        store.get_or_train("toy", CONFIG, build, trained(1.0))


def test_a_full_disk_leaves_nothing_half_written(tmp_path, monkeypatch):
    import vasa_lab.artifacts as artifacts

    def full(state, path):
        Path(path).write_bytes(b"\x00" * 100)      # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifacts, "save_file", full)
    store = ArtifactStore(tmp_path / "home", packaged=None)
    with pytest.raises(ArtifactUnwritable, match="No space left"):
        store.get_or_train("toy", CONFIG, build, trained(1.0))
    assert store.find("toy", CONFIG) is None
    assert not [p for p in (tmp_path / "home" / "toy").iterdir() if not p.name.endswith(".lock")]


def test_nan_weights_are_never_saved(tmp_path):
    store = ArtifactStore(tmp_path / "home", packaged=None)
    with pytest.raises(ValueError, match="NaN"):
        store.get_or_train("toy", CONFIG, build, trained(float("nan")))
    assert store.find("toy", CONFIG) is None


def _train_slowly(root: str) -> None:
    def train(module):
        time.sleep(60)
        return trained(1.0)(module)

    ArtifactStore(root, packaged=None).get_or_train("toy", CONFIG, build, train)


def test_a_run_killed_while_training_or_saving_leaves_no_artifact_and_the_next_run_trains(tmp_path):
    import os
    import signal

    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_train_slowly, args=(str(tmp_path / "home"),))
    proc.start()
    lock = tmp_path / "home" / "toy"
    t0 = time.time()
    while not (lock.is_dir() and list(lock.glob("*.lock"))) and time.time() - t0 < 60:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    store = ArtifactStore(tmp_path / "home", packaged=None)
    assert store.find("toy", CONFIG) is None                  # nothing that looks complete
    model = store.get_or_train("toy", CONFIG, build, trained(4.0))   # the lock died with its holder
    assert torch.all(model.weight == 4.0)
