"""The web app behind ``vasa-lab serve``: one page, a few JSON routes, one web socket per stream.

Routes (all answer only with the right token when the server was started with one):

* ``GET /``: the page; ``GET /worklet.js``: the microphone's audio worklet;
* ``GET /portraits``: the portraits on offer (bundled, the ``--image`` one, uploads); ``GET /portraits/ID.jpg``: one;
* ``POST /portraits``: an upload, the image file's bytes as the body (PNG, JPEG, WebP, BMP by their first bytes;
  at most 8 MB and 16 megapixels; a face must be found): ``{"id": ...}`` or ``{"error": "one sentence"}``;
* ``GET /health``: streams running and the most allowed;
* ``WS /ws``: a live stream (see :mod:`vasa_lab.serve.protocol`): ``start`` (portrait, mode, rate) -> ``ready``
  (or ``busy`` when ``max_streams`` already run), then audio or sentences in, frames out, ``controls`` any time.

Nothing here reads or writes a file the user names: uploads are decoded from memory and kept in memory (the last
:data:`MAX_UPLOADS`), and the page's two files come from the package.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources

import cv2
import numpy as np

from .protocol import ProtocolError, parse_text, unpack_audio

MAX_UPLOADS = 16
WAIT_FOR_SLOT = 2.0           # seconds a new stream waits for a running one to end before it is told "busy"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class ServeConfig:
    profile: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None             # required on every request when set (always set off loopback)
    image: str | None = None             # a portrait to offer first
    max_streams: int = 1                 # streams at once; one more is told "busy" (2 cores keep 1: bench_serve.py)
    max_upload_bytes: int = 8 * 2 ** 20
    max_upload_pixels: int = 16_000_000
    max_side: int = 384                  # frames are the whole portrait, longest side at most this
    lookahead: int = 2                   # frames of audio after a frame before it is drawn (80 ms)
    stride: int = 4
    jpeg_quality: int = 80

    def __post_init__(self):
        if not is_loopback(self.host) and not self.token:
            self.token = secrets.token_urlsafe(16)      # never open to the network without one
        if not 1 <= int(self.max_streams) <= 64:
            raise ValueError(f"max_streams must be between 1 and 64, got {self.max_streams}")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Busy(Exception):
    pass


class AvatarServer:
    """What the routes share: the models (loaded once), the portraits and the running streams."""

    def __init__(self, config: ServeConfig, animator=None):
        from ..pipeline.animate import Animator

        self.config = config
        self.animator = animator or Animator(config.profile)
        self.animator.latent, self.animator.motion                 # loaded now, not on the first visitor
        self.animator.tracked_expression()                         # calibrated now too (a few seconds)
        self.portraits: OrderedDict[str, dict] = OrderedDict()
        self.sessions: set = set()
        self.lock = threading.Lock()
        for pid, name, image in self._bundled():
            self._add(pid, name, image, bundled=True)

    def _bundled(self):
        from ..pipeline.animate import DEMO_PERSON, DEMO_PORTRAIT
        from ..media import read_portrait
        from ..world.clip import person
        from ..world.render import render_frame
        from ..world.state import FaceState

        if self.config.image:
            yield "yours", "your portrait", read_portrait(self.config.image)
        yield "demo", "the demo portrait", read_portrait(DEMO_PORTRAIT)
        for k in (1, 2):
            image, _ = render_frame(person(DEMO_PERSON[0], DEMO_PERSON[1] + k).identity, FaceState(), 256)
            yield f"world-{k}", f"synthetic person {k}", image

    def _add(self, pid: str, name: str, image: np.ndarray, bundled: bool = False) -> dict:
        from ..tracking.align import align_portrait

        portrait = align_portrait(image, self.animator.image_size)          # NoFaceError: one sentence
        ok, thumb = cv2.imencode(".jpg", cv2.resize(portrait.crop, (96, 96))[..., ::-1])
        entry = dict(id=pid, name=name, portrait=portrait, thumb=thumb.tobytes(), bundled=bundled)
        with self.lock:
            self.portraits[pid] = entry
            uploads = [k for k, v in self.portraits.items() if not v["bundled"]]
            for k in uploads[:-MAX_UPLOADS]:
                del self.portraits[k]
        return entry

    def upload(self, data: bytes) -> dict:
        from ..media import decode_image_bytes

        if len(data) > self.config.max_upload_bytes:
            raise ValueError(f"the image is {len(data) / 2 ** 20:.1f} MB; the limit is "
                             f"{self.config.max_upload_bytes / 2 ** 20:.0f} MB")
        if not data:
            raise ValueError("the upload is empty; choose an image file")
        image = decode_image_bytes(data, max_pixels=self.config.max_upload_pixels)
        return self._add(uuid.uuid4().hex[:12], "your upload", image)

    def open_session(self, portrait_id: str, mode: str, rate: int, send, on_end=None):
        from ..pipeline.avatar import Avatar
        from .protocol import RATES
        from .session import LiveSession

        entry = self.portraits.get(str(portrait_id))
        if entry is None:
            raise ValueError(f"no portrait {portrait_id!r}; choose one from the list or upload one")
        if mode == "mic" and int(rate) not in RATES:
            raise ValueError(f"the audio rate must be one of {', '.join(map(str, RATES))} Hz, got {rate}")
        placeholder, deadline = object(), time.monotonic() + WAIT_FOR_SLOT
        while True:                          # a page that restarts its stream may arrive before its old one ended
            with self.lock:
                if len(self.sessions) < self.config.max_streams:
                    self.sessions.add(placeholder)
                    break
                running = len(self.sessions)
            if time.monotonic() > deadline:
                raise Busy(f"{running} stream{'s are' if running > 1 else ' is'} running, the most this server "
                           "keeps in real time; try again when one ends")
            time.sleep(0.05)
        try:
            a = self.animator
            avatar = Avatar(a.latent, a.motion, entry["portrait"], frame="photo", max_side=self.config.max_side,
                            model_id=a.profile, source_expression=a.source_expression,
                            expression=a.tracked_expression()).warm_up()   # first-use costs paid before the page waits

            def ended(session):
                with self.lock:
                    self.sessions.discard(session)
                if on_end is not None:
                    on_end(session)

            session = LiveSession(avatar, send, mode=mode, rate=int(rate), lookahead=self.config.lookahead,
                                  stride=self.config.stride, jpeg_quality=self.config.jpeg_quality, on_end=ended)
            with self.lock:
                self.sessions.add(session)
            return session.start()
        finally:
            with self.lock:
                self.sessions.discard(placeholder)


def controls_from(msg: dict):
    """A ``controls`` message -> (MotionConditions, scales). Bad values raise ValueError (one sentence)."""
    from ..motion import MotionConditions

    gaze = msg.get("gaze")
    if gaze is not None and (not isinstance(gaze, (list, tuple)) or len(gaze) != 2):
        raise ValueError("gaze must be [yaw, pitch] in degrees, or null")
    if gaze is not None and not all(isinstance(v, (int, float)) and -45 <= v <= 45 for v in gaze):
        raise ValueError("gaze angles must be numbers between -45 and 45 degrees")
    distance = msg.get("distance")
    if distance is not None and not (isinstance(distance, (int, float)) and 0.5 <= distance <= 2.0):
        raise ValueError("distance must be a number between 0.5 and 2 (1 = average), or null")
    emotion = msg.get("emotion") or None
    cond = MotionConditions(gaze=tuple(gaze) if gaze is not None else None, distance=distance, emotion=emotion)
    scales = {}
    if msg.get("audio_scale") is not None:
        scales["audio"] = float(msg["audio_scale"])
    return cond, scales


def make_app(config: ServeConfig | None = None, server: AvatarServer | None = None):
    """The Starlette app (``uvicorn`` serves it; tests use Starlette's TestClient)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from ..motion.config import default_audio_guidance

    config = config or ServeConfig()
    server = server or AvatarServer(config)
    files = resources.files("vasa_lab.serve")
    # the audio slider starts where the stream starts: the pipeline's default for a stream with this lookahead
    live_default = default_audio_guidance(server.animator.motion.config.profile, config.lookahead)
    page_html = (files / "page.html").read_text().replace("{{AUDIO_GUIDANCE}}", f"{live_default:g}")

    def allowed(token: str | None) -> bool:
        return config.token is None or (token is not None and hmac.compare_digest(token, config.token))

    def denied() -> Response:
        return JSONResponse({"error": "this server needs its token: open the address it printed"}, status_code=403)

    async def page(request: Request):
        if not allowed(request.query_params.get("token")):
            return denied()
        return Response(page_html, media_type="text/html",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                                 "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                                 "connect-src 'self' ws: wss:"})

    async def worklet(request: Request):
        return Response((files / "worklet.js").read_text(), media_type="text/javascript")

    def token_of(request) -> str | None:
        return request.query_params.get("token") or request.headers.get("x-token")

    async def portraits(request: Request):
        if not allowed(token_of(request)):
            return denied()
        with server.lock:
            items = [dict(id=v["id"], name=v["name"]) for v in server.portraits.values()]
        return JSONResponse(items)

    async def thumbnail(request: Request):
        if not allowed(token_of(request)):
            return denied()
        entry = server.portraits.get(request.path_params["pid"])
        if entry is None:
            return JSONResponse({"error": "no such portrait"}, status_code=404)
        return Response(entry["thumb"], media_type="image/jpeg")

    async def upload(request: Request):
        from ..tracking.tracker import NoFaceError

        if not allowed(token_of(request)):
            return denied()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_upload_bytes:
            return JSONResponse({"error": f"the image is larger than {config.max_upload_bytes / 2 ** 20:.0f} MB"},
                                status_code=413)
        body = bytearray()
        async for part in request.stream():                    # counted as it comes: no huge body in memory
            body += part
            if len(body) > config.max_upload_bytes:
                return JSONResponse({"error": f"the image is larger than {config.max_upload_bytes / 2 ** 20:.0f} MB"},
                                    status_code=413)
        try:
            entry = await asyncio.to_thread(server.upload, bytes(body))
        except NoFaceError:
            return JSONResponse({"error": "no face found in the image; use a photo in which one face is clearly "
                                          "visible, roughly frontal"}, status_code=422)
        except ValueError as err:
            return JSONResponse({"error": " ".join(str(err).split())}, status_code=415)
        return JSONResponse(dict(id=entry["id"], name=entry["name"]))

    async def health(request: Request):
        if not allowed(token_of(request)):
            return denied()
        with server.lock:
            n = sum(1 for s in server.sessions if hasattr(s, "mode"))
        return JSONResponse(dict(streams=n, max_streams=config.max_streams, profile=server.animator.profile))

    async def live(websocket: WebSocket):
        if not allowed(websocket.query_params.get("token")):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        loop = asyncio.get_running_loop()
        session = None
        gone = asyncio.Event()

        def send(data: bytes) -> None:                         # from the stream's thread
            if gone.is_set():
                raise ConnectionError("the page went away")
            asyncio.run_coroutine_threadsafe(websocket.send_bytes(data), loop).result(timeout=10)

        async def say(text: str) -> None:
            await websocket.send_json(dict(type="error", message=text))

        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:
                    if session is None or session.mode != "mic":
                        raise ProtocolError("send audio only after starting a microphone stream")
                    sent, samples = unpack_audio(message["bytes"], session.rate)
                    session.push_audio(sent, samples)
                    continue
                msg = parse_text(message.get("text") or "")
                kind = msg["type"]
                try:
                    if kind == "start":
                        if session is not None:
                            raise ValueError("this socket already streams; open another one for a second stream")
                        mode = msg.get("mode", "mic")
                        session = await asyncio.to_thread(server.open_session, msg.get("portrait", "demo"), mode,
                                                          msg.get("rate", 16_000), send)
                        h, w = session.avatar.frame_size
                        await websocket.send_json(dict(type="ready", width=w, height=h, fps=25, mode=mode,
                                                       rate=session.rate, lookahead_ms=config.lookahead * 40,
                                                       watermark=str(session.avatar.watermark.payload)))
                    elif kind == "controls":
                        if session is None:
                            raise ValueError("start a stream first")
                        cond, scales = controls_from(msg)
                        session.set_controls(cond, **scales)
                    elif kind == "say":
                        if session is None:
                            raise ValueError("start a stream first")
                        seconds = await asyncio.to_thread(session.say, msg.get("text", ""))
                        await websocket.send_json(dict(type="said", seconds=round(seconds, 2)))
                    elif kind == "stop":
                        break
                    else:
                        raise ProtocolError(f"unknown message type {kind!r}")
                except Busy as err:
                    await websocket.send_json(dict(type="busy", message=str(err)))
                    await websocket.close(code=1013)
                    return
                except ProtocolError:
                    raise
                except ValueError as err:                       # a wrong value: said, and the stream goes on
                    await say(" ".join(str(err).split()))
        except ProtocolError as err:                            # garbage: said once, then the socket closes
            try:
                await say(str(err))
                await websocket.close(code=1003)
            except Exception:
                pass
        except WebSocketDisconnect:
            pass
        finally:
            gone.set()
            if session is not None:
                await asyncio.to_thread(session.stop)

    routes = [Route("/", page), Route("/worklet.js", worklet), Route("/portraits", portraits),
              Route("/portraits", upload, methods=["POST"]), Route("/portraits/{pid}.jpg", thumbnail),
              Route("/health", health), WebSocketRoute("/ws", live)]
    middleware = []
    if is_loopback(config.host) and config.token is None:      # no token: refuse other host names (DNS rebinding)
        middleware.append(Middleware(TrustedHostMiddleware,
                                     allowed_hosts=["127.0.0.1", "localhost", "[::1]", "::1"]))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.server = server
    return app


def serve(config: ServeConfig) -> None:
    """Run the app with uvicorn until Ctrl-C."""
    import uvicorn

    import torch

    torch.set_num_threads(1)              # each stream is one thread doing small operations (chapter 09)
    cv2.setNumThreads(1)
    app = make_app(config)
    query = f"?token={config.token}" if config.token else ""
    host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"vasa-lab serve: open http://{host}:{config.port}/{query}  (profile {app.state.server.animator.profile}, "
          f"at most {config.max_streams} streams; Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", ws_max_size=2 ** 20)
