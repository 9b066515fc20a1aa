"""The audio stage: frame alignment, input formats, loudness, silence, long files, Wav2Vec2, and bad input."""
import tracemalloc
import warnings

import numpy as np
import pytest

from vasa_lab.audio import (AudioConfig, SilentAudioWarning, audio_features, is_silent, iter_audio_features,
                            load_speech, n_video_frames, prepare_audio)
from vasa_lab.media import MediaError, write_mp4, write_wav

SR = 16_000
MEL = AudioConfig.for_profile("tiny")
W2V = AudioConfig.for_profile("tiny", kind="wav2vec2")


@pytest.fixture(scope="module")
def speech():
    """4 s of synthetic-world speech at 16 kHz (with pauses)."""
    from vasa_lab.world.clip import make_clip

    return make_clip(0, 3, seconds=4.0, size=32).audio


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _write_with_av(path, audio, rate, codec, channels=1):
    """Encode float audio (N,) with PyAV (mono or duplicated to stereo)."""
    import av

    layout = "mono" if channels == 1 else "stereo"
    data = np.tile(np.asarray(audio, np.float32)[None], (channels, 1))     # (C, N) planar
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout
        fmt = stream.codec_context.codec.audio_formats[0].name               # e.g. fltp for aac, s16p for mp3
        step = 4096
        for start in range(0, data.shape[1], step):
            chunk = np.ascontiguousarray(data[:, start:start + step])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            if fmt != "fltp":
                frame = av.AudioResampler(format=fmt, layout=layout, rate=rate).resample(frame)[0]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# ---------------------------------------------------------------------------------------------------------------
# shapes and alignment
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 319, 320, 639, 640, 961, 16_000, 16_321, 40_000])
def test_rows_per_video_frame(n):
    t = n_video_frames(n, SR, 25.0)
    assert t == int(np.floor(n / SR * 25 + 0.5))
    feats = audio_features(np.full(n, 0.01, np.float32), MEL)
    assert feats.shape == (t, MEL.feature_dim) and feats.dtype == np.float32 and np.all(np.isfinite(feats))


def test_shorter_than_half_a_frame_gives_no_rows_and_up_to_a_frame_one_row():
    assert audio_features(np.zeros(100, np.float32), MEL).shape == (0, 160)
    assert audio_features(np.zeros(0, np.float32), MEL).shape == (0, 160)
    assert audio_features(np.zeros(400, np.float32), MEL).shape == (1, 160)


@pytest.mark.parametrize("k", [0, 7, 30])
def test_a_click_in_frame_k_lights_up_row_k(k):
    """A 10 ms tone burst centred on video frame k's centre is loudest in feature row k, hops 1-2 of it."""
    x = np.zeros(SR * 2, np.float32)
    centre = int((k + 0.5) * 640)
    n = np.arange(-80, 80)
    x[centre - 80: centre + 80] = 0.5 * np.sin(2 * np.pi * 1000 * n / SR) * np.hanning(160)
    feats = audio_features(x, MEL)                                       # (50, 4 * 40)
    per_hop = feats.reshape(len(feats), 4, 40).mean(axis=2)              # (T, 4)
    assert int(per_hop.mean(axis=1).argmax()) == k
    assert set(np.argsort(per_hop[k])[-2:]) == {1, 2}                   # the hops at 15 and 25 ms of the frame


def test_wav2vec2_rows_follow_the_change():
    """Changing the audio of frame k changes row k of the (random) Wav2Vec2 features most."""
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal(SR * 2)).astype(np.float32)
    y = x.copy()
    y[20 * 640: 21 * 640] += 0.3 * rng.standard_normal(640).astype(np.float32)
    a, b = _quiet(audio_features, x, W2V), _quiet(audio_features, y, W2V)
    assert a.shape == (50, W2V.feature_dim) == (50, 64)
    assert int(np.abs(a - b).sum(axis=1).argmax()) == 20
    assert np.all(np.isfinite(_quiet(audio_features, np.zeros(SR, np.float32), W2V)))     # silence is fine too


# ---------------------------------------------------------------------------------------------------------------
# input formats and loudness
# ---------------------------------------------------------------------------------------------------------------
def test_stereo_and_integer_pcm_give_the_mono_features(speech):
    ref = audio_features(prepare_audio(speech, SR, MEL), MEL)
    stereo = np.stack([speech, speech], axis=1)                          # (N, 2)
    for x in (stereo, stereo.T):
        assert np.abs(audio_features(prepare_audio(x, SR, MEL), MEL) - ref).max() < 1e-3
    # 16-bit PCM adds quantisation noise at -96 dB: visible only in the quietest bands
    pcm = audio_features(prepare_audio((speech * 32767).astype(np.int16), SR, MEL), MEL)
    assert np.mean(np.abs(pcm - ref)) < 0.01


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000, 96_000])
def test_other_rates_give_the_16khz_features(speech, rate):
    import soxr

    ref = audio_features(prepare_audio(speech, SR, MEL), MEL)
    x = soxr.resample(speech, SR, rate, quality="HQ")
    feats = audio_features(prepare_audio(x, rate, MEL), MEL)
    assert feats.shape == ref.shape
    # 8 kHz audio carries nothing above 4 kHz: compare the mel bands below 3.5 kHz only
    import librosa

    bands = librosa.mel_frequencies(n_mels=MEL.n_mels + 2, fmax=MEL.fmax)[2:] < min(rate / 2, SR / 2) * 0.87
    f, r = feats.reshape(-1, 4, MEL.n_mels)[..., bands], ref.reshape(-1, 4, MEL.n_mels)[..., bands]
    speaking = r.mean(axis=(1, 2)) > -1.4                                 # rows with sound (silence is -1.625)
    assert np.mean(np.abs(f - r)[speaking]) < 0.05


def test_loudness_is_normalised(speech):
    ref = audio_features(prepare_audio(speech, SR, MEL), MEL)
    for gain in (0.02, 0.05, 3.0):                                       # -56 dBFS speech .. clipping
        x = prepare_audio(np.clip(speech * gain, -1, 1), SR, MEL)
        assert np.mean(np.abs(audio_features(x, MEL) - ref)) < 0.05
    x = prepare_audio(speech * 0.05, SR, MEL)
    active = np.abs(x) > 1e-3
    assert np.sqrt(np.mean(x ** 2)) > 0.5 * np.sqrt(np.mean(speech ** 2))
    assert np.abs(x).max() <= MEL.peak_limit + 1e-6 and active.any()


@pytest.mark.parametrize("kind", ["wav", "flac", "m4a", "mp3", "mp4"])
def test_files_of_every_kind_load(tmp_path, speech, kind):
    import soundfile as sf

    path = tmp_path / f"speech.{kind}"
    if kind == "wav":
        write_wav(path, speech, SR)
    elif kind == "flac":
        sf.write(str(path), np.stack([speech, speech], 1), SR)            # stereo flac
    elif kind == "m4a":
        _write_with_av(path, speech, SR, "aac", channels=2)
    elif kind == "mp3":
        _write_with_av(path, speech, SR, "libmp3lame")
    else:
        write_mp4(path, np.zeros((100, 32, 32, 3), np.uint8), 25.0, audio=speech, sample_rate=SR)
    audio, sr = load_speech(path, MEL)
    assert sr == SR and audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - speech.size) < 0.1 * SR                       # codecs add a little padding
    ref = audio_features(prepare_audio(speech, SR, MEL), MEL)
    feats = audio_features(audio, MEL)
    n = min(len(ref), len(feats))
    # the decoders remove the codecs' delay, so rows still match; low-rate mp3 cuts everything above ~4.5 kHz,
    # so compare the bands below 4 kHz (the first 31 of 40)
    r, f = ref[:n].reshape(n, 4, -1)[..., :31], feats[:n].reshape(n, 4, -1)[..., :31]
    assert np.mean(np.abs(r - f)) < 0.25 and np.corrcoef(r.ravel(), f.ravel())[0, 1] > 0.97


# ---------------------------------------------------------------------------------------------------------------
# silence
# ---------------------------------------------------------------------------------------------------------------
def test_silence_is_flagged_and_finite(tmp_path):
    zeros = np.zeros(SR, np.float32)
    with pytest.warns(SilentAudioWarning):
        x = prepare_audio(zeros, SR, MEL)
    assert is_silent(x, MEL) and np.all(x == 0)
    feats = audio_features(x, MEL)
    assert feats.shape == (25, 160) and np.all(np.isfinite(feats))
    assert np.allclose(feats, (MEL.db_floor - MEL.mel_db_mean) / MEL.mel_db_std)
    write_wav(tmp_path / "silence.wav", zeros, SR)
    with pytest.warns(SilentAudioWarning):
        audio, _ = load_speech(tmp_path / "silence.wav", MEL)
    assert is_silent(audio) and audio.size == SR
    # faint noise is not speech either, and is not blown up to speech level
    noise = (1e-5 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32)
    with pytest.warns(SilentAudioWarning):
        assert np.abs(prepare_audio(noise, SR, MEL)).max() < 1e-3


def test_speech_is_not_silent(speech):
    assert not is_silent(speech)


# ---------------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------------
def test_bad_files_give_one_clear_error(tmp_path):
    with pytest.raises(MediaError, match="no such audio file"):
        load_speech(tmp_path / "missing.wav", MEL)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        load_speech(tmp_path / "empty.wav", MEL)
    (tmp_path / "notes.wav").write_text("this is a text file, not audio\n" * 20)
    with pytest.raises(MediaError, match="not a readable audio file"):
        load_speech(tmp_path / "notes.wav", MEL)
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError):
        load_speech(tmp_path / "noise.mp3", MEL)
    write_mp4(tmp_path / "mute.mp4", np.zeros((10, 32, 32, 3), np.uint8), 25.0)
    with pytest.raises(MediaError, match="no audio track"):
        load_speech(tmp_path / "mute.mp4", MEL)
    with pytest.raises(MediaError, match="no audio track"):
        next(iter_audio_features(tmp_path / "mute.mp4", MEL))
    write_wav(tmp_path / "zero.wav", np.zeros(0, np.float32), SR)
    with pytest.raises(MediaError, match="no audio samples"):
        load_speech(tmp_path / "zero.wav", MEL)


def test_bad_arrays_give_one_clear_error():
    with pytest.raises(ValueError, match="empty"):
        prepare_audio(np.zeros(0, np.float32), SR, MEL)
    with pytest.raises(ValueError, match="NaN"):
        prepare_audio(np.array([0.0, np.nan] * 100, np.float32), SR, MEL)
    with pytest.raises(ValueError, match="channel axis"):
        prepare_audio(np.zeros((100, 100), np.float32), SR, MEL)
    with pytest.raises(ValueError, match="sample_rate"):
        prepare_audio(np.zeros(100, np.float32), 100, MEL)
    with pytest.raises(ValueError, match="prepare_audio"):
        audio_features(np.zeros((100, 2), np.float32), MEL)
    with pytest.raises(ValueError, match="unknown audio feature kind"):
        AudioConfig(kind="mfcc")


def test_too_long_is_refused_unless_chunked(tmp_path):
    short = AudioConfig.for_profile("tiny", max_seconds=2.0)
    x = np.full(SR * 3, 0.01, np.float32)
    with pytest.raises(ValueError, match="iter_audio_features"):
        prepare_audio(x, SR, short)
    with pytest.raises(ValueError, match="iter_audio_features"):
        audio_features(x, short)
    write_wav(tmp_path / "long.wav", x, SR)
    with pytest.raises(ValueError, match="iter_audio_features"):
        load_speech(tmp_path / "long.wav", short)
    assert sum(len(c) for _, c in iter_audio_features(tmp_path / "long.wav", short)) == 75


# ---------------------------------------------------------------------------------------------------------------
# chunks and long files
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_seconds", [0.04, 1.3, 10.0])
def test_chunks_equal_the_whole_array(speech, chunk_seconds):
    x = prepare_audio(speech, SR, MEL)
    whole = audio_features(x, MEL)
    starts, parts = zip(*iter_audio_features(x, MEL, chunk_seconds=chunk_seconds))
    assert starts[0] == 0 and all(s == a + len(p) for s, a, p in zip(starts[1:], starts, parts))
    assert np.abs(np.concatenate(parts) - whole).max() < 1e-4


def test_chunks_equal_the_whole_file(tmp_path, speech):
    path = write_wav(tmp_path / "s.wav", np.clip(speech * 0.3, -1, 1), SR)
    whole = audio_features(load_speech(path, MEL)[0], MEL)
    streamed = np.concatenate([c for _, c in iter_audio_features(path, MEL, chunk_seconds=0.7)])
    assert np.abs(streamed - whole).max() < 1e-4
    # the same from a 44.1 kHz stereo m4a: the streaming resampler gives the one-shot resampler's samples
    import soxr

    m4a = _write_with_av(tmp_path / "s.m4a", soxr.resample(speech, SR, 44_100), 44_100, "aac", channels=2)
    whole = audio_features(load_speech(m4a, MEL)[0], MEL)
    streamed = np.concatenate([c for _, c in iter_audio_features(m4a, MEL, chunk_seconds=0.7)])
    assert np.abs(streamed - whole).max() < 1e-4


def test_wav2vec2_chunks_match_the_whole_within_a_bound(speech):
    x = prepare_audio(speech, SR, W2V)
    whole = _quiet(audio_features, x, W2V)
    streamed = np.concatenate([c for _, c in _quiet(lambda: list(iter_audio_features(x, W2V, chunk_seconds=1.3)))])
    # a chunk's attention sees 1 s of context each side, not the whole clip: small, bounded differences
    diff = np.abs(streamed - whole)
    assert diff.max() < 0.1 and diff.mean() < 0.01 * np.abs(whole).mean() + 0.005


def test_twenty_minutes_stream_in_bounded_memory(tmp_path):
    """A 20-minute file: features arrive chunk by chunk; Python/numpy memory stays far below the file's size."""
    import soundfile as sf

    path = tmp_path / "long.wav"
    rng = np.random.default_rng(0)
    minutes = 20
    t = np.arange(10 * SR) / SR                                   # 10 s of a tone that comes and goes, over noise
    block = (0.1 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
             + 0.002 * rng.standard_normal(t.size)).astype(np.float32)
    with sf.SoundFile(str(path), "w", SR, 1, subtype="PCM_16") as f:
        for i in range(minutes * 6):
            f.write(block * (0.5 + 0.05 * (i % 7)))
    whole_bytes = minutes * 60 * SR * 4 + minutes * 60 * 25 * MEL.feature_dim * 4     # samples + features: 96 MB
    audio_features(np.zeros(SR, np.float32), MEL)                 # first use imports librosa: not the stream's memory
    tracemalloc.start()
    n_rows, last = 0, None
    for start, chunk in iter_audio_features(path, MEL, chunk_seconds=10.0):
        assert start == n_rows and np.all(np.isfinite(chunk))
        n_rows += len(chunk)
        last = chunk
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n_rows == minutes * 60 * 25 and last.shape[1] == 160
    assert peak < 12e6 < whole_bytes / 6, f"peak {peak / 1e6:.1f} MB"


# ---------------------------------------------------------------------------------------------------------------
# Wav2Vec2 from a path
# ---------------------------------------------------------------------------------------------------------------
def test_wav2vec2_from_a_local_folder_and_bad_paths(tmp_path, speech):
    from vasa_lab.audio import load_wav2vec2

    model, source = _quiet(load_wav2vec2, W2V)
    assert "RANDOM" in source
    model.save_pretrained(str(tmp_path / "w2v"))
    cfg = AudioConfig.for_profile("tiny", kind="wav2vec2", wav2vec2_path=str(tmp_path / "w2v"))
    assert cfg.feature_dim == 64
    x = prepare_audio(speech, SR, cfg)
    assert np.allclose(audio_features(x, cfg), _quiet(audio_features, x, W2V), atol=1e-5)
    bad = AudioConfig.for_profile("tiny", kind="wav2vec2", wav2vec2_path=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="does not exist"):
        audio_features(x, bad)
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(ValueError, match="config.json"):
        AudioConfig(kind="wav2vec2", wav2vec2_path=str(tmp_path / "empty_folder")).feature_dim
