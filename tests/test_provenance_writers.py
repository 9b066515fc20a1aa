"""Every video we make is marked and signed by default (chapter 11, issue 13): the offline `animate`, the streaming
path and the live avatar's frames carry the watermark, the files carry content credentials, and `vasa-lab detect`
finds both. Turned off, the frames are not marked (so the detector is not fooled by something else). A bad signing
key is one line before any slow work; a file that cannot be signed is kept, marked, with a warning."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vasa_lab.pipeline.animate import DEMO_PORTRAIT, Animator, demo_speech
from vasa_lab.cli import main
from vasa_lab.provenance import CredentialsError, CredentialsWarning, detect_frames, detect_video, pack_payload

SR = 16_000


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VASA_LAB_HOME", str(tmp_path / "home"))     # the test certificate is made here
    return tmp_path


@pytest.fixture(scope="module")
def speech():
    return demo_speech()[: int(2.4 * SR)]


@pytest.fixture(scope="module")
def animator():
    torch.set_num_threads(1)
    return Animator("tiny", device="cpu")


def test_animate_marks_and_signs_by_default(animator, speech, tmp_path):
    result = animator.animate(DEMO_PORTRAIT, speech, tmp_path / "out.mp4", progress=False, sample_rate=SR)
    assert result.watermark == str(pack_payload("tiny")) and result.signed
    found = detect_video(result.path)
    assert found.found and found.p_value < 1e-6, found.summary()
    assert found.payload == str(pack_payload("tiny"))
    assert found.credentials.state == "valid" and found.credentials.test_certificate
    assert found.credentials.settings.get("model") == "tiny" and found.credentials.settings.get("seed") == 0
    assert "mark" in result.timings


def test_animate_unmarked_when_asked_is_not_detected(animator, speech, tmp_path):
    result = animator.animate(DEMO_PORTRAIT, speech, tmp_path / "plain.mp4", progress=False, sample_rate=SR,
                              watermark=False, sign=False)
    assert result.watermark is None and not result.signed
    found = detect_video(result.path)
    assert not found.found and found.credentials.state == "none", found.summary()


def test_stream_to_mp4_marks_and_signs(animator, speech, tmp_path):
    from vasa_lab.pipeline.avatar import stream_to_mp4

    avatar = animator.avatar(DEMO_PORTRAIT)
    report = stream_to_mp4(avatar, [speech[i:i + 320] for i in range(0, len(speech), 320)], tmp_path / "s.mp4",
                           sample_rate=SR, lookahead=2, stride=4)
    assert report.signed and report.stages["mark"] > 0
    found = detect_video(tmp_path / "s.mp4")
    assert found.found and found.credentials.state == "valid", found.summary()
    assert found.credentials.settings.get("mode") == "stream" and found.credentials.settings.get("lookahead") == 2


def test_live_frames_carry_the_mark_unless_turned_off(animator, speech):
    chunks = [speech[i:i + 640] for i in range(0, len(speech), 640)]
    marked = np.stack([f.image for f in animator.avatar(DEMO_PORTRAIT).stream(chunks, SR)])
    plain = np.stack([f.image for f in animator.avatar(DEMO_PORTRAIT, watermark=False).stream(chunks, SR)])
    assert detect_frames(marked).found
    assert not detect_frames(plain).found
    assert 0 < np.abs(marked.astype(int) - plain).mean() < 2            # invisible: ~1 grey level on average


def test_a_bad_signing_key_is_one_line_before_any_work(speech, tmp_path, capsys):
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    audio = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(audio, speech, SR)
    out = tmp_path / "o.mp4"
    code = main(["animate", "--image", str(DEMO_PORTRAIT), "--audio", str(audio), "--out", str(out), "--quiet",
                 "--profile", "tiny", "--sign-key", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "key.pem" in err[0], err
    assert not out.exists()
    with pytest.raises(CredentialsError):
        Animator("tiny").animate(DEMO_PORTRAIT, speech, out, progress=False, sample_rate=SR, key=tmp_path / "none")


def test_a_file_that_cannot_be_signed_is_kept_marked_with_a_warning(animator, speech, tmp_path, monkeypatch):
    import vasa_lab.provenance as provenance

    def refuse(path, settings, key=None):
        raise CredentialsError(f"{path}: cannot sign (disk said no)")

    monkeypatch.setattr(provenance, "attach_credentials", refuse)
    with pytest.warns(CredentialsWarning, match="not signed"):
        result = animator.animate(DEMO_PORTRAIT, speech, tmp_path / "kept.mp4", progress=False, sample_rate=SR)
    assert result.path.exists() and not result.signed
    found = detect_video(result.path)
    assert found.found and found.credentials.state == "none"
    assert not list(tmp_path.glob(".*partial*"))


def test_marking_in_blocks_is_marking_each_frame():
    from vasa_lab.provenance import Watermarker, embed
    from vasa_lab.world.clip import make_clip

    frames = make_clip(5, 1, seconds=1.6, size=64).frames             # 40 frames: more than one block
    wm = Watermarker.default("tiny")
    assert len(frames) > wm.BLOCK
    assert np.array_equal(wm.mark(frames), np.stack([embed(f, wm.payload) for f in frames]))
