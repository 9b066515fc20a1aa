"""The streaming path: audio chunks in, frames out (vasa_lab.audio.stream, vasa_lab.motion.stream, vasa_lab.pipeline).

What must hold: streamed features equal offline ones; the motion stream with whole windows IS the offline motion;
with a lookahead every window sees exactly that much future audio, whatever the chunking; and every bad stream
(stopped mid-window, paused, silent, uneven or mislabelled chunks, a slow consumer, a caller who stops) gets a
stated behaviour rather than a hang, a traceback or unbounded memory.
"""
from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from vasa_lab.audio import AudioConfig, audio_features, n_video_frames, prepare_audio
from vasa_lab.audio.stream import AudioStreamError, RunningGain, StreamingFeatures
from vasa_lab.media import video_info
from vasa_lab.motion import MotionConditions, generate_motion
from vasa_lab.motion.stream import MotionStream
from vasa_lab.pipeline import AudioChunk, LiveAudio, Mp4Sink, StreamError, array_chunks, file_chunks

SR = 16_000


@pytest.fixture(scope="module")
def speech():
    from vasa_lab.pipeline.animate import demo_speech

    return demo_speech()[: int(3.2 * SR)]


@pytest.fixture(scope="module")
def animator():
    from vasa_lab.pipeline.animate import Animator

    torch.set_num_threads(1)
    return Animator("tiny", device="cpu")


@pytest.fixture(scope="module")
def avatar(animator):
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT

    return animator.avatar(DEMO_PORTRAIT)


def _random_cuts(x, rng, largest=1500):
    cuts, i = [], 0
    while i < len(x):
        n = int(rng.choice([0, 1, 7, 160, 333, 640, largest]))
        cuts.append(x[i:i + n])
        i += n
    return cuts


# --- features --------------------------------------------------------------------------------------------------
def test_streamed_features_equal_offline_with_the_same_gain(speech):
    cfg = AudioConfig.for_profile("tiny")
    from vasa_lab.audio.waveform import _meter

    prepared = prepare_audio(speech, SR, cfg)
    gain = _meter(speech, cfg).gain()                        # the offline path's own gain
    offline = audio_features(prepared, cfg)
    stream = StreamingFeatures(cfg, SR, gain=gain)
    rows = [stream.push(c) for c in _random_cuts(speech, np.random.default_rng(0))] + [stream.finish()]
    streamed = np.concatenate(rows)
    assert streamed.shape == offline.shape == (n_video_frames(speech.size), cfg.feature_dim)
    assert np.array_equal(streamed, offline)


def test_a_row_leaves_as_soon_as_its_audio_and_the_stft_margin_are_in(speech):
    cfg = AudioConfig.for_profile("tiny")
    stream = StreamingFeatures(cfg, SR, gain=1.0)
    assert len(stream.push(speech[: 640 + 175])) == 0          # frame 0's audio, 1 sample short of its margin
    assert len(stream.push(speech[815:816])) == 1              # ... and now it is complete


def test_running_gain_reaches_the_offline_gain(speech):
    cfg = AudioConfig.for_profile("tiny")
    quiet = speech * 0.05                                      # 26 dB below the target level
    offline = float(np.max(np.abs(prepare_audio(quiet, SR, cfg))) / np.max(np.abs(quiet)))
    gain = RunningGain(cfg)
    assert gain.value == 1.0                                   # nothing heard: no gain (noise is never blown up)
    for piece in np.array_split(quiet, 40):
        gain.update(piece)
    assert 20 * abs(np.log10(gain.value / offline)) < 1.0       # within 1 dB once the sentence has been heard


def test_another_rate_is_resampled_on_the_fly(speech):
    import soxr

    cfg = AudioConfig.for_profile("tiny")
    x44 = soxr.resample(speech, SR, 44_100)
    stream = StreamingFeatures(cfg, 44_100, gain=1.0)
    rows = np.concatenate([stream.push(c) for c in np.array_split(x44, 37)] + [stream.finish()])
    ref = audio_features(soxr.resample(x44, 44_100, SR), cfg)
    assert abs(len(rows) - len(ref)) <= 1
    n = min(len(rows), len(ref))
    assert np.corrcoef(rows[:n].ravel(), ref[:n].ravel())[0, 1] > 0.99


def test_bad_chunks_get_one_sentence():
    stream = StreamingFeatures(AudioConfig(), SR)
    with pytest.raises(AudioStreamError, match="NaN"):
        stream.push(np.array([0.0, np.nan], np.float32))
    with pytest.raises(AudioStreamError, match="shape"):
        stream.push(np.zeros((2, 2, 2), np.float32))
    stream.push((np.zeros((320, 2)) * 0.1).astype(np.float32))   # stereo: averaged to mono
    with pytest.raises(AudioStreamError, match="between 4000 and 384000"):
        StreamingFeatures(AudioConfig(), 100)


# --- motion ----------------------------------------------------------------------------------------------------
def test_whole_windows_are_the_offline_motion(animator):
    model = animator.motion
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((83, model.config.audio_dim)).astype(np.float32)
    offline = generate_motion(model, rows, MotionConditions(emotion="happy"), seed=5)
    stream = MotionStream(model, MotionConditions(emotion="happy"), seed=5, lookahead=None)
    out, i = [], 0
    while i < len(rows):
        n = int(rng.integers(0, 30))
        out.append(stream.push(rows[i:i + n]))
        i += n
    out.append(stream.finish())
    assert np.array_equal(np.concatenate(out), offline)


def test_the_default_audio_guidance_depends_on_what_a_window_hears(animator):
    """Whole windows (the offline path) default to the profile's AUDIO_GUIDANCE, a stream with a lookahead to
    LIVE_AUDIO_GUIDANCE (measured on tiny: 1.5 helps whole windows and costs a short lookahead its lip sync); a scale
    asked for is kept."""
    from vasa_lab.motion.config import AUDIO_GUIDANCE, LIVE_AUDIO_GUIDANCE

    model = animator.motion
    assert model.config.profile == "tiny" and AUDIO_GUIDANCE["tiny"] != LIVE_AUDIO_GUIDANCE
    assert MotionStream(model, lookahead=None).scales["audio"] == AUDIO_GUIDANCE["tiny"]
    assert MotionStream(model, lookahead=2).scales["audio"] == LIVE_AUDIO_GUIDANCE
    assert MotionStream(model, lookahead=2, audio_scale=0.5).scales["audio"] == 0.5


def test_a_lookahead_stream_does_not_depend_on_how_the_audio_was_cut(animator, monkeypatch):
    import vasa_lab.motion.stream as ms

    model = animator.motion
    rows = np.random.default_rng(4).standard_normal((61, model.config.audio_dim)).astype(np.float32)
    seen = []
    original = ms.sample_window
    monkeypatch.setattr(ms, "sample_window", lambda m, c, *a, **k: seen.append(c) or original(m, c, *a, **k))

    def run(cut):
        stream = MotionStream(model, None, seed=1, lookahead=2, stride=3, steps=2)
        parts = [stream.push(rows[i:i + cut]) for i in range(0, len(rows), cut)]
        return np.concatenate(parts + [stream.finish()])

    one, many = run(1), run(17)
    assert one.shape == (61, model.config.motion_dim) and np.array_equal(one, many)
    windows = len(seen) // 2
    first = seen[:windows]
    assert int(first[0].audio_keep.sum()) == 1 + 2                 # the first window keeps 1 frame, hears 2 more
    assert all(int(c.audio_keep.sum()) == 3 + 2 for c in first[1:-3])   # then 3 kept + 2 ahead, exactly


def test_a_short_history_is_padded_with_the_head_held_still_and_no_sound(animator, monkeypatch):
    """The first windows of a stream see fewer than K drawn frames. The context repeats the oldest one (a head
    held still before the stream began) but marks the repeats' audio unknown: a sound held for K frames is nothing
    speech does (with it, chapter 08's stream from a wild first frame ran away at audio guidance 1)."""
    import vasa_lab.motion.stream as ms

    model = animator.motion
    K = model.config.context
    rows = np.random.default_rng(5).standard_normal((30, model.config.audio_dim)).astype(np.float32)
    seen = []
    original = ms.sample_window
    monkeypatch.setattr(ms, "sample_window", lambda m, c, *a, **k: seen.append(c) or original(m, c, *a, **k))
    stream = MotionStream(model, None, seed=0, lookahead=2, stride=4, steps=2)
    stream.push(rows)
    first, second, third, fourth = seen[:4]
    assert not bool(first.context_keep[0]) and not first.context_audio_keep.any()      # nothing drawn yet
    for c, drawn in ((second, 1), (third, 5), (fourth, 9)):                          # keeps 1, then 4 at a time
        assert bool(c.context_keep[0])
        assert torch.equal(c.context[0, :K - drawn], c.context[0, :1].expand(K - drawn, -1))   # held still ...
        assert c.context_audio_keep[0].tolist() == [False] * (K - drawn) + [True] * drawn  # ... in silence
        assert torch.equal(c.context_audio[0, K - drawn:], torch.as_tensor(rows[:drawn]))   # the real audio after
    assert seen[4].context_audio_keep.all()                                             # 13 drawn: no padding


def test_an_origin_moves_the_start_in_and_every_frame_out(animator):
    """``origin``: the model sees first_motion - origin, and every frame it draws comes out plus origin."""
    model = animator.motion
    M = model.config.motion_dim
    rows = np.random.default_rng(6).standard_normal((40, model.config.audio_dim)).astype(np.float32)
    start = model.motion_mean.numpy()[None] + 0.5
    origin = np.zeros(M, np.float32)
    origin[3:6] = (0.03, -0.01, 0.06)
    moved = MotionStream(model, None, seed=0, steps=2, first_motion=start, origin=origin)
    plain = MotionStream(model, None, seed=0, steps=2, first_motion=start - origin)
    a = np.concatenate([moved.push(rows), moved.finish()])
    b = np.concatenate([plain.push(rows), plain.finish()])
    assert a.shape == (40, M) and np.allclose(a, b + origin, atol=1e-5)
    assert not np.allclose(a, b, atol=1e-3)                          # it did move them
    for bad in (np.zeros(M - 1), np.full(M, np.nan)):
        with pytest.raises(ValueError, match="origin must be"):
            MotionStream(model, None, origin=bad)


def test_the_pipeline_keeps_the_portraits_framing(animator, speech):
    """The portrait's tx, ty and scale are the crop's framing: the pipeline draws the motion from the training
    data's average framing and moves every frame back to the portrait's. Without it the generator pulls the head
    towards the training clips' framing (chapter 10's clips: the scale 0.4 data std away from the portrait's over a
    clip, against 0.1 with it and 0.16 in the clips' own motion; ``benchmarks/bench_identity.py``)."""
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT
    from vasa_lab.pipeline.source_expression import FRAMING, framing_origin

    model = animator.motion
    start = animator.portrait_motion(animator.portrait(DEMO_PORTRAIT))
    origin = framing_origin(model, start)
    assert np.count_nonzero(origin) == 3 and np.allclose(origin[FRAMING] + model.motion_mean.numpy()[FRAMING],
                                                         start[0, FRAMING])
    std = model.motion_std.numpy()[FRAMING]

    def away(keep_framing):       # the mean distance of tx, ty, scale from the portrait's, in data std
        chunks = animator.feature_chunks(speech, SR)
        motion = np.concatenate(list(animator.motion_chunks(chunks, None, steps=4, first_motion=start,
                                                            keep_framing=keep_framing)))
        return np.abs(motion[:, FRAMING] - start[0, FRAMING]).mean(0) / std

    kept, moved = away(True), away(False)
    assert kept.mean() < moved.mean(), (kept, moved)


def test_the_head_steps_from_first_motion_as_it_steps_inside_a_window(animator, speech):
    """Without the join the network's first frame lands where its starting noise puts it: the head's step from
    first_motion into the first drawn frame was about 1.6x its step inside a window (``bench_first_step.py``)."""
    model = animator.motion
    P = model.config.pose_dim
    rows = np.concatenate([f for _, f in animator.feature_chunks(speech, SR)])
    start = model.motion_mean.numpy()[None] + 0.3 * model.motion_std.numpy()[None]
    std = model.motion_std.numpy()[:P]

    def first_over_inner(join_frames):
        ratios = []
        for seed in range(6):
            m = generate_motion(model, rows, seed=seed, first_motion=start, join_frames=join_frames)
            step = np.linalg.norm(np.diff(np.concatenate([start, m])[:, :P], axis=0) / std, axis=1)
            ratios.append(step[0] / step[1:model.config.window].mean())
        return float(np.mean(ratios))

    joined, free = first_over_inner(3.0), first_over_inner(None)
    assert joined < 1.2 < free, (joined, free)
    for bad in (0, -2, float("nan")):
        with pytest.raises(ValueError, match="join_frames"):
            MotionStream(model, join_frames=bad)


def test_only_the_window_that_continues_first_motion_is_joined(animator, monkeypatch):
    """At later joins the network's step is partly its own (it hears the new window's audio; it steps back from a
    drifted context): joined there too, CAPP fell and streams without the drift control leant further."""
    import vasa_lab.motion.stream as ms

    model = animator.motion
    joined = []
    original = ms.sample_window
    monkeypatch.setattr(ms, "sample_window", lambda *a, **k: joined.append(k["join_last"] is not None)
                        or original(*a, **k))
    rows = np.random.default_rng(2).standard_normal((60, model.config.audio_dim)).astype(np.float32)
    for lookahead in (2, None):
        joined.clear()
        stream = MotionStream(model, None, steps=2, lookahead=lookahead, first_motion=model.motion_mean.numpy()[None])
        stream.push(rows)
        stream.finish()
        assert joined[0] and len(joined) > 1 and not any(joined[1:]), joined
    joined.clear()
    MotionStream(model, None, steps=2).push(rows[:25])             # no first_motion: nothing to join the first to
    assert joined == [False]


def test_the_network_sees_a_bounded_context_and_the_frames_go_out_as_drawn(animator, monkeypatch):
    """Far outside the data a window drew further out than its context and the motion ran away (tiny, ten minutes of
    speech: bench_long_audio.py); the context the network is conditioned on is soft-bounded, the frames are not."""
    import vasa_lab.motion.stream as ms

    model = animator.motion
    M = model.config.motion_dim
    seen = []
    original = ms.sample_window
    monkeypatch.setattr(ms, "sample_window",
                        lambda m, c, *a, **k: seen.append(c.context.clone()) or original(m, c, *a, **k))
    far = model.denormalize_motion(torch.full((1, M), 6.0)).numpy()          # 6 data std out in every number
    rows = np.zeros((30, model.config.audio_dim), np.float32)
    for bound in (ms.CONTEXT_BOUND, None):
        seen.clear()
        stream = MotionStream(model, None, steps=2, first_motion=far, context_bound=bound, revert_seconds=None)
        stream.push(rows)
        first = seen[0][0, -1]                                                 # the context's last frame, normalised
        if bound is None:
            assert torch.allclose(first, torch.full((M,), 6.0), atol=1e-4)
        else:
            assert torch.allclose(first, ms.soft_bound(torch.full((M,), 6.0), bound), atol=1e-4)
            assert float(first.max()) < bound
    with pytest.raises(ValueError, match="context_bound"):
        MotionStream(model, context_bound=0)


def test_conditions_change_from_the_next_window(animator):
    model = animator.motion
    rows = np.zeros((40, model.config.audio_dim), np.float32)
    a = MotionStream(model, MotionConditions(gaze=(0, 0)), seed=0, lookahead=0, stride=5, steps=2)
    b = MotionStream(model, MotionConditions(gaze=(0, 0)), seed=0, lookahead=0, stride=5, steps=2)
    first_a, first_b = a.push(rows[:11]), b.push(rows[:11])
    assert np.array_equal(first_a, first_b)
    b.set_conditions(MotionConditions(gaze=(25, 0)), gaze=2.0)
    rest_a, rest_b = a.push(rows[11:]), b.push(rows[11:])
    assert not np.allclose(rest_a, rest_b)
    with pytest.raises(ValueError, match="between 0 and 10"):
        b.set_conditions(None, audio=-1)
    with pytest.raises(ValueError, match="lookahead"):
        MotionStream(model, lookahead=-1)


# --- the avatar's stream ---------------------------------------------------------------------------------------
def test_the_stream_makes_every_frame_with_its_own_audio(avatar, speech):
    frames = list(avatar.stream(array_chunks(speech, SR, chunk_ms=30), SR, lookahead=2, stride=4))
    assert [f.index for f in frames] == list(range(n_video_frames(speech.size)))
    assert all(f.image.shape == (64, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    audio = np.concatenate([f.audio for f in frames])
    np.testing.assert_array_equal(audio[: speech.size], speech[: audio.size])    # the audio each frame shows
    assert all(f.shown >= f.decided for f in frames)
    report = avatar.last_report
    assert report.frames == len(frames) and report.dropped == 0 and report.stages["windows"] > len(frames) / 4 - 2


def test_whole_window_stream_is_the_offline_video(animator, avatar, speech):
    """lookahead=None with the offline gain: the streamed motion is the offline motion (both started from the
    portrait's own code), and its frames the offline frames (within one grey level: the decoder draws them in batches
    of another size)."""
    from vasa_lab.audio.waveform import _meter

    cfg = animator.motion.config.audio
    prepared = prepare_audio(speech, SR, cfg)
    gain = _meter(speech, cfg).gain()                        # the offline path's own gain
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT

    plain = animator.avatar(DEMO_PORTRAIT, watermark=False)   # the watermark (chapter 11) aside: frames compared
    motion = generate_motion(animator.motion, audio_features(prepared, cfg), None, seed=2,
                             first_motion=plain.portrait_motion,    # both start where the portrait is ...
                             origin=plain.framing_origin)           # ... and keep its framing
    offline = plain.renderer.render(motion)
    frames = list(plain.stream(array_chunks(speech, SR, 20), SR, lookahead=None, seed=2, gain=gain))
    assert np.array_equal(np.stack([f.motion for f in frames]), motion)      # the same motion, exactly
    streamed = np.stack([f.image for f in frames])                          # drawn 25 at a time instead of 64:
    assert np.abs(streamed.astype(int) - offline).max() <= 1                 # the decoder's sums may round apart


def test_a_stream_that_stops_mid_window_is_finished(avatar, speech):
    cut = speech[: int(0.37 * SR)]                            # 9 frames and a bit: not even half a window
    frames = list(avatar.stream(array_chunks(cut, SR, 50), SR, lookahead=4, stride=4))
    assert len(frames) == n_video_frames(cut.size) == 9


def test_silence_and_uneven_chunks_are_fine(avatar, speech):
    rng = np.random.default_rng(1)
    silence = np.zeros(SR, np.float32)
    frames = list(avatar.stream(_random_cuts(np.concatenate([speech[:SR], silence]), rng), SR, lookahead=1))
    assert len(frames) == 50


def test_a_chunk_at_another_rate_than_announced_stops_with_one_sentence(avatar, speech):
    chunks = [AudioChunk(speech[:3200], SR), AudioChunk(speech[3200:6400], 44_100)]
    got = []
    with pytest.raises(StreamError, match="44100 Hz but the stream was announced at 16000 Hz"):
        for frame in avatar.stream(chunks, SR, lookahead=0, stride=1):
            got.append(frame)
    assert len(got) >= 3                                      # what came before the bad chunk was delivered


def test_a_slow_consumer_gets_dropped_frames_not_a_growing_backlog(avatar, speech):
    """Live audio keeps arriving while the consumer takes 80 ms a frame (twice the frame time): with realtime=True
    the stream drops the frames that would be too late, and the audio queue never holds more than its bound."""
    live = LiveAudio(SR, max_seconds=1.0)

    def microphone():
        for piece in np.array_split(speech, 80):              # 40 ms pieces at their natural pace
            live.put(piece)
            time.sleep(piece.size / SR)
        live.close()

    threading.Thread(target=microphone, daemon=True).start()
    frames = []
    for frame in avatar.stream(live, SR, lookahead=1, stride=2, realtime=True, budget=0.3):
        frames.append(frame)
        time.sleep(0.08)
        assert live._queued <= live.max_samples
    report = avatar.last_report
    print(report.summary(), f"dropped audio {live.dropped_seconds:.2f} s")
    assert report.dropped > 0
    assert all(f.image is None for f in frames if f.dropped)
    assert live.dropped_seconds > 0 or len(frames) == n_video_frames(speech.size)


def test_a_pause_is_filled_with_silence_when_asked(speech):
    """A live source with fill_silence_after: while nobody speaks, the stream gets silence (so the face keeps
    moving, mouth closed) instead of waiting; without it, it waits."""
    live = LiveAudio(SR, fill_silence_after=0.1)
    chunks = iter(live)
    live.put(speech[:3200])
    assert np.array_equal(next(chunks).samples, speech[:3200])
    started = time.perf_counter()
    pause = next(chunks)                                     # nothing was put: 0.1 s of silence after 0.1 s
    assert time.perf_counter() - started >= 0.09
    assert pause.samples.size == 1600 and not pause.samples.any()
    live.put(speech[3200:4800])
    live.close()
    rest = list(chunks)
    assert len(rest) == 1 and np.array_equal(rest[0].samples, speech[3200:4800])


def test_a_caller_who_stops_frees_the_stream(avatar, speech):
    live = LiveAudio(SR)
    live.put(speech)
    stream = avatar.stream(live, SR, lookahead=0, stride=2)
    first = [next(stream) for _ in range(5)]
    stream.close()                                           # the caller stops
    assert live.closed and avatar.last_report.frames == 5 and first[-1].index == 4
    with pytest.raises(StreamError, match="closed"):
        live.put(speech[:10])
    with pytest.raises(StreamError, match="no stream is running"):
        avatar.set_conditions(MotionConditions(emotion="happy"))


def test_live_audio_queue_is_bounded():
    live = LiveAudio(SR, max_seconds=0.5)
    for _ in range(20):
        live.put(np.zeros(1600, np.float32))                  # 2 s into a 0.5 s queue, nobody reading
    assert live._queued <= live.max_samples and live.dropped_seconds == pytest.approx(1.5)


# --- files and the command line ---------------------------------------------------------------------------------
def test_mp4_sink_is_complete_or_absent(tmp_path):
    out = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError):
        with Mp4Sink(out, 32, 32, audio_rate=SR) as sink:
            sink.write(np.zeros((3, 32, 32, 3), np.uint8), np.zeros(3 * 640, np.float32))
            raise RuntimeError("killed midway")
    assert not out.exists() and not list(tmp_path.iterdir())
    with Mp4Sink(out, 32, 32, audio_rate=SR) as sink:
        sink.write(np.zeros((25, 32, 32, 3), np.uint8), np.zeros(25 * 640, np.float32))
    info = video_info(out)
    assert info["has_audio"] and info["frames"] == 25


def test_stream_command_writes_the_video_and_its_report(tmp_path, speech):
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT
    from vasa_lab.cli import main

    wav = tmp_path / "s.wav"
    sf.write(wav, speech[:SR], SR)
    code = main(["stream", "--image", str(DEMO_PORTRAIT), "--audio", str(wav), "--out", str(tmp_path / "s.mp4"),
                 "--report", str(tmp_path / "r.json"), "--lookahead-ms", "40", "--profile", "tiny"])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["frames"] == 25 and report["latency_p95_ms"] > 0
    assert video_info(tmp_path / "s.mp4")["has_audio"]
    assert main(["stream", "--image", str(DEMO_PORTRAIT), "--audio", str(tmp_path / "none.wav"),
                 "--out", str(tmp_path / "x.mp4")]) == 2


def test_file_chunks_at_natural_pace(tmp_path, speech):
    wav = tmp_path / "s.wav"
    sf.write(wav, speech[: SR // 2], SR)
    started = time.perf_counter()
    chunks = list(file_chunks(wav, chunk_ms=50, realtime=True))
    assert time.perf_counter() - started >= 0.4                # 0.5 s of audio takes ~0.45 s to "arrive"
    assert sum(c.samples.size for c in chunks) == SR // 2 and chunks[0].rate == SR
    assert chunks[-1].arrived - chunks[0].arrived == pytest.approx(0.45, abs=0.02)


# --- the live player ----------------------------------------------------------------------------------------------
def test_live_player_shows_frames_and_hears_its_sliders(avatar, speech):
    from vasa_lab.pipeline import LivePlayer

    player = LivePlayer(avatar)
    blank = player.image.value
    live = LiveAudio(SR)
    player.play(live, SR, realtime=False, lookahead=0, stride=2)
    live.put(speech[:SR])
    deadline = time.time() + 60
    while player.frames_shown < 5 and time.time() < deadline:
        time.sleep(0.02)
    player.emotion.value = "happy"                        # a slider moved while the stream runs
    assert player.changes_applied == 1 and avatar._motion_stream.cond.emotion == "happy"
    live.close()
    report = player.wait(timeout=60)
    assert report.frames == 25 and player.frames_shown == 25
    assert player.image.value != blank and player.image.value[:2] == b"\xff\xd8"     # a JPEG of a frame
    assert "frames/s" in player.stats.value


def test_a_photo_streams_at_its_own_size(animator, speech):
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT

    avatar = animator.avatar(DEMO_PORTRAIT, frame="photo")
    frames = list(avatar.stream(array_chunks(speech[:SR // 2], SR, 40), SR, lookahead=1))
    assert len(frames) == 13 and frames[0].image.shape == (*avatar.frame_size, 3) == (256, 256, 3)


def test_windows_drawn_is_what_the_stream_draws(animator):
    from vasa_lab.motion.stream import windows_drawn

    model = animator.motion
    rows = np.zeros((37, model.config.audio_dim), np.float32)
    for look, stride in [(0, 1), (2, 4), (0, 25), (None, 4), (21, 4)]:
        s = MotionStream(model, None, steps=1, lookahead=look, stride=stride)
        for t in range(len(rows)):
            s.push(rows[t:t + 1])
        assert s.windows == windows_drawn(len(rows), look, stride, model.config.window), (look, stride)


# --- what a review found -------------------------------------------------------------------------------------------
def test_realtime_command_draws_real_frames(tmp_path, speech):
    """--realtime: the microphone's clock starts when the stream asks for audio, not while the models load, so the
    frames are drawn (not dropped into a black video). With the clock started during loading every frame was
    seconds late and dropped; how many are dropped otherwise depends on the machine's load (15 of 25 in one CI run
    with the other test worker busy), which is a benchmark's question (`benchmarks/bench_stream.py`), not a test's."""
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT
    from vasa_lab.cli import main
    from vasa_lab.media import read_video

    wav = tmp_path / "s.wav"
    sf.write(wav, speech[:SR], SR)
    code = main(["stream", "--image", str(DEMO_PORTRAIT), "--audio", str(wav), "--out", str(tmp_path / "rt.mp4"),
                 "--realtime", "--report", str(tmp_path / "r.json"), "--profile", "tiny"])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    frames, _ = read_video(tmp_path / "rt.mp4")
    assert report["dropped"] < report["frames"]                 # frames were drawn
    assert frames[-1].mean() > 60                               # a face, not black (a dropped frame repeats the last
    #                                                             drawn one, so a black last frame means none was)


def test_stream_command_checks_its_numbers_before_loading(tmp_path, capsys):
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT
    from vasa_lab.cli import main

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    base = ["stream", "--image", str(DEMO_PORTRAIT), "--out", str(tmp_path / "x.mp4"), "--profile", "tiny"]
    assert main(base + ["--audio", str(empty)]) == 2
    assert main(base + ["--audio", str(empty), "--stride", "0"]) == 2
    assert main(base + ["--audio", str(empty), "--lookahead-ms", "1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "--stride must be between 1" in err[1] and "fit in one motion window" in err[2]
    assert "no audio samples" in err[0] or "empty" in err[0]


def test_a_failed_change_changes_nothing_and_scales_alone_keep_the_conditions(animator):
    s = MotionStream(animator.motion, MotionConditions(emotion="happy"), lookahead=0, stride=2)
    before = s._controls
    with pytest.raises(ValueError):
        s.set_conditions(MotionConditions(emotion="sad"), audio=99)
    assert s._controls is before and s.cond.emotion == "happy"
    s.set_conditions(audio=0.7)
    assert s.cond.emotion == "happy" and s.scales["audio"] == 0.7


def test_drift_control_settings_are_checked(animator):
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="bound"):
            MotionStream(animator.motion, bound=bad)
    with pytest.raises(ValueError, match="fit in one window"):
        MotionStream(animator.motion, lookahead=24, stride=4)
    for bad in (0, animator.motion.config.motion_dim + 1, 2.5, "5", True):
        with pytest.raises(ValueError, match="reverted"):
            MotionStream(animator.motion, reverted=bad)


def test_the_drift_control_pulls_the_heads_turn_and_place_and_leaves_the_conditions_alone(animator):
    """A lasting lean of every motion number: the pull takes the head's yaw, pitch, roll, tx and ty back, never the
    scale (the distance condition) nor the face (gaze, emotion), which a held condition moves on purpose."""
    from vasa_lab.geometry import POSE_NAMES
    from vasa_lab.motion.stream import REVERTED

    assert POSE_NAMES[:REVERTED] == ("yaw", "pitch", "roll", "tx", "ty") and POSE_NAMES[REVERTED] == "scale"
    M = animator.motion.config.motion_dim
    stream = MotionStream(animator.motion, revert_seconds=5.0)
    lean = torch.ones(M)
    stream.level = lean.clone()                                  # 2 s of motion drawn one std away
    drawn = lean.expand(4, M).clone()                            # and the network keeps drawing it there
    out = stream._revert(drawn.clone())
    assert torch.all(out[:, :REVERTED] < drawn[:, :REVERTED] - 1e-3), "the head's turn and place are pulled back"
    assert torch.equal(out[:, REVERTED:], drawn[:, REVERTED:]), "the scale and the face go out as drawn"
    assert torch.equal(MotionStream(animator.motion, revert_seconds=None)._revert(drawn.clone()), drawn)
    every = MotionStream(animator.motion, revert_seconds=5.0, reverted=None)   # the drift control before: all of it
    every.level = lean.clone()
    assert torch.all(every._revert(drawn.clone()) < drawn - 1e-3)
    speech_rows = np.zeros((3 * animator.motion.config.window, animator.motion.config.audio_dim), np.float32)
    kept = generate_motion(animator.motion, speech_rows, MotionConditions(distance=1.15), steps=2, reverted=None)
    assert not np.array_equal(kept, generate_motion(animator.motion, speech_rows, MotionConditions(distance=1.15),
                                                     steps=2)), "generate_motion passes reverted= to the stream"


def test_small_and_stereo_chunks_are_samples_by_channels():
    stream = StreamingFeatures(AudioConfig(), SR, gain=1.0)
    stream.push(np.zeros((1, 2), np.float32))                 # one stereo sample
    stream.push(np.zeros((2, 2), np.float32))                 # two
    assert stream.n_samples == 3
    live = LiveAudio(SR)
    live.put(np.ones((640, 2), np.float32))
    assert live._queued == 640


def test_features_alone_keep_no_audio(speech):
    stream = StreamingFeatures(AudioConfig(), SR)
    for piece in np.array_split(speech, 50):
        stream.push(piece)
    assert stream._audio.size == 0 and stream._buf.size < 2000


def test_live_audio_checks_and_close_race():
    with pytest.raises(StreamError, match="fill_silence_after"):
        LiveAudio(SR, fill_silence_after=0)
    live = LiveAudio(SR, max_seconds=0.1)
    live.put(np.arange(3200, dtype=np.float32))               # longer than the queue: its newest 0.1 s stays
    assert live._queued == 1600 and live.dropped_seconds == pytest.approx(0.1)
    live.close()
    with pytest.raises(StreamError, match="closed"):
        live.put(np.zeros(10))
    chunks = list(live)
    assert len(chunks) == 1 and chunks[0].samples[0] == 1600


def test_the_player_stops_while_the_microphone_is_quiet(avatar):
    from vasa_lab.pipeline import LivePlayer

    player = LivePlayer(avatar)
    live = LiveAudio(SR)                                       # nobody speaks, no silence filling
    player.play(live, SR, realtime=False, lookahead=0, stride=1)
    time.sleep(0.2)
    started = time.time()
    player.stop(timeout=10)
    assert time.time() - started < 5 and not player._thread.is_alive()
