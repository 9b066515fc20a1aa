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


def test_two_chapters_asking_at_once_make_the_world_once(tmp_path, monkeypatch):
    """CI runs two notebooks at a time: the second asker waits for the first one's world instead of making it too."""
    import json
    import threading
    import time

    from vasa_lab.world import dataset

    monkeypatch.setenv("VASA_LAB_HOME", str(tmp_path))
    made = []

    def slow_synthesize(folder, spec, workers=None, progress=True):      # stands in for minutes of rendering
        made.append(folder)
        time.sleep(0.5)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / dataset.INDEX_NAME).write_text(json.dumps(dict(clips=[{}] * spec.clips, failed=[])))

    monkeypatch.setattr(dataset, "synthesize_dataset", slow_synthesize)
    folders = []
    askers = [threading.Thread(target=lambda: folders.append(dataset.default_world("tiny", clips=2, seconds=0.4)))
              for _ in range(2)]
    for t in askers:
        t.start()
    for t in askers:
        t.join()
    assert len(made) == 1 and len(folders) == 2 and folders[0] == folders[1]
