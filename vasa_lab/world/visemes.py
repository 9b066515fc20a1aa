"""From phonemes to mouth shapes: visemes, coarticulation, and the closed-lips guarantee for p/b/m.

A *viseme* is what a phoneme looks like on the face. Many phonemes share one (p, b and m all close the lips),
so a table of 16 visemes covers English, French and Mandarin. Each viseme has a target for the four mouth
parameters of :class:`~vasa_lab.world.state.FaceState`:

* ``jaw_open`` in [0, 1] (closed .. wide open), ``lip_width`` in [-1, 1] (pursed .. spread),
* ``lip_round`` in [0, 1] (protrusion), ``lip_press`` in [0, 1] (lips pressed together).

Speech is not a sequence of poses held and switched: the mouth is always on its way from one target to the next,
and it starts moving towards a phoneme before the sound begins (anticipation), so the shape at any instant is a
blend of the neighbouring targets. That blending is *coarticulation*. We use the dominance model of Cohen and
Massaro (1993): every phoneme ``i`` pulls each parameter towards its target ``T_i`` with a strength (dominance)
that is largest during the phoneme and fades with the distance ``tau`` in time to it (``alpha`` and ``sigma`` are
set per parameter)::

    D_i(t) = alpha_i * exp(-tau_i(t) / sigma),     tau_i(t) = s_i - t  (before phoneme i: sigma = SIGMA_ANTICIPATION)
                                                           = 0         (during it, s_i <= t < e_i)
                                                           = t - e_i   (after it: sigma = SIGMA_CARRYOVER)

    x(t) = sum_i D_i(t) * T_i  /  sum_i D_i(t)

``alpha_i`` depends on the viseme *and the parameter*: a /p/ dominates jaw and lip pressure (the lips must meet)
but hardly cares about rounding, so in "moon" the lips already round during the m (anticipatory rounding).
The lips' shape also spreads further in time than the jaw (a larger ``sigma``). The result is a convex
combination of targets, so every parameter stays inside its range.

The closed-lips guarantee. Blending can leave a very short /p/ (espeak's can last 15 ms, under half a 25 fps frame)
only half closed, yet a closed mouth on p/b/m is the clearest lip-sync cue there is, and later chapters test for
it. So after blending, every frame whose centre lies in a bilabial interval is set closed
(``jaw_open <= CLOSED_JAW``, ``lip_press >= CLOSED_PRESS``); a bilabial that no frame centre falls in closes the
frame whose centre is nearest to its midpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

MOUTH_PARAMS: tuple[str, ...] = ("jaw_open", "lip_width", "lip_round", "lip_press")


@dataclass(frozen=True)
class Viseme:
    """One mouth shape: ``params`` are targets for MOUTH_PARAMS, ``dominance`` the per-parameter alpha."""

    id: int
    name: str
    params: tuple[float, float, float, float]
    dominance: tuple[float, float, float, float]
    examples: str


#         id  name            jaw   width  round  press      dominance (jaw, width, round, press)   examples
VISEMES: tuple[Viseme, ...] = (
    Viseme(0, "rest",         (0.00, 0.00, 0.00, 0.15), (1.0, 0.3, 0.3, 1.0), "silence, pauses"),
    Viseme(1, "bilabial",     (0.00, 0.00, 0.00, 1.00), (1.0, 0.2, 0.1, 1.0), "p b m (Mandarin ph)"),
    Viseme(2, "labiodental",  (0.05, 0.10, 0.00, 0.45), (0.9, 0.5, 0.2, 0.9), "f v"),
    Viseme(3, "dental",       (0.12, 0.15, 0.00, 0.00), (0.8, 0.3, 0.1, 0.6), "th (T D)"),
    Viseme(4, "alveolar",     (0.10, 0.10, 0.00, 0.00), (0.8, 0.2, 0.1, 0.5), "t d n l"),
    Viseme(5, "sibilant",     (0.05, 0.30, 0.00, 0.00), (0.8, 0.5, 0.2, 0.6), "s z ts"),
    Viseme(6, "postalveolar", (0.08, -0.35, 0.55, 0.00), (0.8, 0.7, 0.7, 0.6), "sh zh ch j, Mandarin sh zh ch"),
    Viseme(7, "velar",        (0.12, 0.05, 0.00, 0.00), (0.8, 0.1, 0.1, 0.4), "k g ng h, French r"),
    Viseme(8, "palatal",      (0.12, 0.50, 0.00, 0.00), (0.8, 0.6, 0.3, 0.5), "y-glide, Mandarin j q x"),
    Viseme(9, "open",         (0.85, 0.20, 0.00, 0.00), (1.0, 0.5, 0.5, 0.8), "a (father, cat), ai, au"),
    Viseme(10, "mid",         (0.60, 0.25, 0.00, 0.00), (1.0, 0.5, 0.5, 0.7), "e, schwa, bed, cut"),
    Viseme(11, "near_front",  (0.40, 0.45, 0.00, 0.00), (1.0, 0.6, 0.5, 0.7), "lax i (sit, bit)"),
    Viseme(12, "close_front", (0.30, 0.70, 0.00, 0.00), (1.0, 0.8, 0.6, 0.7), "i (see, ski)"),
    Viseme(13, "round_mid",   (0.60, -0.45, 0.60, 0.00), (1.0, 0.8, 0.8, 0.7), "o (go, law), French eu"),
    Viseme(14, "round_close", (0.30, -0.75, 0.90, 0.00), (1.0, 0.9, 0.9, 0.7), "u (food), French u, Mandarin u"),
    Viseme(15, "approximant", (0.30, -0.45, 0.70, 0.00), (0.8, 0.7, 0.7, 0.5), "w r, American er"),
)

_BY_NAME = {v.name: v.id for v in VISEMES}
REST = _BY_NAME["rest"]
BILABIALS = _BY_NAME["bilabial"]

# Coarticulation time constants in seconds, per parameter (jaw, width, round, press). The mouth anticipates a
# phoneme for longer than it lingers after it, and the lips' shape (width, rounding) spreads further in time than
# the fast jaw and lip-closure movements (anticipatory rounding).
SIGMA_ANTICIPATION = np.array([0.040, 0.070, 0.080, 0.030])
SIGMA_CARRYOVER = np.array([0.030, 0.050, 0.050, 0.020])

# What "closed lips" means, for the guarantee and for tests.
CLOSED_JAW = 0.05  # jaw_open at or below this ...
CLOSED_PRESS = 0.8  # ... and lip_press at or above this


# ----------------------------------------------------------------------------------------------------------
# Phoneme symbols -> visemes. Symbols are espeak-ng mnemonics exactly as PHONEME events report them
# (see vasa_lab.world.speech), after stripping stress marks. Collected by synthesising every sentence in
# vasa_lab.world.sentences with en-us, fr and cmn.

_COMMON: dict[str, str] = {}


def _add(name: str, symbols: str) -> None:
    for s in symbols.split():
        _COMMON[s] = name


_add("rest", "_")
_add("bilabial", "p b m ph")
_add("labiodental", "f v")
_add("dental", "T D")
_add("alveolar", "t d n l t# t2 d# @L n^ th L")
_add("sibilant", "s z z2 ts tsh dz")
_add("postalveolar", "S Z tS dZ s. ts. ts.h z.")
_add("velar", "k g N x X kh h")
_add("palatal", "j ; S; tS; tS;h")
_add("open", "a a# aa A A: A@ a- aI aI@ aI3 aU A~ ai Au iA ua uai")
_add("mid", "E e e- @ @2 @- V eI e@ E~ ei iE uei @r o- i@")
_add("near_front", "I I# I2")
_add("close_front", "i i: i. i[ i@3")
_add("round_mid", "o O O: O2 O@ o@ 0 oU OI O~ W W~ Y ou ong iou uo")
_add("round_close", "u u: U U@ y y- y& y@ yE u@")
_add("approximant", "w r r- 3 3: R")

# Where a language uses a symbol differently from English.
_BY_LANGUAGE: dict[str, dict[str, str]] = {
    "en": {},
    "fr": {"r": "velar"},  # French r is uvular: the lips stay neutral
    "zh": {},  # espeak writes Mandarin r (retroflex) as z., already postalveolar
}

# Fallback for symbols we have never seen: decide by the first letter.
_FIRST_LETTER: dict[str, str] = {}
for _name, _letters in [
    ("bilabial", "pbm"), ("labiodental", "fv"), ("dental", "TD"), ("alveolar", "tdnlL"), ("sibilant", "sz"),
    ("postalveolar", "SZ"), ("velar", "kgNxXhqcGQ?"), ("palatal", "j;"), ("open", "aA&"), ("mid", "eE@V"),
    ("close_front", "iI"), ("round_mid", "oO0WY"), ("round_close", "uUy"), ("approximant", "wr3R"),
]:
    for _c in _letters:
        _FIRST_LETTER[_c] = _name

_STRESS = "',%="  # leading stress marks
_SUFFIXES = "0123456789:#-"  # length marks, tone digits, espeak's variant marks (t# t2 @2 r-)


def viseme_name(viseme_id: int) -> str:
    """The name of a viseme id, e.g. ``viseme_name(BILABIALS) == "bilabial"``."""
    if not 0 <= int(viseme_id) < len(VISEMES):
        raise ValueError(f"viseme id must be in 0..{len(VISEMES) - 1}, got {viseme_id}")
    return VISEMES[int(viseme_id)].name


def phoneme_to_viseme(symbol: str, language: str = "en") -> int:
    """The viseme id of an espeak-ng phoneme mnemonic. Never raises for an unknown symbol.

    Lookup order: the symbol without stress marks (language table, then shared table); then also without length
    marks, tone digits and variant marks (``'i:`` -> ``i``, ``t#`` -> ``t``, ``@2`` -> ``@``); then a guess from
    its first letter; anything else is ``rest``.
    """
    overrides = _BY_LANGUAGE.get(language, {})
    s0 = symbol.strip().lstrip(_STRESS)
    s1 = s0.rstrip(_SUFFIXES) or s0
    for s in (s0, s1):
        name = overrides.get(s) or _COMMON.get(s)
        if name is not None:
            return _BY_NAME[name]
    if s1 and s1[0] in _FIRST_LETTER:
        return _BY_NAME[_FIRST_LETTER[s1[0]]]
    return REST


def is_known_phoneme(symbol: str, language: str = "en") -> bool:
    """True if ``symbol`` is in the tables (False means :func:`phoneme_to_viseme` guessed from its first letter)."""
    overrides = _BY_LANGUAGE.get(language, {})
    s0 = symbol.strip().lstrip(_STRESS)
    s1 = s0.rstrip(_SUFFIXES) or s0
    return any(s in overrides or s in _COMMON for s in (s0, s1))


def bilabial_intervals(phonemes: Iterable, language: str = "en") -> list[tuple[float, float]]:
    """[start, end) in seconds of every p/b/m-like phoneme (anything with ``.symbol``, ``.start``, ``.end``)."""
    return [(p.start, p.end) for p in phonemes if phoneme_to_viseme(p.symbol, language) == BILABIALS]


# ----------------------------------------------------------------------------------------------------------
# The mouth track.

_TARGETS = np.array([v.params for v in VISEMES], dtype=np.float64)  # (V, 4)
_DOMINANCE = np.array([v.dominance for v in VISEMES], dtype=np.float64)  # (V, 4)


@dataclass
class MouthTrack:
    """Per-frame mouth parameters ``params: (T, 4)`` in MOUTH_PARAMS order and the viseme ``viseme_ids: (T,)`` of the
    phoneme at each frame's centre (frames forced closed by the guarantee count as bilabial)."""

    params: np.ndarray
    viseme_ids: np.ndarray
    fps: float = 25.0

    def __len__(self) -> int:
        return len(self.viseme_ids)

    @property
    def jaw_open(self) -> np.ndarray:
        return self.params[:, 0]


def mouth_opening(params: np.ndarray) -> np.ndarray:
    """``jaw_open`` from mouth parameters ``(..., 4)`` (or a MouthTrack): the curve to plot under a spectrogram."""
    if isinstance(params, MouthTrack):
        params = params.params
    return np.asarray(params)[..., 0]


def _frame_viseme_ids(starts: np.ndarray, ids: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Viseme of the phoneme active at each frame centre (rest before the first and after the last phoneme)."""
    out = np.full(len(centres), REST, dtype=np.int64)
    if len(starts) == 0:
        return out
    k = np.searchsorted(starts, centres, side="right") - 1
    inside = k >= 0
    out[inside] = ids[k[inside]]
    return out


def dominance_blend(starts: np.ndarray, ends: np.ndarray, ids: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The coarticulated mouth at ``times``: ``x(t) = sum_i D_i(t) T_i / sum_i D_i(t)`` (module docstring).

    ``starts, ends, ids: (N,)`` phoneme intervals and viseme ids; ``times: (T,)`` in seconds. Returns ``(T, 4)``.
    """
    if len(ids) == 0:
        return np.tile(_TARGETS[REST], (len(times), 1))
    t = times[None, :]  # (1, T)
    before = np.clip(starts[:, None] - t, 0.0, None)  # (N, T) how long until phoneme i starts
    after = np.clip(t - ends[:, None], 0.0, None)  # (N, T) how long since it ended
    # (N, T, 4): 1 during the phoneme, fading before and after it, with a time constant per parameter
    decay = np.exp(-before[..., None] / SIGMA_ANTICIPATION - after[..., None] / SIGMA_CARRYOVER)
    weights = _DOMINANCE[ids][:, None, :] * decay  # (N, T, 4)  D_i(t) per parameter
    # A small rest term keeps the sum positive far from every phoneme (and lets the mouth relax there).
    floor = 1e-6 * _DOMINANCE[REST]
    num = (weights * _TARGETS[ids][:, None, :]).sum(0) + floor * _TARGETS[REST]  # (T, 4)
    den = weights.sum(0) + floor
    return num / den


def mouth_track(phonemes: Sequence, n_frames: int, fps: float = 25.0, language: str = "en") -> MouthTrack:
    """Mouth parameters for ``n_frames`` video frames at ``fps`` from phoneme intervals (seconds).

    Frame ``k`` is sampled at its centre ``(k + 0.5) / fps``: blend the visemes with the dominance model, then
    close the lips on every p/b/m (see the module docstring). Frames past the last phoneme relax to rest.
    """
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    starts = np.array([p.start for p in phonemes], dtype=np.float64)
    ends = np.array([p.end for p in phonemes], dtype=np.float64)
    ids = np.array([phoneme_to_viseme(p.symbol, language) for p in phonemes], dtype=np.int64)
    centres = (np.arange(n_frames) + 0.5) / fps

    params = dominance_blend(starts, ends, ids, centres)  # (T, 4)
    viseme_ids = _frame_viseme_ids(starts, ids, centres)

    # The closed-lips guarantee.
    if n_frames > 0:
        for start, end in zip(starts[ids == BILABIALS], ends[ids == BILABIALS]):
            frames = np.flatnonzero((centres >= start) & (centres < end))
            if len(frames) == 0:
                nearest = int(np.argmin(np.abs(centres - 0.5 * (start + end))))
                if abs(centres[nearest] - 0.5 * (start + end)) > 1.0 / fps:
                    continue  # the bilabial lies outside the frames asked for
                frames = np.array([nearest])
            params[frames, 0] = np.minimum(params[frames, 0], CLOSED_JAW)
            params[frames, 3] = np.maximum(params[frames, 3], CLOSED_PRESS)
            viseme_ids[frames] = BILABIALS
    return MouthTrack(params=params.astype(np.float32), viseme_ids=viseme_ids, fps=float(fps))
