"""Who is talking: everything about a synthetic person that stays fixed for a whole clip.

An :class:`Identity` is a frozen bag of numbers, colours and a few style names: the shape of the head (an
ellipsoid that tapers into a jaw), the skin tone, the hair style and colour, the eyes, brows, nose, mouth and ears,
optional facial hair, the shirt and the background. Per-frame motion lives in :class:`~vasa_lab.world.state.FaceState`;
:mod:`vasa_lab.world.face` turns the two into 3D geometry and :mod:`vasa_lab.world.render` into pixels.

``Identity()`` with no arguments is the *mean identity* (used for the canonical landmarks that a pose tracker
fits); :func:`sample_identity` draws a person from a seed, deterministically, so thousands of seeds give thousands
of visibly different people. Lengths are in head units (1 = half the width of an average head, about 7.5 cm), with
the same axes as the head frame of :mod:`vasa_lab.world.face` (x right, y down, z away from the camera).
Colours are RGB triples in [0, 1].

The dataclass is frozen and hashable, so the renderer can cache per-identity work (backgrounds, hair outlines)
keyed by the identity itself. ``to_dict``/``from_dict`` give a JSON-able round trip.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

RGB = tuple[float, float, float]

HAIR_STYLES = ("short", "buzz", "long", "bob", "bald", "bun", "curly", "fringe", "sidepart")
FACIAL_HAIR = ("none", "stubble", "beard", "moustache", "goatee")
BACKGROUNDS = ("flat", "vgradient", "radial", "stripes", "dots", "checker")

# Skin tones from light to dark (sRGB); a person's tone is a random point on this line plus a small jitter.
_SKIN_TONES = np.array([
    (0.97, 0.86, 0.77), (0.94, 0.79, 0.68), (0.88, 0.71, 0.59), (0.80, 0.62, 0.48),
    (0.68, 0.49, 0.36), (0.55, 0.38, 0.27), (0.42, 0.28, 0.20), (0.31, 0.21, 0.15),
])
_HAIR_COLOURS = np.array([
    (0.07, 0.06, 0.06), (0.16, 0.11, 0.08), (0.30, 0.19, 0.11), (0.45, 0.29, 0.16), (0.55, 0.25, 0.12),
    (0.80, 0.64, 0.40), (0.90, 0.80, 0.58), (0.58, 0.57, 0.56), (0.86, 0.85, 0.83), (0.68, 0.30, 0.12),
])
_HAIR_WEIGHTS = np.array([0.22, 0.2, 0.14, 0.1, 0.05, 0.08, 0.05, 0.07, 0.04, 0.05])
_DYED_HAIR = np.array([(0.20, 0.35, 0.75), (0.85, 0.35, 0.60), (0.25, 0.60, 0.45), (0.55, 0.30, 0.75)])
_EYE_COLOURS = np.array([
    (0.30, 0.18, 0.09), (0.18, 0.11, 0.06), (0.42, 0.32, 0.14), (0.30, 0.45, 0.24),
    (0.28, 0.48, 0.75), (0.47, 0.53, 0.60), (0.55, 0.38, 0.12),
])
_EYE_WEIGHTS = np.array([0.3, 0.2, 0.12, 0.1, 0.15, 0.08, 0.05])


@dataclass(frozen=True)
class Identity:
    """Everything fixed per person. Defaults are the mean identity."""

    seed: int = -1                       # the seed it was sampled from (-1: hand-made / mean)
    # head shape (head units): an ellipsoid, shorter above the eyes than below, tapering into the jaw
    face_width: float = 1.0              # x radius of the head ellipsoid
    face_height: float = 1.4             # y radius below the eyes (eye line to chin)
    cranium_height: float = 1.35         # y radius above the eyes (eye line to crown)
    face_depth: float = 1.2              # z radius
    jaw_taper: float = 0.08              # how much narrower the jaw is than the cheeks (0 square .. 0.2 pointed)
    jaw_depth: float = 0.3               # how much shallower (front to back) the jaw is than the skull
    chin_forward: float = 0.5            # how far the jaw is shifted towards the camera
    chin_square: float = 0.35            # 0: round (elliptic) lower face .. 0.7: broad, square chin
    # skin
    skin_rgb: RGB = (0.88, 0.71, 0.59)
    blush: float = 0.06                  # strength of the reddish cheeks
    # hair
    hair_style: str = "short"
    hair_rgb: RGB = (0.16, 0.11, 0.08)
    hair_volume: float = 0.12            # thickness of the hair shell over the skull
    hairline: float = -0.95              # y of the front hairline at the centre of the forehead
    hair_part: float = 0.3               # side of the parting / asymmetry of the fringe, -1..1
    # eyes and brows
    eye_rgb: RGB = (0.30, 0.18, 0.09)
    eye_size: float = 1.0
    eye_spacing: float = 0.44            # x of each eye centre
    eye_height: float = 0.0              # y of the eye line
    eye_tilt: float = 3.0                # degrees the outer corners sit above the inner ones
    brow_thickness: float = 1.0
    brow_rgb: RGB = (0.14, 0.10, 0.07)
    brow_arch: float = 1.0
    brow_height: float = 0.21            # distance of the brows above the eye line
    # nose, mouth, ears
    nose_width: float = 0.17             # half-width of the nostrils
    nose_length: float = 0.27            # how far the tip stands out of the face
    nose_base: float = 0.52              # y of the bottom of the nose below the eye line
    mouth_width: float = 0.31            # half-width of the mouth
    mouth_height: float = 0.80           # y of the lip line below the eye line
    lip_thickness: float = 1.0
    lip_rgb: RGB = (0.78, 0.42, 0.40)
    ear_size: float = 1.0
    ear_angle: float = 32.0              # degrees the ears stand out from the head
    facial_hair: str = "none"
    # clothes and background
    shirt_rgb: RGB = (0.25, 0.35, 0.55)
    background: str = "vgradient"
    bg_rgb1: RGB = (0.80, 0.84, 0.90)
    bg_rgb2: RGB = (0.55, 0.62, 0.72)
    bg_param: float = 0.5                # pattern parameter (stripe angle/period, dot size ...), 0..1

    def __post_init__(self):
        if self.hair_style not in HAIR_STYLES:
            raise ValueError(f"unknown hair_style {self.hair_style!r}; choose one of {', '.join(HAIR_STYLES)}")
        if self.facial_hair not in FACIAL_HAIR:
            raise ValueError(f"unknown facial_hair {self.facial_hair!r}; choose one of {', '.join(FACIAL_HAIR)}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}; choose one of {', '.join(BACKGROUNDS)}")

    def to_dict(self) -> dict:
        """A JSON-able dict (colours become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Identity":
        """Inverse of :meth:`to_dict`; missing keys take the mean identity's value, unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown Identity fields: {', '.join(unknown)}")
        return cls(**{k: (tuple(float(x) for x in v) if isinstance(v, (list, tuple)) else v) for k, v in d.items()})


def _rgb(c) -> RGB:
    c = np.clip(np.asarray(c, dtype=float), 0.0, 1.0)
    return (round(float(c[0]), 4), round(float(c[1]), 4), round(float(c[2]), 4))


def _pastel(rng: np.random.Generator, lightness: float) -> np.ndarray:
    """A random muted colour with the given rough lightness."""
    hue = rng.random() * 2 * np.pi
    sat = 0.08 + 0.25 * rng.random()
    base = lightness + sat * np.cos(hue + np.array([0.0, 2.094, 4.189]))
    return np.clip(base, 0.03, 0.97)


def sample_identity(seed: int) -> Identity:
    """A random person, fully determined by ``seed`` (any non-negative int)."""
    rng = np.random.default_rng(int(seed))
    u = rng.random  # uniform in [0, 1)

    def between(lo, hi):
        return round(float(lo + (hi - lo) * u()), 4)

    # skin: a point on the light-to-dark line plus a small jitter
    pos = u() * (len(_SKIN_TONES) - 1)
    i = int(pos)
    skin = _SKIN_TONES[i] + (pos - i) * (_SKIN_TONES[min(i + 1, len(_SKIN_TONES) - 1)] - _SKIN_TONES[i])
    skin = skin * (1 + 0.04 * (rng.random(3) - 0.5)) + np.array([0.02, 0.0, -0.01]) * (u() - 0.5)

    # hair
    style = HAIR_STYLES[int(rng.choice(len(HAIR_STYLES), p=[0.2, 0.08, 0.16, 0.1, 0.07, 0.08, 0.09, 0.11, 0.11]))]
    if u() < 0.05:
        hair = _DYED_HAIR[int(u() * len(_DYED_HAIR))]
    else:
        hair = _HAIR_COLOURS[int(rng.choice(len(_HAIR_COLOURS), p=_HAIR_WEIGHTS / _HAIR_WEIGHTS.sum()))]
    hair = hair * (1 + 0.12 * (rng.random(3) - 0.5))
    volume = {"buzz": between(0.03, 0.05), "curly": between(0.2, 0.3), "bald": 0.03}.get(style, between(0.08, 0.17))
    brow = np.where(hair.mean() > 0.5, hair * 0.55, hair * 0.9 + 0.02) if style != "bald" else \
        np.array([0.18, 0.14, 0.11]) * (0.5 + u())

    eye = _EYE_COLOURS[int(rng.choice(len(_EYE_COLOURS), p=_EYE_WEIGHTS / _EYE_WEIGHTS.sum()))]
    eye = eye * (1 + 0.15 * (rng.random(3) - 0.5))

    # lips: a redder, darker version of the skin; sometimes lipstick
    lip = skin * np.array([0.86, 0.55, 0.56]) + np.array([0.10, 0.02, 0.03]) + 0.05 * (rng.random(3) - 0.5)
    if u() < 0.1:
        lip = np.array([0.72, 0.12, 0.22]) + 0.1 * (rng.random(3) - 0.5)

    facial = FACIAL_HAIR[int(rng.choice(len(FACIAL_HAIR), p=[0.62, 0.14, 0.1, 0.07, 0.07]))]

    background = BACKGROUNDS[int(u() * len(BACKGROUNDS))]
    light = 0.45 + 0.45 * u()
    bg1 = _pastel(rng, light)
    bg2 = np.clip(bg1 * (0.6 + 0.3 * u()) + 0.15 * (rng.random(3) - 0.5), 0, 1)
    shirt = _pastel(rng, 0.2 + 0.6 * u())

    return Identity(
        seed=int(seed),
        face_width=between(0.92, 1.08),
        face_height=between(1.32, 1.48),
        cranium_height=between(1.28, 1.42),
        face_depth=between(1.1, 1.3),
        jaw_taper=between(-0.04, 0.2),
        jaw_depth=between(0.2, 0.4),
        chin_forward=between(0.4, 0.6),
        chin_square=between(0.1, 0.7),
        skin_rgb=_rgb(skin),
        blush=between(0.0, 0.14),
        hair_style=style,
        hair_rgb=_rgb(hair),
        hair_volume=volume,
        hairline=between(-1.08, -0.82),
        hair_part=between(-1.0, 1.0),
        eye_rgb=_rgb(eye),
        eye_size=between(0.85, 1.15),
        eye_spacing=between(0.4, 0.48),
        eye_height=between(-0.05, 0.05),
        eye_tilt=between(-3.0, 8.0),
        brow_thickness=between(0.6, 1.5),
        brow_rgb=_rgb(brow),
        brow_arch=between(0.3, 1.6),
        brow_height=between(0.18, 0.25),
        nose_width=between(0.14, 0.21),
        nose_length=between(0.2, 0.34),
        nose_base=between(0.47, 0.57),
        mouth_width=between(0.26, 0.36),
        mouth_height=between(0.74, 0.86),
        lip_thickness=between(0.6, 1.4),
        lip_rgb=_rgb(lip),
        ear_size=between(0.85, 1.15),
        ear_angle=between(20.0, 45.0),
        facial_hair=facial,
        shirt_rgb=_rgb(shirt),
        background=background,
        bg_rgb1=_rgb(bg1),
        bg_rgb2=_rgb(bg2),
        bg_param=between(0.0, 1.0),
    )
