"""Offline speech synthesis with espeak-ng, with the phoneme and word timings that drive the mouth.

The synthetic world needs real speech whose content we know exactly: for every phoneme, when it starts and
when it ends. espeak-ng is a small formant synthesiser that tells us just that. The ``espeakng-loader`` wheel
ships its shared library and its data (voices, dictionaries, ``cmn_dict`` for Mandarin), so nothing is
downloaded; we talk to the library through :mod:`ctypes`.

How one call works
------------------
1. ``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, espeakINITIALIZE_PHONEME_EVENTS)``:
   synchronous mode runs the synthesiser inside ``espeak_Synth`` on the calling thread, and the phoneme-events
   option makes it report every phoneme it speaks.
2. ``espeak_SetSynthCallback(callback)``: the library hands the callback blocks of int16 PCM at 22050 Hz together
   with a list of events, each an ``espeak_EVENT`` (layout below). We keep the PCM and two kinds of events:

   * ``espeakEVENT_PHONEME`` (7): the phoneme's mnemonic (e.g. ``p``, ``'oU``, ``tS;``) in the 8-byte ``string``
     member of the event's ``id`` union, and its start in ``audio_position`` (milliseconds from the start of the
     output);
   * ``espeakEVENT_WORD`` (1): a word starts at ``audio_position``; ``text_position`` (1-based, in characters) and
     ``length`` say where it is in the text.
3. ``espeak_SetVoiceByName("en-us+m3")``, ``espeak_SetParameter(rate/pitch)``, ``espeak_Synth(text)``.

From events to intervals: a phoneme ends where the next one starts; the last ends at the end of the audio.
Every pause mnemonic espeak emits (``_``, ``_:``, ``_|``, ...) becomes the silence symbol ``"_"``, and
language-switch markers such as ``(en)`` are dropped; the short silence before the first phoneme becomes a ``"_"``
too, and zero-length entries are dropped. We keep the whole audio (espeak's leading and trailing silences are only
a few milliseconds), so phoneme times and audio samples always line up.

Determinism (a gotcha worth knowing)
------------------------------------
espeak-ng keeps state in C ``static`` variables that ``espeak_Initialize`` does not reset: the pitch "flutter"
phase in the wave generator carries over from one utterance to the next, so synthesising the same sentence twice
in one process gives slightly different audio (and phoneme times a few ms apart). To make ``synthesize`` a pure
function of its arguments we load the shared library fresh for every call and unload it afterwards
(``dlopen``/``dlclose``), which resets all of its state; this costs about 5 ms. A second source hides in the
breathy voice variants (``breath`` in the f* voice files): their noise comes from espeak-ng's own random generator,
which ``espeak_Initialize`` seeds from the clock, and from the C library's ``rand()``, whose state lives in the
process, not in espeak-ng. So the same clip made twice differed by up to 0.04 in some samples, depending on the
second it was made in. Every call seeds both (``espeak_ng_SetRandSeed`` and ``srand``) with a fixed number. If
something else in the process holds the same library open (for example ``phonemizer``), it cannot be unloaded; we
then warn once that repeated calls may differ slightly. A Ctrl-C during synthesis stops it and reaches the caller,
wherever in the audio callback it lands (see ``_espeak_run``): a lost block of samples would otherwise leave a
shorter clip that looks whole.

Thread and process safety: espeak-ng is global C state, so every call holds a module lock. Nothing stays loaded
between calls, so forked or spawned worker processes (DataLoader workers) start clean.

The ``espeak_EVENT`` struct (``speak_lib.h``)::

    typedef struct {
        espeak_EVENT_TYPE type;        // int enum
        unsigned int unique_identifier;
        int text_position;             // characters from the start of the text, 1-based
        int length;                    // word length in characters (WORD events)
        int audio_position;            // ms from the start of the output
        int sample;                    // internal
        void *user_data;
        union { int number; const char *name; char string[8]; } id;   // string: phoneme mnemonic
    } espeak_EVENT;                    // 40 bytes on 64-bit platforms (the pointer is 8-aligned)
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np

# Our language codes -> espeak-ng voice names.
# (espeak finds a voice by its file name in espeak-ng-data/lang/: "fr-fr" is *not* found and silently leaves
# the previous voice in place, which is why espeak_SetVoiceByName's status is checked.)
LANGUAGES: dict[str, str] = {"en": "en-us", "fr": "fr", "zh": "cmn"}

# espeak-ng voice variants (files in espeak-ng-data/voices/!v) that give distinct, clean voices.
# f5 is left out: its strong breath noise sounds like a whisper.
VOICE_VARIANTS: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4")

ESPEAK_SAMPLE_RATE = 22050  # the rate espeak-ng synthesises at (checked against espeak_Initialize's return)
SILENCE = "_"  # the symbol every pause becomes

# Loudness normalisation: the speech's RMS (over samples above a small floor) is set to TARGET_RMS,
# then the whole clip is scaled down if needed so that no sample exceeds PEAK_LIMIT.
TARGET_RMS = 0.08
PEAK_LIMIT = 0.95

# --- espeak-ng constants (speak_lib.h) ---
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


# int callback(short *wav, int numsamples, espeak_EVENT *events); return 0 to continue.
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Phoneme:
    """One phoneme interval: espeak's mnemonic (``"_"`` for silence) and its [start, end) in seconds."""

    symbol: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Word:
    """One word: [start, end) in seconds (end = end of its last spoken phoneme), its 0-based index,
    and where espeak says it sits in the text (0-based character offset and length)."""

    start: float
    end: float
    index: int
    text_start: int
    text_length: int


@dataclass
class Speech:
    """Synthesised speech with its timings. ``audio``: (N,) float32 mono in [-1, 1] at ``sample_rate``."""

    audio: np.ndarray
    sample_rate: int
    phonemes: list[Phoneme]
    words: list[Word]
    text: str
    language: str
    voice: str = field(default="")

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


# ----------------------------------------------------------------------------------------------------------
# The ctypes layer. Everything below runs under _LOCK.

_LOCK = threading.Lock()
_LIBC = ctypes.CDLL(None)   # the process's C library (its rand() is one of espeak-ng's noise sources)
_NOISE_SEED = 12345         # see "Determinism" in the module docstring
_WARNED_STICKY = False


def _reset_lock_in_child() -> None:
    # A fork taken while another thread held the lock would leave the child's copy locked forever.
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def _paths() -> tuple[str, str]:
    import espeakng_loader

    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def _unload(lib: ctypes.CDLL, lib_path: str) -> None:
    """dlclose the library so its C statics start fresh next time; warn once if it stays loaded."""
    global _WARNED_STICKY
    import _ctypes

    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if close is None:
        return
    close(lib._handle)
    rtld_noload = getattr(os, "RTLD_NOLOAD", None)
    if rtld_noload is None or _WARNED_STICKY:
        return
    try:  # RTLD_NOLOAD only succeeds if the library is still mapped
        ctypes.CDLL(lib_path, mode=rtld_noload)
    except OSError:
        return
    _WARNED_STICKY = True
    warnings.warn(
        "libespeak-ng stays loaded (another module holds it), so its internal state cannot be reset: "
        "repeated synthesize() calls may differ slightly.",
        RuntimeWarning,
        stacklevel=3,
    )


def _espeak_run(text: str, voice: str, rate: int, pitch: int) -> tuple[np.ndarray, list[tuple]]:
    """Synthesise ``text`` with a freshly loaded espeak-ng.

    Returns the int16 PCM at 22050 Hz and the kept events as tuples
    ``(type, audio_ms, text_position, length, number, string)``.
    """
    lib_path, data_path = _paths()
    pcm_blocks: list[np.ndarray] = []
    events: list[tuple] = []
    raised: list[BaseException] = []

    def on_synth(wav, n_samples, event_ptr):
        # ctypes cannot pass an exception out of a callback: it prints it and goes on, so a Ctrl-C landing here
        # lost this block of samples and the clip was saved, shorter and shifted, as if whole. Keep it, stop the
        # synthesis (a callback's 1 means stop), and raise it once espeak_Synth has returned.
        try:
            if n_samples > 0:
                pcm_blocks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
            i = 0
            while event_ptr[i].type != _EVENT_LIST_TERMINATED:
                ev = event_ptr[i]
                if ev.type == _EVENT_PHONEME:
                    events.append((ev.type, ev.audio_position, ev.text_position, ev.length, 0, ev.id.string))
                elif ev.type == _EVENT_WORD:
                    events.append((ev.type, ev.audio_position, ev.text_position, ev.length, ev.id.number, b""))
                i += 1
        except BaseException as err:
            raised.append(err)
            return 1
        return 0

    # Python checks for a pending Ctrl-C on entering a function, so the KeyboardInterrupt can also land before
    # on_synth's try: ctypes then reports it as "Exception ignored" (sys.unraisablehook), the block is lost and
    # the synthesis goes on, shorter and shifted (about 1 call in 10 under a stream of interrupts, measured).
    # Catch those reports for our callback too, and raise them like the ones caught inside.
    previous_hook = sys.unraisablehook

    def on_unraisable(unraisable):
        if unraisable.object is on_synth and unraisable.exc_value is not None:
            raised.append(unraisable.exc_value)
        else:
            previous_hook(unraisable)

    callback = _SynthCallback(on_synth)  # must stay referenced while the library can call it
    lib = ctypes.CDLL(lib_path)
    try:
        sys.unraisablehook = on_unraisable
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        rate_hz = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if rate_hz != ESPEAK_SAMPLE_RATE:
            raise RuntimeError(f"espeak_Initialize returned {rate_hz}, expected {ESPEAK_SAMPLE_RATE} Hz")
        lib.espeak_SetSynthCallback(callback)
        # Breathy voices (the f* variants) draw noise from two generators: espeak-ng's own, which
        # espeak_Initialize seeds from the clock (time(NULL)), and the C library's rand(). Seed both, so the
        # same arguments give the same samples in any process at any time.
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(_NOISE_SEED)
        _LIBC.srand(_NOISE_SEED)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise RuntimeError(f"espeak-ng could not load voice {voice!r}")
        lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        data = text.encode("utf-8")
        status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if raised:
            raise raised[0]
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status}")
        lib.espeak_Terminate()
    finally:
        sys.unraisablehook = previous_hook
        _unload(lib, lib_path)
    pcm = np.concatenate(pcm_blocks) if pcm_blocks else np.zeros(0, dtype=np.int16)
    return pcm, events


# ----------------------------------------------------------------------------------------------------------
# From raw events to intervals.


def _phonemes_from_events(events: list[tuple], duration: float) -> list[Phoneme]:
    """Phoneme intervals: each ends where the next starts, the last at ``duration``; pauses -> ``"_"``."""
    starts: list[float] = []
    symbols: list[str] = []
    for kind, ms, _pos, _len, _num, raw in events:
        if kind != _EVENT_PHONEME:
            continue
        symbol = raw.decode("utf-8", errors="replace")
        if symbol.startswith("("):
            continue  # a language switch such as "(en)": espeak reads a word with another language's rules
        symbols.append(SILENCE if symbol.startswith("_") or not symbol else symbol)
        starts.append(min(ms / 1000.0, duration))
    if not starts:
        return []
    starts_arr = np.maximum.accumulate(np.asarray(starts))  # guard: never let time run backwards
    if starts_arr[0] > 0:
        starts_arr = np.concatenate([[0.0], starts_arr])
        symbols = [SILENCE] + symbols
    ends_arr = np.append(starts_arr[1:], duration)
    out: list[Phoneme] = []
    for symbol, start, end in zip(symbols, starts_arr, ends_arr):
        if end <= start:
            continue
        if out and symbol == SILENCE and out[-1].symbol == SILENCE:
            out[-1] = Phoneme(SILENCE, out[-1].start, float(end))  # merge runs of pauses
        else:
            out.append(Phoneme(symbol, float(start), float(end)))
    return out


def _words_from_events(events: list[tuple], phonemes: list[Phoneme], duration: float) -> list[Word]:
    """Word intervals: a word starts at its WORD event and ends with its last spoken phoneme
    (the last non-silent phoneme that starts before the next word does), cut at the next word's start
    (espeak sometimes reports the next word a few ms before the last consonant ends)."""
    raw = [(ms / 1000.0, pos, length) for kind, ms, pos, length, _num, _s in events if kind == _EVENT_WORD]
    words: list[Word] = []
    for i, (start, pos, length) in enumerate(raw):
        start = min(start, duration)
        limit = raw[i + 1][0] if i + 1 < len(raw) else duration
        spoken = [p for p in phonemes if p.symbol != SILENCE and start <= p.start < max(limit, start + 1e-9)]
        end = min(spoken[-1].end, limit) if spoken else start
        words.append(Word(start=start, end=max(end, start), index=i, text_start=max(pos - 1, 0), text_length=length))
    return words


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x
    import soxr

    return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32)


def _normalise(x: np.ndarray) -> np.ndarray:
    """Scale so the RMS over the audible samples is TARGET_RMS, then cap the peak at PEAK_LIMIT."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return x
    audible = x[np.abs(x) > 0.01 * peak]
    gain = TARGET_RMS / float(np.sqrt(np.mean(audible.astype(np.float64) ** 2)))
    gain = min(gain, PEAK_LIMIT / peak)
    return (x * np.float32(gain)).astype(np.float32)


def voice_name(language: str = "en", variant: str | None = None) -> str:
    """The espeak-ng voice string for one of our languages, e.g. ``voice_name("en", "m3") == "en-us+m3"``."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; valid languages are {sorted(LANGUAGES)}")
    if variant is None:
        return LANGUAGES[language]
    _, data_path = _paths()
    if not os.path.isfile(os.path.join(data_path, "voices", "!v", variant)):
        raise ValueError(f"unknown voice variant {variant!r}; try one of {list(VOICE_VARIANTS)}")
    return f"{LANGUAGES[language]}+{variant}"


def synthesize(
    text: str,
    language: str = "en",
    variant: str | None = None,
    rate: int = 175,
    pitch: int = 50,
    sample_rate: int = 16000,
) -> Speech:
    """Speak ``text`` offline and return the audio with phoneme and word timings.

    ``language``: one of :data:`LANGUAGES`; ``variant``: an espeak voice variant (see :data:`VOICE_VARIANTS`) or
    None for the language's default voice; ``rate`` in words per minute (80-450); ``pitch`` 0-100 (50 is the
    voice's normal pitch); ``sample_rate`` of the returned audio (resampled from espeak's 22050 Hz with soxr).

    The audio is loudness-normalised (RMS ``TARGET_RMS``, peak at most ``PEAK_LIMIT``) and keeps espeak's short
    leading/trailing silences, so ``phonemes[-1].end == duration``. Same arguments -> bit-identical output.
    """
    voice = voice_name(language, variant)
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is empty: give synthesize() at least one word to speak")
    if not 80 <= rate <= 450:
        raise ValueError(f"rate must be 80..450 words per minute, got {rate}")
    if not 0 <= pitch <= 100:
        raise ValueError(f"pitch must be 0..100, got {pitch}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")

    with _LOCK:
        pcm, events = _espeak_run(text, voice, rate, pitch)

    duration = len(pcm) / ESPEAK_SAMPLE_RATE
    phonemes = _phonemes_from_events(events, duration)
    if not any(p.symbol != SILENCE for p in phonemes):
        raise ValueError(f"espeak-ng produced no speech for {text!r}")
    words = _words_from_events(events, phonemes, duration)

    audio = _resample(pcm.astype(np.float32) / 32768.0, ESPEAK_SAMPLE_RATE, sample_rate)
    audio = _normalise(audio)
    # Resampling rounds the length; stretch the final interval so it ends exactly with the audio.
    new_duration = len(audio) / sample_rate
    if phonemes:
        last = phonemes[-1]
        phonemes[-1] = Phoneme(last.symbol, min(last.start, new_duration), new_duration)
    return Speech(audio=audio, sample_rate=sample_rate, phonemes=phonemes, words=words, text=text,
                  language=language, voice=voice)


def long_speech(seconds: float, seed: int = 0, sample_rate: int = 16000) -> np.ndarray:
    """``seconds`` of speech (N,) float32: the world's sentences in English, French and Mandarin, four voices and
    several speaking rates, 0.3 s apart, cut to length. For long-audio and streaming measurements (chapter 08)."""
    from .sentences import SENTENCES

    rng = np.random.default_rng(seed)
    pieces, total, gap = [], 0, np.zeros(int(0.3 * sample_rate), np.float32)
    while total < seconds * sample_rate:
        language = str(rng.choice(["en", "en", "fr", "zh"]))
        text = str(rng.choice(SENTENCES[language]))
        audio = synthesize(text, language=language, variant=str(rng.choice(["m1", "m3", "f2", "f3"])),
                           rate=int(rng.integers(150, 190)), sample_rate=sample_rate).audio
        pieces += [audio, gap]
        total += audio.size + gap.size
    return np.concatenate(pieces)[: int(seconds * sample_rate)].astype(np.float32)
