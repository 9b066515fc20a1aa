"""How many live streams `vasa-lab serve` keeps in real time on this machine, and at what latency.

    python benchmarks/bench_serve.py [--profile tiny] [--streams 1,2,3] [--seconds 20] [--out JSON]

Starts the server (a subprocess, like a user would), then for each count N opens N web-socket clients at once; each
plays the same speech as a microphone would (20 ms chunks at their natural pace, stamped with the client's clock)
and receives the frames. Per N: frames per second received per stream, frames the server dropped as late, and the
latency from a chunk being sent to the frame that shows it arriving (p50/p95; no drawing, no browser: the page's
own numbers are tools/serve_check.py's). A stream "keeps real time" when it receives >= 24 frames/s with at most 1 %
dropped. Memory (the server's RSS) is read after every count.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def client(port: int, audio: np.ndarray, seconds: float, out: dict, mode: str = "mic") -> None:
    from websockets.sync.client import connect

    from vasa_lab.serve.protocol import pack_audio, unpack_frame

    clock = time.perf_counter
    got, lat, dropped = [], [], 0
    try:
        with connect(f"ws://127.0.0.1:{port}/ws", max_size=2 ** 22, open_timeout=30) as ws:
            ws.send(json.dumps(dict(type="start", portrait="demo", mode=mode, rate=16_000)))
            ready = json.loads(ws.recv(timeout=60))
            if ready["type"] != "ready":
                out.update(error=ready.get("message", ready["type"]))
                return
            stop = threading.Event()

            def speak():
                t0, i = clock(), 0
                while not stop.is_set() and i * 320 < len(audio):
                    ws.send(pack_audio(clock() * 1e3, audio[i * 320:(i + 1) * 320]))
                    i += 1
                    delay = t0 + i * 0.02 - clock()
                    if delay > 0:
                        time.sleep(delay)

            t = threading.Thread(target=speak, daemon=True)
            t.start()
            first, end = None, clock() + seconds
            while clock() < end:
                try:
                    msg = ws.recv(timeout=2)
                except TimeoutError:
                    continue
                if isinstance(msg, str):
                    continue
                head, jpeg, _ = unpack_frame(msg)
                now = clock()
                first = first or now
                got.append(now)
                dropped += bool(head["dropped"])
                if head["sent"] is not None:
                    lat.append(now * 1e3 - head["sent"])
            stop.set()
            t.join(2)
    except Exception as err:                                    # noqa: BLE001 - reported, not raised
        out.update(error=f"{type(err).__name__}: {err}")
        return
    span = got[-1] - got[0] if len(got) > 1 else float("nan")
    lat = np.array(lat[25:]) if len(lat) > 50 else np.array(lat)
    out.update(frames=len(got), fps=(len(got) - 1) / span, dropped=dropped, latency_series=lat.round(1).tolist(),
               latency_p50_ms=float(np.percentile(lat, 50)), latency_p95_ms=float(np.percentile(lat, 95)))


def rss_mb(pid: int) -> float:
    return int(open(f"/proc/{pid}/statm").read().split()[1]) * 4096 / 2 ** 20


def main(argv=None) -> None:
    from serve_check import free_port, speech_with_pauses, start_server

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="tiny")
    p.add_argument("--streams", default="1,2,3")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    audio = speech_with_pauses(args.seconds + 4)
    port = free_port()
    counts = [int(x) for x in args.streams.split(",")]
    server = start_server(args.profile, port, "--max-streams", str(max(counts)))      # measure beyond the default
    results = dict(profile=args.profile, seconds=args.seconds, rows=[])
    try:
        for n in counts:
            import urllib.request

            urllib.request.urlopen(f"http://127.0.0.1:{port}/health").read()
            outs = [dict() for _ in range(n)]
            threads = [threading.Thread(target=client, args=(port, audio, args.seconds, o)) for o in outs]
            samples, done = [], threading.Event()

            def sample_memory():                              # the server's memory every 30 s while it streams
                while not done.wait(30.0):
                    samples.append(round(rss_mb(server.pid), 1))

            sampler = threading.Thread(target=sample_memory, daemon=True)
            for t in threads + [sampler]:
                t.start()
            for t in threads:
                t.join()
            done.set()
            time.sleep(1.0)
            ok = [o for o in outs if "error" not in o]
            real_time = len(ok) == n and all(o["fps"] >= 24 and o["dropped"] <= 0.01 * o["frames"] for o in ok)
            row = dict(streams=n, per_stream=outs, real_time=real_time, server_rss_mb=rss_mb(server.pid),
                       server_rss_every_30s=samples)
            results["rows"].append(row)
            print(f"{n} stream(s): " + "; ".join(
                (f"{o['fps']:.1f} frames/s, {o['dropped']} dropped of {o['frames']}, latency p50 "
                 f"{o['latency_p50_ms']:.0f} / p95 {o['latency_p95_ms']:.0f} ms") if "error" not in o
                else f"refused: {o['error']}" for o in outs)
                  + f" -> {'real time' if real_time else 'NOT real time'}; server {row['server_rss_mb']:.0f} MB"
                  + (f" (every 30 s: {samples[0]:.0f} ... {samples[-1]:.0f} MB)" if samples else ""),
                  flush=True)
    finally:
        server.terminate()
        server.wait(10)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
