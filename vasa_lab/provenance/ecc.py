"""The payload and its error correction: 24 bits of message, two extended Golay (24, 12) codewords.

The extended binary Golay code turns 12 message bits into 24 code bits; any two codewords differ in at least 8
places, so a hard-decision decoder corrects every pattern of up to 3 flipped bits. Our decoder does better than
that: with only 2**12 = 4096 codewords it simply tries them all and keeps the one that agrees best with the *soft*
evidence (how confidently each bit was read), which is the maximum-likelihood decoder for Gaussian noise:

    c_hat = argmax_c  sum_i  c_i * z_i        (c_i in {-1, +1}, z_i the read-out confidence of bit i)

The message itself (:func:`pack_payload`) is 8 bits naming the generator and 16 bits naming the model (a hash of
its id string), so a detector can say "made by vasa_lab, model tiny" without any database.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# g(x) = x^11 + x^10 + x^6 + x^5 + x^4 + x^2 + 1, the generator of the cyclic (23, 12) Golay code
GOLAY_POLY = 0b110001110101
GENERATORS = {1: "vasa_lab"}          # generator id -> name (8 bits: room for 255 generators)
KNOWN_MODELS = ("tiny", "small", "full")


def _poly_mod(value: int, poly: int, degree: int) -> int:
    """Remainder of ``value`` divided by ``poly`` over GF(2)."""
    for shift in range(value.bit_length() - 1, degree - 1, -1):
        if value >> shift & 1:
            value ^= poly << (shift - degree)
    return value


@lru_cache(maxsize=1)
def golay_codebook() -> np.ndarray:
    """All 4096 codewords of the extended Golay code as a (4096, 24) array of 0/1 bits (message bits first)."""
    words = []
    for m in range(4096):
        parity = _poly_mod(m << 11, GOLAY_POLY, 11)          # systematic cyclic code: m(x) x^11 mod g(x)
        bits = [(m >> (11 - i)) & 1 for i in range(12)] + [(parity >> (10 - i)) & 1 for i in range(11)]
        bits.append(sum(bits) & 1)                            # the 24th bit makes every weight even
        words.append(bits)
    return np.asarray(words, np.uint8)


def golay_encode(message12: np.ndarray) -> np.ndarray:
    """12 bits (0/1) -> their 24-bit codeword."""
    m = int("".join(str(int(b)) for b in message12), 2)
    return golay_codebook()[m].copy()


def golay_decode_soft(z: np.ndarray) -> tuple[np.ndarray, float]:
    """Soft-decision ML decoding of one 24-bit block: ``z`` (24,) signed confidences (positive = bit 1).

    Returns the 12 message bits and the winning codeword's agreement ``sum_i c_i z_i``."""
    signs = golay_codebook().astype(np.float32) * 2 - 1       # (4096, 24) in {-1, +1}
    scores = signs @ np.asarray(z, np.float32)
    best = int(np.argmax(scores))
    return golay_codebook()[best, :12].copy(), float(scores[best])


def model_code(model_id: str) -> int:
    """A model id string -> 16 bits (the first two bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(model_id.encode("utf-8")).digest()[:2], "big")


@dataclass(frozen=True)
class Payload:
    """What a watermark says: which generator made the video and with which model."""
    generator: int
    model: int

    @property
    def generator_name(self) -> str:
        return GENERATORS.get(self.generator, f"unknown generator #{self.generator}")

    @property
    def model_name(self) -> str:
        for name in KNOWN_MODELS:
            if model_code(name) == self.model:
                return name
        return f"{self.model:04x}"

    def bits(self) -> np.ndarray:
        """24 message bits, generator first (most significant bit first)."""
        value = (self.generator << 16) | self.model
        return np.asarray([(value >> (23 - i)) & 1 for i in range(24)], np.uint8)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> "Payload":
        value = int("".join(str(int(b)) for b in bits), 2)
        return cls(generator=value >> 16, model=value & 0xFFFF)

    def __str__(self) -> str:
        return f"{self.generator_name}, model {self.model_name} (id {self.model:04x})"


def pack_payload(model_id: str, generator: int = 1) -> Payload:
    return Payload(generator=generator, model=model_code(model_id))


def encode_payload(payload: Payload) -> np.ndarray:
    """24 message bits -> 48 code bits (two Golay codewords)."""
    m = payload.bits()
    return np.concatenate([golay_encode(m[:12]), golay_encode(m[12:])])


def decode_payload(z48: np.ndarray) -> tuple[Payload, np.ndarray]:
    """48 soft confidences -> the payload and the 48 code bits of the codewords it chose."""
    a, _ = golay_decode_soft(z48[:24])
    b, _ = golay_decode_soft(z48[24:])
    payload = Payload.from_bits(np.concatenate([a, b]))
    return payload, encode_payload(payload)
