"""make workshop and make book, without a browser: every chapter is picked up, stubs and outputs are right."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from vasa_lab.exercises import notebooks as nbx

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_workshop_kit(tmp_path):
    info = _tool("workshop").build(tmp_path / "kit")
    chapters = nbx.chapter_notebooks(ROOT)
    assert info["chapters"] == len(chapters)
    guide = (tmp_path / "kit" / "INSTRUCTOR.md").read_text()
    for path in chapters:
        student = json.loads((tmp_path / "kit" / "student" / path.name).read_text())
        teacher = json.loads((tmp_path / "kit" / "instructor" / path.name).read_text())
        code = [c for c in student["cells"] if c["cell_type"] == "code"]
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
        assert not any(nbx.BEGIN in nbx.source(c) for c in code)
        assert len(nbx.solution_cells(teacher)) == len(nbx.solution_cells(student))
        assert all(nbx.BEGIN in nbx.source(c) for c in nbx.solution_cells(teacher))
        assert f"`notebooks/{path.name}`" in guide
    assert "**Questions students ask:**" in guide and "| **all** |" in guide


def test_book_index_and_path_scrubbing():
    book = _tool("book")
    chapters = [(p, nbx.load(p)) for p in nbx.chapter_notebooks(ROOT)]
    index = book.index_page(chapters)
    for path, _ in chapters:
        assert f"notebooks/{path.stem}" in index                         # in the table of contents
    png = "iVBORw0KGgo" + str(ROOT)                                        # even a path-like run inside base64 stays
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": [f"found in {ROOT}/vasa_lab/weights\n"]},
        {"output_type": "display_data", "data": {"image/png": png, "text/plain": [str(Path.home() / "x")]}}]}]}
    out = book.scrub_paths(nb)["cells"][0]["outputs"]
    assert out[0]["text"] == ["found in ./vasa_lab/weights\n"]
    assert out[1]["data"]["image/png"] == png and out[1]["data"]["text/plain"] == ["~/x"]
