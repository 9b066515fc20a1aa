"""Provenance (chapter 11): the watermark survives what it promises to, clean video is not flagged, the payload's
code corrects what it promises to, credentials verify and report tampering, and `vasa-lab detect` answers every bad
input in one line with exit status 2."""
from __future__ import annotations

import numpy as np
import pytest

from vasa_lab.cli import main
from vasa_lab.media import write_mp4
from vasa_lab.provenance import (P_THRESHOLD, Watermarker, attach_credentials, bit_accuracy, detect_frames,
                                 detect_video, pack_payload, psnr_db, read_credentials)
from vasa_lab.provenance.attacks import brightness_contrast, crop, cut, h264, resize
from vasa_lab.provenance.ecc import decode_payload, encode_payload, golay_codebook
from vasa_lab.world.clip import make_clip


@pytest.fixture(scope="module")
def clip128():
    return make_clip(11, 3, seconds=2.0, size=128).frames          # (50, 128, 128, 3), held out of nothing


@pytest.fixture(scope="module")
def marked128(clip128):
    return Watermarker.default("tiny").mark(clip128)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VASA_LAB_HOME", str(tmp_path / "home"))
    return tmp_path


# ----------------------------------------------------------------------------------------------- the code
def test_golay_code_has_distance_8_and_soft_decoding_corrects_3_flips():
    weights = golay_codebook().sum(1)
    assert sorted(set(weights.tolist())) == [0, 8, 12, 16, 24]        # the extended Golay weight set
    payload = pack_payload("small")
    signs = encode_payload(payload).astype(np.float32) * 2 - 1
    rng = np.random.default_rng(0)
    for _ in range(20):
        z = signs.copy()
        for half in (0, 24):
            z[half + rng.choice(24, 3, replace=False)] *= -1          # 3 flips in each codeword
        assert decode_payload(z)[0] == payload
    assert payload.model_name == "small" and payload.generator_name == "vasa_lab"


# ----------------------------------------------------------------------------------------------- the mark
def test_mark_is_deterministic_keeps_shape_and_quality(clip128, marked128):
    again = Watermarker.default("tiny").mark(clip128[:10])
    assert marked128.shape == clip128.shape and marked128.dtype == np.uint8
    assert np.array_equal(again, marked128[:10])
    assert psnr_db(marked128, clip128) > 38.0
    for shape in [(1, 64, 64, 3), (2, 100, 160, 3), (1, 1024, 768, 3)]:   # any size, odd aspect, a whole photo
        frames = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
        assert Watermarker.default("x").mark(frames).shape == shape



def test_marking_and_detecting_keep_numpys_blas_on_one_thread(clip128, monkeypatch):
    """Beside other busy processes OpenBLAS's threads wait for each other: marking 14 minutes of video took 165 s
    in CI instead of 5. The products inside embed and detect_frames run on one BLAS thread, and the process's own
    setting comes back afterwards."""
    from threadpoolctl import threadpool_info

    from vasa_lab.provenance import watermark as W

    def blas_threads():
        return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=None)

    outside = blas_threads()
    if outside is None or outside < 2:
        pytest.skip("numpy's BLAS runs one thread here anyway")
    seen = []
    real_readout, real_offsets = W.readout, W.quantize_offsets

    def readout(*args, **kwargs):
        seen.append(("detect", blas_threads()))
        return real_readout(*args, **kwargs)

    def quantize_offsets(*args, **kwargs):
        seen.append(("embed", blas_threads()))
        return real_offsets(*args, **kwargs)

    monkeypatch.setattr(W, "readout", readout)
    monkeypatch.setattr(W, "quantize_offsets", quantize_offsets)
    W.embed(clip128[:4], pack_payload("tiny"))
    W.detect_frames(clip128[:4], crops=False, gains=False)
    assert {where for where, _ in seen} == {"embed", "detect"} and {n for _, n in seen} == {1}, seen
    assert blas_threads() == outside

def test_clean_video_is_not_detected(clip128):
    from vasa_lab.metrics.provenance_clips import photo_clips

    det = detect_frames(clip128)
    assert det.p_value > P_THRESHOLD, det.p_value
    for frames in photo_clips(4, seconds=0.6, size=96, seed=2):          # real photographs, H.264
        assert detect_frames(frames).p_value > 1e-3


def test_mark_found_after_h264_crf28_and_payload_read(clip128, marked128):
    baseline = detect_frames(h264(clip128, 28))
    det = detect_frames(h264(marked128, 28))
    assert det.p_value < P_THRESHOLD < baseline.p_value
    assert str(det.payload) == str(pack_payload("tiny"))
    assert bit_accuracy(det, pack_payload("tiny")) > 0.9


@pytest.mark.parametrize("attack", ["half size", "crop 10%", "brightness/contrast", "cut to 1 s"])
def test_mark_survives_geometric_and_colour_attacks(marked128, attack):
    f = {"half size": lambda x: resize(x, 0.5), "crop 10%": lambda x: crop(x, 0.1),
         "brightness/contrast": lambda x: brightness_contrast(x, 20, 1.2), "cut to 1 s": lambda x: cut(x, 1.0)}[attack]
    det = detect_frames(f(marked128))
    assert det.found, (attack, det.p_value)


# ----------------------------------------------------------------------------------------------- credentials
def test_credentials_verify_and_edits_are_reported(home, marked128):
    path = write_mp4(home / "ours.mp4", marked128[:25])
    attach_credentials(path, {"model_id": "tiny", "profile": "tiny", "steps": 10})
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []       # no temp file left behind
    cred = read_credentials(path)
    assert cred.state == "valid" and cred.test_certificate and cred.settings["model_id"] == "tiny"
    data = path.read_bytes()
    i = data.find(b"tiny")                      # the model id inside the signed manifest
    assert i > 0
    edited = home / "edited.mp4"
    edited.write_bytes(data[:i] + b"full" + data[i + 4:])
    assert read_credentials(edited).state == "tampered"
    body = bytearray(data)
    j = body.find(b"mdat") + 200
    body[j] ^= 0xFF                             # one byte of the video itself
    (home / "pixels.mp4").write_bytes(bytes(body))
    assert read_credentials(home / "pixels.mp4").state == "tampered"
    assert read_credentials(write_mp4(home / "plain.mp4", marked128[:5])).state == "none"


def test_credentials_with_a_key_the_user_provides(home, marked128):
    from vasa_lab.provenance.credentials import make_test_certificate

    key = make_test_certificate(home / "my_keys")            # a PEM holding a private key and its chain
    path = write_mp4(home / "ours.mp4", marked128[:5])
    attach_credentials(path, {"model_id": "small"}, key=key)
    cred = read_credentials(path)
    assert cred.state == "valid" and cred.settings["model_id"] == "small" and cred.signer


def test_attach_credentials_with_a_bad_key_leaves_the_video_alone(home, marked128):
    from vasa_lab.provenance import CredentialsError

    path = write_mp4(home / "ours.mp4", marked128[:5])
    before = path.read_bytes()
    bad = home / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(CredentialsError):
        attach_credentials(path, {"model_id": "tiny"}, key=bad)
    assert path.read_bytes() == before and len(list(home.glob(".*"))) == 0


# ----------------------------------------------------------------------------------------------- the command
def test_detect_command_exit_codes_and_bad_inputs(home, clip128, marked128, capsys):
    import av
    import cv2

    ours = write_mp4(home / "ours.mp4", h264(marked128, 28))
    clean = write_mp4(home / "clean.mp4", clip128)
    assert main(["detect", str(clean)]) == 0
    assert main(["detect", str(ours), str(clean)]) == 1
    out = capsys.readouterr().out
    assert "watermark FOUND" in out and "vasa_lab, model tiny" in out and "no watermark" in out

    # a still image (a frame grab of a marked video) and a one-frame clip are read, not refused
    cv2.imwrite(str(home / "still.png"), cv2.cvtColor(marked128[0], cv2.COLOR_RGB2BGR))
    one = write_mp4(home / "one.mp4", marked128[:1])
    big = write_mp4(home / "big.mp4", Watermarker.default("tiny").mark(
        np.repeat(cv2.resize(clip128[0], (1280, 720))[None], 5, 0)))
    for path in (home / "still.png", one, big):
        assert main(["detect", str(path)]) in (0, 1)
    assert main(["detect", str(big)]) == 1            # much larger than anything the model makes: still found

    # unreadable inputs: one line each, exit 2
    (home / "empty.mp4").write_bytes(b"")
    (home / "text.mp4").write_text("hello")
    (home / "truncated.mp4").write_bytes(ours.read_bytes()[:300])
    with av.open(str(home / "noframes.mp4"), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 64
    capsys.readouterr()
    for name in ("missing.mp4", "empty.mp4", "text.mp4", "truncated.mp4", "noframes.mp4"):
        assert main(["detect", str(home / name)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and "unreadable" in err, err
    assert main(["detect", str(ours), str(home / "empty.mp4")]) == 2     # unreadable wins: a script must know
    capsys.readouterr()
    (home / "cut.mp4").write_bytes(ours.read_bytes()[: ours.stat().st_size * 2 // 3])   # truncated mid-stream
    assert main(["detect", str(home / "cut.mp4")]) == 2
    assert "cut short" in capsys.readouterr().err


def test_detect_video_reports_tampered_credentials(home, marked128):
    path = write_mp4(home / "ours.mp4", marked128[:25])
    attach_credentials(path, {"model_id": "tiny"})
    data = path.read_bytes()
    i = data.find(b"tiny")
    (home / "edited.mp4").write_bytes(data[:i] + b"full" + data[i + 4:])
    r = detect_video(home / "edited.mp4")
    assert r.credentials.state == "tampered" and r.exit_code == 1 and "TAMPERED" in r.summary()
