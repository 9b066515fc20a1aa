"""vasa_lab.course.world: the first use of a world says what it makes and how long it takes; later uses are silent."""
from __future__ import annotations

from vasa_lab import course
from vasa_lab.world.dataset import spec_for_profile


def test_world_is_announced_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VASA_LAB_HOME", str(tmp_path))
    monkeypatch.setenv("CI", "1")                                     # no progress bar under CI
    first = course.world("tiny", workers=1, clips=2, seconds=0.4)
    out = capsys.readouterr()
    assert "Making the synthetic world once (2 clips of 0.4 s at 64 px, 1 workers)" in out.out
    assert "World ready" in out.out and "synthesizing" not in out.err
    again = course.world("tiny", workers=1, clips=2, seconds=0.4)
    assert again == first and capsys.readouterr().out == ""


def test_estimate_scales_with_clips_pixels_and_workers():
    spec = spec_for_profile("tiny")
    base = course.world_estimate_s(spec, 2)
    assert 120 < base < 600                                            # the tiny world: minutes, not seconds or hours
    assert course.world_estimate_s(spec, 1) == 2 * base
    assert course.world_estimate_s(spec_for_profile("tiny", size=128), 2) == 4 * base
