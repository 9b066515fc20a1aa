"""Phonemes -> visemes -> mouth tracks: known mappings, coverage of real espeak output, closed lips on p/b/m."""
import numpy as np
import pytest

from vasa_lab.world.sentences import SENTENCES
from vasa_lab.world.speech import Phoneme, synthesize
from vasa_lab.world.state import FaceState
from vasa_lab.world.visemes import (
    BILABIALS, MOUTH_PARAMS, VISEMES, MouthTrack, bilabial_intervals, is_known_phoneme, mouth_opening, mouth_track,
    phoneme_to_viseme, viseme_name,
)

FPS = 25.0


def name_of(symbol, language="en"):
    return viseme_name(phoneme_to_viseme(symbol, language))


def closed(params):
    """Lips closed: jaw nearly shut and lips pressed (params: (..., 4))."""
    return (params[..., 0] < 0.1) & (params[..., 3] > 0.5)


def test_table_is_consistent_with_face_state():
    # no dead entry: English speech (25 of the sentences) reaches every viseme of the table
    step = max(1, len(SENTENCES["en"]) // 25)
    used = {phoneme_to_viseme(p.symbol) for text in SENTENCES["en"][::step] for p in synthesize(text).phonemes}
    assert used == set(range(len(VISEMES))), sorted(viseme_name(i) for i in set(range(len(VISEMES))) - used)
    assert [v.id for v in VISEMES] == list(range(len(VISEMES)))
    assert len({v.name for v in VISEMES}) == len(VISEMES)
    assert all(name in FaceState.names() for name in MOUTH_PARAMS)
    for v in VISEMES:
        jaw, width, rnd, press = v.params
        assert 0 <= jaw <= 1 and -1 <= width <= 1 and 0 <= rnd <= 1 and 0 <= press <= 1
        assert all(d > 0 for d in v.dominance)


@pytest.mark.parametrize("symbol, expected", [
    ("p", "bilabial"), ("b", "bilabial"), ("m", "bilabial"), ("f", "labiodental"), ("v", "labiodental"),
    ("T", "dental"), ("D", "dental"), ("t", "alveolar"), ("n", "alveolar"), ("s", "sibilant"),
    ("S", "postalveolar"), ("tS", "postalveolar"), ("k", "velar"), ("N", "velar"), ("'a", "open"),
    ("'aa", "open"), ("E", "mid"), ("'i:", "close_front"), ("'u:", "round_close"), ("'oU", "round_mid"),
    ("w", "approximant"), ("r", "approximant"), ("_", "rest"),
])
def test_known_english_phonemes(symbol, expected):
    assert name_of(symbol) == expected


def test_marks_are_stripped_and_languages_differ():
    assert phoneme_to_viseme("'i:") == phoneme_to_viseme(",i") == phoneme_to_viseme("i")
    assert name_of("t#") == name_of("t2") == "alveolar"
    assert name_of("ph", "zh") == "bilabial"  # Mandarin aspirated p
    assert name_of("r", "fr") == "velar"  # uvular r: no lip rounding
    assert name_of("'O~", "fr") == "round_mid"
    assert name_of("'y", "fr") == "round_close"


@pytest.mark.parametrize("symbol", ["", "?", "Qx7", "(en)", "'''", "pZ9"])
def test_unknown_symbols_never_crash(symbol):
    assert 0 <= phoneme_to_viseme(symbol) < len(VISEMES)


def test_unknown_symbols_are_guessed_from_their_first_letter():
    assert not is_known_phoneme("pZ9") and name_of("pZ9") == "bilabial"
    assert name_of("(en)") == name_of("") == "rest"


@pytest.mark.parametrize("language", ["en", "fr", "zh"])
def test_every_symbol_espeak_emits_is_in_the_table(language):
    step = max(1, len(SENTENCES[language]) // 25)
    symbols = {p.symbol for text in SENTENCES[language][::step] for p in synthesize(text, language).phonemes}
    unknown = sorted(s for s in symbols if not is_known_phoneme(s, language))
    assert not unknown, f"{language}: add these espeak symbols to the viseme table: {unknown}"
    assert all(0 <= phoneme_to_viseme(s, language) < len(VISEMES) for s in symbols)


def test_every_bilabial_closes_the_lips():
    n_intervals = 0
    for text in SENTENCES["en"][:30]:
        speech = synthesize(text)
        n = int(np.ceil(speech.duration * FPS))
        track = mouth_track(speech.phonemes, n, FPS)
        centres = (np.arange(n) + 0.5) / FPS
        for start, end in bilabial_intervals(speech.phonemes):
            n_intervals += 1
            inside = (centres >= start) & (centres < end)
            touching = (np.arange(n) / FPS < end) & ((np.arange(n) + 1) / FPS > start)
            assert closed(track.params[touching]).any(), (text, start, end)
            assert closed(track.params[inside]).all(), (text, start, end)
            assert (track.viseme_ids[inside] == BILABIALS).all()
    assert n_intervals > 60


def test_a_bilabial_shorter_than_a_frame_still_closes_the_nearest_frame():
    phonemes = [Phoneme("_", 0.0, 0.1), Phoneme("'a", 0.1, 0.305), Phoneme("p", 0.305, 0.315),
                Phoneme("a", 0.315, 0.6), Phoneme("_", 0.6, 0.8)]
    track = mouth_track(phonemes, 20, FPS)
    # no frame centre (0.02, 0.06, ...) falls in [0.305, 0.315); the nearest one is 0.30, frame 7
    assert closed(track.params[7]) and track.viseme_ids[7] == BILABIALS
    assert not closed(track.params[5]) and not closed(track.params[9])  # the open vowels around it


def test_track_shapes_ranges_and_rest_after_speech():
    speech = synthesize(SENTENCES["en"][0])
    n = int(np.ceil(speech.duration * FPS)) + 25  # one extra second of nothing
    track = mouth_track(speech.phonemes, n, FPS)
    assert isinstance(track, MouthTrack)
    assert track.params.shape == (n, 4) and track.params.dtype == np.float32
    assert track.viseme_ids.shape == (n,) and track.viseme_ids.dtype == np.int64
    p = track.params
    assert (p[:, 0] >= 0).all() and (p[:, 0] <= 1).all() and (np.abs(p[:, 1]) <= 1).all()
    assert (p[:, 2] >= 0).all() and (p[:, 2] <= 1).all() and (p[:, 3] >= 0).all() and (p[:, 3] <= 1).all()
    assert np.abs(p[-10:, 0]).max() < 0.01  # the mouth rests after speaking
    np.testing.assert_array_equal(mouth_opening(p), p[:, 0])
    assert mouth_track(speech.phonemes, 0).params.shape == (0, 4)
    assert mouth_track([], 5).params.shape == (5, 4)


def test_lips_round_in_anticipation():
    """Coarticulation: in 'moo' the lips already round during the m, in 'me' they do not."""
    def round_during_m(vowel):
        ph = [Phoneme("_", 0.0, 0.2), Phoneme("m", 0.2, 0.3), Phoneme(vowel, 0.3, 0.6), Phoneme("_", 0.6, 1.0)]
        return mouth_track(ph, 25, FPS).params[6, 2]  # frame 6: centre 0.26 s, inside the m
    assert round_during_m("u:") > 0.3 > round_during_m("i:")


def test_jaw_follows_loudness():
    """Open vowels are loud and closures quiet, so jaw_open correlates with the audio's RMS at 25 fps."""
    corrs = []
    for text in SENTENCES["en"][:12]:
        speech = synthesize(text)
        n = int(np.ceil(speech.duration * FPS))
        hop = speech.sample_rate / FPS
        rms = np.array([np.sqrt(np.mean(speech.audio[int(round(t * hop)):int(round((t + 1) * hop))] ** 2))
                        for t in range(n)])
        corrs.append(np.corrcoef(mouth_track(speech.phonemes, n, FPS).jaw_open, rms)[0, 1])
    assert np.mean(corrs) > 0.35


def test_bad_arguments():
    with pytest.raises(ValueError):
        mouth_track([], -1)
    with pytest.raises(ValueError):
        mouth_track([], 3, fps=0)
    with pytest.raises(ValueError):
        viseme_name(99)
    assert viseme_name(BILABIALS) == "bilabial"
