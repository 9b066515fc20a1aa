"""The main job, ``vasa-lab animate``: portrait + speech -> video, and every bad input the issue lists.

The end-to-end tests use the tiny profile's shipped weights (face latent model + motion transformer). The hour of
audio runs the real streaming path (file -> chunked features -> chunked motion -> writer with the original audio)
with a light motion model and a light renderer, so it takes seconds, and its peak memory is measured.
"""
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
import torch

from vasa_lab.pipeline.animate import (DEMO_PORTRAIT, REFERENCE_FRAMING, Animator, Mp4Writer, NoFaceError,
                                       OriginalAudio, align_portrait, check_output_path, demo_portrait_image,
                                       parse_gaze, read_portrait, reference_framing)
from vasa_lab.cli import main
from vasa_lab.media import read_video, video_info

SR = 16_000
torch.set_num_threads(1)          # 2 shared cores: more threads only wait for each other


# ---------------------------------------------------------------------------------------------------------------
# helpers and fixtures
# ---------------------------------------------------------------------------------------------------------------
def speech(seconds: float | None = None, text: str = "Please pass me the big blue bowl of soup.") -> np.ndarray:
    from vasa_lab.world.speech import synthesize

    audio = synthesize(text, variant="m3", sample_rate=SR).audio
    if seconds is not None:
        audio = np.resize(audio, int(seconds * SR)) if int(seconds * SR) > audio.size else audio[: int(seconds * SR)]
    return audio


def peak_rss_mb() -> float:
    """This process's peak resident memory since the last :func:`reset_peak` (Linux VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")      # "5": reset the peak RSS to the current RSS


def audio_stream(path):
    import av

    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return dict(rate=s.codec_context.sample_rate, channels=s.codec_context.channels,
                    seconds=float(s.duration * s.time_base))


@pytest.fixture(scope="module")
def animator():
    """The tiny profile's trained models (shipped weights), loaded once for this file."""
    import torch

    torch.set_num_threads(1)
    a = Animator("tiny", device="cpu")
    a.latent, a.motion   # load now: the tests below time the work, not the loading
    return a


@pytest.fixture(scope="module")
def jaw_probe(animator):
    """A z_dyn -> jaw opening probe made on the spot: the world renders faces with known jaw opening (random
    everything else), the face latent model encodes them, and a ridge regression reads the jaw back."""
    from vasa_lab.latent.api import encode_motion
    from vasa_lab.latent.probes import ridge_fit, ridge_predict
    from vasa_lab.world.clip import person
    from vasa_lab.world.render import render_frame
    from vasa_lab.world.state import FaceState

    rng = np.random.default_rng(0)
    frames, jaw, people = [], [], []
    for i in range(160):                       # the world's usual ranges (a probe reads what it was fitted on)
        st = FaceState(yaw=rng.uniform(-10, 10), pitch=rng.uniform(-6, 6), jaw_open=rng.uniform(0, 0.8),
                       lip_width=rng.uniform(-0.3, 0.3), blink=float(rng.random() < 0.1), smile=rng.uniform(-0.3, 0.3),
                       gaze_yaw=rng.uniform(-10, 10), scale=rng.uniform(0.9, 1.1))
        img, _ = render_frame(person(0, 2000 + i % 16).identity, st, 64)
        frames.append(img)
        jaw.append(st.jaw_open)
        people.append(i % 16)
    _, z_dyn = encode_motion(animator.latent, np.stack(frames))
    z_dyn, jaw, seen = z_dyn.numpy(), np.array(jaw)[:, None], np.array(people) < 12
    fit = ridge_fit(z_dyn[seen], jaw[seen], alpha=0.1)
    pred = ridge_predict(fit, z_dyn[~seen])[:, 0]
    assert np.corrcoef(pred, jaw[~seen, 0])[0, 1] > 0.8, "the jaw probe itself must work on unseen people"
    return lambda motion: ridge_predict(fit, np.asarray(motion)[:, 6:])[:, 0]


# ---------------------------------------------------------------------------------------------------------------
# the portrait: any image cv2 reads, aligned like the training frames
# ---------------------------------------------------------------------------------------------------------------
def test_reference_framing_is_what_the_world_draws():
    assert np.allclose(reference_framing(n_people=12, size=128), REFERENCE_FRAMING, atol=0.005)


def test_bundled_portrait_is_reproducible():
    shipped = read_portrait(DEMO_PORTRAIT)
    assert shipped.shape == (256, 256, 3)
    assert np.abs(shipped.astype(int) - demo_portrait_image(256)).max() <= 1


@pytest.mark.parametrize("kind", ["gray", "gray16", "rgba", "jpg", "bmp", "float_array"])
def test_read_portrait_formats(tmp_path, kind):
    rgb = demo_portrait_image(128)
    bgr = rgb[..., ::-1]
    path = tmp_path / f"p.{'jpg' if kind == 'jpg' else 'bmp' if kind == 'bmp' else 'png'}"
    if kind == "gray":
        cv2.imwrite(str(path), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    elif kind == "gray16":
        cv2.imwrite(str(path), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    elif kind == "rgba":
        alpha = np.full(rgb.shape[:2], 255, np.uint8)
        alpha[:, :20] = 0                                          # a transparent strip -> light grey
        cv2.imwrite(str(path), np.dstack([bgr, alpha]))
    elif kind in ("jpg", "bmp"):
        cv2.imwrite(str(path), bgr)
    img = read_portrait(rgb.astype(np.float32) / 255 if kind == "float_array" else path)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    if kind == "rgba":
        assert np.all(img[:, :20] == 200) and np.array_equal(img[:, 20:], rgb[:, 20:])
    elif kind.startswith("gray"):
        assert np.array_equal(img[..., 0], img[..., 2])            # gray became three equal channels
    else:
        assert np.abs(img.astype(int) - rgb).mean() < 3


def test_read_portrait_bad_files(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        read_portrait(tmp_path / "text.png")
    with pytest.raises(ValueError, match="no such image file"):
        read_portrait(tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match="at least 32"):
        read_portrait(np.zeros((20, 20, 3), np.uint8))


def test_align_portrait_undoes_position_and_size():
    """The same face, small and off-centre in a big grey photo, gives the crop the world would have drawn."""
    face = demo_portrait_image(256)
    world64 = demo_portrait_image(64)
    photo = np.full((700, 900, 3), 128, np.uint8)
    big = cv2.resize(face, (420, 420), interpolation=cv2.INTER_CUBIC)
    photo[200:620, 380:800] = big
    for img in (face, photo):
        p = align_portrait(img, 64)
        assert p.crop.shape == (64, 64, 3)
        err = np.abs(p.crop.astype(float) - world64).mean()
        assert err < 12, err                                       # a plain resize of the photo: ~70
    naive = cv2.resize(photo, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(naive.astype(float) - world64).mean() > 40


def test_image_without_a_face(tmp_path):
    path = tmp_path / "wall.png"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (9, 9), 3))
    with pytest.raises(NoFaceError, match="no face found in .*wall.png"):
        align_portrait(path, 64)


# ---------------------------------------------------------------------------------------------------------------
# bad arguments: a clear sentence, before any slow work
# ---------------------------------------------------------------------------------------------------------------
class ExplodingAnimator(Animator):
    """An Animator whose models must never be touched: a bad input has to be refused before they load."""

    @property
    def latent(self):
        raise AssertionError("the models were loaded before the bad input was noticed")

    motion = latent


@pytest.mark.parametrize("kwargs, message", [
    (dict(emotion="grumpy"), "unknown emotion 'grumpy'; choose one of neutral, happy, angry, surprised, sad"),
    (dict(gaze="10"), "gaze must be two angles"),
    (dict(distance=7.0), "distance must be a number between"),
    (dict(steps=0), "steps must be a whole number"),
    (dict(audio_scale=-1.0), "audio_scale must be between"),
])
def test_bad_arguments_fail_fast(tmp_path, kwargs, message):
    wav = tmp_path / "s.wav"
    sf.write(wav, speech(1.0), SR)
    with pytest.raises(ValueError, match=message):
        ExplodingAnimator("tiny").animate(DEMO_PORTRAIT, wav, tmp_path / "o.mp4", progress=False, **kwargs)
    assert not (tmp_path / "o.mp4").exists()


def test_unwritable_output_path(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    folder = tmp_path / "video.mp4"
    folder.mkdir()
    wav = tmp_path / "s.wav"
    sf.write(wav, speech(1.0), SR)
    for out, message in ((a_file / "o.mp4", "cannot write the video to"),     # its folder is a file
                         (folder, "it is a folder"),
                         (tmp_path / "o.avi", "must end in .mp4")):
        started = time.perf_counter()
        with pytest.raises(ValueError, match=message):
            ExplodingAnimator("tiny").animate(DEMO_PORTRAIT, wav, out, progress=False)
        assert time.perf_counter() - started < 1.0
    if os.geteuid() != 0:                                          # root can write into read-only folders
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(ValueError, match="cannot write the video to"):
            check_output_path(locked / "o.mp4")


def test_unreadable_audio(tmp_path):
    (tmp_path / "noise.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    (tmp_path / "empty.wav").write_bytes(b"")
    for name, message in (("noise.wav", "not a readable audio file"), ("empty.wav", "the file is empty"),
                          ("missing.wav", "no such audio file")):
        with pytest.raises(ValueError, match=message):
            ExplodingAnimator("tiny").animate(DEMO_PORTRAIT, tmp_path / name, tmp_path / "o.mp4", progress=False)
    with pytest.raises(ValueError, match="shorter than half a video frame"):
        ExplodingAnimator("tiny").animate(DEMO_PORTRAIT, np.zeros(100, np.float32), tmp_path / "o.mp4",
                                          progress=False)


def test_parse_gaze():
    assert parse_gaze("10,-5") == (10.0, -5.0)
    assert parse_gaze(" -3.5 , 2 ") == (-3.5, 2.0)
    for bad in ("10", "a,b", "1,2,3", "nan,1"):
        with pytest.raises(ValueError, match="THETA,PHI"):
            parse_gaze(bad)


@pytest.mark.parametrize("extra, message", [
    (["--emotion", "grumpy"], "unknown emotion 'grumpy'; choose one of"),
    (["--gaze", "ten,five"], "gaze must be two angles"),
    (["--steps", "0"], "steps must be a whole number"),
])
def test_cli_animate_bad_arguments(tmp_path, capsys, extra, message):
    wav = tmp_path / "s.wav"
    sf.write(wav, speech(0.5), SR)
    code = main(["animate", "--image", str(DEMO_PORTRAIT), "--audio", str(wav), "--out", str(tmp_path / "o.mp4"),
                 "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_animate_no_face_and_bad_output(tmp_path, capsys):
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((200, 200, 3), 77, np.uint8))
    wav = tmp_path / "s.wav"
    sf.write(wav, speech(0.5), SR)
    assert main(["animate", "--image", str(wall), "--audio", str(wav), "--out", str(tmp_path / "o.mp4")]) == 2
    assert "no face found" in capsys.readouterr().err
    (tmp_path / "f").write_text("x")
    assert main(["animate", "--image", str(DEMO_PORTRAIT), "--audio", str(wav), "--out",
                 str(tmp_path / "f" / "o.mp4")]) == 2
    assert "cannot write the video to" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# the streaming writer and the original audio
# ---------------------------------------------------------------------------------------------------------------
def _encode(path, samples: np.ndarray, rate: int, codec: str):
    """Write (n, channels) float samples with PyAV (compressed formats soundfile cannot write)."""
    import av

    layout = "stereo" if samples.shape[1] == 2 else "mono"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.layout = layout
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T.astype(np.float32)), format="fltp",
                                           layout=layout)
        frame.sample_rate, frame.pts = rate, 0
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)


@pytest.mark.parametrize("fmt", ["wav16k_mono", "wav48k_stereo", "mp3_48k_stereo", "m4a_44k", "array"])
def test_writer_keeps_the_original_audio(tmp_path, fmt):
    mono = speech(2.0)
    if fmt == "wav16k_mono":
        src, rate, ch = tmp_path / "a.wav", 16000, 1
        sf.write(src, mono, rate)
    elif fmt == "array":
        src, rate, ch = mono, 16000, 1
    else:
        import soxr

        rate = 44100 if fmt == "m4a_44k" else 48000
        x = soxr.resample(mono, 16000, rate)
        st = np.stack([x, 0.5 * x], axis=1)
        src, ch = tmp_path / ("a.wav" if fmt.startswith("wav") else f"a.{fmt[:3]}"), 2
        if fmt.startswith("wav"):
            sf.write(src, st, rate)
        else:
            _encode(src, st, rate, "libmp3lame" if fmt.startswith("mp3") else "aac")
    track = OriginalAudio(src)
    assert (track.in_rate, track.layout) == (rate, "stereo" if ch == 2 else "mono")
    out = tmp_path / "v.mp4"
    with Mp4Writer(out, 48, 48, audio=track) as w:
        for _ in range(5):
            w.write(np.full((10, 48, 48, 3), 100, np.uint8))
    info = audio_stream(out)
    assert (info["rate"], info["channels"]) == (rate, ch)
    assert abs(info["seconds"] - 2.0) < 0.1
    frames, fps = read_video(out)
    assert frames.shape == (50, 48, 48, 3) and fps == 25.0


def test_writer_memory_does_not_grow_with_length(tmp_path):
    """Ten minutes of video through the writer: its peak memory stays what a few seconds need."""
    frame = np.full((25, 32, 32, 3), 90, np.uint8)
    audio = np.zeros(SR * 600, np.float32)         # the caller's array (2.4 MB per minute) is not what we measure
    with Mp4Writer(tmp_path / "warm.mp4", 32, 32, audio=OriginalAudio(audio[:SR * 5])) as w:
        for _ in range(5):
            w.write(frame)
    reset_peak()
    before = peak_rss_mb()
    with Mp4Writer(tmp_path / "long.mp4", 32, 32, audio=OriginalAudio(audio)) as w:
        for _ in range(600):
            w.write(frame)
    growth = peak_rss_mb() - before
    assert video_info(tmp_path / "long.mp4")["seconds"] == pytest.approx(600, abs=0.1)
    whole = 600 * 25 * 32 * 32 * 3 / 2**20            # 44 MB: the frames, had they been kept
    assert growth < 0.5 * whole, f"peak memory grew by {growth:.0f} MB"


# ---------------------------------------------------------------------------------------------------------------
# an hour of audio: the real streaming path, a light model, bounded memory
# ---------------------------------------------------------------------------------------------------------------
class LightAnimator(Animator):
    """The real chunked path (file -> features -> generate_motion with carried context -> writer with the original
    audio), with a one-layer motion transformer at one sampler step and a renderer that paints one grey level per
    32-pixel frame from the motion: cheap enough for long audio, and every frame still comes out of the motion."""

    def portrait(self, image):
        from vasa_lab.pipeline.animate import Portrait

        return Portrait(crop=np.zeros((16, 16, 3), np.uint8), box=np.zeros(4), landmarks=np.zeros((68, 2)),
                        image_size=(16, 16), backend="none", faces=1)

    @property
    def image_size(self):
        return 32

    @property
    def latent(self):
        return None

    def appearance(self, portrait):
        return None

    def portrait_motion(self, portrait):
        return None                       # no face model: the motion starts with no context

    def render_batches(self, appearance, motion, size=None):
        for start in range(0, len(motion), self.render_batch):
            x = motion[start:start + self.render_batch]
            level = np.clip(128 + 10 * x[:, 6], 0, 255).astype(np.uint8)
            yield np.broadcast_to(level[:, None, None, None], (len(x), 32, 32, 3)).copy()


def _noise_speech_file(path, minutes: int) -> None:
    rng = np.random.default_rng(0)
    minute = (rng.standard_normal(SR * 60) * 0.05 * (np.sin(np.arange(SR * 60) / SR * 6) > 0)).astype(np.float32)
    with sf.SoundFile(path, "w", SR, 1, "PCM_16") as f:        # bursts of noise and pauses, 1.9 MB a minute
        for _ in range(minutes):
            f.write(minute)


def test_long_audio_in_bounded_memory(tmp_path):
    """Peak memory does not grow with the audio's length: 2 minutes and 12 minutes through the whole streaming path
    (a file read twice in pieces, features per chunk, motion per chunk continuing the last one, frames and the
    original audio into the mp4 as they come) need the same memory. Had anything been held whole, the 10 extra
    minutes would add 38 MB of samples, 10 MB of features or 55 MB of (32-pixel) frames (checked by holding each
    on purpose: the difference goes from -0.5 MB to +10.7 MB for the features). An hour takes minutes on one core
    (``python benchmarks/bench_animate.py --hour``), so the test runs the same path at 12 minutes."""
    import torch

    from vasa_lab.motion import MotionConfig, MotionDiT

    torch.manual_seed(0)
    light = MotionDiT(MotionConfig.for_profile("tiny", codes="truth", width=16, layers=1, heads=2, window=250))
    a = LightAnimator("tiny", motion=light, chunk_seconds=20, render_batch=250)
    _noise_speech_file(tmp_path / "warm.wav", 1)          # imports, first allocations, full-size chunk buffers
    a.animate(None, tmp_path / "warm.wav", tmp_path / "warm.mp4", steps=1, progress=False)
    growth = {}
    for minutes in (2, 12):
        wav = tmp_path / f"{minutes}.wav"
        _noise_speech_file(wav, minutes)
        reset_peak()
        before = peak_rss_mb()
        result = a.animate(None, wav, tmp_path / f"{minutes}.mp4", steps=1, progress=False)
        growth[minutes] = peak_rss_mb() - before
        assert result.n_frames == minutes * 60 * 25
        info = video_info(tmp_path / f"{minutes}.mp4")
        assert info["seconds"] == pytest.approx(minutes * 60, abs=0.1) and info["has_audio"]
        wav.unlink()
    print(f"peak memory growth: 2 min {growth[2]:.1f} MB, 12 min {growth[12]:.1f} MB")
    assert growth[12] - growth[2] < 7, growth      # the mp4 index grows ~0.3 MB a minute; holding the features
    #                                                would add 10 MB, the frames 55 MB, the samples 38 MB
    assert growth[12] < 30, growth                 # the 12 minutes whole: 46 MB of samples alone


# ---------------------------------------------------------------------------------------------------------------
# the real thing (tiny profile, shipped weights)
# ---------------------------------------------------------------------------------------------------------------
def test_end_to_end_video_matches_the_audio(tmp_path, animator):
    wav = tmp_path / "speech.wav"
    audio = speech()
    sf.write(wav, audio, SR)
    result = animator.animate(DEMO_PORTRAIT, wav, tmp_path / "out.mp4", emotion="happy", progress=False,
                              frame="crop")
    info = video_info(result.path)
    assert info["has_audio"] and info["has_video"] and info["fps"] == 25.0
    assert result.n_frames == round(audio.size / SR * 25)
    assert info["seconds"] == pytest.approx(audio.size / SR, abs=0.05)
    assert audio_stream(result.path)["seconds"] == pytest.approx(audio.size / SR, abs=0.05)
    frames, _ = read_video(result.path)
    assert frames.shape == (result.n_frames, 64, 64, 3)
    # a face that moves: frames differ over time, but stay the portrait's person (close to its crop on average)
    assert np.abs(np.diff(frames.astype(float), axis=0)).mean() > 0.5
    assert np.abs(frames.astype(float).mean(0) - result.portrait.crop).mean() < 40
    for stage in ("portrait", "appearance", "features", "motion", "render", "write", "total"):
        assert result.timings[stage] >= 0


def test_compressed_stereo_48k_input(tmp_path, animator):
    import soxr

    x = soxr.resample(speech(1.5), SR, 48000)
    mp3 = tmp_path / "speech.mp3"
    _encode(mp3, np.stack([x, x], axis=1), 48000, "libmp3lame")
    result = animator.animate(DEMO_PORTRAIT, mp3, tmp_path / "out.mp4", progress=False, size=96)
    info = audio_stream(result.path)
    assert (info["rate"], info["channels"]) == (48000, 2)
    assert result.n_frames == pytest.approx(1.5 * 25, abs=2)
    assert video_info(result.path)["width"] == 96


def test_audio_shorter_than_one_window(tmp_path, animator):
    short = speech(0.3)                     # 8 frames; the motion window is 25
    result = animator.animate(DEMO_PORTRAIT, short, tmp_path / "short.mp4", progress=False)
    assert result.n_frames == 8 and len(read_video(result.path)[0]) == 8
    assert video_info(result.path)["has_audio"]


def test_silent_audio_gives_a_calm_face_with_a_closed_mouth(animator, jaw_probe):
    """Silence against speech, same portrait, seed and length: the mouth stays shut, the head moves less."""
    from vasa_lab.metrics.motion_codes import head_dp

    def motion_for(audio):
        chunks = animator.feature_chunks(audio, SR)
        return np.concatenate(list(animator.motion_chunks(chunks, None, seed=0)))

    from vasa_lab.audio import SilentAudioWarning

    talk = speech(4.0)
    silent = np.zeros_like(talk)
    m_talk = motion_for(talk)
    with pytest.warns(SilentAudioWarning):                      # said once, not an error
        m_silent = motion_for(silent)
    jaw_talk, jaw_silent = jaw_probe(m_talk), jaw_probe(m_silent)
    print(f"jaw mean/std: speech {jaw_talk.mean():.3f}/{jaw_talk.std():.3f}, "
          f"silence {jaw_silent.mean():.3f}/{jaw_silent.std():.3f}; dP {head_dp(m_talk):.3f} vs {head_dp(m_silent):.3f}")
    assert jaw_silent.mean() < 0.1                              # closed (1 = wide open)
    assert jaw_silent.mean() < 0.5 * jaw_talk.mean()
    assert jaw_silent.std() < 0.5 * jaw_talk.std()
    assert head_dp(m_silent) < head_dp(m_talk)


def test_animate_function_and_cli(tmp_path, capsys):
    wav = tmp_path / "s.wav"
    sf.write(wav, speech(1.0), SR)
    code = main(["animate", "--image", str(DEMO_PORTRAIT), "--audio", str(wav), "--out", str(tmp_path / "c.mp4"),
                 "--gaze=-10,5", "--distance", "1.1", "--emotion", "sad", "--steps", "5", "--quiet",
                 "--source-expression", "encoded"])
    out = capsys.readouterr().out
    assert code == 0 and "video with sound" in out
    assert video_info(tmp_path / "c.mp4")["has_audio"]


def test_chunk_joins_are_seamless(animator):
    """Long audio is generated a chunk at a time; each chunk continues the last one's motion (and audio) as its
    context, so the step across a chunk join is an ordinary frame-to-frame step. Without the carried context every
    join jumps (the baseline, measured the same way)."""
    from vasa_lab.motion import generate_motion

    x = np.concatenate([speech(), speech(text="Nobody expected the little robot to win the chess match."),
                        speech(text="Fresh bread smells wonderful on a cold winter morning.")])    # ~7.8 s
    chunked = Animator("tiny", latent=animator.latent, motion=animator.motion, device="cpu", chunk_seconds=2.0)
    carried = np.concatenate(list(chunked.motion_chunks(chunked.feature_chunks(x, SR), None, seed=0)))
    fresh = np.concatenate([generate_motion(animator.motion, f, None, seed=i)
                            for i, (_, f) in enumerate(chunked.feature_chunks(x, SR))])
    std = animator.motion.motion_std.numpy()

    def steps(m):
        return np.linalg.norm(np.diff(m, axis=0) / std, axis=1)      # steps[t - 1]: into frame t

    joins = np.arange(50, len(carried), 50) - 1                      # 2 s chunks = 50 frames
    inner = np.setdiff1d(np.arange(len(carried) - 1), joins)
    print(f"step at chunk joins {steps(carried)[joins].mean():.2f} (without context {steps(fresh)[joins].mean():.2f}),"
          f" elsewhere {steps(carried)[inner].mean():.2f}")
    assert steps(carried)[joins].mean() < 1.5 * steps(carried)[inner].mean()
    assert steps(fresh)[joins].mean() > 2.0 * steps(fresh)[inner].mean()


def test_animate_starts_the_motion_from_the_portraits_code(tmp_path, monkeypatch):
    """animate() hands the motion generator the portrait's own code (Animator.portrait_motion) as the first window's
    context: the video starts where the portrait is."""
    import torch

    from vasa_lab.motion import MotionConfig, MotionDiT

    torch.manual_seed(0)
    light = MotionDiT(MotionConfig.for_profile("tiny", codes="truth", width=16, layers=1, heads=2, window=250))
    a = LightAnimator("tiny", motion=light, chunk_seconds=20, render_batch=250)
    own = np.full((1, light.config.motion_dim), 0.25, np.float32)
    monkeypatch.setattr(a, "portrait_motion", lambda portrait: own)
    given, chunks = [], a.motion_chunks
    monkeypatch.setattr(a, "motion_chunks", lambda *args, **kw: given.append(kw.get("first_motion")) or chunks(*args, **kw))
    _noise_speech_file(tmp_path / "speech.wav", 1)
    a.animate(None, tmp_path / "speech.wav", tmp_path / "out.mp4", steps=1, progress=False)
    assert len(given) == 1 and given[0] is own


def test_a_whole_clip_is_drawn_with_the_profiles_steps_and_a_live_stream_with_ten(tmp_path, monkeypatch):
    """animate() without ``steps`` draws every window with the profile's DDIM steps (``SAMPLE_STEPS``: more where
    blinks need them), the live avatar with ``LIVE_STEPS``; an explicit ``steps`` wins."""
    import torch

    import vasa_lab.motion.config as motion_config
    import vasa_lab.motion.stream as stream
    from vasa_lab.motion import MotionConfig, MotionDiT

    assert motion_config.default_steps("small") == 25 and motion_config.default_steps("tiny") == 10
    assert motion_config.LIVE_STEPS == 10
    torch.manual_seed(0)
    light = MotionDiT(MotionConfig.for_profile("tiny", codes="truth", width=16, layers=1, heads=2, window=250))
    a = LightAnimator("tiny", motion=light, chunk_seconds=20, render_batch=250)
    used, init = [], stream.MotionStream.__init__
    monkeypatch.setattr(stream.MotionStream, "__init__",
                        lambda self, *args, **kw: used.append(kw.get("steps")) or init(self, *args, **kw))
    monkeypatch.setitem(motion_config.SAMPLE_STEPS, "tiny", 2)
    _noise_speech_file(tmp_path / "speech.wav", 1)
    a.animate(None, tmp_path / "speech.wav", tmp_path / "out.mp4", progress=False)
    a.animate(None, tmp_path / "speech.wav", tmp_path / "out.mp4", steps=1, progress=False)
    assert used == [2, 1]
