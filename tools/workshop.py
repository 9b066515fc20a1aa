"""Build the workshop kit: student copies of every chapter and an instructor guide.

    python tools/workshop.py [--out workshop]            (what `make workshop` runs)

writes
    OUT/student/NN_name.ipynb      solution bodies replaced by `# YOUR CODE HERE` stubs, every output cleared
    OUT/instructor/NN_name.ipynb   the chapters with their solutions, outputs cleared
    OUT/INSTRUCTOR.md              per chapter: minutes on a laptop CPU, what to prepare, learning goals, the
                                   checked exercises and open questions, the questions students ask

Chapters are found by name (notebooks/NN_*.ipynb), exercises by cell tag (`solution`, `check`), the guide's words
in docs/workshop_guide.toml: a new chapter is picked up as it is, with "no guide notes yet" until it has a table.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vasa_lab.exercises import exercises_of                     # noqa: E402
from vasa_lab.exercises import notebooks as nbx                 # noqa: E402


def title_of(nb: dict) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", nbx.source(cell), re.M)
            if m:
                return m.group(1).strip()
    return "(untitled)"


def open_questions(nb: dict) -> int:
    for cell in nb["cells"]:
        s = nbx.source(cell)
        if cell["cell_type"] == "markdown" and "### More to try" in s:
            return len(re.findall(r"^\d+\. ", s, re.M))
    return 0


def summary_bullets(nb: dict) -> list[str]:
    for cell in nb["cells"]:
        s = nbx.source(cell)
        if cell["cell_type"] == "markdown" and "## Summary" in s:
            part = s.split("## Summary", 1)[1].split("\n## ", 1)[0]
            return [b.strip().replace("\n  ", " ") for b in re.split(r"^\* ", part, flags=re.M)[1:]]
    return []


def guide_section(path: Path, nb: dict, notes: dict | None) -> str:
    ch = nbx.chapter_of(path)
    lines = [f"## {title_of(nb)}", "", f"`notebooks/{path.name}` · student copy `student/{path.name}`", ""]
    if notes is None:
        lines += ["*No guide notes yet for this chapter (add a table to docs/workshop_guide.toml).*", ""]
        goals = summary_bullets(nb)
    else:
        lines += [f"**Time:** about {notes['minutes']} min to run top to bottom on a 2-core laptop CPU (tiny profile), "
                  "plus the time to read and do the exercises.", ""]
        lines += ["**Prepare:**", ""] + [f"* {p}" for p in notes.get("prepare", [])] + [""]
        goals = notes.get("goals") or summary_bullets(nb)
    if goals:
        lines += ["**Learning goals:**", ""] + [f"* {g}" for g in goals] + [""]
    exs = exercises_of(ch)
    if exs:
        lines += ["**Checked exercises** (each cell prints ✓/✗ per case against the package; solutions are in "
                  f"`instructor/{path.name}` and tested in CI):", ""]
        lines += [f"* {e.key} · {e.title}: write `{e.answer}`, compared with `{e.reference}`" for e in exs] + [""]
    n_open = open_questions(nb)
    if n_open:
        lines += [f"**Open questions:** {n_open} more, without a checker, under *More to try* in the chapter.", ""]
    if notes and notes.get("questions"):
        lines += ["**Questions students ask:**", ""]
        lines += [f"* *{q}* {a}" for q, a in notes["questions"]] + [""]
    return "\n".join(lines)


def build(out: Path) -> dict:
    guide_file = ROOT / "docs" / "workshop_guide.toml"
    guide = tomllib.loads(guide_file.read_text(encoding="utf-8")) if guide_file.exists() else {}
    if out.exists():
        shutil.rmtree(out)
    (out / "student").mkdir(parents=True)
    (out / "instructor").mkdir()
    chapters = nbx.chapter_notebooks(ROOT)
    sections, rows, total_minutes = [], [], 0
    for path in chapters:
        nb = nbx.load(path)
        nbx.save(nbx.student_copy(nb), out / "student" / path.name)
        teacher = nbx.student_copy(nb)
        for cell, orig in zip(teacher["cells"], nb["cells"]):             # outputs cleared, solutions kept
            if cell["cell_type"] == "code":
                cell["source"] = orig["source"]
        nbx.save(teacher, out / "instructor" / path.name)
        ch = nbx.chapter_of(path)
        notes = guide.get(ch)
        sections.append(guide_section(path, nb, notes))
        minutes = notes["minutes"] if notes else None
        total_minutes += minutes or 0
        rows.append(f"| {ch} | {title_of(nb)} | {minutes if minutes is not None else '?'} | "
                    f"{len(exercises_of(ch))} | {open_questions(nb)} |")
    head = ["# Instructor guide", "",
            "Made by `make workshop` from the chapters and `docs/workshop_guide.toml`. Hand out `student/`: each "
            "notebook runs top to bottom as it is (an exercise left empty reports \"not attempted yet\" and the "
            "chapter runs on). `instructor/` holds the same chapters with the solutions.", "",
            "Before the session: `make setup` on every laptop (the install takes the longest), then run each chapter "
            "once so the artifact store holds what later chapters load (`make test-notebooks` does all of them).", "",
            "| nb | chapter | minutes (run) | checked exercises | open questions |", "|---|---|---|---|---|", *rows,
            f"| | **all** | **{total_minutes}** | **{sum(len(exercises_of(nbx.chapter_of(p))) for p in chapters)}** | |",
            ""]
    (out / "INSTRUCTOR.md").write_text("\n".join(head + sections), encoding="utf-8")
    return dict(chapters=len(chapters), out=str(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "workshop"), help="folder to write (replaced)")
    args = ap.parse_args()
    info = build(Path(args.out))
    print(f"workshop kit: {info['chapters']} chapters -> {info['out']}/student, {info['out']}/instructor, "
          f"{info['out']}/INSTRUCTOR.md")


if __name__ == "__main__":
    main()
