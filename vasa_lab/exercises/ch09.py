"""Chapter 09 (the real-time renderer): a streamed frame's cost; frames a second from a batch's time."""
from __future__ import annotations

from .core import Case, Exercise, register


def _cost_cases():
    from vasa_lab.pipeline.streaming import frame_cost_ms

    rows = [("tiny-like, stride 4", (0.1, 30.0, 4, 3.0, 0.2)),
            ("one frame a window", (0.1, 30.0, 1, 3.0, 0.2)),
            ("a slow renderer, stride 8, no encoder", (0.2, 100.0, 8, 25.0, 0.0))]
    return [Case(label, args, frame_cost_ms(*args)) for label, args in rows]


register(Exercise(
    key="09.1", title="what one streamed frame costs", answer="my_frame_cost_ms",
    reference="vasa_lab.pipeline.streaming.frame_cost_ms", cases=_cost_cases,
    wrong=lambda features, window, stride, render, encode: features + window + render + encode,
    hint="a window is drawn every `stride` frames, so each frame carries 1/stride of it"))


def _fps_cases():
    from vasa_lab.pipeline.streaming import batch_rates

    rows = [("one frame at a time", (1, 4.0)), ("a batch of 32", (32, 80.0)), ("a slow batch of 8", (8, 400.0))]
    return [Case(label, args, batch_rates(*args)) for label, args in rows]


register(Exercise(
    key="09.2", title="throughput and wait of a render batch", answer="my_batch_rates",
    reference="vasa_lab.pipeline.streaming.batch_rates", cases=_fps_cases,
    wrong=lambda batch, batch_ms: (1000.0 / batch_ms, batch_ms / batch),
    hint="frames per second = batch / (batch_ms / 1000); the first frame of a batch leaves when the whole batch is "
         "done, batch_ms after it started"))
