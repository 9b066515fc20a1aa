"""Real-video preparation (vasa_lab.data.prepare): good clips kept, each kind of bad input reported and skipped, the
output consistent after a re-run or a killed run, and the exit status saying whether anything was skipped.

The good inputs are synthetic clips at 128 px (faces ~80 px, big enough for the face mesh); preparation runs once per
module, with 64 px crops and one worker, so the file stays well under a minute on two busy cores.
"""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from vasa_lab.data import prepare as P
from vasa_lab.data.layouts import discover, make_key, speaker_identity
from vasa_lab.media import read_video_segments, resample_indices

SIZE = 64
ARGS = ["--size", str(SIZE), "--workers", "1", "--quiet", "--min-face", "24", "--min-seconds", "1",
        "--shard-clips", "2"]
GOOD = ["id00001__vidA__00001", "id00001__vidB__00002", "id00002__vidC__00001", "id00002__vidD__00030"]
N_FRAMES = {GOOD[0]: 40, GOOD[1]: 40, GOOD[2]: 40, GOOD[3]: 34}   # the last: 40 frames at 30 fps = 1.33 s
BAD = {  # key -> reason
    "id00003__bad__corrupt": P.CORRUPT,
    "id00003__bad__empty": P.ZERO_LENGTH,
    "id00003__bad__silent": P.NO_AUDIO,
    "id00003__bad__noface": P.NO_FACE,
    "id00003__bad__broken": P.UNREADABLE_FILE,
    "id00003__bad__short": P.TOO_SHORT,
}


def run_main(argv):
    """vasa_lab.data.prepare.main in this process -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = P.main(argv)
    return code, out.getvalue(), err.getvalue()


def make_input(root):
    """A VoxCeleb2-style folder: three good synthetic clips of two speakers, and one of each kind of bad file."""
    from vasa_lab.media import write_mp4
    from vasa_lab.world.clip import make_clip, save_clip

    for (speaker, video, name), index in zip([("id00001", "vidA", "00001"), ("id00001", "vidB", "00002"),
                                              ("id00002", "vidC", "00001")], (0, 1, 2)):
        folder = root / speaker / video
        folder.mkdir(parents=True)
        clip = make_clip(5, index, seconds=1.6, size=128)
        save_clip(clip, folder, name)
        (folder / f"{name}.wav").unlink()   # only videos are input
        (folder / f"{name}.npz").unlink()
    # another frame rate and audio rate: 30 fps video, 44.1 kHz audio
    from vasa_lab.media import resample

    clip = make_clip(5, 4, seconds=1.6, size=128)
    (root / "id00002" / "vidD").mkdir(parents=True)
    audio_44k = resample(clip.audio[: 40 * 533], 16_000, 44_100)
    write_mp4(root / "id00002" / "vidD" / "00030.mp4", clip.frames, 30, audio_44k, sample_rate=44_100)
    bad = root / "id00003" / "bad"
    bad.mkdir(parents=True)
    (bad / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (bad / "empty.mp4").write_bytes(b"")
    clip = make_clip(5, 3, seconds=1.6, size=128)
    write_mp4(bad / "silent.mp4", clip.frames, 25, audio=None)
    noise = np.random.default_rng(1).integers(90, 110, (40, 128, 128, 3), dtype=np.uint8)  # flat grey, no face
    write_mp4(bad / "noface.mp4", noise, 25, audio=clip.audio[: 40 * 640])
    write_mp4(bad / "short.mp4", clip.frames[:10], 25, audio=clip.audio[: 10 * 640])
    os.symlink(root / "nowhere.mp4", bad / "broken.mp4")
    (root / "notes.txt").write_text("not a video")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    make_input(root)
    out = tmp_path_factory.mktemp("prepared")
    code, stdout, stderr = run_main(["--input", str(root), "--out", str(out), *ARGS])
    return dict(root=root, out=out, code=code, stdout=stdout, stderr=stderr,
                report=json.loads((out / "report.json").read_text()),
                index=json.loads((out / "index.json").read_text()))


def test_good_clips_are_kept_and_bad_ones_skipped_with_their_reason(prepared):
    assert prepared["code"] == 1, prepared["stdout"] + prepared["stderr"]   # something was skipped
    rows = {r["key"]: r for r in prepared["report"]["clips"]}
    assert set(rows) == set(GOOD) | set(BAD)
    for key in GOOD:
        assert rows[key]["status"] == "kept", rows[key]
    for key, reason in BAD.items():
        assert rows[key]["status"] == "skipped" and rows[key]["reason"] == reason, rows[key]
        assert rows[key]["detail"]
    # the printed table names every clip and its reason, and the totals
    for key in rows:
        assert key in prepared["stdout"]
    assert "kept 4 clips" in prepared["stdout"] and "skipped 6" in prepared["stdout"]


def test_index_records_speakers_shards_and_labels(prepared):
    index, out = prepared["index"], prepared["out"]
    assert index["layout"] == "voxceleb2"
    assert [c["key"] for c in index["clips"]] == sorted(GOOD)
    assert {c["key"]: c["speaker"] for c in index["clips"]} == {
        GOOD[0]: "id00001", GOOD[1]: "id00001", GOOD[2]: "id00002", GOOD[3]: "id00002"}
    assert all(c["identity"] == speaker_identity(c["speaker"]) for c in index["clips"])
    assert len(index["shards"]) == 2    # --shard-clips 2: four clips -> two shards
    for c in index["clips"]:
        assert c["n_frames"] == N_FRAMES[c["key"]] and (out / c["shard"]).is_file()
        assert len(c["labels"]["gaze_main"]) == 2 and np.isfinite(c["labels"]["head_distance"])
    assert not list((out / "work").iterdir())   # everything packed


def test_shards_follow_the_webdataset_convention(prepared):
    out = prepared["out"]
    names = []
    for shard in prepared["index"]["shards"]:
        with tarfile.open(out / shard["file"]) as tar:
            names += tar.getnames()
    keys = [n.split(".", 1)[0] for n in names]
    # every clip's four files, one after another (WebDataset groups consecutive files by key)
    assert [n.split(".", 1)[1] for n in names] == ["mp4", "wav", "npz", "json"] * len(GOOD)
    assert keys == [k for k in sorted(GOOD) for _ in range(4)]


def test_a_clip_in_a_shard_has_crops_audio_and_tracks(prepared, tmp_path):
    import soundfile as sf

    from vasa_lab.data.shards import load_tracks
    from vasa_lab.media import read_video

    out, entry = prepared["out"], prepared["index"]["clips"][0]
    with tarfile.open(out / entry["shard"]) as tar:
        files = {ext: tar.extractfile(f"{entry['key']}.{ext}").read() for ext in ("mp4", "wav", "npz", "json")}
    (tmp_path / "c.mp4").write_bytes(files["mp4"])
    frames, fps = read_video(tmp_path / "c.mp4")
    assert frames.shape == (40, SIZE, SIZE, 3) and fps == 25
    audio, rate = sf.read(io.BytesIO(files["wav"]), dtype="float32")
    assert rate == 16_000 and audio.shape == (40 * 640,) and np.abs(audio).max() > 0.01
    tracks = load_tracks(files["npz"])
    assert tracks["pose"].shape == (40, 6) and tracks["gaze"].shape == (40, 2)
    assert tracks["landmarks"].shape == (40, 68, 2) and tracks["crop_transform"].shape == (40, 2, 3)
    for name in ("detected", "blink", "eye_openness", "mouth_open", "source_frame"):
        assert tracks[name].shape == (40,)
    assert np.isfinite(tracks["pose"]).all() and np.isfinite(tracks["landmarks"]).all()
    # landmarks are in crop coordinates: inside the crop, spread over a good part of it
    lm = tracks["landmarks"]
    assert lm.min() > -0.1 * SIZE and lm.max() < 1.1 * SIZE
    assert np.ptp(lm[..., 0], axis=1).mean() > 0.25 * SIZE
    assert json.loads(files["json"])["key"] == entry["key"]
    assert tracks["meta"]["speaker"] == "id00001" and tracks["meta"]["size"] == SIZE


def test_motion_clips_of_real_video_mark_the_tracked_blinks(prepared):
    """Real video has no true eyelid: the motion transformer's training data takes the tracker's blink flag as the
    frames where the eyes are shut, so its blink windows (MotionConfig.blink_windows) can centre on them."""
    from vasa_lab.data.clips import ClipFrames
    from vasa_lab.latent.api import load_latent_model
    from vasa_lab.motion.config import MotionConfig
    from vasa_lab.motion.data import build_motion_clips

    clips = build_motion_clips(prepared["out"], MotionConfig.for_profile("tiny"), load_latent_model("tiny"))
    frames = ClipFrames(prepared["out"], split=None)
    flags = np.concatenate([np.asarray(frames.source.tracks_of(c)["blink"], bool) for c in range(len(frames))])
    assert np.isnan(clips.states).all() and clips.shut.dtype == bool
    assert flags.any()                       # the inputs blink, and the tracker saw it
    assert np.array_equal(clips.shut, flags)


def test_other_frame_and_audio_rates_become_25_fps_and_16_khz(prepared):
    import soundfile as sf

    entry = next(c for c in prepared["index"]["clips"] if c["key"] == GOOD[3])
    assert entry["stats"]["source_fps"] == 30
    with tarfile.open(prepared["out"] / entry["shard"]) as tar:
        audio, rate = sf.read(io.BytesIO(tar.extractfile(f"{GOOD[3]}.wav").read()), dtype="float32")
        tracks = np.load(io.BytesIO(tar.extractfile(f"{GOOD[3]}.npz").read()))
        shown = tracks["source_frame"]
    assert rate == 16_000 and audio.shape == (34 * 640,)
    assert np.array_equal(shown, resample_indices(np.arange(40) / 30, 25))


def test_a_rerun_skips_what_is_done(prepared):
    before = {s["file"]: (prepared["out"] / s["file"]).read_bytes() for s in prepared["index"]["shards"]}
    code, stdout, _ = run_main(["--input", str(prepared["root"]), "--out", str(prepared["out"]), *ARGS])
    assert code == 1   # the bad files are still skipped
    assert "nothing to do: all 10 videos were already done" in stdout
    index = json.loads((prepared["out"] / "index.json").read_text())
    assert index == prepared["index"]
    assert {f: (prepared["out"] / f).read_bytes() for f in before} == before


@pytest.mark.parametrize("killed", ["before the shard's rename", "before the staged files were deleted"])
def test_a_killed_run_is_finished_consistently(prepared, tmp_path, killed):
    """A run killed while packing its last shard, with half-written temporary files around: a re-run must end with
    every clip packed exactly once and no leftovers."""
    out = tmp_path / "out"
    shutil.copytree(prepared["out"], out)
    last = out / prepared["index"]["shards"][-1]["file"]
    with tarfile.open(last) as tar:   # the last shard's clips are staged again
        tar.extractall(out / "work", filter="data")
    if killed == "before the shard's rename":
        last.rename(last.with_name(last.name + ".tmp"))
    (out / "work" / "zzz.tmp.mp4").write_bytes(b"half")
    (out / "work" / "orphan.mp4").write_bytes(b"staged by a worker killed before its marker")
    (out / "index.json").write_text(json.dumps(dict(prepared["index"], clips=[], shards=[])))   # stale
    code, stdout, _ = run_main(["--input", str(prepared["root"]), "--out", str(out), *ARGS])
    assert code == 1 and "nothing to do" in stdout
    again = json.loads((out / "index.json").read_text())
    assert again == prepared["index"]
    assert sorted(p.name for p in (out / "shards").iterdir()) == [
        "shard-000000.json", "shard-000000.tar", "shard-000001.json", "shard-000001.tar"]
    assert not list((out / "work").iterdir())


def test_the_same_folder_with_other_settings_is_refused(prepared):
    code, _, err = run_main(["--input", str(prepared["root"]), "--out", str(prepared["out"]), *ARGS, "--size", "96"])
    assert code == 2 and "other settings" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "does not exist"),
    (lambda tmp: (tmp / "a_file.mp4").write_bytes(b"x") and tmp / "a_file.mp4", "is a file"),
    (lambda tmp: (tmp / "empty_dir").mkdir() or tmp / "empty_dir", "no videos in"),
])
def test_an_unusable_input_folder_is_one_line_and_status_2(tmp_path, make, message):
    code, _, err = run_main(["--input", str(make(tmp_path)), "--out", str(tmp_path / "out"), *ARGS])
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("flag, value, message", [
    ("--size", "8", "--size must be between"),
    ("--workers", "0", "--workers must be at least 1"),
    ("--max-no-face", "1.5", "--max-no-face must be a fraction"),
    ("--backend", "magic", "unknown --backend 'magic'"),
])
def test_bad_arguments_are_one_line_and_status_2(prepared, tmp_path, flag, value, message):
    code, _, err = run_main(["--input", str(prepared["root"]), "--out", str(tmp_path / "o"), *ARGS, flag, value])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_subfolder_is_reported_nonroot(tmp_path):
    root = tmp_path / "in"
    (root / "locked").mkdir(parents=True)
    (root / "locked").chmod(0)
    try:
        sources, _ = discover(root)
        assert [s.problem for s in sources] == ["unreadable folder"]
    finally:
        (root / "locked").chmod(0o755)


def test_the_vasa_lab_command_has_the_same_contract(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vasa_lab.cli", "prepare", "--input", str(tmp_path / "nope"),
                             "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"vasa-lab prepare: error: --input {tmp_path / 'nope'} does not exist"


# ---------------------------------------------------------------------------------------------------------------
# the pieces, with known answers
# ---------------------------------------------------------------------------------------------------------------
def test_resampling_to_25_fps_picks_the_nearest_frame():
    # 25 -> 25: every frame once
    assert resample_indices(np.arange(10) / 25, 25).tolist() == list(range(10))
    # 50 -> 25: every other frame
    assert resample_indices(np.arange(20) / 50, 25).tolist() == list(range(0, 20, 2))
    # 30 -> 25: 1 s of 30 frames gives 25; one frame in six is dropped
    idx = resample_indices(np.arange(30) / 30, 25)
    assert idx.size == 25 and np.all(np.diff(idx) >= 1) and len(set(range(30)) - set(idx.tolist())) == 5
    # 20 -> 25: 1 s gives 25 frames, five of them shown twice
    idx = resample_indices(np.arange(20) / 20, 25)
    assert idx.size == 25 and sorted(set(idx.tolist())) == list(range(20))


def test_decoding_a_30_fps_video_streams_25_fps_segments(tmp_path):
    from vasa_lab.media import write_mp4

    frames = np.repeat(np.arange(72, dtype=np.uint8)[:, None, None, None] * 3, 32, 1).repeat(32, 2).repeat(3, 3)
    # each frame's grey level is 3 x its number
    write_mp4(tmp_path / "v.mp4", frames, fps=30, crf=0)
    segments = list(read_video_segments(str(tmp_path / "v.mp4"), 25, segment_frames=25, min_frames=10))
    lengths = [s[2].shape[0] for s in segments]
    # 2.4 s -> 60 frames at 25 fps; a segment is cut once 25 + 10 are buffered, so the tail (35) is never < 10
    assert lengths == [25, 35]
    assert all(s[4] for s in segments) and [s[1] for s in segments] == [0, 25]
    shown = np.concatenate([s[3] for s in segments])
    assert np.array_equal(shown, resample_indices(np.arange(72) / 30, 25))
    grey = np.concatenate([s[2][:, 16, 16, 1] for s in segments]).astype(int)
    assert np.abs(grey - shown * 3).max() <= 1                # the frames shown are those frames


def test_sharpness_falls_with_blur_and_gaps_are_interpolated():
    import cv2

    from vasa_lab.world.clip import make_clip

    clip = make_clip(1, 0, seconds=0.2, size=128)
    lm = clip.landmarks
    centre, side = (lm.min(1) + lm.max(1)) / 2, 2.5 * np.ptp(lm, axis=1).max(1, keepdims=True)
    boxes = np.concatenate([centre - side / 2, centre + side / 2], axis=1)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2) for f in clip.frames])
    sharp = P.face_sharpness(clip.frames, boxes, every=1)
    assert sharp > P.PrepareOptions().min_sharpness > P.face_sharpness(blurred, boxes, every=1)
    x = np.array([[np.nan], [1.0], [np.nan], [3.0], [np.nan]], np.float32)
    seen = np.array([False, True, False, True, False])
    assert P.fill_gaps(x, seen)[:, 0].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]


def test_layouts_give_speakers_and_safe_keys(tmp_path):
    for rel in ("hdtf/WRA_KimSchrier_000.mp4", "hdtf/WRA_KimSchrier_001.mp4", "hdtf/RD_Radio7_000.mp4",
                "celeb/-0AUWlH1ErE_0.mp4", "celeb/-0AUWlH1ErE_3.mp4", "celeb/zzzzzzzzzzz_1.MOV",
                "misc/a talk.v2.mkv", "misc/deep/er/clip.avi", "misc/.hidden.mp4", "misc/readme.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    speakers = {s.rel: s.speaker for s in discover(tmp_path / "hdtf")[0]}
    assert speakers == {"RD_Radio7_000.mp4": "RD_Radio7", "WRA_KimSchrier_000.mp4": "WRA_KimSchrier",
                        "WRA_KimSchrier_001.mp4": "WRA_KimSchrier"}
    assert discover(tmp_path / "hdtf")[1] == "hdtf"
    celeb, layout = discover(tmp_path / "celeb")
    assert layout == "celebvhq" and sorted({s.speaker for s in celeb}) == ["-0AUWlH1ErE", "zzzzzzzzzzz"]
    misc, layout = discover(tmp_path / "misc")
    assert layout == "folder" and sorted(s.key for s in misc) == ["a_talk_v2", "deep__er__clip"]
    assert make_key("id00012/21Uxsk56VDQ/00001.mp4") == "id00012__21Uxsk56VDQ__00001"
    assert all("." not in s.key for s in misc)


# ---------------------------------------------------------------------------------------------------------------
# the quality filters, with a stub tracker that reports the synthetic ground truth (no face model needed)
# ---------------------------------------------------------------------------------------------------------------
class TruthTracker:
    """Says exactly where the synthetic face is; ``multi`` frames claim a second face."""

    landmarks = None
    multi = 0

    def __init__(self, backend="auto", smoothing="one_euro"):
        pass

    def track(self, frames, fps):
        from vasa_lab.tracking.types import FaceTrack

        lm = self.landmarks[: len(frames)].astype(np.float32)
        t = len(lm)
        boxes = np.concatenate([lm.min(1), lm.max(1)], axis=1)
        pose = np.zeros((t, 6), np.float32)
        pose[:, 5] = 1
        return FaceTrack(detected=np.ones(t, bool), boxes=boxes, landmarks=lm, pose=pose,
                         gaze=np.zeros((t, 2), np.float32), eye_openness=np.full(t, 0.3, np.float32),
                         blink=np.zeros(t, bool), mouth_open=np.zeros(t, np.float32), fps=fps,
                         image_size=frames.shape[1:3], backend="truth",
                         meta=dict(frames_no_face=0, frames_multi_face=self.multi))


@pytest.mark.parametrize("case, reason", [
    ("good", None), ("several faces", P.SEVERAL_FACES), ("small face", P.FACE_TOO_SMALL), ("blurry", P.TOO_BLURRY)])
def test_quality_filters(tmp_path, monkeypatch, case, reason):
    import types

    import cv2

    from vasa_lab.data.shards import load_tracks
    from vasa_lab.media import write_mp4
    from vasa_lab.tracking.align import crop_align
    from vasa_lab.world.clip import make_clip

    clip = make_clip(2, 0, seconds=1.2, size=128)
    frames = clip.frames
    if case == "blurry":
        frames = np.stack([cv2.GaussianBlur(f, (0, 0), 4) for f in frames])
    write_mp4(tmp_path / "v.mp4", frames, 25, clip.audio)
    stub = type("Stub", (TruthTracker,), dict(landmarks=clip.landmarks, multi=20 if case == "several faces" else 0))
    api = types.SimpleNamespace(FaceTracker=stub, crop_align=crop_align, main_gaze=lambda track: (1.0, -2.0),
                                head_distance=lambda track: 0.5)
    monkeypatch.setattr(P, "tracking_api", lambda: api)
    monkeypatch.setattr(P, "_TRACKER", None)
    out = tmp_path / "out"
    for sub in ("work", "done"):
        (out / sub).mkdir(parents=True)
    options = P.PrepareOptions(size=SIZE, min_face=200 if case == "small face" else 24)
    source = P.Source(key="v", path=str(tmp_path / "v.mp4"), rel="v.mp4", speaker="v", identity=1, layout="folder")
    record = P.prepare_source(source, options, out)
    assert json.loads((out / "done" / "v.json").read_text()) == record
    (row,) = record["rows"]
    if reason is not None:
        assert row["status"] == "skipped" and row["reason"] == reason, row
        assert not list((out / "work").iterdir())
        return
    assert row["status"] == "kept", row
    assert record["clip_keys"] == ["v"]
    entry = json.loads((out / "work" / "v.json").read_text())
    assert entry["labels"] == dict(gaze_main=[1.0, -2.0], head_distance=0.5)
    tracks = load_tracks(out / "work" / "v.npz")
    # the landmarks went through the same map as the pixels: the nose tip (30) sits where the crop shows it
    expected = P.to_crop(clip.landmarks[:30].astype(np.float32), tracks["crop_transform"])
    assert np.allclose(tracks["landmarks"], expected, atol=1e-3)
    nose = tracks["landmarks"][:, 30]
    assert np.all((nose > 0.3 * SIZE) & (nose < 0.7 * SIZE))
