"""Offline speech synthesis: audio format, determinism, phoneme timings, bad input."""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from vasa_lab.world.sentences import SENTENCES
from vasa_lab.world.speech import LANGUAGES, PEAK_LIMIT, SILENCE, VOICE_VARIANTS, Speech, synthesize

TEXT = {"en": "Please bring me the blue paper by noon.", "fr": "Mon petit frère aime la musique.",
        "zh": "我们明天一起去公园散步吧。"}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_audio_is_16khz_float_mono(language):
    speech = synthesize(TEXT[language], language)
    assert isinstance(speech, Speech)
    assert speech.sample_rate == 16000
    assert speech.audio.dtype == np.float32 and speech.audio.ndim == 1
    assert 0.5 < speech.duration < 6.0
    assert 0 < np.abs(speech.audio).max() <= PEAK_LIMIT + 1e-6
    assert speech.text == TEXT[language] and speech.language == language


def test_other_sample_rate():
    a = synthesize(TEXT["en"], sample_rate=22050)
    b = synthesize(TEXT["en"], sample_rate=8000)
    assert a.sample_rate == 22050 and b.sample_rate == 8000
    assert abs(a.duration - b.duration) < 1e-3


def test_same_input_gives_identical_output():
    # f2 mixes in breath noise and every voice has pitch flutter: both are state inside espeak-ng
    first = synthesize(TEXT["en"], "en", variant="f2", rate=160, pitch=40)
    synthesize("Something else in between changes espeak's internal state.", "en", variant="m3")
    again = synthesize(TEXT["en"], "en", variant="f2", rate=160, pitch=40)
    np.testing.assert_array_equal(first.audio, again.audio)
    assert first.phonemes == again.phonemes and first.words == again.words


def test_threads_get_the_same_audio_as_a_loop():
    texts = list(SENTENCES["en"][:6])
    alone = [synthesize(t).audio for t in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: synthesize(t).audio, texts))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_phoneme_timings_tile_the_audio(language):
    for text in SENTENCES[language][:8]:
        speech = synthesize(text, language)
        ph = speech.phonemes
        assert ph[0].start == 0.0
        assert abs(ph[-1].end - speech.duration) < 1e-9
        for p, q in zip(ph, ph[1:]):
            assert p.start < p.end == q.start  # strictly increasing, no gaps
        assert sum(p.symbol != SILENCE for p in ph) >= 5
        words = speech.words
        assert len(words) >= 1
        assert all(0 <= w.start <= w.end <= speech.duration for w in words)
        assert all(a.start <= b.start for a, b in zip(words, words[1:]))


def test_pauses_are_quiet_and_vowels_are_loud():
    """The timings line up with the sound: the audio is much quieter inside '_' intervals than in vowels."""
    quiet, loud = [], []
    for text in SENTENCES["en"][:10]:
        speech = synthesize(text)
        for p in speech.phonemes:
            seg = speech.audio[int(p.start * speech.sample_rate):int(p.end * speech.sample_rate)]
            if len(seg) == 0:
                continue
            if p.symbol == SILENCE:
                quiet.append(np.sqrt(np.mean(seg ** 2)))
            elif p.symbol.lstrip("',") in ("a", "aa", "A:", "E", "V", "0", "O:", "aI", "eI"):
                loud.append(np.sqrt(np.mean(seg ** 2)))
    assert np.mean(quiet) < 0.2 * np.mean(loud)


def test_every_variant_speaks():
    voices = [synthesize("Maybe tomorrow.", variant=v) for v in VOICE_VARIANTS]
    assert min(v.duration for v in voices) > 0.3
    assert len({v.audio.tobytes() for v in voices}) == len(VOICE_VARIANTS)    # each variant is a voice of its own


def test_unknown_language_is_an_error():
    with pytest.raises(ValueError, match="en.*fr.*zh"):
        synthesize("Hello there.", language="klingon")


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text_is_an_error(text):
    with pytest.raises(ValueError, match="empty"):
        synthesize(text)


def test_bad_variant_rate_pitch_are_errors():
    with pytest.raises(ValueError, match="variant"):
        synthesize("Hello.", variant="nobody")
    with pytest.raises(ValueError, match="rate"):
        synthesize("Hello.", rate=10)
    with pytest.raises(ValueError, match="pitch"):
        synthesize("Hello.", pitch=200)
    assert synthesize("Hello.").duration > 0  # and the synthesiser still works afterwards


def test_a_ctrl_c_inside_the_synthesiser_stops_it_instead_of_losing_samples(monkeypatch):
    """A KeyboardInterrupt raised while espeak-ng's callback runs (ctypes swallows exceptions there) must stop the
    synthesis and reach the caller, not drop one block of samples and return a shorter, shifted clip that a
    resumed `synth` keeps as finished (seen once in CI: an interrupted world's clip differed from a clean one)."""
    from vasa_lab.world import speech

    whole, _ = speech._espeak_run("Hello there, how are you today?", "en-us", 170, 50)
    calls = {"n": 0}
    as_array = np.ctypeslib.as_array

    def interrupted_on_the_third_block(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return as_array(*args, **kwargs)

    monkeypatch.setattr(np.ctypeslib, "as_array", interrupted_on_the_third_block)
    with pytest.raises(KeyboardInterrupt):
        speech._espeak_run("Hello there, how are you today?", "en-us", 170, 50)
    monkeypatch.undo()
    again, _ = speech._espeak_run("Hello there, how are you today?", "en-us", 170, 50)
    assert calls["n"] == 3 and np.array_equal(whole, again)     # the library is left fit to use


class _Signalled(BaseException):
    """What our test signal raises, like a Ctrl-C (a BaseException) but without touching SIGINT in the test run."""


def test_a_signal_landing_anywhere_in_the_synthesis_stops_it_or_changes_nothing():
    """Python runs a pending signal handler as a function is entered, so an interrupt can also land before the
    callback's own try: ctypes reports it as "Exception ignored" and the synthesis went on without that block
    (30 of 300 calls under interrupts came back shorter and shifted; CI saw one as a resumed world's clip that
    differed from a clean one). Interrupt many calls at times spread over the synthesis: each either raises or
    returns exactly the uninterrupted samples."""
    import signal
    import threading
    import time

    from vasa_lab.world import speech

    text, voice = "The quick brown fox jumps over the lazy dog by the river.", "en+f3"
    start = time.perf_counter()
    whole, _ = speech._espeak_run(text, voice, 170, 50)
    seconds = time.perf_counter() - start

    def raise_signalled(signum, frame):
        raise _Signalled

    previous = signal.signal(signal.SIGUSR1, raise_signalled)
    outcomes = {"stopped": 0, "whole": 0, "changed": 0}
    try:
        for k in range(80):
            timer = threading.Timer(seconds * 1.2 * (k + 1) / 80, os.kill, (os.getpid(), signal.SIGUSR1))
            try:
                timer.start()
                samples, _ = speech._espeak_run(text, voice, 170, 50)
                outcomes["whole" if np.array_equal(samples, whole) else "changed"] += 1
                timer.join()
                time.sleep(0.002)                        # a signal that arrives after the call lands here
            except _Signalled:
                outcomes["stopped"] += 1
            while timer.is_alive():
                try:
                    timer.join()
                except _Signalled:
                    pass
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert outcomes["changed"] == 0, outcomes
    assert outcomes["stopped"] > 10, outcomes                  # the signals did land inside the synthesis
