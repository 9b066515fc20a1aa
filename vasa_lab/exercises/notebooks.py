"""The course's notebooks as data: which chapters exist, their solution cells, and student copies.

A chapter is any ``notebooks/NN_name.ipynb``. A checked exercise is three cells: a markdown statement, a code cell
tagged ``solution`` that defines the answer function with its body between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, and a code cell tagged ``check`` that calls ``check_NAME(NAME)``. A student copy replaces each
solution body by ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (the checker then says "not attempted") and
clears every output. Used by ``tools/workshop.py``, ``tools/book.py`` and ``tests/test_exercises.py``.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

SOLUTION_TAG = "solution"
CHECK_TAG = "check"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
_BLOCK = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[ \t]*\n.*?^[ \t]*{re.escape(END)}[ \t]*(\n|$)", re.S | re.M)


def chapter_notebooks(root: str | Path = ".") -> list[Path]:
    """notebooks/NN_*.ipynb under the repository ``root``, in chapter order."""
    return sorted(Path(root, "notebooks").glob("[0-9][0-9]_*.ipynb"))


def chapter_of(path: str | Path) -> str:
    return Path(path).name[:2]


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save(nb: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def source(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def solution_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and SOLUTION_TAG in tags(c)]


def check_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and CHECK_TAG in tags(c)]


def answer_names(src: str) -> list[str]:
    """The top-level functions a solution cell defines."""
    return re.findall(r"^def (\w+)\(", src, re.M)


def stub_source(src: str) -> str:
    """Each BEGIN/END SOLUTION block -> the stub, at the block's indentation. A cell without a block is refused."""
    if BEGIN not in src:
        raise ValueError(f"a solution cell needs a '{BEGIN}' ... '{END}' block:\n{src}")

    def repl(m: re.Match) -> str:
        ind = m.group(1)
        return "".join(f"{ind}{line}\n" for line in STUB)

    out, n = _BLOCK.subn(repl, src)
    if n != src.count(BEGIN) or BEGIN in out or END in out:
        raise ValueError(f"unbalanced solution markers in:\n{src}")
    return out


def _to_lines(text: str) -> list[str]:
    return text.splitlines(True)


def student_copy(nb: dict) -> dict:
    """The notebook with every solution body stubbed and every output, count and timing cleared."""
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if SOLUTION_TAG in tags(cell):
            cell["source"] = _to_lines(stub_source(source(cell)))
    out.get("metadata", {}).pop("widgets", None)
    return out
