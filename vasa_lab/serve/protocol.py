"""What travels on the web socket between the page and the server, in both directions.

Text messages are JSON objects with a ``type``. Binary messages carry the media:

* page -> server, **audio**: 8 bytes (float64, little-endian) the page's clock when the chunk was captured, in
  milliseconds (``performance.now()``), then the samples as float32 mono at the rate announced in ``start``;
* server -> page, **a frame**: 4 bytes (uint32) the length of a JSON header, the header, then the frame as JPEG,
  then (only when the server made the audio, for a typed sentence) the frame's 40 ms of audio as int16 at 16 kHz.
  The header says the frame's index, the page's clock of the audio the frame shows (``sent``; so the page measures
  audio-in to frame-drawn latency on its own clock), the server's own latency, and the byte counts.

Every size is bounded here, so that garbage on the socket is one error message, not a crash or a huge allocation.
"""
from __future__ import annotations

import json
import struct

import numpy as np

MAX_TEXT_BYTES = 4096            # a control message or a typed sentence
MAX_CHUNK_SECONDS = 1.0          # one audio message
RATES = (8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)   # what a browser's AudioContext offers


class ProtocolError(ValueError):
    """A message the server cannot use; its text goes back to the page as one sentence."""


def parse_text(data: str) -> dict:
    if len(data) > MAX_TEXT_BYTES:
        raise ProtocolError(f"a text message may be at most {MAX_TEXT_BYTES} bytes")
    try:
        msg = json.loads(data)
    except json.JSONDecodeError:
        raise ProtocolError("a text message must be a JSON object") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("a text message must be a JSON object with a 'type'")
    return msg


def pack_audio(sent_ms: float, samples: np.ndarray) -> bytes:
    """(What the page sends; used by tests and the benchmark's client.)"""
    return struct.pack("<d", float(sent_ms)) + np.asarray(samples, "<f4").tobytes()


def unpack_audio(data: bytes, rate: int) -> tuple[float, np.ndarray]:
    """-> (the page's clock in ms, float32 samples). Raises ProtocolError on anything else."""
    if len(data) < 12 or (len(data) - 8) % 4:
        raise ProtocolError("an audio message is 8 bytes of time and then float32 samples")
    if len(data) - 8 > 4 * MAX_CHUNK_SECONDS * rate:
        raise ProtocolError(f"an audio message may hold at most {MAX_CHUNK_SECONDS:g} s of samples")
    (sent,) = struct.unpack_from("<d", data)
    samples = np.frombuffer(data, "<f4", offset=8).astype(np.float32)
    if not np.isfinite(sent) or not np.all(np.isfinite(samples)):
        raise ProtocolError("an audio message holds a value that is not a number")
    return sent, samples


def pack_frame(header: dict, jpeg: bytes = b"", audio: np.ndarray | None = None) -> bytes:
    pcm = b"" if audio is None else (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    head = json.dumps(dict(header, jpeg_bytes=len(jpeg), audio_bytes=len(pcm))).encode()
    return struct.pack("<I", len(head)) + head + jpeg + pcm


def unpack_frame(data: bytes) -> tuple[dict, bytes, np.ndarray]:
    """(What the page does; used by tests and the benchmark's client.) -> (header, jpeg, int16 audio)."""
    (n,) = struct.unpack_from("<I", data)
    header = json.loads(data[4:4 + n])
    jpeg = data[4 + n:4 + n + header["jpeg_bytes"]]
    pcm = np.frombuffer(data[4 + n + header["jpeg_bytes"]:], "<i2")
    return header, jpeg, pcm
