"""`vasa-lab serve` in a real browser: the system's headless Chromium, a fake microphone playing a WAV file.

    python tools/serve_check.py [--profile tiny] [--seconds 20] [--chromium /usr/bin/chromium] [--json OUT]

Starts the server (a subprocess, as a user would), opens the page in Chromium (driven by Playwright, no browser
download), and checks what a person at the page would get:

1. the page loads with no console errors and lists its portraits;
2. **talk**: Chromium's fake microphone plays synthesized speech with pauses; for ``--seconds`` the page streams it
   and draws the frames that come back. Reported: frames drawn per second, dropped frames, and the latency from the
   page capturing a chunk of audio to drawing the frame that shows it (p50/p95, on the page's own clock);
3. **the mouth follows the speech**: the frames (taken off the web socket) are read by chapter 02's tracker, and
   the mouth opening is correlated with the loudness of the audio each frame shows (aligned by the page's time
   stamps, best lag within 0-200 ms), against the same mouth correlated with the loudness of other audio (the
   recording shifted by half its length): the first must clearly beat the second;
4. **typed sentence**: a sentence typed and sent is spoken and its frames drawn;
5. **a bad upload** (a text file named .png) gets a sentence on the page, and the stream still works.

Exit status 1 when a check fails. Install the browser once with ``apt-get install -y chromium``.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required"]


def speech_with_pauses(seconds: float = 24.0) -> np.ndarray:
    """Sentences of the world's speech, 0.6-1.2 s of silence between them, at 16 kHz."""
    from vasa_lab.world.speech import synthesize

    texts = ["Hello, I can hear you now.", "Tell me about your day.", "The weather was lovely this morning.",
             "Shall we meet again next week?", "Please pass me the big blue bowl.", "Numbers like seven and nine."]
    rng = np.random.default_rng(3)
    parts, n = [], 0
    while n < seconds * 16_000:
        for t in texts:
            a = synthesize(t, variant=["m3", "f2"][len(parts) % 2], sample_rate=16_000).audio
            gap = np.zeros(int(rng.uniform(0.6, 1.2) * 16_000), np.float32)
            parts += [a.astype(np.float32), gap]
            n += a.size + gap.size
    return np.concatenate(parts)[: int(seconds * 16_000)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(profile: str, port: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, VASA_LAB_PROFILE=profile)
    proc = subprocess.Popen([sys.executable, "-m", "vasa_lab.cli", "serve", "--port", str(port), "--profile", profile,
                             *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    while time.time() - t0 < 300:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped: {proc.stdout.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not answer within 5 minutes")


def mouth_follows(frames: list[tuple[dict, bytes]], sent: list[list[float]]) -> dict:
    """Correlate the tracked mouth opening of the received frames with the loudness of the audio each one shows."""
    import cv2

    from vasa_lab.metrics.expression import read_pixels

    loud = {round(t, 3): r for t, r in sent}
    stamps = np.array([t for t, _ in sent])
    rms = np.array([r for _, r in sent])
    rows, images = [], []
    for head, jpeg in frames:
        if head.get("dropped") or not jpeg or head.get("sent") is None:
            continue
        k = int(np.searchsorted(stamps, head["sent"] - 1e-3))
        if k < 1 or k >= len(stamps) or round(stamps[k], 3) not in loud:
            continue
        rows.append((k, float(np.mean(rms[k - 1:k + 1]))))
        images.append(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[..., ::-1])
    reading = read_pixels(np.stack(images))
    mouth = reading.mouth
    k_idx = np.array([k for k, _ in rows])

    def best(envelope_of) -> tuple[float, int]:
        out = []
        for lag in range(0, 6):                        # the frame's mouth may trail its sound by up to 200 ms
            env = np.array([envelope_of(k - 2 * lag) for k in k_idx])
            ok = np.isfinite(mouth) & np.isfinite(env)
            out.append((float(np.corrcoef(mouth[ok], env[ok])[0, 1]) if ok.sum() > 20 else float("nan"), lag))
        return max(out, key=lambda x: -np.inf if np.isnan(x[0]) else x[0])

    def envelope(k):
        return float(np.mean(rms[max(k - 1, 0):k + 1])) if 1 <= k < len(rms) else np.nan

    half = len(rms) // 2

    def shifted(k):
        return envelope((k + half) % len(rms))

    r, lag = best(envelope)
    r0, lag0 = best(shifted)
    return dict(frames_read=int(np.isfinite(mouth).sum()), frames=len(images), r=r, lag_ms=lag * 40,
                r_other_audio=r0, mouth_std=float(np.nanstd(mouth)))


def run(args) -> dict:
    from playwright.sync_api import sync_playwright

    from vasa_lab.media import write_wav

    out = dict(profile=args.profile, seconds=args.seconds)
    with tempfile.TemporaryDirectory(prefix="vasa_serve_check_") as tmp:
        wav = Path(tmp) / "speech.wav"
        write_wav(wav, speech_with_pauses(args.seconds + 6), 16_000)
        port = free_port()
        t0 = time.time()
        server = start_server(args.profile, port)
        out["server_start_s"] = time.time() - t0
        frames: list[tuple[dict, bytes]] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, headless=True,
                                            args=FLAGS + [f"--use-file-for-fake-audio-capture={wav}"])
                page = browser.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

                def on_socket(ws):
                    from vasa_lab.serve.protocol import unpack_frame

                    def got(payload):
                        if isinstance(payload, (bytes, bytearray)):
                            head, jpeg, _ = unpack_frame(bytes(payload))
                            frames.append((head, jpeg))
                    ws.on("framereceived", got)

                page.on("websocket", on_socket)
                page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
                page.wait_for_function("() => document.querySelectorAll('#portraits img').length >= 3", timeout=20_000)
                out["portraits"] = page.evaluate("document.querySelectorAll('#portraits img').length")

                # -- talk into the (fake) microphone
                page.click("#talk")
                page.wait_for_function("() => window.vasaStats.ready && window.vasaStats.drawn > 0", timeout=60_000)
                started = page.evaluate("performance.now()")
                drawn0 = page.evaluate("window.vasaStats.drawn")
                time.sleep(args.seconds)
                s = page.evaluate("({drawn: vasaStats.drawn, dropped: vasaStats.dropped, received: vasaStats.received,"
                                  " lat: vasaStats.latencies, sent: vasaStats.sent, now: performance.now(),"
                                  " errors: vasaStats.errors, watermark: vasaStats.watermark})")
                wall = (s["now"] - started) / 1000
                lat = np.array(s["lat"][10:])                 # the first frames include the page's own start-up
                out["talk"] = dict(fps=(s["drawn"] - drawn0) / wall, drawn=s["drawn"], dropped=s["dropped"],
                                   received=s["received"], latency_p50_ms=float(np.percentile(lat, 50)),
                                   latency_p95_ms=float(np.percentile(lat, 95)), page_errors=s["errors"],
                                   watermark=s["watermark"])
                page.click("#stop")
                talk_frames = list(frames)
                out["mouth"] = mouth_follows(talk_frames, s["sent"])

                # -- a typed sentence
                frames.clear()
                page.fill("#sentence", "Good evening, and welcome to the live avatar.")
                page.click("#say")
                page.wait_for_function("() => window.vasaStats.said >= 1 && window.vasaStats.drawn >= 60", timeout=60_000)
                out["typed"] = dict(drawn=page.evaluate("vasaStats.drawn"),
                                    audio_frames=sum(1 for h, _ in frames if h.get("audio_bytes", 0) > 0))
                page.click("#stop")

                # -- a bad upload, then the stream still works
                bad = Path(tmp) / "notes.png"
                bad.write_text("this is not an image")
                page.set_input_files("#upload", str(bad))
                page.wait_for_function("() => document.getElementById('message').textContent.length > 0", timeout=20_000)
                out["bad_upload_message"] = page.inner_text("#message")
                frames.clear()
                page.click("#talk")
                page.wait_for_function("() => window.vasaStats.ready && window.vasaStats.drawn > 25", timeout=60_000)
                page.click("#stop")
                out["after_bad_upload_drawn"] = page.evaluate("vasaStats.drawn")
                # the browser logs the refused upload's HTTP status (415) as a console error: that one is expected
                out["console_errors"] = [e for e in errors if "status of 415" not in e]
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    return out


def verdict(r: dict) -> list[str]:
    fails = []
    if r["console_errors"]:
        fails.append(f"console errors: {r['console_errors'][:3]}")
    if r["portraits"] < 3:
        fails.append("fewer than 3 portraits listed")
    if r["talk"]["fps"] < 25 * 0.96:
        fails.append(f"talk: {r['talk']['fps']:.1f} frames/s drawn (< 24)")
    m = r["mouth"]
    if not (m["r"] > 0.3 and m["r"] > m["r_other_audio"] + 0.2):
        fails.append(f"the mouth does not follow the speech: r {m['r']:.2f} vs {m['r_other_audio']:.2f} for other audio")
    if r["typed"]["audio_frames"] < 25:
        fails.append("typed sentence: its frames came without audio")
    if "PNG" not in r["bad_upload_message"]:
        fails.append(f"bad upload: the page said {r['bad_upload_message']!r}")
    if r["after_bad_upload_drawn"] <= 25:
        fails.append("the stream did not work after a bad upload")
    return fails


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"no browser at {args.chromium}: install it with  apt-get install -y chromium", file=sys.stderr)
        return 2
    t0 = time.time()
    r = run(args)
    r["check_seconds"] = time.time() - t0
    t, m = r["talk"], r["mouth"]
    print(f"serve check ({args.profile}): server up in {r['server_start_s']:.0f} s; page: {r['portraits']} portraits")
    print(f"  talk {args.seconds:g} s: {t['fps']:.1f} frames/s drawn, {t['dropped']} dropped of {t['received']}; "
          f"latency (audio captured -> frame drawn) p50 {t['latency_p50_ms']:.0f} ms, p95 {t['latency_p95_ms']:.0f} ms")
    print(f"  mouth vs loudness: r {m['r']:.2f} (lag {m['lag_ms']} ms; {m['frames_read']} of {m['frames']} frames "
          f"read) vs {m['r_other_audio']:.2f} with other audio")
    print(f"  typed sentence: {r['typed']['drawn']} frames drawn, {r['typed']['audio_frames']} with their audio")
    print(f"  bad upload: {r['bad_upload_message']!r}; the stream after it: {r['after_bad_upload_drawn']} frames")
    print(f"  {len(r['console_errors'])} console errors; {r['check_seconds']:.0f} s in all")
    fails = verdict(r)
    for f in fails:
        print(f"FAILED: {f}")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1, default=float))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
