"""Pixels for the synthetic world: a pseudo-3D cartoon head drawn through a pinhole camera.

``render_frame(identity, state, size)`` returns an RGB image and the 68 landmarks that were drawn. The picture is
built back to front, like a painter would:

1. the background (a per-identity pattern, cached), and long hair hanging behind the shoulders;
2. the head and the hair are **ray-cast** per pixel (numpy): a pixel (u, v) looks along the camera ray
   d = ((u - cx) / f, (v - cy) / f, 1); in the head frame the ray is o + s d' with o = -R^T C, d' = R^T d.
   * The hair is a shell, an ellipsoid (centre e, radii r) around the skull. Its hits solve a quadratic:
     |(o - e + s d') / r|^2 = 1  ->  A s^2 + 2 B s + C = 0, s = (-B -+ sqrt(B^2 - A C)) / A.
     A hit is hair where it lies above the identity's hairline (a curve y = hairline(longitude)); the shell's back
     (the exit hit) is the hair seen behind the neck.
   * The skin is the implicit surface F = 0 of :mod:`vasa_lab.world.face` (an ellipsoid with a jaw). Each ray
     starts just outside it and takes Newton steps s <- s - F / (grad F . d') to the surface.
   * Shading is Lambert's law with an ambient term, light L fixed in the camera frame (upper left, in front):
     colour = albedo * (ambient + diffuse * max(0, n . L)), with n = grad F / |grad F| (or the shell normal).
3. the shoulders and neck (with the jaw's shadow), then the ears on the far side of the head (they go behind it);
4. the skin (alpha = the anti-aliased outline polygon, where the ray hits) and then the facial features as
   anti-aliased cv2 polygons of projected 3D curves: brows, eyes (sclera, iris and pupil clipped to the lids; the
   iris is a disc on an eyeball that turns with the gaze), mouth (dark inside, teeth, tongue, lips), nose (facets
   with back-face culling: a facet is drawn only when its normal faces the camera, n . (p - camera) < 0, far
   facets first);
5. the hair in front of the face (fringe, top), and the ears on the near side.

Everything that moves is a 3D point projected by the same camera, so pose, translation and scale move the whole
face consistently, far features foreshorten, and the returned landmarks sit on what was drawn.

Speed: per-identity work (background, hairline tables, jaw anchors) is cached; per-frame work is vectorised over
the head's bounding box only. Deterministic: the same inputs give the same pixels.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..geometry import CAMERA, rotation_matrix
from .face import (JAW_DROP, face_parts, head_shape, implicit, jaw_line, jaw_offset, landmarks_from_parts, silhouette,
                   surface_normals)
from .person import Identity
from .state import STATE_NAMES, FaceState

LIGHT = np.array([-0.35, -0.65, -0.68]) / np.linalg.norm([-0.35, -0.65, -0.68])   # towards the light, camera frame
AMBIENT, DIFFUSE = 0.42, 0.62
SHIFT = 4                      # cv2 sub-pixel bits: coordinates are drawn with 1/16 pixel precision
_ONE = 1 << SHIFT
_EAR_HIDING_STYLES = ("long", "bob", "fringe")
_RING16 = np.linspace(0, 2 * np.pi, 17)[:-1]
_RING20 = np.linspace(0, 2 * np.pi, 21)[:-1]


# ---------------------------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------------------------
def as_state(state) -> FaceState:
    """A FaceState from a FaceState, a dict or a (17,) array in STATE_NAMES order."""
    if isinstance(state, FaceState):
        return state
    if isinstance(state, dict):
        return FaceState(**state)
    values = np.asarray(state, dtype=float).reshape(-1)
    if values.shape != (len(STATE_NAMES),):
        raise ValueError(f"a state array needs {len(STATE_NAMES)} values ({', '.join(STATE_NAMES)}), "
                         f"got shape {np.shape(state)}")
    return FaceState.from_array(values)


def _col(rgb, k: float = 1.0) -> tuple:
    """Float RGB in [0, 1] (times k) -> an int colour tuple for cv2."""
    return tuple(min(255, max(0, int(round(float(v) * k * 255.0)))) for v in rgb)


def _fix(pts: np.ndarray) -> np.ndarray:
    """Pixel coordinates -> int32 fixed point for cv2 drawing with SHIFT fractional bits."""
    return np.round(pts * _ONE).astype(np.int32)


def _fill(img, pts, colour):
    cv2.fillPoly(img, [_fix(pts)], colour, cv2.LINE_AA, SHIFT)


def _polyline(img, pts, colour, thickness):
    cv2.polylines(img, [_fix(pts)], False, colour, max(1, int(round(thickness))), cv2.LINE_AA, SHIFT)


def _shade(n: np.ndarray, light_h: np.ndarray) -> float:
    """Lambert: ambient + diffuse * max(0, n . L) for one unit normal in the head frame."""
    return AMBIENT + DIFFUSE * max(0.0, float(n @ light_h))


# ---------------------------------------------------------------------------------------------------------------
# per-identity caches
# ---------------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def background(idn: Identity, size: int) -> np.ndarray:
    """The identity's background, (size, size, 3) uint8 (cached; copy before drawing on it)."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = t[:, None], t[None, :]
    c1, c2 = np.array(idn.bg_rgb1, np.float32), np.array(idn.bg_rgb2, np.float32)
    p = idn.bg_param
    if idn.background == "flat":
        m = np.zeros((size, size), np.float32)
    elif idn.background == "vgradient":
        m = np.broadcast_to(yy, (size, size))
    elif idn.background == "radial":
        m = np.clip(np.hypot(xx - 0.5, yy - 0.42) / 0.75, 0, 1)
    elif idn.background == "stripes":
        ang, period = np.pi * p, 0.08 + 0.15 * p
        phase = (xx * np.cos(ang) + yy * np.sin(ang)) / period
        m = np.clip(np.sin(2 * np.pi * phase) * size * period / 6 + 0.5, 0, 1) * 0.6   # soft-edged bands
    elif idn.background == "dots":
        period = 0.1 + 0.12 * p
        fx, fy = (xx / period) % 1 - 0.5, (yy / period) % 1 - 0.5
        m = np.clip((0.25 - np.hypot(fx, fy)) * period * size + 0.5, 0, 1)
    else:  # checker
        period = 0.12 + 0.2 * p
        m = (np.clip(np.sin(2 * np.pi * xx / period) * size * period / 6, -1, 1)
             * np.clip(np.sin(2 * np.pi * yy / period) * size * period / 6, -1, 1) * 0.5 + 0.5) * 0.5
    img = c1 + np.asarray(m, np.float32)[..., None] * (c2 - c1)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _interp_sym(points, phi_deg):
    """Piecewise-linear profile over |longitude| in degrees."""
    a = np.array(points, dtype=float)
    return np.interp(np.abs(phi_deg), a[:, 0], a[:, 1])


@lru_cache(maxsize=1024)
def hair_look(idn: Identity) -> dict:
    """Everything about an identity's hair that does not change per frame.

    ``lut_low[i]``: the hairline, hair is above it (y < lut_low) at longitude phi = -180 + i degrees;
    ``lut_high``: hair is below it (only the bald horseshoe uses it); ``centre``/``radii``: the hair shell.
    Longitude phi = atan2(x, -z) around the shell centre: 0 facing the camera, +90 the image-right side.
    """
    phi = np.arange(-180, 181, dtype=float)
    hf, ey, style = idn.hairline, idn.eye_height, idn.hair_style
    side = [(62, -0.1), (70, 0.1), (77, 0.1), (83, -0.25), (114, -0.25), (130, 0.72), (180, 0.85)]
    low = None
    high = np.full_like(phi, -9.0)
    if style in ("short", "buzz", "bun"):
        top = hf - (0.12 if style == "bun" else 0.0)
        low = _interp_sym([(0, top), (25, top + 0.04), (50, top + 0.3)] + side, phi)
    elif style == "sidepart":
        p = 1.0 if idn.hair_part >= 0 else -1.0
        low = _interp_sym([(0, hf), (25, hf + 0.04), (50, hf + 0.3)] + side, phi)
        low = low + 0.28 * np.clip(-p * phi / 40.0, 0, 1) * np.clip((60 - np.abs(phi)) / 20, 0, 1)
    elif style == "long":
        low = _interp_sym([(0, hf), (25, hf + 0.05), (45, hf + 0.3), (62, 0.0), (75, 1.5), (180, 1.5)], phi)
    elif style == "bob":
        low = _interp_sym([(0, hf), (25, hf + 0.05), (45, hf + 0.3), (62, 0.0), (75, 0.95), (180, 0.95)], phi)
    elif style == "fringe":
        brow = ey - idn.brow_height - 0.08
        low = _interp_sym([(0, brow), (30, brow + 0.02), (48, brow + 0.12), (62, 0.3), (80, 0.75), (180, 0.9)],
                          phi)
        low = low + 0.035 * np.abs(np.sin(np.radians(phi) * 14))
    elif style == "curly":
        low = _interp_sym([(0, hf + 0.05), (40, hf + 0.2), (65, 0.0), (80, 0.25), (92, -0.1), (110, -0.1),
                           (125, 0.8), (180, 0.9)], phi)
        low = low + 0.06 * np.abs(np.sin(np.radians(phi) * 11))
    else:  # bald: a horseshoe of hair round the back
        low = _interp_sym([(0, -9), (84, -9), (94, 0.22), (130, 0.65), (180, 0.7)], phi)
        high = _interp_sym([(0, -0.3), (90, -0.3), (180, -0.45)], phi)
    vol = idn.hair_volume
    wide = 0.6 if style in ("long", "bob", "fringe", "curly") else 0.35
    centre = np.array([0.0, -0.02, 0.04])
    radii = np.array([idn.face_width + wide * vol, idn.cranium_height + vol, idn.face_depth + vol])
    rgb = np.array(idn.hair_rgb, np.float32)
    if style == "buzz" or style == "bald":
        rgb = 0.6 * rgb + 0.4 * np.array(idn.skin_rgb, np.float32) * 0.8   # short stubble lets the skin through
    beard = np.array(idn.brow_rgb if style == "bald" else idn.hair_rgb, np.float32)
    return dict(low=low.astype(np.float32), high=high.astype(np.float32), centre=centre, radii=radii, rgb=rgb,
                beard_rgb=beard, part=(1.0 if idn.hair_part >= 0 else -1.0) * 0.6)


def _lut(table: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Look up a 361-entry table (one entry per degree from -180) at longitudes phi in radians."""
    idx = np.rint(phi * (180.0 / np.pi)).astype(np.int32) + 180
    return table[idx]


# ---------------------------------------------------------------------------------------------------------------
# the ray-cast head and hair
# ---------------------------------------------------------------------------------------------------------------
def _raycast(idn: Identity, st: FaceState, r: np.ndarray, c: np.ndarray, f_px: float, c0: float,
             box: tuple, outline_px: np.ndarray):
    """Shade the head and hair inside the pixel box (x0, y0, x1, y1).

    Returns float32 layers over the box: back hair (colour (H, W, 3), alpha (H, W)), skin (colour, alpha),
    front hair (colour, alpha).
    """
    x0, y0, x1, y1 = box
    shape = head_shape(idn)
    look = hair_look(idn)
    jaw = float(np.clip(st.jaw_open, 0.0, 1.0))
    rt = r.T.astype(np.float32)
    du = ((np.arange(x0, x1, dtype=np.float32) - c0) / f_px)[None, :]      # (1, W)
    dv = ((np.arange(y0, y1, dtype=np.float32) - c0) / f_px)[:, None]      # (H, 1)
    # ray directions in the head frame, d' = R^T (du, dv, 1): three (H, W) arrays
    dx = rt[0, 0] * du + rt[0, 1] * dv + rt[0, 2]
    dy = rt[1, 0] * du + rt[1, 1] * dv + rt[1, 2]
    dz = rt[2, 0] * du + rt[2, 1] * dv + rt[2, 2]
    o = [float(v) for v in -r.T @ c]                                        # camera centre in the head frame
    light = [float(v) for v in r.T @ LIGHT]                                 # light direction in the head frame
    pix = float(c[2]) / f_px                                                # ~ one pixel in head units

    def ellipsoid(centre, radii, coverage=False):
        """Entry/exit ray parameters of an ellipsoid (NaN where the ray misses), and optionally an anti-aliased
        coverage of its outline."""
        oc = [float(v) for v in (np.array(o) - centre) / radii]
        ex, ey_, ez = dx / float(radii[0]), dy / float(radii[1]), dz / float(radii[2])
        a = ex * ex + ey_ * ey_ + ez * ez
        b = oc[0] * ex + oc[1] * ey_ + oc[2] * ez
        cc = oc[0] ** 2 + oc[1] ** 2 + oc[2] ** 2 - 1.0
        with np.errstate(invalid="ignore"):
            root = np.sqrt(b * b - a * cc)                  # NaN where the ray misses
        if not coverage:
            return (-b - root) / a, None, None
        # closest approach of the ray to the centre, in units of the radius: 1 at the outline
        closest = np.sqrt(np.maximum(cc + 1.0 - b * b / a, 0.0))
        cover = np.clip((1.0 - closest) * (float(radii.mean()) / pix) + 0.5, 0.0, 1.0)
        root = np.nan_to_num(root)
        return (-b - root) / a, (-b + root) / a, cover

    # --- hair shell
    hc, hr = [float(v) for v in look["centre"]], [float(v) for v in look["radii"]]
    s_in, s_out, cover = ellipsoid(look["centre"], look["radii"], coverage=True)

    def hair_layer(s):
        """Colour and coverage of the shell's hits at ray parameter s (the hair in front of the face)."""
        px_, py_, pz_ = o[0] + s * dx, o[1] + s * dy, o[2] + s * dz
        phi = np.arctan2(px_ - hc[0], -(pz_ - hc[2]))
        alpha = np.clip((_lut(look["low"], phi) - py_) / pix + 0.5, 0.0, 1.0)
        if idn.hair_style == "bald":
            alpha *= np.clip((py_ - _lut(look["high"], phi)) / pix + 0.5, 0.0, 1.0)
        alpha *= cover
        # shell normal (p - e) / r^2, normalised
        nx, ny, nz = (px_ - hc[0]) / hr[0] ** 2, (py_ - hc[1]) / hr[1] ** 2, (pz_ - hc[2]) / hr[2] ** 2
        inv = 1.0 / np.sqrt(nx * nx + ny * ny + nz * nz + 1e-12)
        lam = np.maximum((nx * light[0] + ny * light[1] + nz * light[2]) * inv, 0.0)
        shade = 0.5 + 0.65 * lam
        if idn.hair_style == "curly":
            strands = 1.0 + 0.18 * np.sin(phi * 40.0) * np.sin(py_ * 40.0)
        else:
            strands = 1.0 + 0.1 * np.sin(phi * 70.0 + 3.0 * py_)
        if idn.hair_style == "sidepart":
            strands = strands * (1.0 - 0.45 * np.exp(-((phi - look["part"]) / 0.05) ** 2) * (py_ < -0.6))
        sheen = 0.22 * lam ** 8
        col = (shade * strands)[..., None] * look["rgb"] + sheen[..., None]
        return col, alpha

    front_col, front_a = hair_layer(s_in)
    # the back of the shell, seen from inside (behind the neck): only its outline matters, in a flat dark colour
    bx, by, bz = o[0] + s_out * dx, o[1] + s_out * dy, o[2] + s_out * dz
    bphi = np.arctan2(bx - hc[0], -(bz - hc[2]))
    back_a = np.clip((_lut(look["low"], bphi) - by) / pix + 0.5, 0.0, 1.0) * cover
    if idn.hair_style == "bald":
        back_a *= np.clip((by - _lut(look["high"], bphi)) / pix + 0.5, 0.0, 1.0)
    back_col = look["rgb"] * 0.3
    # the shell's low back and underside (nape, round the neck) is only ever seen through the neck: hide it
    nx_, ny_, nz_ = o[0] + s_in * dx, o[1] + s_in * dy, o[2] + s_in * dz
    under = (np.clip((ny_ - 0.3) / 0.1, 0, 1) * np.clip((nz_ + 0.3) / 0.1, 0, 1)
             * np.clip((0.75 - np.abs(nx_)) / 0.1, 0, 1))
    front_a = front_a * (1.0 - under)

    # --- skin: start on a bounding surface, then Newton steps onto F = 0
    # (above the eye line the surface is exactly the ellipsoid (a, b_up, c), so that hit is already exact;
    # below it we start on a larger ellipsoid that contains the jaw)
    s_up, _, _ = ellipsoid(np.zeros(3), np.array([shape.a, shape.b_up, shape.c]))
    s_lo, _, _ = ellipsoid(np.array([0.0, 0.0, -0.25]),
                           np.array([shape.a * 1.1, shape.b_low + JAW_DROP * jaw + 0.15, shape.c + 0.35]))
    y_up = o[1] + s_up * dy
    s = np.where(np.isfinite(s_up) & (y_up < 0.0), s_up, s_lo)
    s = np.where(np.isfinite(s), s, 0.0).astype(np.float32)
    for _ in range(4):                                      # 4 steps leave < 0.01 head units almost everywhere
        px_, py_, pz_ = o[0] + s * dx, o[1] + s * dy, o[2] + s * dz
        fval, gx, gy, gz = implicit(shape, px_, py_, pz_, jaw)
        slope = gx * dx + gy * dy + gz * dz                 # dF/ds along the ray
        # Newton: s <- s - F / (dF/ds); a ray that is inside but already past the front (dF/ds >= 0) backs up
        step = np.where(slope < -1e-6, fval / np.minimum(slope, -1e-6), np.where(fval < 0, 0.1, 0.0))
        s = s - np.clip(step, -0.5, 0.5).astype(np.float32)
    px_, py_, pz_ = o[0] + s * dx, o[1] + s * dy, o[2] + s * dz
    fval, gx, gy, gz = implicit(shape, px_, py_, pz_, jaw)
    inv = 1.0 / np.sqrt(gx * gx + gy * gy + gz * gz + 1e-12)
    lam = np.maximum((gx * light[0] + gy * light[1] + gz * light[2]) * inv, 0.0)
    shade = AMBIENT + DIFFUSE * lam

    # skin albedo: base tone, darker eye sockets, cheeks, hairline shadow, facial hair (all in head coordinates)
    skin = np.array(idn.skin_rgb, np.float32)
    ey = idn.eye_height
    ax = np.abs(px_)
    socket = 0.14 * np.exp(-((ax - idn.eye_spacing) ** 2) / 0.035 - ((py_ - ey + 0.03) ** 2) / 0.02)
    col = ((shade * (1.0 - socket))[..., None] * skin).astype(np.float32)
    if idn.blush > 0:
        blush = idn.blush * np.exp(-((ax - 0.52) ** 2 + (py_ - ey - 0.42) ** 2) / 0.045)
        col += (blush * shade)[..., None] * np.array([0.25, -0.12, -0.08], np.float32)
    # the scalp under the hair is hair-coloured (seen where the shell's edge stands off the head), and the
    # forehead just below the hairline is a little shaded
    phi_h = np.arctan2(px_ - hc[0], -(pz_ - hc[2]))
    below = py_ - _lut(look["low"], phi_h)
    if idn.hair_style == "bald":
        below = np.maximum(below, _lut(look["high"], phi_h) - py_)
    hairline_shadow = 0.2 * np.clip(1.0 - below / 0.12, 0.0, 1.0)
    col *= (1.0 - hairline_shadow)[..., None]
    scalp = np.clip(0.5 - below / pix, 0.0, 1.0)[..., None]
    col += scalp * (shade[..., None] * look["rgb"] * 0.7 - col)
    if idn.facial_hair != "none":
        col = _facial_hair(idn, col, px_, py_, shape, jaw, shade, look["beard_rgb"], pix)
    # coverage: the anti-aliased outline polygon, cut where the ray really misses the head (the outline polygon is
    # a convex hull, so it also covers the hollow behind the jaw); a miss by d = F / |grad F| fades over a pixel
    skin_a = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _fill(skin_a, outline_px - np.array([x0, y0]), 255)
    miss = np.maximum(fval, 0.0) * inv / pix
    skin_alpha = skin_a.astype(np.float32) * (1.0 / 255.0) * np.clip(1.5 - miss, 0.0, 1.0)
    # the hair shell is in front only where its entry comes before the skin (the chin can stick out of it)
    front_a = front_a * np.where((skin_alpha > 0) & (s < s_in), 0.0, 1.0)
    return (back_col, back_a), (col, skin_alpha), (front_col, front_a)


def _facial_hair(idn, col, x, y, shape, jaw, shade, rgb, pix):
    """Paint beard / stubble / moustache / goatee onto the skin colour, as regions in head coordinates."""
    q = y - jaw_offset(shape, y, jaw)[0]              # undeformed height: the beard moves with the jaw
    ey, ax = idn.eye_height, np.abs(x)
    nb, my, mw = ey + idn.nose_base, ey + idn.mouth_height, idn.mouth_width
    soft = 2.0 * pix + 0.01
    tex = 0.96 + 0.04 * np.sin(x * 140.0 + 12.0 * q)      # faint strands
    if idn.facial_hair in ("beard", "stubble"):
        top = np.interp(ax, [0.0, 0.35, 0.7, 0.85, 1.2], [nb + 0.07, nb + 0.08, ey + 0.45, ey + 0.1, ey + 0.05])
        region = np.clip((q - top) / soft + 0.5, 0, 1)
        strength = 0.92 if idn.facial_hair == "beard" else 0.3
    else:
        # between the nose and the upper lip, drooping at the ends
        ends = (ax / (mw + 0.05)) ** 2
        mous = (np.clip((q - nb - 0.05 - 0.06 * ends) / soft + 0.5, 0, 1)
                * np.clip((my - 0.04 + 0.06 * ends - q) / soft + 0.5, 0, 1)
                * np.clip((mw + 0.05 - ax) / soft + 0.5, 0, 1))
        region = mous
        if idn.facial_hair == "goatee":
            chin = (np.clip((q - my - 0.09) / soft + 0.5, 0, 1) * np.clip((my + 0.5 - q) / soft + 0.5, 0, 1)
                    * np.clip((0.24 - ax - 0.25 * (q - my)) / soft + 0.5, 0, 1))
            region = np.maximum(region, chin)
        strength = 0.9
        tex = 1.0
    a = (region * strength * tex)[..., None]
    hair = (shade * tex)[..., None] * rgb
    return col * (1 - a) + hair * a


# ---------------------------------------------------------------------------------------------------------------
# the frame
# ---------------------------------------------------------------------------------------------------------------
def _composite(img, box, col, alpha):
    """img[box] = img * (1 - alpha) + col * alpha, in place (uint8 image, float32 layer)."""
    x0, y0, x1, y1 = box
    region = img[y0:y1, x0:x1].astype(np.float32)
    region += alpha[..., None] * (col * 255.0 - region)
    np.clip(region + 0.5, 0, 255, out=region)
    img[y0:y1, x0:x1] = region.astype(np.uint8)


_TORSO = np.array([[-0.55, 2.02, 0.35], [-1.25, 2.2, 0.35], [-2.1, 2.55, 0.35], [-2.7, 3.2, 0.35],
                   [-2.95, 7.0, 0.35], [2.95, 7.0, 0.35], [2.7, 3.2, 0.35], [2.1, 2.55, 0.35], [1.25, 2.2, 0.35],
                   [0.55, 2.02, 0.35]])
_TORSO_INNER = _TORSO * np.array([0.8, 1.0, 1.0]) + np.array([0.0, 0.12, -0.05])
_NECKLINE = np.array([[-0.56, 2.06, 0.3], [0.0, 2.6, 0.3], [0.56, 2.06, 0.3]])
_RING = np.stack([np.cos(_RING16), np.zeros(16), np.sin(_RING16)], axis=1)
_BODY_ANCHOR = np.array([0.0, 2.1, 0.35])        # the base of the neck: the body turns about it
_NOSTRIL = 0.028 * np.stack([np.cos(_RING16[::2]), np.zeros(8), 0.55 * np.sin(_RING16[::2])], axis=1)


def _project_all(px, named: dict) -> dict:
    """Project every (..., 3) array of ``named`` with one call of ``px``; returns the same keys, (..., 2)."""
    keys = [k for k, v in named.items() if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[-1] == 3]
    flat = np.concatenate([named[k].reshape(-1, 3) for k in keys])
    flat2 = px(flat)
    out, i = {}, 0
    for k in keys:
        n = named[k].size // 3
        out[k] = flat2[i:i + n].reshape(named[k].shape[:-1] + (2,))
        i += n
    return out


def render_frame(identity: Identity, state, size: int, return_extras: bool = False):
    """Render one frame.

    Returns ``(image, landmarks)``: image (size, size, 3) uint8 RGB, landmarks (68, 2) float32 pixel coordinates
    (x right, y down, pixel centres at integers). With ``return_extras`` a third item is a dict with
    ``iris_centres`` (2, 2) pixels (right eye = image left first), ``landmarks_3d`` (68, 3) head frame,
    ``rotation`` (3, 3) and ``head_centre`` (3,) camera frame.
    """
    st = as_state(state)
    size = int(size)
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    idn = identity
    cam = CAMERA
    r = rotation_matrix(st.yaw, st.pitch, st.roll)
    c = cam.head_centre(st)
    f_px, c0 = cam.focal * size, (size - 1) / 2.0
    light_h = r.T @ LIGHT                    # the light direction in the head frame
    eye = -r.T @ c                           # the camera centre in the head frame

    def px(points):
        """Head-frame points (N, 3) -> pixels (N, 2): p_cam = R p + C, u = f X / Z + c0, v = f Y / Z + c0."""
        pc = points @ r.T + c
        return f_px * pc[:, :2] / pc[:, 2:3] + c0

    body_r = rotation_matrix(0.3 * st.yaw, 0.2 * st.pitch, 0.35 * st.roll)

    def body_px(points):
        """The body turns a little with the head, about the base of the neck."""
        pc = (points - _BODY_ANCHOR) @ body_r.T + _BODY_ANCHOR + c
        return f_px * pc[:, :2] / pc[:, 2:3] + c0

    # --- geometry of this frame: 3D parts, the outline, the jaw line, the landmarks
    parts = face_parts(idn, st)
    outline, outline3 = silhouette(idn, st, cam)
    jaw3 = jaw_line(idn, st, outline, outline3, cam)
    lm3 = landmarks_from_parts(parts, jaw3)
    # the irises: discs on the eyeballs, perpendicular to the gaze
    gaze, rad, ri = parts["gaze"], parts["eyeball_radius"], parts["iris_radius"]
    e1 = np.cross(gaze, [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    circle = np.cos(_RING20)[:, None] * e1 + np.sin(_RING20)[:, None] * np.cross(gaze, e1)     # (20, 3)
    iris_c3 = parts["eyeball"] + np.sqrt(rad ** 2 - ri ** 2) * gaze                            # (2, 3)
    extra = dict(landmarks=lm3, iris_centre=iris_c3, iris=iris_c3[:, None] + ri * circle,
                 iris_in=iris_c3[:, None] + 0.78 * ri * circle, pupil=iris_c3[:, None] + 0.38 * ri * circle,
                 crease=parts["eye_upper"][:, 5:20] + np.array([0.0, -0.045, -0.005]),
                 nostrils=parts["nose_base"][[1, 3], None] + np.array([0.0, -0.012, 0.0]) + _NOSTRIL,
                 tip=parts["nose_ridge"][3] + np.array([-0.025, -0.03, 0.0]), shell=_shell_points(idn),
                 neck_top=_RING * [0.55 * idn.face_width, 0, 0.5] + [0, 0.45 * idn.face_height, 0.25])
    if idn.hair_style == "long":
        extra["curtain"] = np.array([[-idn.face_width - 0.15, -0.5, 0.35], [idn.face_width + 0.15, -0.5, 0.35]])
    if idn.hair_style == "bun":
        extra["bun"] = np.array([0.0, -0.82 * idn.cranium_height, 0.75])
    p2 = _project_all(px, {**parts, **extra})
    landmarks = p2["landmarks"].astype(np.float32)
    outline_px = cam.to_pixels(outline, size)
    unit = f_px / c[2]                       # pixels per head unit near the head centre

    img = background(idn, size).copy()
    look = hair_look(idn)
    skin = np.array(idn.skin_rgb)

    # --- 1. long hair behind the shoulders
    if idn.hair_style == "long":
        bottom = body_px(np.array([[1.45, 2.6, 0.6], [1.25, 3.1, 0.6], [-1.25, 3.1, 0.6], [-1.45, 2.6, 0.6]]))
        _fill(img, np.concatenate([p2["curtain"], bottom]), _col(look["rgb"], 0.42))

    # --- 2. ray-cast head and hair over their bounding box; the hair seen behind the head goes down first
    pts = np.concatenate([p2["shell"], outline_px])
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 3
    box = (max(x0, 0), max(y0, 0), min(x1, size), min(y1, size))
    have_box = box[2] > box[0] and box[3] > box[1]
    if have_box:
        back, skin_layer, front = _raycast(idn, st, r, c, f_px, c0, box, outline_px)
        _composite(img, box, *back)

    # --- 3. shoulders and neck
    shirt = np.array(idn.shirt_rgb)
    _fill(img, body_px(_TORSO), _col(shirt, 0.8))
    _fill(img, body_px(_TORSO_INNER), _col(shirt, 1.0))
    neck = np.concatenate([p2["neck_top"], body_px(_RING * [0.58, 0, 0.45] + [0, 2.2, 0.35])])
    neck = cv2.convexHull(neck.astype(np.float32))[:, 0]
    _fill(img, neck, _col(skin, 0.68))
    _fill(img, body_px(_NECKLINE), _col(skin, 0.68))
    # the jaw's shadow on the neck: the head outline pushed down, kept inside the neck
    drop = np.array([0.0, 0.16 * unit])
    _clip_draw(img, neck, lambda buf, off: _fill(buf, outline_px + drop - off, _col(skin, 0.5)))

    # --- 4. ears on the far side of the head (and the bun, the curly halo) go behind it
    ears_near = []
    if idn.hair_style not in _EAR_HIDING_STYLES:
        normals = surface_normals(head_shape(idn), parts["ear_base"], parts["jaw"] / JAW_DROP)
        for e in range(2):
            if float(normals[e] @ (parts["ear_base"][e] - eye)) < 0.0:     # faces the camera: drawn on top later
                ears_near.append(e)
            else:
                _draw_ear(img, parts, p2, e, skin, light_h)
    if idn.hair_style == "bun":
        cp = p2["bun"]
        bun_r = 0.45 * f_px / float(extra["bun"] @ r[2] + c[2])
        cv2.circle(img, tuple(_fix(cp)), int(round(bun_r * _ONE)), _col(look["rgb"], 0.75), -1, cv2.LINE_AA, SHIFT)
        cv2.circle(img, tuple(_fix(cp - 0.25 * bun_r)), int(round(0.55 * bun_r * _ONE)), _col(look["rgb"], 0.95),
                   -1, cv2.LINE_AA, SHIFT)
    if idn.hair_style == "curly":
        _curly_halo(img, idn, look, px, unit)

    # --- 5. skin, the features on it, then the hair in front, then the near ears
    if have_box:
        _composite(img, box, *skin_layer)
    for e in range(2):                                                    # brows
        _fill(img, np.concatenate([p2["brow_top"][e], p2["brow_bottom"][e][::-1]]), _col(idn.brow_rgb))
    _draw_eyes(img, p2, idn, ri * unit)
    _draw_mouth(img, p2, idn, light_h, unit)
    _draw_nose(img, parts, p2, skin, light_h, eye, unit)
    if have_box:
        _composite(img, box, *front)
    for e in ears_near:
        _draw_ear(img, parts, p2, e, skin, light_h)

    if return_extras:
        return img, landmarks, dict(iris_centres=p2["iris_centre"].astype(np.float32),
                                    landmarks_3d=lm3.astype(np.float32), rotation=r, head_centre=c)
    return img, landmarks


@lru_cache(maxsize=1024)
def _shell_points(idn: Identity) -> np.ndarray:
    """Points on the hair shell, for the bounding box of the ray-cast; (M, 3)."""
    look = hair_look(idn)
    th = np.linspace(-np.pi / 2, np.pi / 2, 9)[:, None]
    ph = np.linspace(-np.pi, np.pi, 13)[None, :]
    unit = np.stack(np.broadcast_arrays(np.cos(th) * np.sin(ph), np.sin(th), -np.cos(th) * np.cos(ph)), -1)
    return unit.reshape(-1, 3) * look["radii"] + look["centre"]


@lru_cache(maxsize=1024)
def _halo_points(idn: Identity) -> np.ndarray:
    look = hair_look(idn)
    th = np.linspace(-np.pi / 2, 0.15, 12)[:, None]
    ph = np.linspace(-np.pi, np.pi, 24, endpoint=False)[None, :]
    unit = np.stack(np.broadcast_arrays(np.cos(th) * np.sin(ph), np.sin(th), -np.cos(th) * np.cos(ph)), -1)
    return unit.reshape(-1, 3) * look["radii"] + look["centre"]


def _curly_halo(img, idn, look, px, unit):
    """Curly hair: bumps of hair around the outline of the shell's upper part."""
    hull = cv2.convexHull(px(_halo_points(idn)).astype(np.float32))[:, 0]
    colour = _col(look["rgb"], 0.55)
    _fill(img, hull, colour)
    rad = int(round(0.13 * unit * _ONE))
    for p in _fix(hull):
        cv2.circle(img, (int(p[0]), int(p[1])), rad, colour, -1, cv2.LINE_AA, SHIFT)


def _draw_ear(img, parts, p2, e, skin, light_h):
    ear = parts["ears"][e]
    n = np.cross(ear[5] - ear[0], ear[10] - ear[0])
    n /= np.linalg.norm(n) + 1e-12
    shade = AMBIENT + DIFFUSE * abs(float(n @ light_h))                    # lit from either side
    _fill(img, p2["ears"][e], _col(skin, 0.92 * shade))
    _fill(img, p2["ear_inner"][e], _col(skin, 0.7 * shade))


def _clip_draw(img, poly, draw):
    """Run draw(buffer, offset) on a copy of the polygon's bounding box and keep it only inside the polygon."""
    size_y, size_x = img.shape[:2]
    x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(axis=0)).astype(int) + 3, [size_x, size_y])
    if x1 <= x0 or y1 <= y0:
        return
    roi = img[y0:y1, x0:x1]
    buf = roi.copy()
    off = np.array([x0, y0], float)
    draw(buf, off)
    mask = np.zeros(roi.shape[:2], np.uint8)
    _fill(mask, poly - off, 255)
    m = mask.astype(np.uint16)[..., None]
    roi[:] = ((roi.astype(np.uint16) * (255 - m) + buf.astype(np.uint16) * m + 127) // 255).astype(np.uint8)


def _draw_eyes(img, p2, idn, iris_px):
    """Sclera, iris and pupil clipped to the lid opening; lashes, crease and lower lid on top."""
    skin = np.array(idn.skin_rgb)
    iris_rgb = np.array(idn.eye_rgb)
    lash = _col(np.minimum(np.array(idn.brow_rgb), 0.25) * 0.6)
    unit = iris_px / 0.082 / idn.eye_size
    for e in range(2):
        up, lo = p2["eye_upper"][e], p2["eye_lower"][e]
        height = float(np.max(np.abs(up[:, 1] - lo[:, 1])))
        if height > 0.25:
            iris, iris_in, pupil, centre = p2["iris"][e], p2["iris_in"][e], p2["pupil"][e], p2["iris_centre"][e]

            def draw(buf, off, up=up, iris=iris, iris_in=iris_in, pupil=pupil, centre=centre):
                buf[:] = _col((0.93, 0.92, 0.9), 0.95)
                _fill(buf, iris - off, _col(iris_rgb, 0.55))
                _fill(buf, iris_in - off, _col(iris_rgb, 1.0))
                _fill(buf, pupil - off, (10, 8, 8))
                glint = centre - off + np.array([-0.3, -0.35]) * iris_px
                cv2.circle(buf, tuple(_fix(glint)), max(1, int(round(0.22 * iris_px * _ONE))), (250, 250, 250),
                           -1, cv2.LINE_AA, SHIFT)
                _polyline(buf, up - off, _col((0.6, 0.55, 0.52)), max(1.0, 0.05 * unit))      # lid shadow
            _clip_draw(img, np.concatenate([up, lo[::-1]]), draw)
        _polyline(img, p2["crease"][e], _col(skin, 0.72), max(1.0, 0.012 * unit))
        _polyline(img, lo, _col(skin, 0.68), max(1.0, 0.01 * unit))
        _polyline(img, up, lash, max(1.0, 0.028 * unit))


def _draw_mouth(img, p2, idn, light_h, unit):
    uo, ui, li, lo = p2["lip_uo"], p2["lip_ui"], p2["lip_li"], p2["lip_lo"]
    lip = np.array(idn.lip_rgb)
    shade = _shade(np.array([0.0, 0.149, -0.989]), light_h)    # the mouth faces forward and a little down
    gap = float(np.max(np.abs(ui[:, 1] - li[:, 1])))
    if gap > 0.3:
        teeth_u, teeth_l, tongue = p2["teeth_upper"], p2["teeth_lower"], p2["tongue"]

        def draw(buf, off):
            buf[:] = _col((0.3, 0.08, 0.09), shade)
            _fill(buf, tongue - off, _col((0.72, 0.32, 0.35), shade))
            _fill(buf, teeth_l - off, _col((0.86, 0.84, 0.8), shade))
            _fill(buf, teeth_u - off, _col((0.97, 0.96, 0.93), shade))
        _clip_draw(img, np.concatenate([ui, li[::-1]]), draw)
    _fill(img, np.concatenate([uo, ui[::-1]]), _col(lip, 0.82 * shade))
    _fill(img, np.concatenate([li, lo[::-1]]), _col(lip, 1.0 * shade))
    # a highlight on the lower lip and the dark line between the lips
    mid = 0.45 * li[8:17] + 0.55 * lo[8:17]
    _polyline(img, mid, _col(lip, 1.2 * shade), max(1.0, 0.02 * unit))
    _polyline(img, ui, _col(lip, 0.45 * shade), max(1.0, 0.012 * unit))


# the nose as three facets (index lists into the named nose points): two sides and the underside
_NOSE_FACETS = (
    ([("nose_ridge", 0), ("nose_ridge", 1), ("nose_ridge", 2), ("nose_ridge", 3), ("side_tip", 0),
      ("ala_out", 0), ("ala_top", 0), ("side_mid", 0), ("side_root", 0)], 1.0),
    ([("nose_ridge", 0), ("nose_ridge", 1), ("nose_ridge", 2), ("nose_ridge", 3), ("side_tip", 1),
      ("ala_out", 1), ("ala_top", 1), ("side_mid", 1), ("side_root", 1)], 1.0),
    ([("ala_out", 0), ("nose_base", 0), ("nose_base", 1), ("nose_base", 2), ("nose_base", 3), ("nose_base", 4),
      ("ala_out", 1), ("side_tip", 1), ("nose_ridge", 3), ("side_tip", 0)], 0.8),
)


def _draw_nose(img, parts, p2, skin, light_h, eye, unit):
    """Nose facets (back-face culled, far ones first), wing creases, nostrils and a soft tip highlight."""
    drawn = []
    face_shade = _shade(np.array([0.0, 0.0, -1.0]), light_h)     # the cheeks around the nose
    for facet, k in _NOSE_FACETS:
        pts = np.array([parts[name][i] for name, i in facet])
        centre = pts.mean(axis=0)
        n = np.cross(pts[len(pts) // 2] - pts[0], pts[-2] - pts[2])     # normal from two diagonals
        if n @ np.array([centre[0], 0.0, centre[2]]) < 0:              # ... pointing away from the head's axis
            n = -n
        n /= np.linalg.norm(n) + 1e-12
        if float(n @ (centre - eye)) < 0.0:                             # back-face culling: n . (p - eye) < 0
            shade = 0.5 * k * _shade(n, light_h) + 0.5 * face_shade
            drawn.append((float(np.linalg.norm(centre - eye)), [p2[name][i] for name, i in facet], shade))
    for _, poly, shade in sorted(drawn, key=lambda d: -d[0]):          # painter's order: far first
        _fill(img, np.array(poly), _col(skin, shade))
    for k, b in ((0, 0), (1, 4)):
        _polyline(img, np.array([p2["ala_top"][k], p2["ala_out"][k], p2["nose_base"][b]]), _col(skin, 0.62),
                  max(1.0, 0.014 * unit))
        _fill(img, p2["nostrils"][k], _col(skin, 0.32))
    cv2.circle(img, tuple(_fix(p2["tip"])), max(1, int(round(0.025 * unit * _ONE))), _col(skin, 1.0), -1,
               cv2.LINE_AA, SHIFT)


def iris_centres(identity: Identity, state, size: int) -> np.ndarray:
    """Pixel centres of the two irises, right eye (image left) first; (2, 2)."""
    return render_frame(identity, state, size, return_extras=True)[2]["iris_centres"]


def render_frames(identity: Identity, states, size: int):
    """Render a sequence: ``states`` is a list of FaceState or an array (T, 17).

    Returns (frames (T, size, size, 3) uint8, landmarks (T, 68, 2) float32).
    """
    if isinstance(states, np.ndarray) and (states.ndim != 2 or states.shape[1] != len(STATE_NAMES)):
        raise ValueError(f"states must have shape (T, {len(STATE_NAMES)}), got {states.shape}")
    states = list(states)
    frames = np.zeros((len(states), size, size, 3), np.uint8)
    marks = np.zeros((len(states), 68, 2), np.float32)
    for i, st in enumerate(states):
        frames[i], marks[i] = render_frame(identity, st, size)
    return frames, marks
