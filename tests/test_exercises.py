"""The self-checking exercises: every checker passes the chapter's own solution, rejects an obvious wrong answer,
and reports a workshop stub as not attempted; every exercise is in its chapter and every chapter wires it up."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vasa_lab.exercises import REGISTRY, compare, exercises_of, run_check
from vasa_lab.exercises import notebooks as nbx

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = nbx.chapter_notebooks(ROOT)
# the chapters that must carry checked exercises (later chapters add theirs; see docs/EXERCISES.md)
REQUIRED = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11")


def _solutions() -> dict[str, tuple[str, str]]:
    """answer name -> (notebook file name, the solution cell's source)"""
    out = {}
    for path in NOTEBOOKS:
        for cell in nbx.solution_cells(nbx.load(path)):
            src = nbx.source(cell)
            for name in nbx.answer_names(src):
                out[name] = (path.name, src)
    return out


SOLUTIONS = _solutions()


def _define(src: str, name: str):
    ns: dict = {}
    exec(compile(src, f"<solution {name}>", "exec"), ns)          # a solution cell stands on its own
    return ns[name]


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_checker_passes_solution_rejects_wrong_and_skips_stub(key, capsys):
    ex = REGISTRY[key]
    assert ex.answer in SOLUTIONS, f"exercise {key}: no solution cell in notebooks/ defines {ex.answer}"
    name, src = SOLUTIONS[ex.answer]
    assert name.startswith(ex.chapter + "_"), f"exercise {key} is solved in {name}, not in chapter {ex.chapter}"
    assert run_check(ex, _define(src, ex.answer)) is True, capsys.readouterr().out
    assert run_check(ex, ex.wrong, verbose=False) is False, f"exercise {key}: the checker accepts a wrong answer"
    stub = _define(nbx.stub_source(src), ex.answer)
    assert run_check(ex, stub) is None
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize("chapter", REQUIRED)
def test_chapter_has_checked_exercises(chapter):
    assert 2 <= len(exercises_of(chapter)) <= 4, f"chapter {chapter} needs 2-4 checked exercises"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_wires_its_exercises(path):
    nb = nbx.load(path)
    defined = [n for c in nbx.solution_cells(nb) for n in nbx.answer_names(nbx.source(c))]
    checks = "\n".join(nbx.source(c) for c in nbx.check_cells(nb))
    registered = [e.answer for e in exercises_of(nbx.chapter_of(path))]
    assert sorted(defined) == sorted(registered), f"{path.name}: solution cells {defined} vs registered {registered}"
    for name in registered:
        assert f"check_{name}({name})" in checks, f"{path.name}: no check cell calls check_{name}({name})"
    student = nbx.student_copy(nb)
    for cell in nbx.solution_cells(student):
        assert nbx.BEGIN not in nbx.source(cell) and "# YOUR CODE HERE" in nbx.source(cell)
    assert all(c.get("outputs", []) == [] for c in student["cells"] if c["cell_type"] == "code")


def test_stub_keeps_signature_and_docstring():
    src = 'import numpy as np\n\n\ndef f(x):\n    """doc"""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n'
    out = nbx.stub_source(src)
    assert out == 'import numpy as np\n\n\ndef f(x):\n    """doc"""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
    with pytest.raises(ValueError):
        nbx.stub_source("def f(x):\n    return x\n")
    with pytest.raises(ValueError):
        nbx.stub_source("def f(x):\n    ### BEGIN SOLUTION\n    return x\n")


def test_compare_reports_shape_and_value():
    assert compare(np.ones(3), np.ones(3), 1e-6, 1e-9)[0]
    ok, msg = compare(np.ones((3, 1)), np.ones(3), 1e-6, 1e-9)
    assert not ok and "shape" in msg
    ok, msg = compare((1.0, 2.0), (1.0, 2.5), 1e-6, 1e-9)
    assert not ok and "value 2 of 2" in msg
    ok, msg = compare("text", 1.0, 1e-6, 1e-9)
    assert not ok


def test_an_error_in_the_answer_is_wrong_not_a_crash(capsys):
    ex = REGISTRY["04.2"]

    def broken(y, y_hat):
        raise ValueError("oops")

    assert run_check(ex, broken) is False
    assert "raised ValueError: oops" in capsys.readouterr().out
    assert run_check(ex, None) is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_chapter_skeleton(path):
    """Title 'NN · ...'; then, in this order: what you should see, summary, exercises, references."""
    nb = nbx.load(path)
    text = "\n".join(nbx.source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert text.lstrip().startswith(f"# {nbx.chapter_of(path)} · "), f"{path.name}: title must read '# NN · Title'"
    marks = ["What you should see", "## Summary", "## Exercises", "## References"]
    where = [text.rfind(m) if m != "What you should see" else text.find(m) for m in marks]
    assert all(w >= 0 for w in where), f"{path.name}: missing {[m for m, w in zip(marks, where) if w < 0]}"
    assert text.rfind("What you should see", 0, where[1]) >= 0, f"{path.name}: 'What you should see' after Summary"
    assert where[1] < where[2] < where[3], f"{path.name}: Summary, Exercises, References must come in that order"
