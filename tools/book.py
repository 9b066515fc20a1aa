"""Build the rendered course: every chapter executed (outputs, figures, inline videos) into an HTML site.

    python tools/book.py                  execute every chapter, one at a time, then build build/book/html
    python tools/book.py --stored         use a chapter's committed outputs where it has them (fast)
    python tools/book.py --write-back     also store the executed outputs in notebooks/ (to commit them)

Why Sphinx + myst-nb: both are pip packages (no Node.js, unlike Jupyter Book 2's mystmd), maintained by the
Executable Books project that also makes Jupyter Book 1 (which is itself Sphinx + myst-nb underneath), they render
notebooks with their stored outputs, math and raw HTML (the inline videos), and the theme is Jupyter Book's.
The chapter map is the table of contents: every notebooks/NN_*.ipynb, in order, found by name.
Executing is done here with nbclient, one chapter at a time, so each chapter's time is measured and printed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vasa_lab.exercises import exercises_of                     # noqa: E402
from vasa_lab.exercises import notebooks as nbx                 # noqa: E402

BUILD = ROOT / "build" / "book"


def has_outputs(nb: dict) -> bool:
    return any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def execute(path: Path, run_dir: Path, timeout: int) -> tuple[dict, float]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(run_dir)}}).execute()
    seconds = time.perf_counter() - started
    for cell in nb.cells:                                    # no per-cell timing metadata in the stored notebook
        cell.metadata.pop("execution", None)
    return json.loads(nbformat.writes(nb)), seconds


def scrub_paths(nb: dict) -> dict:
    """Outputs without this machine's paths: the repository as '.', the home folder as '~', the run folder as '.'."""
    swaps = [(str(BUILD / "run"), "."), (str(ROOT), "."), (str(Path.home()), "~")]

    def clean(x):
        if isinstance(x, list):
            return [clean(v) for v in x]
        for a, b in swaps:
            x = x.replace(a, b)
        return x

    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if "text" in out:
                out["text"] = clean(out["text"])
            for mime, value in out.get("data", {}).items():          # text only: never inside base64 images
                if mime.startswith("text/"):
                    out["data"][mime] = clean(value)
    return nb


def title_of(nb: dict) -> str:
    for cell in nb["cells"]:
        m = re.search(r"^#\s+(.+)$", nbx.source(cell), re.M) if cell["cell_type"] == "markdown" else None
        if m:
            return m.group(1).strip()
    return "(untitled)"


def index_page(chapters: list[tuple[Path, dict]]) -> str:
    rows = "\n".join(f"| {nbx.chapter_of(p)} | [{title_of(nb)}](notebooks/{p.stem}) | {len(exercises_of(nbx.chapter_of(p)))} |"
                     for p, nb in chapters)
    toc = "\n".join(f"notebooks/{p.stem}" for p, _ in chapters)
    return f"""# vasa_lab: VASA-1 as a course

An open, teachable reproduction of Microsoft's [VASA-1](https://arxiv.org/abs/2404.10667): one portrait and one
speech clip in, a talking-face video out. Each chapter below is a notebook that runs top to bottom on a laptop CPU
(`tiny` profile); this site shows them as they ran, with their figures and videos. The code is the `vasa_lab`
package; the notebooks are in the repository's `notebooks/` folder.

| nb | chapter | checked exercises |
|---|---|---|
{rows}

```{{toctree}}
:maxdepth: 1
:caption: Chapters

{toc}
```
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stored", action="store_true", help="use committed outputs where a chapter has them")
    ap.add_argument("--write-back", action="store_true", help="store executed outputs in notebooks/")
    ap.add_argument("--only", default="", help="comma-separated chapter numbers to execute (others: stored)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = ap.parse_args()

    os.environ.setdefault("VASA_LAB_PROFILE", "tiny")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"     # figures are captured
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    only = {c.strip() for c in args.only.split(",") if c.strip()}

    src = BUILD / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "book" / "conf.py", src / "conf.py")
    import jupyter_server_mathjax                                    # MathJax's files, served by the site itself

    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", src / "_static" / "mathjax")
    import cv2                                                       # a favicon: the bundled portrait, 32 px

    face = cv2.imread(str(ROOT / "vasa_lab" / "assets" / "portrait.png"))
    cv2.imwrite(str(src / "_static" / "favicon.png"), cv2.resize(face, (32, 32), interpolation=cv2.INTER_AREA))
    timings, chapters = {}, []
    total = time.perf_counter()
    for path in nbx.chapter_notebooks(ROOT):
        nb = nbx.load(path)
        ch = nbx.chapter_of(path)
        use_stored = (args.stored and has_outputs(nb)) or (only and ch not in only and has_outputs(nb))
        if use_stored:
            print(f"{path.name}: stored outputs", flush=True)
        else:
            print(f"{path.name}: executing ...", end=" ", flush=True)
            nb, seconds = execute(path, BUILD / "run", args.timeout)
            nb = scrub_paths(nb)
            timings[path.name] = round(seconds, 1)
            print(f"{seconds:.0f} s", flush=True)
            if args.write_back:
                nbx.save(nb, path)
        nbx.save(nb, src / "notebooks" / path.name)
        chapters.append((path, nb))
    (src / "index.md").write_text(index_page(chapters), encoding="utf-8")
    executed = time.perf_counter() - total

    started = time.perf_counter()
    html = BUILD / "html"
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(html)], check=True)
    built = time.perf_counter() - started
    (BUILD / "timings.json").write_text(json.dumps(dict(execute_s=timings, execute_total_s=round(executed, 1),
                                                        sphinx_s=round(built, 1)), indent=1))
    print(f"executed {len(timings)} chapters in {executed:.0f} s, site built in {built:.0f} s -> {html}/index.html")


if __name__ == "__main__":
    main()
