"""A classical spread-spectrum watermark on a frame-relative grid, with informed embedding and a calibrated detector.

The idea in four steps (chapter 11 builds each by hand first):

1. **A grid that moves with the picture.** Every frame's luma is resized to a fixed ``G x G`` grid (``G = 64``)
   spanning the whole frame, whatever its size. A watermark drawn on that grid and stretched back to the frame
   survives resizing by construction: resizing the video resizes the grid with it.
2. **Patterns the codec keeps.** The message is carried by ``K = 64`` random patterns ``R_k`` that live only in a
   band of low spatial frequencies (1.5 to 10 cycles across the frame: H.264 and down-scaling throw away fine
   detail, not these), are zero in the outer 10 % of the frame (so a crop leaves them whole), have no mean (so
   brightness leaves them alone) and are orthonormal, so reading bit ``k`` is one inner product and adding
   ``d_k R_k`` moves read-out ``k`` by ``d_k`` and no other:

       c_k(y) = < y , R_k >

3. **Informed embedding (quantization index modulation).** The embedder knows the frame, so instead of adding
   a pattern on top of the picture (whose own read-out would drown it), it moves each read-out, measured in
   units of the picture's strength in the band ``r``, to the nearest point of a lattice that encodes the bit
   (Chen and Wornell 2001):

       q_k = c_k / r,   q_k  ->  STEP * (round(q_k / STEP - u_k - b_k / 2) + u_k + b_k / 2)

   (``u_k`` the key's dither). Dividing by ``r`` makes a contrast change harmless; the picture no longer
   interferes at all, but anything that moves ``q_k`` by a quarter step (codec noise) flips the bit.

4. **A detector with a p-value.** Each read-out becomes a soft bit ``v_k = -cos(2 pi (q_k / STEP - u_k))``,
   averaged over frames. On unmarked video the lattice phase is uniform, so ``v_k`` has mean 0 and variance at
   most 1/2; ``N_DECOY`` patterns that are never embedded measure that spread on the very video under test, and
   ``z_k = v_k / sigma``. For a candidate payload with signs ``s_k`` (sync bits included), ``S = sum_k s_k z_k``
   is then at most N(0, 64) on unmarked video, and the detector pays for every payload and every crop, gain and
   registration it tried with a union bound:

       p <= (number of tries) * Phi(-S / 8)

   It looks for the models vasa_lab ships (3 payloads) and for any model id under vasa_lab's generator byte
   (2^16 payloads); see :func:`score`. The frame is *found* when ``p < P_THRESHOLD``.

Nothing here is learned; the key (the patterns' seed) is public, as the code is. A public key means anyone can
read, remove or forge the mark: it tells honest viewers what made a video, it does not stop a determined forger.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, wraps

import cv2
import numpy as np

from .ecc import Payload, encode_payload, pack_payload

GRID = 64                   # the frame-relative grid (pixels of the working image)
BAND = (1.5, 10.0)          # carried spatial frequencies, cycles per frame
N_SYNC, N_CODE = 16, 48     # 16 known sync bits + 48 Golay code bits (24-bit payload)
N_BITS = N_SYNC + N_CODE
N_DECOY = 128               # patterns never embedded: they measure a soft bit's spread on this very video
KEY = 20240417              # the public key: the seed of every pattern
CROPS = (1.0, 0.95, 0.9, 0.85)  # coarse crop hypotheses (fraction of the frame kept per side), refined later
SEARCH_FRAMES = 8           # frames the hypothesis search reads (the winner is then scored on all)
GAINS = (0.85, 0.92, 1.0, 1.08, 1.16)   # read-out gain hypotheses (codecs and filters weaken the band unevenly)


def luma(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, H, W) float32 luma (BT.601 weights)."""
    f = frames.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def grid_luma(frames: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, grid, grid) luma on the grid (area-average first, then luma: both linear)."""
    interp = cv2.INTER_AREA if min(frames.shape[1:3]) >= grid else cv2.INTER_CUBIC
    small = np.stack([cv2.resize(f, (grid, grid), interpolation=interp) for f in frames])
    return luma(small)


@lru_cache(maxsize=4)
def band_mask(grid: int = GRID, band: tuple = BAND) -> np.ndarray:
    """The band-pass B as an FFT gain (grid, grid): 1 between ``band`` cycles per frame, 0 outside, with a
    one-cycle raised-cosine roll-off at both ends."""
    fy = np.fft.fftfreq(grid) * grid
    f = np.hypot(*np.meshgrid(fy, fy, indexing="ij"))
    lo, hi = band
    edge = np.clip(f - lo + 0.5, 0, 1) * np.clip(hi + 0.5 - f, 0, 1)
    return (0.5 - 0.5 * np.cos(np.pi * edge)).astype(np.float32)


@dataclass(frozen=True)
class Patterns:
    R: np.ndarray       # (N_BITS + N_DECOY, G*G) orthonormal read-out vectors: c_k = <y, R_k>
    P: np.ndarray       # (N_BITS, G*G) what is added to the pixels (here R itself): <P_j, R_k> = delta_jk
    gram: np.ndarray    # (N_BITS,) |P_k|^2, the pixel energy of one unit of each pattern
    dither: np.ndarray  # (N_BITS + N_DECOY,) the key's offset of each lattice, in units of the step
    sync: np.ndarray    # (N_SYNC,) the known sync bits, in {0, 1}
    window: np.ndarray  # (G, G) where the read-out looks: the frame minus a 10 % border


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread(fn):
    """Run ``fn`` with numpy's BLAS on one thread. Its products here are small (a block of frames times 64 or 192
    patterns of 4096 numbers): a second BLAS thread gains nothing on an idle machine, and beside other busy
    processes (the renderer, a second test worker) OpenBLAS's threads wait for each other: marking 14 minutes of
    video took 165 s instead of 5 in CI (``tests/test_animate.py::test_long_audio_in_bounded_memory``)."""
    @wraps(fn)
    def limited(*args, **kwargs):
        with _blas_controller().limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return limited


def _fft_filter(x: np.ndarray, gain: np.ndarray) -> np.ndarray:
    return np.real(np.fft.ifft2(np.fft.fft2(x) * gain)).astype(np.float32)


def _window(grid: int = GRID, border: float = 0.1, soft: float = 0.08) -> np.ndarray:
    """1 in the middle, 0 in the outer ``border`` of the frame, raised-cosine in between."""
    t = (np.arange(grid) + 0.5) / grid
    d = np.minimum(t, 1 - t)
    w1 = np.clip((d - border) / soft, 0, 1)
    w1 = 0.5 - 0.5 * np.cos(np.pi * w1)
    return np.outer(w1, w1).astype(np.float32)


@lru_cache(maxsize=2)
def patterns(key: int = KEY, grid: int = GRID) -> Patterns:
    """The keyed patterns: white noise, band-passed, windowed away from the border (a crop of up to 10 % per side
    leaves them whole), made mean-free and orthonormal (QR). The first 64 are embedded, the rest are decoys."""
    rng = np.random.default_rng(key)
    band = band_mask(grid)
    win = _window(grid)
    n = N_BITS + N_DECOY
    noise = rng.standard_normal((n, grid, grid)).astype(np.float32)
    R = (_fft_filter(noise, band) * win).reshape(n, -1)
    # blind to the picture's mean (brightness), still zero outside the window: subtract a multiple of the window
    wv = win.reshape(-1)
    R -= (R.sum(1, keepdims=True) / wv.sum()) * wv[None, :]
    q, _ = np.linalg.qr(R.T.astype(np.float64))
    R = q.T.astype(np.float32)                                       # (n, G*G) orthonormal
    P = R[:N_BITS].copy()            # orthonormal: adding d_k P_k moves read-out k by d_k and no other
    dither = rng.random(n).astype(np.float32)
    sync = (rng.random(N_SYNC) < 0.5).astype(np.uint8)
    R = np.ascontiguousarray(R)
    P = np.ascontiguousarray(P)
    return Patterns(R=R, P=P.astype(np.float32), gram=(P ** 2).sum(1).astype(np.float32), dither=dither,
                    sync=sync, window=win)


def message_bits(payload: Payload) -> np.ndarray:
    """The 64 embedded bits (0/1): 16 sync bits, then the 48 Golay code bits."""
    return np.concatenate([patterns().sync, encode_payload(payload)]).astype(np.uint8)


def message_signs(payload: Payload) -> np.ndarray:
    return message_bits(payload).astype(np.float32) * 2 - 1


def scale(yg: np.ndarray) -> np.ndarray:
    """r: how strong the picture is in the carried band, (N, G, G) -> (N,). Only the windowed middle of the frame
    counts (what a crop removes, or fills in, must not change it), its mean removed (brightness must not either);
    a contrast change scales it exactly as it scales the read-outs."""
    win = patterns().window
    wsum = win.sum()
    mean = (yg * win).sum(axis=(1, 2), keepdims=True) / wsum
    w = _fft_filter((yg - mean) * win, band_mask(yg.shape[-1]))
    return np.sqrt((w ** 2).sum(axis=(1, 2)) / (win ** 2).sum()) + 1e-3


def readout(yg: np.ndarray) -> np.ndarray:
    """q = (R y) / r for grid images (N, G, G) -> (N, N_BITS + N_DECOY): read-outs in units of the picture's
    own strength, so brightness and contrast changes leave them alone."""
    c = yg.reshape(len(yg), -1) @ patterns().R.T
    return c / scale(yg)[:, None]


STEP = 1.25     # the lattice step, in units of r: the strength (PSNR ~39-48 dB on the synthetic world, ~43 typical)


def quantize_offsets(q: np.ndarray, bits: np.ndarray, step: float | None = None) -> np.ndarray:
    """QIM: how far each read-out must move (in units of r) to reach the nearest point of its bit's lattice
    step * (Z + bit / 2 + dither)."""
    step = step or STEP
    u = patterns().dither[: q.shape[1]]
    target = (u + bits / 2.0)[None, :]
    x = q / step - target
    return (np.round(x) - x) * step


@one_blas_thread
def embed(frames: np.ndarray, payload: Payload, step: float | None = None) -> np.ndarray:
    """Mark every frame: (N, H, W, 3) uint8 RGB -> the same shape.

    The mark is computed on the grid, stretched to the frame (bilinear: it is smooth) and added to R, G and B
    alike (a change of luma only). Deterministic: the same frames and payload give the same bytes."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        return embed(frames[None], payload, step)[0]
    n, h, w, _ = frames.shape
    pats = patterns()
    bits = message_bits(payload)
    yg = grid_luma(frames)
    delta = np.zeros_like(yg)
    for _ in range(3):          # r moves a little with the mark itself: settle it
        marked = yg + delta
        r = scale(marked)
        q = (marked.reshape(n, -1) @ pats.R[:N_BITS].T) / r[:, None]
        d = quantize_offsets(q, bits, step) * r[:, None]
        delta = delta + (d @ pats.P).reshape(n, GRID, GRID)
    out = np.empty_like(frames)
    for i in range(n):      # the mark is smooth (<= 10 cycles per frame): bilinear stretching is exact enough
        up = cv2.resize(delta[i], (w, h), interpolation=cv2.INTER_LINEAR) if (h, w) != (GRID, GRID) else delta[i]
        up = np.rint(up)
        # clip(frame + up, 0, 255) with OpenCV's saturating uint8 arithmetic: add the positive part, subtract the
        # negative part (the same bytes, several times faster on a 1024 px frame)
        pos = cv2.merge([np.clip(up, 0, 255).astype(np.uint8)] * 3)
        neg = cv2.merge([np.clip(-up, 0, 255).astype(np.uint8)] * 3)
        out[i] = cv2.subtract(cv2.add(frames[i], pos), neg)
    return out


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


# ---------------------------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------------------------
def crop_hypotheses() -> list[tuple[float, float, float]]:
    """(kept fraction s, left offset, top offset) in frame units: no crop, and crops of 5-15 % per side anchored
    at a corner, an edge middle or the centre."""
    out = [(1.0, 0.0, 0.0)]
    for s in CROPS[1:]:
        m = 1 - s
        out += [(s, ox, oy) for ox in (0, m / 2, m) for oy in (0, m / 2, m)]
    return out


def _place(y: np.ndarray, s: float, ox: float, oy: float) -> np.ndarray:
    """Put frames' luma (N, h, w) back where hypothesis (s, ox, oy) says they came from, on the grid -> (N, G, G):
    the frame covers [ox, ox + s] x [oy, oy + s] of the original frame (in frame units). Sub-pixel exact (an area
    resize to the next whole size, then an affine warp for the rest): QIM forgives no misregistration. What the
    crop removed is filled with each picture's mean; the read-out vectors do not look there."""
    n, h, w = y.shape
    ext = s * GRID                                  # the frame's extent on the grid, in grid pixels (float)
    size = int(math.ceil(ext))
    interp = cv2.INTER_AREA if min(h, w) >= size else cv2.INTER_CUBIC
    k = ext / size
    # x_grid + 0.5 = k (x_small + 0.5) + ox G   (pixel centres)
    m = np.float32([[k, 0, 0.5 * k - 0.5 + ox * GRID], [0, k, 0.5 * k - 0.5 + oy * GRID]])
    out = np.empty((n, GRID, GRID), np.float32)
    for i, im in enumerate(y):
        small = cv2.resize(im, (size, size), interpolation=interp)
        out[i] = cv2.warpAffine(small, m, (GRID, GRID), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=float(small.mean()))
    return out


# Under no watermark each read-out's lattice phase is uniform, so a soft bit v = -cos(phase) has mean 0 and
# variance 1/2 in one frame, and no more than 1/2 averaged over frames (less when frames differ). The decoys' soft
# bits measure it on this very video; we divide by a generous estimate of their spread, never above sqrt(1/2).
SIGMA_MARGIN = 1.2      # the decoys' RMS (128 of them) underestimates the spread by this factor with probability ~1e-4


def soft_bits(q: np.ndarray, step: float | None = None) -> np.ndarray:
    """Read-outs (N, K) -> soft bits v in [-1, 1] (positive: bit 1): v = -cos(2 pi (q / step - dither))."""
    step = step or STEP
    u = patterns().dither[: q.shape[1]]
    return -np.cos(2 * np.pi * (q / step - u[None, :]))


@dataclass
class FrameDetection:
    """What the detector read off a stack of frames."""
    statistic: float            # S / 8 for the best payload: at most N(0, 1) for any one payload on unmarked video
    p_value: float              # union bound over payloads and hypotheses (see ``score``)
    payload: Payload
    bits: np.ndarray            # (64,) the bits read (0/1) before error correction
    v: np.ndarray               # (64,) their soft values in [-1, 1], averaged over frames
    crop: tuple                 # the hypothesis that won (kept fraction, left, top, gain)
    n_frames: int
    hypotheses: int = 1

    @property
    def found(self) -> bool:
        return self.p_value < P_THRESHOLD


P_THRESHOLD = 1e-6      # decision threshold on the p-value (chapter 11 checks it on unmarked clips)


@lru_cache(maxsize=1)
def _codewords() -> tuple[np.ndarray, np.ndarray]:
    """The +-1 code bits of every payload whose generator byte is vasa_lab's (2^16 of them), as two blocks:
    block 1 (generator byte + 4 model bits: 16 codewords) and block 2 (8 model bits... all 4096 codewords)."""
    from .ecc import golay_codebook

    book = golay_codebook().astype(np.float32) * 2 - 1
    gen_prefix = np.asarray([(1 >> (7 - i)) & 1 for i in range(8)], np.uint8)     # generator id 1: vasa_lab
    first = book[np.all(golay_codebook()[:, :8] == gen_prefix, axis=1)]            # (16, 24)
    return first, book


def known_payloads() -> list[Payload]:
    from .ecc import KNOWN_MODELS

    return [pack_payload(m) for m in KNOWN_MODELS]


def score(v: np.ndarray, decoys: np.ndarray) -> tuple[float, float, Payload]:
    """For one hypothesis: frame-averaged soft bits ``v`` (64,) and the decoys' -> (z-statistic, p-value, payload).

    Each embedded bit's z = v / sigma, sigma = min(sqrt(1/2), SIGMA_MARGIN * rms(decoys)): at most N(0, 1) on
    unmarked video, independent across bits. For a candidate payload c (its 64 signs, sync included) the sum
    S(c) = sum_k c_k z_k is then at most N(0, 64), so P(S(c) > s) <= Phi(-s / 8). The detector takes the best
    payload among a set of M candidates and pays for it with a union bound, p <= M Phi(-s / 8): M = 3 for the
    models vasa_lab ships, M = 2^16 for any model id under vasa_lab's generator byte; the smaller of the two
    p-values, doubled (we looked twice), is reported."""
    sigma = min(math.sqrt(0.5), SIGMA_MARGIN * float(np.sqrt(np.mean(decoys ** 2))) + 1e-6)
    z = v / sigma
    sync = patterns().sync.astype(np.float32) * 2 - 1
    s_sync = float(sync @ z[:N_SYNC])
    # any model id: the best codeword of each block (block 1 restricted to vasa_lab's generator byte)
    first, book = _codewords()
    i1 = int(np.argmax(first @ z[N_SYNC:N_SYNC + 24]))
    i2 = int(np.argmax(book @ z[N_SYNC + 24:]))
    s_any = s_sync + float(first[i1] @ z[N_SYNC:N_SYNC + 24] + book[i2] @ z[N_SYNC + 24:])
    p_any = (16 * 4096) * normal_sf(s_any / 8)
    # the shipped models
    best_known, s_known = None, -1e9
    for pl in known_payloads():
        sk = float(message_signs(pl) @ z)
        if sk > s_known:
            best_known, s_known = pl, sk
    p_known = len(known_payloads()) * normal_sf(s_known / 8)
    bits_any = np.concatenate([(first[i1] > 0), (book[i2] > 0)]).astype(np.uint8)
    payload_any = Payload.from_bits(np.concatenate([bits_any[:12], bits_any[24:36]]))
    if p_known <= p_any:
        return s_known / 8, min(1.0, 2 * p_known), best_known
    return s_any / 8, min(1.0, 2 * p_any), payload_any


def normal_sf(t: float) -> float:
    """P(N(0,1) > t)."""
    return 0.5 * math.erfc(t / math.sqrt(2))


@one_blas_thread
def detect_frames(frames: np.ndarray, max_frames: int = 40, crops: bool = True, gains: bool = True) -> FrameDetection:
    """Look for the mark in (N, H, W, 3) uint8 RGB frames: read every frame (up to ``max_frames``, evenly
    spaced) under every crop hypothesis, average the soft bits over frames, keep the best hypothesis."""
    frames = np.asarray(frames)
    if len(frames) > max_frames:
        frames = frames[np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
    y = luma(frames)
    side = 2 * GRID
    if min(y.shape[1:]) > side:     # everything the read-out needs is on a 2x grid: shrink big frames first
        y = np.stack([cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA) for im in y])
    hyps = crop_hypotheses() if crops else [(1.0, 0.0, 0.0)]
    best = None
    gains = GAINS if gains else (1.0,)
    n_hyp = 0

    # the search looks at a dozen frames; the winner is then scored on all of them (the union bound over every
    # hypothesis tried still covers the one we report)
    search = y[np.linspace(0, len(y) - 1, min(len(y), SEARCH_FRAMES)).round().astype(int)]

    def evaluate(h, best, frames_y=search):
        nonlocal n_hyp
        q = readout(_place(frames_y, *h))
        for g in gains:
            n_hyp += 1
            vall = soft_bits(q * g).mean(0)
            t, p, payload = score(vall[:N_BITS], vall[N_BITS:])
            if best is None or p < best[1] or (p == best[1] and t > best[0]):
                best = (t, p, payload, vall[:N_BITS], tuple(h) + (g,))
        return best

    coarse = [evaluate(h, None) for h in hyps]
    best = min(coarse, key=lambda b: (b[1], -b[0]))
    if crops and best[1] > 1e-40:
        # refine the registration around the two best (QIM forgives no misregistration: a quarter of a grid
        # pixel already scrambles half the bits): one coordinate at a time (x, y in grid pixels, scale), 3 rounds
        for start in sorted(coarse, key=lambda b: (b[1], -b[0]))[:2]:
            local = start
            for shift, zoom in (((-0.3, -0.15, 0.15, 0.3), (-0.02, -0.01, 0.01, 0.02)),
                                ((-0.1, -0.05, 0.05, 0.1), (-0.005, -0.0025, 0.0025, 0.005)),
                                ((-0.03, 0.03), (-0.001, 0.001))):
                for axis in (0, 1, 2):
                    centre = list(local[4][:3])
                    for d in (zoom if axis == 0 else shift):
                        h = list(centre)
                        h[axis] = h[axis] + (d if axis == 0 else d / GRID)
                        if 0.5 <= h[0] <= 1.05:
                            local = evaluate(h, local)
            if (local[1], -local[0]) < (best[1], -best[0]):
                best = local
    if len(search) < len(y):
        n_before = n_hyp
        best = evaluate(best[4][:3], None, y) if len(gains) == 1 else min(
            (evaluate(best[4][:3], None, y) for _ in (0,)), key=lambda b: b[1])
        n_hyp = n_before
    t, p, payload, v, h = best
    p = min(1.0, n_hyp * p)
    return FrameDetection(statistic=t, p_value=p, payload=payload, bits=(v > 0).astype(np.uint8), v=v,
                          crop=tuple(round(float(x), 4) for x in h), n_frames=len(frames), hypotheses=n_hyp)


def bit_accuracy(det: FrameDetection, payload: Payload) -> float:
    """Share of the 64 embedded bits read correctly (before error correction)."""
    return float(np.mean(det.bits == message_bits(payload)))


# ---------------------------------------------------------------------------------------------------------------
# the object the writers use
# ---------------------------------------------------------------------------------------------------------------
class Watermarker:
    """Marks frames with a fixed payload. ``Watermarker.default(model_id)`` is what every writer uses."""

    BLOCK = 32          # frames marked at once (~0.3 MB of working memory a frame, whatever its size)

    def __init__(self, payload: Payload, step: float | None = None):
        self.payload = payload
        self.step = step

    @classmethod
    def default(cls, model_id: str) -> "Watermarker":
        patterns()              # built once per process (~20 ms), cached
        return cls(pack_payload(model_id))

    def mark(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) or (H, W, 3) uint8 RGB -> the same, marked. Frames smaller than 16 px are returned as is."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.shape[-1] != 3 or frames.ndim not in (3, 4):
            raise ValueError(f"frames must be (N, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        if min(frames.shape[-3:-1]) < 16 or frames.size == 0:
            return frames.copy()
        if frames.ndim == 3 or len(frames) <= self.BLOCK:
            return embed(frames, self.payload, self.step)
        out = np.empty_like(frames)          # each frame is marked on its own: blocks bound the working memory
        for i in range(0, len(frames), self.BLOCK):
            out[i:i + self.BLOCK] = embed(frames[i:i + self.BLOCK], self.payload, self.step)
        return out

    @property
    def payload_text(self) -> str:
        return (f"invisible watermark on: every frame carries '{self.payload}' "
                "(check a video with: vasa-lab detect VIDEO)")
