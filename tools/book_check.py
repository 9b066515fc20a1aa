"""Open every chapter of the built book in a real headless browser and check what a reader would see.

    python tools/book_check.py [--html build/book/html] [--chromium /usr/bin/chromium]

For each page (the index and every chapter): no console errors and no uncaught page errors; every figure image
decoded (naturalWidth > 0), and a chapter has at least one; every <video> has a source the browser says it can play
and that loads its metadata (a duration > 0). Drives the system's Chromium through Playwright (no browser download).
The site is served over http on localhost, as a reader would get it. Exit status 1 when any page fails.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]

MEASURE = """async () => {
  const main = document.querySelector('main') || document.body;
  if (main.querySelector('.math.notranslate')) {                               // MathJax loads async: wait for it (20 s at most)
    for (let i = 0; i < 200 && !(window.MathJax && MathJax.isReady); i++) await new Promise(r => setTimeout(r, 100));
    if (window.MathJax && MathJax.Hub) await new Promise(r => MathJax.Hub.Queue(r));    // typesetting finished
  }
  const math = main.querySelectorAll('.math.notranslate').length;      // Sphinx's math spans and divs
  const typeset = main.querySelectorAll('script[type^="math/tex"]').length;
  const imgs = [...main.querySelectorAll('img')];
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const videos = [...main.querySelectorAll('video')];
  const vres = await Promise.all(videos.map(v => new Promise(resolve => {
    const src = v.currentSrc || v.src || (v.querySelector('source') || {}).src || '';
    const type = (v.querySelector('source') || {}).type || (src.startsWith('data:') ? src.slice(5, src.indexOf(';')) : 'video/mp4');
    const done = () => resolve({type, can: v.canPlayType(type), duration: v.duration, ready: v.readyState,
                                error: v.error ? v.error.code : null, width: v.videoWidth});
    if (v.readyState >= 1) return done();
    v.addEventListener('loadedmetadata', done, {once: true});
    v.addEventListener('error', done, {once: true});
    v.preload = 'metadata'; v.load();
    setTimeout(done, 15000);
  })));
  return {images: imgs.map(i => ({src: i.currentSrc.slice(0, 60), w: i.naturalWidth})), videos: vres,
          title: document.title, math, typeset};
}"""


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def check(html: Path, chromium: str) -> list[dict]:
    from playwright.sync_api import sync_playwright

    pages = [html / "index.html"] + sorted((html / "notebooks").glob("[0-9][0-9]_*.html"))
    httpd, base = serve(html)
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
            for page_file in pages:
                page = browser.new_page()
                errors = []
                page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url[:120]}") if r.status >= 400 else None)
                page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:120]} ({r.failure})"))
                url = f"{base}/{page_file.relative_to(html).as_posix()}"
                page.goto(url, wait_until="load", timeout=120_000)
                seen = page.evaluate(MEASURE)
                page.close()
                name = page_file.relative_to(html).as_posix()
                chapter = name.startswith("notebooks/")
                broken_images = [i for i in seen["images"] if i["w"] == 0]
                bad_videos = [v for v in seen["videos"] if not v["can"] or not (v["duration"] or 0) > 0]
                problems = list(errors)
                if chapter and not seen["images"]:
                    problems.append("no figure on the page")
                problems += [f"image not decoded: {i['src']}" for i in broken_images]
                if seen["math"] and seen["typeset"] < seen["math"]:
                    problems.append(f"math not typeset: {seen['typeset']} of {seen['math']} formulas")
                problems += [f"video not playable: {v}" for v in bad_videos]
                results.append(dict(page=name, images=len(seen["images"]), videos=len(seen["videos"]), math=seen["math"],
                                    playable=len(seen["videos"]) - len(bad_videos), problems=problems))
            browser.close()
    finally:
        httpd.shutdown()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", default=str(ROOT / "build" / "book" / "html"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    html = Path(args.html)
    if not (html / "index.html").exists():
        sys.exit(f"book_check: no book at {html}; run `make book` (or python tools/book.py) first")
    if not Path(args.chromium).exists():
        sys.exit(f"book_check: no browser at {args.chromium}; on Debian/Ubuntu: apt-get install -y chromium")
    results = check(html, args.chromium)
    width = max(len(r["page"]) for r in results)
    for r in results:
        verdict = "ok" if not r["problems"] else "FAIL"
        print(f"{r['page']:<{width}}  {r['images']:3d} figures  {r['playable']}/{r['videos']} videos playable  "
              f"{r['math']:3d} formulas  {verdict}")
        for prob in r["problems"][:8]:
            print(f"    {prob[:300]}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    failed = [r for r in results if r["problems"]]
    print(f"{len(results) - len(failed)} of {len(results)} pages load without console errors, with their figures and "
          "playable videos" if not failed else f"{len(failed)} of {len(results)} pages have problems")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
