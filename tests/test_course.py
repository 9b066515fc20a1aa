"""vasa_lab.course: the first use of a world says what it makes and how long it takes, later uses are silent; the
shared caches can be made ahead of time (``python -m vasa_lab.course``)."""
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
    """`make test` makes the world in the background while a chapter may ask for it too (and a class may open two
    chapters at once): the second asker waits for the first one's world instead of making it too."""
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


def test_the_shared_caches_are_made_once_ahead_of_the_chapters(tmp_path, monkeypatch, capsys):
    """make_caches makes the world and encodes it into motion codes with the shipped tiny face model; the chapters'
    own calls then find both, and a second make_caches changes nothing."""
    from vasa_lab.motion import MotionConfig
    from vasa_lab.motion.data import MotionClips, motion_clips

    monkeypatch.setenv("VASA_LAB_HOME", str(tmp_path))
    monkeypatch.setenv("CI", "1")
    made = course.make_caches("tiny", workers=1, clips=4, seconds=1.2)
    assert set(made) == {"world", "motion codes"} and made["motion codes"].is_file()
    assert str(made["world"]).startswith(str(tmp_path)) and str(made["motion codes"]).startswith(str(tmp_path))
    codes = MotionClips.load(made["motion codes"])
    assert len(codes) == 4 and codes.motion.shape[0] == 4 * 30             # 4 clips of 30 frames, all encoded
    stamp = made["motion codes"].stat().st_mtime_ns
    capsys.readouterr()
    assert course.make_caches("tiny", workers=1, clips=4, seconds=1.2) == made
    assert "Making the synthetic world" not in capsys.readouterr().out
    assert made["motion codes"].stat().st_mtime_ns == stamp                # found, not made again
    found = motion_clips(MotionConfig.for_profile("tiny"), made["world"])  # what chapters 06 and 08 call
    assert found.motion.shape == codes.motion.shape


def test_a_chapter_says_when_it_waits_for_another_process_making_the_world(tmp_path, monkeypatch, capsys):
    import threading
    import time

    from vasa_lab.artifacts import ExclusiveLock, config_key

    monkeypatch.setenv("VASA_LAB_HOME", str(tmp_path))
    monkeypatch.setenv("CI", "1")
    spec = spec_for_profile("tiny", clips=2, seconds=0.4)
    lock = tmp_path / "data" / f"synthetic-{config_key(spec)}.lock"
    with ExclusiveLock(lock):                                   # stands in for `make test`'s background maker
        asker = threading.Thread(target=course.world, args=("tiny",), kwargs=dict(workers=1, clips=2, seconds=0.4))
        asker.start()
        time.sleep(0.5)
        assert asker.is_alive()                                 # waits while the lock is held
    asker.join()
    out = capsys.readouterr().out
    assert "Another process is making the synthetic world (2 clips of 0.4 s at 64 px" in out and "waiting" in out
    assert "World ready" in out
