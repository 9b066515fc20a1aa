"""`vasa-lab serve` without a browser (Starlette's test client speaks HTTP and the web socket to the app in-process):
the page and its routes, uploads (good, wrong type, too large, no face, garbage), tokens off loopback, a microphone
stream and a typed sentence that come back as frames with their times, controls, the "busy" policy, garbage on the
socket, and a closed tab that frees its stream. The real browser test is tools/serve_check.py (`make serve-check`)."""
from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient                      # noqa: E402

from vasa_lab.serve import AvatarServer, ServeConfig, make_app   # noqa: E402
from vasa_lab.serve.protocol import pack_audio, unpack_frame      # noqa: E402

SR = 16_000
BASE = "http://127.0.0.1"
WS = "ws://127.0.0.1/ws"


@pytest.fixture(scope="module")
def server():
    import torch

    from vasa_lab.pipeline.animate import Animator

    torch.set_num_threads(1)
    return AvatarServer(ServeConfig(profile="tiny", max_streams=2), Animator("tiny", device="cpu"))


@pytest.fixture()
def client(server):
    with TestClient(make_app(server.config, server), base_url=BASE) as c:
        yield c


@pytest.fixture(scope="module")
def speech():
    from vasa_lab.pipeline.animate import demo_speech

    return demo_speech()[: int(2.4 * SR)]


def _frames(ws, n, timeout=60.0):
    """Read until n frames came (text messages are collected too)."""
    frames, texts, t0 = [], [], time.time()
    while len(frames) < n and time.time() - t0 < timeout:
        msg = ws.receive()
        if msg.get("bytes") is not None:
            frames.append(unpack_frame(msg["bytes"]))
        elif msg.get("text") is not None:
            texts.append(json.loads(msg["text"]))
    return frames, texts


def _error_reply(ws, max_frames=500, timeout=60.0):
    """Read until an error message came (frames already on their way arrive first: how many depends on the
    machine's load, so this waits for the reply, not for a fixed number of frames); returns it, or None."""
    frames, t0 = 0, time.time()
    while frames < max_frames and time.time() - t0 < timeout:
        msg = ws.receive()
        if msg.get("bytes") is not None:
            frames += 1
        elif msg.get("text") is not None and json.loads(msg["text"])["type"] == "error":
            return json.loads(msg["text"])
    return None


def _wait_for_no_streams(server, timeout=10.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        with server.lock:
            if not server.sessions:
                return True
        time.sleep(0.05)
    return False


def test_page_routes_and_portraits(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text and "Content-Security-Policy" in page.headers
    assert client.get("/worklet.js").text.startswith("//")
    items = client.get("/portraits").json()
    assert [p["id"] for p in items][:3] == ["demo", "world-1", "world-2"]
    thumb = client.get("/portraits/demo.jpg")
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    assert client.get("/portraits/nothing.jpg").status_code == 404
    assert client.get("/../../etc/passwd").status_code == 404                  # no file is served by its name
    assert client.get("/health").json()["max_streams"] == 2


def test_the_pages_audio_slider_starts_at_the_live_streams_default(client):
    """The page's stream hears 80 ms ahead: its slider starts at the live default, not the offline one."""
    import re

    from vasa_lab.motion.config import AUDIO_GUIDANCE, LIVE_AUDIO_GUIDANCE

    page = client.get("/").text
    slider = re.search(r'<input id="audio"[^>]*value="([0-9.]+)"', page)
    shown = re.search(r'<span id="audio-v">([0-9.]+)</span>', page)
    assert float(slider.group(1)) == float(shown.group(1)) == LIVE_AUDIO_GUIDANCE != AUDIO_GUIDANCE["tiny"]
    assert "{{" not in page                                                  # every placeholder filled in


def test_other_host_names_are_refused_without_a_token(server):
    with TestClient(make_app(server.config, server), base_url="http://evil.example") as c:
        assert c.get("/").status_code == 400                                  # DNS rebinding: refused


def test_uploads(client):
    from vasa_lab.pipeline.animate import DEMO_PORTRAIT

    good = DEMO_PORTRAIT.read_bytes()
    r = client.post("/portraits", content=good)
    assert r.status_code == 200 and r.json()["id"] in [p["id"] for p in client.get("/portraits").json()]
    r = client.post("/portraits", content=b"GIF89a not what we take")
    assert r.status_code == 415 and "PNG, JPEG" in r.json()["error"]
    r = client.post("/portraits", content=good[:200])                       # cut short
    assert r.status_code == 415 and "readable" in r.json()["error"]
    r = client.post("/portraits", content=b"")
    assert r.status_code == 415 and "empty" in r.json()["error"]
    import cv2

    ok, sky = cv2.imencode(".png", np.full((200, 200, 3), 180, np.uint8))
    r = client.post("/portraits", content=sky.tobytes())
    assert r.status_code == 422 and "no face" in r.json()["error"]
    r = client.post("/portraits", content=b"\x89PNG\r\n\x1a\n" + b"0" * (9 * 2 ** 20))
    assert r.status_code == 413
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (5000, 4000)).save(buf, "PNG")                           # 20 megapixels, a small file
    r = client.post("/portraits", content=buf.getvalue())
    assert r.status_code == 415 and "megapixels" in r.json()["error"]


def test_a_token_is_required_off_loopback(server):
    config = ServeConfig(profile="tiny", host="0.0.0.0")
    assert config.token and len(config.token) >= 16                        # made when not given
    with TestClient(make_app(config, server), base_url=BASE) as c:
        assert c.get("/").status_code == 403
        assert c.get("/portraits").status_code == 403
        assert c.post("/portraits", content=b"x").status_code == 403
        assert c.get("/?token=wrong").status_code == 403
        assert c.get(f"/?token={config.token}").status_code == 200
        assert c.get("/portraits", headers={"x-token": config.token}).status_code == 200
        from starlette.websockets import WebSocketDisconnect

        with pytest.raises(WebSocketDisconnect):
            with c.websocket_connect(WS) as ws:
                ws.receive()


def test_a_microphone_stream_comes_back_as_timed_frames(client, server, speech):
    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="mic", rate=SR)))
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["width"] == ready["height"] == 256
        assert ready["watermark"].startswith("vasa_lab")
        for i in range(0, int(1.8 * SR), 320):                              # 1.8 s: less than the queue holds
            ws.send_bytes(pack_audio(1000.0 + i / 16, speech[i:i + 320]))   # the page's clock: 20 ms apart
        ws.send_text(json.dumps(dict(type="controls", gaze=[10, 0], distance=1.1, emotion="happy", audio_scale=1)))
        frames, texts = _frames(ws, 40)
        assert not texts, texts
        assert len(frames) == 40
        heads = [h for h, _, _ in frames]
        assert [h["index"] for h in heads] == list(range(40))
        kept = [(h, j) for h, j, _ in frames if not h["dropped"]]
        assert kept and all(j[:3] == b"\xff\xd8\xff" for _, j in kept)
        # frame k shows audio up to 40 (k + 1) ms: the page stamped that chunk 1000 + 40 (k + 1) - 20 ms
        assert [h["sent"] for h in heads] == pytest.approx([1000 + 40 * (k + 1) - 20 for k in range(40)])
        assert all(a.size == 0 for _, _, a in frames)                       # the microphone's audio is not echoed
        ws.send_text(json.dumps(dict(type="stop")))
    assert _wait_for_no_streams(server)


def test_a_typed_sentence_is_spoken_with_its_frames(client, server):
    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps(dict(type="start", portrait="world-1", mode="text")))
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(json.dumps(dict(type="say", text="Hello there, how are you today?")))
        frames, texts = _frames(ws, 50)
        assert any(t["type"] == "said" and t["seconds"] > 1 for t in texts), texts
        audio = np.concatenate([a for _, _, a in frames])
        assert audio.size == 50 * 640 and np.abs(audio).max() > 1000          # the sentence comes back, 40 ms a frame
        ws.send_text(json.dumps(dict(type="say", text="")))
        error = _error_reply(ws)
        assert error and "type a sentence" in error["message"], error
    assert _wait_for_no_streams(server)


def test_bad_values_are_said_and_the_stream_goes_on(client, server):
    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="text")))
        assert ws.receive_json()["type"] == "ready"
        for bad, words in ((dict(type="controls", emotion="furious"), "emotion"),
                           (dict(type="controls", gaze=[90, 0]), "between -45 and 45"),
                           (dict(type="controls", distance="far"), "distance"),
                           (dict(type="start", portrait="demo"), "already streams")):
            ws.send_text(json.dumps(bad))
            error = _error_reply(ws)
            assert error and words in error["message"], (bad, error)
        frames, _ = _frames(ws, 3)
        assert len(frames) == 3                                             # still streaming
    assert _wait_for_no_streams(server)


@pytest.mark.parametrize("garbage", [b"\x00\x01", "not json", json.dumps(dict(type="launch")),
                                     json.dumps([1, 2]), "x" * 5000])
def test_garbage_on_the_socket_closes_it_and_frees_the_stream(client, server, garbage):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="mic", rate=SR)))
        assert ws.receive_json()["type"] == "ready"
        (ws.send_bytes if isinstance(garbage, bytes) else ws.send_text)(garbage)
        with pytest.raises(WebSocketDisconnect):
            while True:
                msg = ws.receive()
                if msg.get("text"):
                    assert json.loads(msg["text"])["type"] == "error"
                if msg["type"] == "websocket.close":
                    raise WebSocketDisconnect(msg.get("code", 1000))
    assert _wait_for_no_streams(server)


def test_a_start_that_cannot_start(client):
    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps(dict(type="start", portrait="nobody", mode="mic", rate=SR)))
        assert "no portrait" in ws.receive_json()["message"]
        ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="mic", rate=12_345)))
        assert "rate" in ws.receive_json()["message"]
        ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="video")))
        assert "mode" in ws.receive_json()["message"]


def test_one_stream_too_many_is_told_busy(client, server):
    opened = []
    try:
        for _ in range(server.config.max_streams):
            ws = client.websocket_connect(WS).__enter__()
            opened.append(ws)
            ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="text")))
            assert ws.receive_json()["type"] == "ready"
        assert client.get("/health").json()["streams"] == server.config.max_streams
        with client.websocket_connect(WS) as extra:
            extra.send_text(json.dumps(dict(type="start", portrait="demo", mode="text")))
            msg = extra.receive_json()
            assert msg["type"] == "busy" and "try again" in msg["message"]
    finally:
        for ws in opened:
            ws.__exit__(None, None, None)
    assert _wait_for_no_streams(server)                                 # a closed tab frees its stream
    with client.websocket_connect(WS) as ws:                         # ... so a new one starts
        ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="text")))
        assert ws.receive_json()["type"] == "ready"
    assert _wait_for_no_streams(server)


def test_a_microphone_that_stops_keeps_the_face_listening(client, server, speech):
    with client.websocket_connect(WS) as ws:
        ws.send_text(json.dumps(dict(type="start", portrait="demo", mode="mic", rate=SR)))
        assert ws.receive_json()["type"] == "ready"
        for i in range(0, 8000, 320):                                       # half a second, then nothing
            ws.send_bytes(pack_audio(i / 16, speech[i:i + 320]))
        frames, _ = _frames(ws, 30, timeout=30)
        assert len(frames) == 30                                            # silence filled in: frames go on
        assert frames[-1][0]["sent"] is None                                # ... and they say it was not the page's
    assert _wait_for_no_streams(server)


def test_serve_command_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    from vasa_lab.cli import main

    assert main(["serve", "--image", str(tmp_path / "nobody.png")]) == 2
    assert main(["serve", "--port", "70000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such image file" in err[0] and "--port" in err[1], err


def test_controls_sent_before_the_stream_starts_are_kept(server):
    from vasa_lab.motion import MotionConditions
    from vasa_lab.pipeline.avatar import Avatar
    from vasa_lab.serve.session import LiveSession

    a = server.animator
    avatar = Avatar(a.latent, a.motion, server.portraits["demo"]["portrait"], model_id="tiny")
    sent, applied = [], []
    original = avatar.set_conditions

    def recording(cond=None, **scales):
        original(cond, **scales)                                            # raises while no stream runs
        applied.append((cond, scales))

    avatar.set_conditions = recording
    session = LiveSession(avatar, sent.append, mode="mic")               # not started: no stream yet
    session.set_controls(MotionConditions(emotion="happy"), audio=1.5)
    with pytest.raises(ValueError):
        session.set_controls(MotionConditions(), audio=50)
    session.start()
    session.push_audio(0.0, np.zeros(16_000, np.float32))
    t0 = time.time()
    while len(sent) < 5 and time.time() - t0 < 30:
        time.sleep(0.05)
    session.stop()
    assert len(sent) >= 5 and session.error is None
    assert applied == [(MotionConditions(emotion="happy"), {"audio": 1.5})]      # applied once the stream ran
