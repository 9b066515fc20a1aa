"""Chapter 11 (responsible use): QIM by hand, the soft bit the detector reads, the union bound behind its p-value."""
from __future__ import annotations

import numpy as np

from .core import Case, Exercise, register


def _frames():
    from vasa_lab.world.clip import make_clip

    return make_clip(11, 3, seconds=0.2, size=128).frames        # 5 frames of a synthetic person


def _lattice_cases():
    from vasa_lab.provenance import pack_payload
    from vasa_lab.provenance import watermark as W

    pats, out = W.patterns(), []
    q = W.readout(W.grid_luma(_frames()))[:, :W.N_BITS]
    for label, frame, bits in (("a frame, the tiny model's payload", 0, W.message_bits(pack_payload("tiny"))),
                               ("another frame, the small model's", 3, W.message_bits(pack_payload("small"))),
                               ("every bit set to 1", 4, np.ones(W.N_BITS, np.uint8))):
        qf = q[frame].astype(np.float64)
        expected = qf + W.quantize_offsets(qf[None], bits)[0]
        out.append(Case(label, (qf, bits, W.STEP, pats.dither[:W.N_BITS].astype(np.float64)), expected))
    return out


register(Exercise(
    key="11.1", title="QIM by hand: the nearest point of a bit's lattice", answer="my_nearest_lattice_point",
    reference="vasa_lab.provenance.watermark.quantize_offsets (plus the read-out)", cases=_lattice_cases,
    wrong=lambda q, bit, step, u: step * (np.round(q / step) + bit / 2),
    hint="bit b's lattice is step * (Z + u + b / 2): shift q by u + b / 2 steps, round, shift back", rtol=1e-5,
    atol=1e-5))


def _soft_cases():
    from vasa_lab.provenance import watermark as W

    pats = W.patterns()
    rng = np.random.default_rng(11)
    out = []
    for label, q in (("read-outs of real frames", W.readout(W.grid_luma(_frames()))[:, :W.N_BITS]),
                     ("points on the lattices and between", rng.uniform(-4, 4, (6, W.N_BITS)))):
        q = np.asarray(q, np.float64)
        out.append(Case(label, (q, W.STEP, pats.dither[:W.N_BITS].astype(np.float64)), W.soft_bits(q)))
    return out


register(Exercise(
    key="11.2", title="the soft bit the detector reads", answer="my_soft_bit",
    reference="vasa_lab.provenance.watermark.soft_bits", cases=_soft_cases,
    wrong=lambda q, step, u: np.sign(np.cos(2 * np.pi * (q / step - u))),
    hint="+1 on bit 1's lattice (half a step from bit 0's), -1 on bit 0's, a cosine of the distance in between",
    rtol=1e-5, atol=1e-6))


def _union_cases():
    from vasa_lab.provenance import watermark as W

    rows = [("S = 40 over 3 payloads", (40.0, 3)), ("S = 30, one payload", (30.0, 1)),
            ("S = 48 over 4096 codewords x 45 crops", (48.0, 4096 * 45))]
    return [Case(label, args, min(1.0, args[1] * W.normal_sf(args[0] / 8))) for label, args in rows]


register(Exercise(
    key="11.3", title="the union bound behind the p-value", answer="my_p_value",
    reference="m x P(N(0, 1) > S / 8), at most 1 (vasa_lab.provenance.watermark.normal_sf)", cases=_union_cases,
    wrong=lambda S, m: 0.5 * __import__("math").erfc(S / 8 / 2 ** 0.5),
    hint="on unmarked video S is at most N(0, 64) for each try: P(N(0,1) > S / 8); m tries multiply it (never "
         "above 1)", rtol=1e-6, atol=1e-12))
