"""The 3D face of the synthetic world: head shape, facial features, the 68 landmarks and the camera.

Frames and units
----------------
Everything here lives in the **head frame**: x to the image right, y down, z away from the camera, origin at the
centre of the head ellipsoid (on the eye line, halfway between the ears), 1 unit = half the width of the mean head.
A point ``p`` of the head frame goes to the camera frame by

    p_cam = R @ p + C,        R = Rz(roll) @ Rx(pitch) @ Ry(yaw)        (:func:`vasa_lab.geometry.rotation_matrix`)

and to pixels by a pinhole camera (:class:`Camera`, :func:`project`):

    u = f * size * X / Z + (size - 1) / 2,      v = f * size * Y / Z + (size - 1) / 2.

The head centre sits at ``C = (tx, ty - face_centre_y, base_distance / scale)``: at tx = ty = 0 the head-frame
point (0, face_centre_y, 0), near the middle of the face, lies on the optical axis (the face is centred), and
``scale`` brings the head closer, so the face grows by about ``scale``.

The head surface
----------------
The skull is an ellipsoid with radii (a, b, c) where b is ``cranium_height`` above the eye line and
``face_height`` below it (two half-ellipsoids with the same a and c meet smoothly at the eye line). Below the eye
line the height term H(Q) = (1 - k) Q^2 + k Q^4 (k = ``chin_square``) broadens the lower face, and below
``Q0 = 0.15`` the horizontal rings narrow (jaw taper t), get shallower (u) and move towards the camera (z0), which
turns the egg into a head with a jaw and a chin. In implicit form, with q the "undeformed height":

    F(p) = (x / (a t(q)))^2 + H(q / b) + ((z - z0(q)) / (c u(q)))^2 - 1 = 0,      q = y - D(y)

where D(y) = J * S((y - y_start) / w) opens the jaw: everything below the mouth slides down by J = 0.34 * jaw_open
(S is the smoothstep, so the skin stretches smoothly between mouth and chin). The renderer ray-casts this F; the
features below are points on (or just in front of) the same surface, so both agree.

The 68 landmarks (iBUG 300-W order, "right" = the person's right = image left)
------------------------------------------------------------------------------
| index | part            | where on our face                                                               |
|-------|-----------------|---------------------------------------------------------------------------------|
| 0-16  | jaw line        | 0 image-left at eye level, 8 the chin, 16 image-right; on the visible outline    |
| 17-21 | right brow      | upper edge of the image-left brow, outer end (17) to inner end (21)              |
| 22-26 | left brow       | upper edge of the image-right brow, inner end (22) to outer end (26)             |
| 27-30 | nose bridge     | root between the eyes (27) down the ridge to the tip (30)                        |
| 31-35 | nose base       | image-left nostril wing (31), subnasale (33), image-right wing (35)              |
| 36-41 | right eye       | outer corner 36, upper lid 37-38, inner corner 39, lower lid 40-41 (clockwise)   |
| 42-47 | left eye        | inner corner 42, upper lid 43-44, outer corner 45, lower lid 46-47 (clockwise)   |
| 48-59 | outer lips      | corner 48, upper lip 49-53 (51 top centre), corner 54, lower lip 55-59 (57 bottom)|
| 60-67 | inner lips      | inner corner 60, upper inner 61-63, inner corner 64, lower inner 65-67           |

What moves them: ``jaw_open`` drops the lower lip, the chin and the jaw line and parts 62/66; ``lip_width``,
``lip_round``, ``lip_press`` and ``smile`` reshape 48-67 (smile lifts the corners 48/54); ``blink`` brings the upper
lids 37/38/43/44 down onto the lower lids; ``eye_wide`` opens (or squints) the lids; ``brow_raise`` lifts 17-26 and
``brow_furrow`` pulls the inner ends (21, 22) down and together.

The jaw line follows the usual 3D-face-model convention ("landmark marching"): a jaw point stays at its fixed spot
on the surface while that spot faces the camera; once it turns away, it slides out to the silhouette of the head
(along the image ray from the middle of the face through the hidden spot), so points 0-16 lie on the outline you see.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..geometry import CAMERA, N_LANDMARKS, Camera, project, rotation_matrix
from .person import Identity
from .state import FaceState

JAW_DROP = 0.34          # head units the chin moves down at jaw_open = 1
Q0 = 0.15                # height below which the jaw taper starts
N_CURVE = 25             # samples per feature curve (landmarks sit on samples 0, 4, 6, 8, 12, ...)


# (rotation, camera and landmark groups live in vasa_lab.geometry: the tracker and the latent model share them)


# ---------------------------------------------------------------------------------------------------------------
# the head surface
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadShape:
    """Numbers of the implicit head surface F (see the module docstring)."""

    a: float
    b_up: float
    b_low: float
    c: float
    taper: float
    jaw_depth: float
    chin_forward: float
    square: float         # lower half: (1 - k) Q^2 + k Q^4 instead of Q^2 (a squarer, broader chin)
    y_start: float        # where the jaw opening starts (just above the lip line)
    w: float = 0.6        # height of the stretch zone between mouth and chin

    @classmethod
    def of(cls, idn: Identity) -> "HeadShape":
        return cls(a=idn.face_width, b_up=idn.cranium_height, b_low=idn.face_height, c=idn.face_depth,
                   taper=idn.jaw_taper, jaw_depth=idn.jaw_depth, chin_forward=idn.chin_forward,
                   square=idn.chin_square, y_start=idn.eye_height + idn.mouth_height - 0.12)


def smoothstep(t):
    """S(t) = 3t^2 - 2t^3 on [0, 1] (clamped) and its derivative 6t(1 - t)."""
    t = np.minimum(np.maximum(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t)


def profile(shape: HeadShape, q):
    """The jaw profile at undeformed height q: (b, t, dt, u, du, z0, dz0, k).

    s = S((q - Q0) / (b_low - Q0)),  t = 1 - taper s,  u = 1 - jaw_depth s,  z0 = -chin_forward s,
    k = the squareness of the half (0 above the eye line).
    """
    span = shape.b_low - Q0
    s, ds = smoothstep((q - Q0) / span)
    ds = ds / span
    q = np.asarray(q)
    below = (q >= 0).astype(q.dtype)
    b = shape.b_up + (shape.b_low - shape.b_up) * below
    return (b, 1.0 - shape.taper * s, -shape.taper * ds, 1.0 - shape.jaw_depth * s, -shape.jaw_depth * ds,
            -shape.chin_forward * s, -shape.chin_forward * ds, shape.square * below)


def height_term(qq, k):
    """The height part of F: (1 - k) Q^2 + k Q^4 and its derivative with respect to Q."""
    q2 = qq * qq
    return q2 * (1.0 - k + k * q2), qq * (2.0 * (1.0 - k) + 4.0 * k * q2)


def jaw_offset(shape: HeadShape, y, jaw: float):
    """D(y) = J S((y - y_start) / w) and dD/dy, with J = JAW_DROP * jaw_open."""
    s, ds = smoothstep((y - shape.y_start) / shape.w)
    return JAW_DROP * jaw * s, JAW_DROP * jaw * ds / shape.w


def implicit(shape: HeadShape, x, y, z, jaw: float):
    """F(p) and its gradient (dF/dx, dF/dy, dF/dz) at head-frame points (any broadcastable arrays).

    With X = x/(a t), Q = q/b, Zs = (z - z0)/(c u), H(Q) = (1 - k) Q^2 + k Q^4:
        F     = X^2 + H(Q) + Zs^2 - 1
        dF/dx = 2 X / (a t)
        dF/dz = 2 Zs / (c u)
        dF/dq = -2 X^2 t'/t + H'(Q) / b - 2 Zs z0' / (c u) - 2 Zs^2 u'/u,     dF/dy = dF/dq (1 - D'(y))
    """
    d, dd = jaw_offset(shape, y, jaw)
    q = y - d
    b, t, dt, u, du, z0, dz0, k = profile(shape, q)
    at, cu = shape.a * t, shape.c * u
    xx, qq, zz = x / at, q / b, (z - z0) / cu
    h, dh = height_term(qq, k)
    f = xx * xx + h + zz * zz - 1.0
    dfdq = -2 * xx * xx * dt / t + dh / b - 2 * zz * dz0 / cu - 2 * zz * zz * du / u
    return f, 2 * xx / at, dfdq * (1.0 - dd), 2 * zz / cu


def surface_normals(shape: HeadShape, p: np.ndarray, jaw: float) -> np.ndarray:
    """Unit outward normals grad F / |grad F| at points p (N, 3)."""
    _, gx, gy, gz = implicit(shape, p[:, 0], p[:, 1], p[:, 2], jaw)
    n = np.stack([gx, gy, gz], axis=1)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)


def jaw_forward(shape: HeadShape, q, jaw: float):
    """Where the material at undeformed height q ends up: solve y - D(y) = q by Newton's method."""
    q = np.asarray(q, dtype=float)
    if jaw <= 0.0:
        return q
    y = q + jaw_offset(shape, q, jaw)[0]
    for _ in range(5):                                   # converges to ~1e-10 head units
        d, dd = jaw_offset(shape, y, jaw)
        y = y - (y - d - q) / (1.0 - dd)
    return y


def surface_point(shape: HeadShape, phi, q, jaw: float) -> np.ndarray:
    """The surface point at longitude phi (0 = facing the camera, + = image right) on ring q; (..., 3).

    x = a t r sin(phi),  z = z0 - c u r cos(phi),  r = sqrt(1 - H(q/b)),  y = jaw_forward(q)
    """
    phi, q = np.broadcast_arrays(np.asarray(phi, float), np.asarray(q, float))
    b, t, _, u, _, z0, _, k = profile(shape, q)
    r = np.sqrt(np.clip(1.0 - height_term(q / b, k)[0], 0.0, 1.0))
    return np.stack([shape.a * t * r * np.sin(phi), jaw_forward(shape, q, jaw),
                     z0 - shape.c * u * r * np.cos(phi)], axis=-1)


def surface_params(shape: HeadShape, p: np.ndarray, jaw: float):
    """Inverse of :func:`surface_point` for points near the surface: (phi, q)."""
    q = p[..., 1] - jaw_offset(shape, p[..., 1], jaw)[0]
    _, t, _, u, _, z0, _, _ = profile(shape, q)
    return np.arctan2(p[..., 0] / (shape.a * t), -(p[..., 2] - z0) / (shape.c * u)), q


def on_face(shape: HeadShape, x, y, jaw: float, lift=0.0) -> np.ndarray:
    """Points on the front of the face at head-frame (x, y), raised ``lift`` towards the camera; (N, 3).

    z = z0(q) - c u(q) sqrt(1 - (x / (a t(q)))^2 - H(q / b)) - lift,   q = y - D(y)
    """
    x, y, lift = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(lift, float))
    q = y - jaw_offset(shape, y, jaw)[0]
    b, t, _, u, _, z0, _, k = profile(shape, q)
    r2 = np.clip(1.0 - (x / (shape.a * t)) ** 2 - height_term(q / b, k)[0], 0.0, 1.0)
    return np.stack([x, y, z0 - shape.c * u * np.sqrt(r2) - lift], axis=-1)


# ---------------------------------------------------------------------------------------------------------------
# the features of one frame, in the head frame
# ---------------------------------------------------------------------------------------------------------------
def _pos(v):
    return v if v > 0.0 else 0.0


def _clamp(v, lo, hi):
    return min(max(float(v), lo), hi)


class _FrontPoints:
    """Collects named blocks of face points given as (x, y, lift) and puts them all on the surface at once.

    Placing ~450 points with one vectorised :func:`on_face` call is much faster than one call per feature.
    """

    def __init__(self):
        self.names, self.blocks = [], []

    def add(self, name, x, y, lift):
        x, y, lift = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(lift, float))
        self.names.append(name)
        self.blocks.append((x, y, lift))

    def place(self, shape: HeadShape, jaw: float) -> dict:
        xs = np.concatenate([b[0].ravel() for b in self.blocks])
        ys = np.concatenate([b[1].ravel() for b in self.blocks])
        lifts = np.concatenate([b[2].ravel() for b in self.blocks])
        pts = on_face(shape, xs, ys, jaw, lifts)
        out, i = {}, 0
        for name, (x, _, _) in zip(self.names, self.blocks):
            out[name] = pts[i:i + x.size].reshape(x.shape + (3,))
            i += x.size
        return out


_S = np.linspace(0.0, 1.0, N_CURVE)                # curve parameter, image left to right
_SINP = np.sin(np.pi * _S)
_SIG = 2 * _S - 1                                  # the same in [-1, 1] (mouth)
_RING16 = np.linspace(0, 2 * np.pi, 17)[:-1]
_RING20 = np.linspace(0, 2 * np.pi, 21)[:-1]


def face_parts(idn: Identity, st: FaceState) -> dict:
    """Every 3D curve the renderer draws for one frame, in the head frame.

    Curves have N_CURVE samples ordered from image left to image right. Keys:
    ``eye_upper``/``eye_lower`` (2, N, 3) for the right (image-left) and left eye; ``eyeball`` (2, 3) centres;
    ``eyeball_radius``, ``iris_radius``; ``gaze`` (3,) unit gaze direction; ``brow_top``/``brow_bottom`` (2, N, 3);
    ``nose_ridge`` (4, 3) root to tip, ``nose_base`` (5, 3), and pairs (2, 3) ``ala_top``, ``ala_out``,
    ``side_root``, ``side_mid``, ``side_tip``; ``lip_uo``/``lip_ui``/``lip_li``/``lip_lo`` (N, 3) upper-outer,
    upper-inner, lower-inner, lower-outer lip lines; ``teeth_upper``/``teeth_lower`` (2N, 3) polygons;
    ``tongue`` (16, 3); ``ears`` (2, 20, 3) outlines, ``ear_inner`` (2, 20, 3), ``ear_base`` (2, 3);
    ``jaw`` (the chin drop J in head units).
    """
    shape = head_shape(idn)
    jaw = _clamp(st.jaw_open, 0.0, 1.0)
    big_j = JAW_DROP * jaw
    ey = idn.eye_height
    s, sinp = _S, _SINP
    pts = _FrontPoints()

    # --- eyes: lids are curves between the corners; blink moves the upper lid onto the lower one
    blink = _clamp(st.blink, 0.0, 1.0)
    wide = _clamp(st.eye_wide, -1.0, 1.0)
    ew = 0.19 * idn.eye_size
    h_up = 0.088 * idn.eye_size * (1 + 0.35 * wide) * (1 - 0.2 * min(_pos(st.gaze_pitch), 30.0) / 30.0)
    h_lo = 0.05 * idn.eye_size * (1 + 0.2 * wide) * (1 - 0.3 * _clamp(st.smile, 0.0, 1.0))
    dy = ew * np.tan(np.radians(idn.eye_tilt))
    signs = np.array([-1.0, 1.0])[:, None]                      # right eye (image left), then left eye
    cx = signs * idn.eye_spacing                                # (2, 1)
    x = cx - ew + 2 * ew * s                                    # (2, N)
    base = ey - signs * dy * (s - 0.5)                          # the outer corner sits dy higher
    lower = base + h_lo * (1 - 0.4 * blink) * sinp
    upper = (1 - blink) * (base - h_up * sinp ** 0.75) + blink * lower
    pts.add("eye_upper", x, upper, 0.012)
    pts.add("eye_lower", x, lower, 0.012)
    r_eb = 0.16 * idn.eye_size
    pts.add("eyeball", cx[:, 0], ey + 0.005, 0.035 - r_eb)

    # --- brows: the landmarks are the upper edge; t runs from the inner end (0) to the outer end (1)
    raise_ = _clamp(st.brow_raise, -1.0, 1.0)
    furrow = _clamp(st.brow_furrow, 0.0, 1.0)
    t = np.stack([1.0 - s, s])                                  # (2, N)
    xi, xo = idn.eye_spacing - 0.2, idn.eye_spacing + 0.25
    x = signs * (xi + (xo - xi) * t - 0.035 * furrow * (1 - t))
    y = (ey - idn.brow_height - 0.045 * idn.brow_arch * np.sin(np.pi * t ** 0.85) + 0.035 * t * t
         - 0.085 * raise_ * (1 - 0.3 * t) + 0.05 * furrow * (1 - t) ** 2 - 0.03 * _pos(wide) + 0.02 * _pos(-wide))
    thick = 0.052 * idn.brow_thickness * (1 - 0.6 * t) + 0.012
    pts.add("brow_top", x, y, 0.015)
    pts.add("brow_bottom", x, y + thick, 0.015)

    # --- nose: a ridge from the root to the tip, a base with two wings; "lift" is how far it stands out
    yr, nb, length, nw = ey - 0.03, ey + idn.nose_base, idn.nose_length, idn.nose_width
    yt = nb - 0.07
    tau = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    pts.add("nose_ridge", 0.0, yr + (yt - yr) * tau, 0.05 + (length - 0.05) * tau ** 1.2)
    pts.add("nose_base", np.array([-nw, -0.5 * nw, 0.0, 0.5 * nw, nw]),
            nb + np.array([-0.035, 0.005, 0.012, 0.005, -0.035]), np.array([0.07, 0.11, 0.13, 0.11, 0.07]))
    for name, (x, y, lift) in {
        "ala_top": (nw * 0.95, nb - 0.14, 0.045),        # top of each nostril wing
        "ala_out": (nw + 0.03, nb - 0.06, 0.035),        # outer bulge of each wing
        "side_root": (0.075, yr + 0.03, 0.025),          # sides of the bridge near the eyes
        "side_mid": (0.09, (yr + yt) / 2, 0.04 + 0.3 * (length - 0.05)),
        "side_tip": (0.1, yt, length - 0.09),
    }.items():
        pts.add(name, np.array([-x, x]), y, lift)

    # --- mouth: four lip lines over sigma in [-1, 1]; the lower lip moves down with the jaw
    sig = _SIG
    lw, lr = _clamp(st.lip_width, -1, 1), _clamp(st.lip_round, 0, 1)
    press, smile = _clamp(st.lip_press, 0, 1), _clamp(st.smile, -1, 1)
    mw = idn.mouth_width * (1 + 0.2 * lw + 0.1 * _pos(smile) - 0.05 * _pos(-smile)) * (1 - 0.32 * lr)
    my = ey + idn.mouth_height
    gap = big_j * (1 - 0.5 * press) + 0.04 * lr * (1 - press) * (1 - jaw) + 0.012 * _pos(smile)
    lift = -0.055 * smile * sig ** 2                           # corners up (smile > 0) or down
    open_shape = (1 - sig ** 2) ** (0.75 - 0.4 * lr)           # the opening is pinched at the corners
    th_u = 0.05 * idn.lip_thickness * (1 - 0.55 * press) * (1 + 0.3 * lr)
    th_l = 0.07 * idn.lip_thickness * (1 - 0.55 * press) * (1 + 0.3 * lr)
    round_ = np.sqrt(1 - sig ** 2)
    cupid = round_ * (1 - 0.25 * np.exp(-(sig / 0.15) ** 2))
    y_ui = my + lift - 0.12 * gap * open_shape
    y_li = my + lift + 0.88 * gap * open_shape
    pout = 0.02 + 0.05 * round_ * (1 + 1.4 * lr)
    pts.add("lip_uo", mw * sig, y_ui - th_u * cupid, pout)
    pts.add("lip_ui", 0.9 * mw * sig, y_ui, pout - 0.015)
    pts.add("lip_li", 0.9 * mw * sig, y_li, pout - 0.015)
    pts.add("lip_lo", mw * sig, y_li + th_l * round_, pout)
    # teeth and tongue sit a little behind the lips (drawn clipped to the mouth opening)
    ts = sig * 0.55                                            # the teeth span the middle of the mouth
    lift_t, open_t = -0.055 * smile * ts ** 2, (1 - ts ** 2) ** (0.75 - 0.4 * lr)
    tooth_top = my + lift_t - 0.12 * gap * open_t - 0.01      # just under the upper lip ...
    tooth_bottom = my + lift_t + 0.88 * gap * open_t + 0.01   # ... and just under the lower lip
    tooth_len = 0.06 * round_ ** 0.3                           # rounded ends
    pts.add("teeth_upper_top", 0.9 * mw * ts, tooth_top, pout - 0.03)
    pts.add("teeth_upper_bottom", 0.9 * mw * ts, tooth_top + tooth_len, pout - 0.03)
    pts.add("teeth_lower_top", 0.75 * mw * ts, tooth_bottom - 0.01 - 0.04 * jaw * round_ ** 0.3, pout - 0.035)
    pts.add("teeth_lower_bottom", 0.75 * mw * ts, tooth_bottom, pout - 0.035)
    pts.add("tongue", 0.55 * mw * np.cos(_RING16), my + 0.88 * gap + 0.03 * np.sin(_RING16) - 0.005, 0.0)

    out = pts.place(shape, jaw)
    out["jaw"] = big_j
    out["eyeball_radius"] = r_eb
    out["iris_radius"] = 0.082 * idn.eye_size
    out["gaze"] = rotation_matrix(st.gaze_yaw, st.gaze_pitch, 0.0) @ np.array([0.0, 0.0, -1.0])
    out["teeth_upper"] = np.concatenate([out.pop("teeth_upper_top"), out.pop("teeth_upper_bottom")[::-1]])
    out["teeth_lower"] = np.concatenate([out.pop("teeth_lower_top"), out.pop("teeth_lower_bottom")[::-1]])
    out.update(_ears(idn))
    return out


@lru_cache(maxsize=4096)
def _ears(idn: Identity) -> dict:
    """Ears: flat outlines standing out from the side of the head, attached along their front edge (no motion)."""
    shape = head_shape(idn)
    ang = _RING20
    h, wd = 0.7 * idn.ear_size, 0.36 * idn.ear_size
    v = 0.5 * h * np.cos(ang)                                  # down the ear
    wpos = 0.5 * wd * (1 + np.sin(ang)) * (0.8 + 0.3 * (1 - np.cos(ang)) / 2)   # back along the ear, wider on top
    y_e, z_e = idn.eye_height + 0.14, 0.05
    b_, t_, _, u_, _, z0_, _, k_ = profile(shape, np.array(y_e))
    x_e = shape.a * t_ * np.sqrt(max(1 - height_term(y_e / b_, k_)[0] - ((z_e - z0_) / (shape.c * u_)) ** 2,
                                     0.0)) - 0.02
    th = np.radians(idn.ear_angle)
    ears, inner, bases = [], [], []
    for sign in (-1.0, 1.0):
        base = np.array([sign * x_e, y_e, z_e])
        back = np.array([sign * np.sin(th), 0.0, np.cos(th)])
        down = np.array([0.0, 1.0, 0.0])
        ears.append(base + v[:, None] * down + wpos[:, None] * back)
        inner.append(base + (0.03 + 0.28 * h * np.cos(ang))[:, None] * down
                     + (0.36 * wd + 0.22 * wd * np.sin(ang))[:, None] * back)
        bases.append(base)
    return {"ears": np.stack(ears), "ear_inner": np.stack(inner), "ear_base": np.stack(bases)}


@lru_cache(maxsize=4096)
def head_shape(idn: Identity) -> HeadShape:
    return HeadShape.of(idn)


# ---------------------------------------------------------------------------------------------------------------
# the silhouette and the jaw line
# ---------------------------------------------------------------------------------------------------------------
_MESH_PHI = np.linspace(-np.pi, np.pi, 41)[:-1]
_MESH_THETA = np.linspace(-np.pi / 2, np.pi / 2, 27)


@lru_cache(maxsize=4096)
def _mesh_rings(idn: Identity):
    """The head mesh before the jaw opens: rings at heights q (R,), their x and z (R, P)."""
    shape = head_shape(idn)
    theta = _MESH_THETA
    q = np.where(theta < 0, shape.b_up, shape.b_low) * np.sin(theta)
    ring = surface_point(shape, _MESH_PHI[None, :], q[:, None], 0.0)
    return q, ring[..., 0], ring[..., 2]


def silhouette(idn: Identity, st: FaceState, camera: Camera = CAMERA):
    """The outline of the head skin as seen by the camera.

    The skin is (nearly) convex, so its outline is the convex hull of its projected surface mesh. Opening the jaw
    only moves the rings down (y = jaw_forward(q)). Returns (outline (K, 2) in centred normalized image
    coordinates, the matching head-frame points (K, 3)).
    """
    q, x, z = _mesh_rings(idn)
    y = jaw_forward(head_shape(idn), q, _clamp(st.jaw_open, 0.0, 1.0))
    mesh = np.stack([x, np.broadcast_to(y[:, None], x.shape), z], axis=-1).reshape(-1, 3)
    norm = camera.normalized(camera.to_camera(mesh, st))
    hull = cv2.convexHull(norm.astype(np.float32), returnPoints=False)[:, 0]
    return norm[hull], mesh[hull]


def _ray_hits_polygon(origin: np.ndarray, dirs: np.ndarray, poly: np.ndarray):
    """First crossing of rays origin + t dirs (t > 0) with a closed convex polygon (K, 2).

    ``origin`` is (2,) or one per ray (M, 2). Returns (edge index (M,), position along the edge in [0, 1] (M,)).
    Solves o + t d = P_k + s (P_k+1 - P_k) with 2D cross products:
    t = cross(P_k - o, e) / cross(d, e),  s = cross(P_k - o, d) / cross(d, e).
    """
    e = np.roll(poly, -1, axis=0) - poly                     # (K, 2) edges
    po = poly[None] - np.reshape(origin, (-1, 1, 2))         # (M or 1, K, 2)
    cross = lambda a, b: a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    den = cross(dirs[:, None, :], e[None])                   # (M, K)
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    t = cross(po, e[None]) / den
    s = cross(po, dirs[:, None, :]) / den
    ok = (t > 0) & (s >= -1e-9) & (s <= 1 + 1e-9)
    t = np.where(ok, t, np.inf)
    k = np.argmin(t, axis=1)
    return k, np.clip(s[np.arange(len(k)), k], 0.0, 1.0)


@lru_cache(maxsize=4096)
def _jaw_anchors(idn: Identity):
    """The fixed jaw points of an identity: the neutral face's outline from eye level round the chin, cut into 16
    equal lengths. Returns (phi (17,), q (17,), the face centre the points slide away from (3,))."""
    shape = head_shape(idn)
    st = FaceState()
    outline, points = silhouette(idn, st)
    centre = on_face(shape, 0.0, idn.eye_height + 0.4, 0.0)
    level = CAMERA.normalized(CAMERA.to_camera(np.array([[0.0, idn.eye_height + 0.08, 0.0]]), st))[0, 1]
    c2 = CAMERA.normalized(CAMERA.to_camera(centre[None], st))[0]
    # where the horizontal line at `level` crosses the outline, left and right of the centre
    start = np.array([c2[0], level])
    k, s = _ray_hits_polygon(start, np.array([[-1.0, 0.0], [1.0, 0.0]]), outline)
    # walk the outline from the left crossing through the bottom to the right crossing
    n = len(outline)
    pts2 = [outline[k[0]] + s[0] * (outline[(k[0] + 1) % n] - outline[k[0]])]
    pts3 = [points[k[0]] + s[0] * (points[(k[0] + 1) % n] - points[k[0]])]
    step = 1 if outline[(k[0] + 1) % n, 1] > pts2[0][1] else -1    # go the way that heads down
    i = (k[0] + 1) % n if step == 1 else k[0]
    end = (k[1] + 1) % n if step == -1 else k[1]
    while True:
        pts2.append(outline[i])
        pts3.append(points[i])
        if i == end:
            break
        i = (i + step) % n
    end2 = outline[k[1]] + s[1] * (outline[(k[1] + 1) % n] - outline[k[1]])
    end3 = points[k[1]] + s[1] * (points[(k[1] + 1) % n] - points[k[1]])
    pts2.append(end2)
    pts3.append(end3)
    pts2, pts3 = np.array(pts2), np.array(pts3)
    # resample by arc length into 17 points
    seg = np.linalg.norm(np.diff(pts2, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, arc[-1], 17)
    jaw3 = np.stack([np.interp(targets, arc, pts3[:, j]) for j in range(3)], axis=1)
    phi, q = surface_params(shape, jaw3, 0.0)
    return phi, q, centre


def jaw_line(idn: Identity, st: FaceState, outline, points, camera: Camera = CAMERA) -> np.ndarray:
    """The 17 jaw landmarks in the head frame (see "landmark marching" in the module docstring); (17, 3)."""
    shape = head_shape(idn)
    jaw = _clamp(st.jaw_open, 0.0, 1.0)
    phi, q, centre = _jaw_anchors(idn)
    fixed = surface_point(shape, phi, q, jaw)                                 # (17, 3)
    r = rotation_matrix(st.yaw, st.pitch, st.roll)
    eye = -r.T @ camera.head_centre(st)                                       # camera position, head frame
    visible = np.einsum("ij,ij->i", surface_normals(shape, fixed, jaw), fixed - eye) < 0
    # A hidden point slides out to the outline along the image ray from an inner point through it; a point that has
    # just turned away is still on the outline, so the jaw line moves continuously. The inner point is the centre of
    # the point's horizontal ring (kept above mouth level near the chin), so the ray heads for the correct side.
    z0 = profile(shape, q)[5]
    inner = np.stack([np.zeros(17), np.minimum(fixed[:, 1], centre[1] + 0.2), z0], axis=1)
    c2 = camera.normalized(camera.to_camera(np.concatenate([inner, fixed]), st))
    k, s = _ray_hits_polygon(c2[:17], c2[17:] - c2[:17], outline)
    n = len(outline)
    on_outline = points[k] + s[:, None] * (points[(k + 1) % n] - points[k])
    return np.where(visible[:, None], fixed, on_outline)


# ---------------------------------------------------------------------------------------------------------------
# the 68 landmarks
# ---------------------------------------------------------------------------------------------------------------
def landmarks_from_parts(parts: dict, jaw3: np.ndarray) -> np.ndarray:
    """Pick the 68 iBUG points out of the feature curves (see the table in the module docstring); (68, 3)."""
    lm = np.zeros((N_LANDMARKS, 3))
    lm[0:17] = jaw3
    top = parts["brow_top"]
    lm[17:22] = top[0, [0, 6, 12, 18, 24]]
    lm[22:27] = top[1, [0, 6, 12, 18, 24]]
    lm[27:31] = parts["nose_ridge"]
    lm[31:36] = parts["nose_base"]
    for first, e in ((36, 0), (42, 1)):
        up, lo = parts["eye_upper"][e], parts["eye_lower"][e]
        lm[first:first + 6] = [up[0], up[8], up[16], up[24], lo[16], lo[8]]
    uo, ui, li, lo = parts["lip_uo"], parts["lip_ui"], parts["lip_li"], parts["lip_lo"]
    lm[48:55] = uo[[0, 4, 8, 12, 16, 20, 24]]
    lm[55:60] = lo[[20, 16, 12, 8, 4]]
    lm[60:65] = ui[[0, 6, 12, 18, 24]]
    lm[65:68] = li[[18, 12, 6]]
    return lm


def landmarks_3d(idn: Identity, st: FaceState, camera: Camera = CAMERA, marching: bool = True) -> np.ndarray:
    """The 68 landmarks of a face in the head frame; (68, 3).

    With ``marching`` (default) the jaw points follow the visible outline for this pose and camera (what an
    annotator would click); without it they stay at their fixed spots on the surface.
    """
    parts = face_parts(idn, st)
    if marching:
        outline, points = silhouette(idn, st, camera)
        jaw3 = jaw_line(idn, st, outline, points, camera)
    else:
        phi, q, _ = _jaw_anchors(idn)
        jaw3 = surface_point(head_shape(idn), phi, q, float(np.clip(st.jaw_open, 0, 1)))
    return landmarks_from_parts(parts, jaw3)


def landmarks_2d(idn: Identity, st: FaceState, size: int, camera: Camera = CAMERA) -> np.ndarray:
    """The 68 landmarks in pixel coordinates; (68, 2)."""
    return project(landmarks_3d(idn, st, camera), st, size, camera)


def neutral_mean_landmarks_3d() -> np.ndarray:
    """The 68 landmarks of the mean identity with a neutral face, head frame, jaw points fixed; (68, 3).

    Computed from the face model; :func:`vasa_lab.geometry.canonical_landmarks_3d` holds the same numbers as a
    table (what the tracker fits), and a test checks that the two agree.
    """
    return landmarks_3d(Identity(), FaceState(), marching=False)
