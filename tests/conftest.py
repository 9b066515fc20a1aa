import os

import pytest

os.environ.setdefault("VASA_LAB_PROFILE", "tiny")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """A small synthetic dataset (12 clips of 2 s at 64 px, 6 identities), made once per test session."""
    from vasa_lab.world.dataset import WorldSpec, synthesize_dataset

    folder = tmp_path_factory.mktemp("world")
    synthesize_dataset(folder, WorldSpec(clips=12, seconds=2.0, size=64, seed=3), workers=2, progress=False)
    return folder
