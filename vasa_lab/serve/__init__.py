"""A live avatar in the browser (``vasa-lab serve``): speak into the microphone, or type a sentence, and the
portrait talks back in real time, with sliders for gaze, head distance, emotion and audio guidance.

Why a web socket (Starlette + uvicorn) and not WebRTC: on one computer, or a classroom's network, there is no NAT
to cross and no codec to negotiate. One socket per stream carries 20 ms of microphone samples up and JPEG frames
(with their audio, for typed sentences) down, each stamped so that the page measures its own latency. It is a few
dozen lines on each side that a student can read; WebRTC (aiortc) would add video codecs, ICE and a second
media clock to explain, for a gain (lower bandwidth) that a local stream does not need.

Pieces: :mod:`~vasa_lab.serve.protocol` (the messages), :mod:`~vasa_lab.serve.session` (one stream on its own
thread, over :class:`~vasa_lab.pipeline.Avatar`), :mod:`~vasa_lab.serve.app` (routes, portraits, the "busy"
policy, tokens), ``page.html`` and ``worklet.js`` (the page).

Policy on a busy machine: at most ``max_streams`` streams at once (``--max-streams``; its default is what
``benchmarks/bench_serve.py`` measured this machine keeps in real time); one more is told "busy" and its socket is
closed, rather than every stream falling behind. Within a stream, a frame that would be late is dropped (the page
keeps the last one on screen and counts it).
"""
from .app import AvatarServer, ServeConfig, make_app, serve

__all__ = ["AvatarServer", "ServeConfig", "make_app", "serve"]
