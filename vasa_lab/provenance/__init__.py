"""Provenance (chapter 11): every video we make says so, invisibly and in signed metadata, and anyone can check.

For the writers (``vasa-lab animate``, the streaming path, the demo)::

    from vasa_lab.provenance import Watermarker, attach_credentials, detect_video

    wm = Watermarker.default(model_id)      # cheap (the patterns are built once per process, ~30 ms)
    print(wm.payload_text)                  # the one line the command line prints
    frames = wm.mark(frames)                # (N, H, W, 3) uint8 RGB -> same shape; any H, W >= 16 px (64 to 1024
                                            # in practice); deterministic; stateless (batches may be any size)
    ...                                     # write the mp4 and close it
    attach_credentials(mp4_path, settings)  # sign it (C2PA); atomic: temp file + rename. key=None uses a local
                                            # TEST certificate, key=PEM path (private key + chain) a real one
    result = detect_video(path)             # DetectionResult: found, p_value, statistic, payload, credentials,
                                            # error (unreadable input), exit_code (0 nothing, 1 found, 2 unreadable)

``model_id``: a short string naming the model, e.g. the profile ("tiny", "small", "full": the detector names these)
or a checkpoint's hash; the watermark carries 16 bits of its SHA-256 and 8 bits naming the generator.

Modules: ``ecc`` (payload and Golay code), ``watermark`` (embed and detect on frames), ``attacks`` (what a video
goes through), ``credentials`` (C2PA), ``detect`` (files), ``forgery`` (a passive real-vs-generated classifier).
"""
from .credentials import (Credentials, CredentialsError, CredentialsWarning, attach_credentials, check_signing_key,
                          read_credentials)
from .detect import DetectionResult, detect_video, read_frames
from .ecc import Payload, pack_payload
from .watermark import P_THRESHOLD, Watermarker, bit_accuracy, detect_frames, embed, psnr_db

__all__ = ["Watermarker", "attach_credentials", "detect_video", "DetectionResult", "Credentials",
           "CredentialsError", "CredentialsWarning", "check_signing_key", "read_credentials", "read_frames",
           "Payload", "pack_payload", "embed", "detect_frames", "bit_accuracy", "psnr_db", "P_THRESHOLD"]
