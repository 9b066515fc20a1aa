"""Imports flow one way (ARCHITECTURE.md): every import in the package, lazy ones inside functions included, goes
from a room to a room below it, never sideways or up."""
import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vasa_lab"

# lowest first; a room may import rooms of lower layers, and its own files
LAYERS = [
    {"__init__", "geometry", "config", "repro"},        # foundation: facts and settings, import nothing of ours
    {"parallel", "media"},                              # foundation: processes, files
    {"artifacts", "training"},                          # foundation: weights on disk, the training harness
    {"world"},                                          # the synthetic world: people, behaviour, speech, renders
    {"tracking"},                                       # reading faces: landmarks, pose, gaze, alignment
    {"data"},                                           # datasets: shards, splits, clip access, real-video prep
    {"audio", "latent"},                                # speech features; the face latent space
    {"motion"},                                         # the motion diffusion transformer
    {"provenance"},                                     # watermark and content credentials
    {"pipeline"},                                       # portrait + speech -> video, offline and streaming
    {"metrics"},                                        # measuring all of the above
    {"serve", "cli", "course", "exercises"},            # what people run: apps may use each other
]
TOP = len(LAYERS) - 1
LAYER_OF = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}


def room_of(module: str) -> str:
    """vasa_lab.latent.model -> latent; vasa_lab.media -> media; vasa_lab -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every vasa_lab module ``path`` imports (absolute or relative, at any depth), with its line."""
    mod = module_name(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return [(t, line) for t, line in found if t == "vasa_lab" or t.startswith("vasa_lab.")]


def violation(source: str, target: str) -> str | None:
    """Why importing room ``target`` from room ``source`` breaks the layering, or None if it is fine."""
    for room in (source, target):
        if room not in LAYER_OF:
            return f"{room!r} is not in the architecture's layers (add it to ARCHITECTURE.md and this test)"
    a, b = LAYER_OF[source], LAYER_OF[target]
    if source == target or b < a or (a == b == TOP):
        return None
    return f"{source} (layer {a}) must not import {target} (layer {b}): " + ("sideways" if a == b else "upwards")


def all_violations() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = room_of(module_name(path))
        for target, line in imports_of(path):
            why = violation(source, room_of(target))
            if why:
                out.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}: {why}")
    return out


def test_imports_flow_one_way():
    assert all_violations() == []


def test_every_room_has_a_layer():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert rooms <= set(LAYER_OF), rooms - set(LAYER_OF)


@pytest.mark.parametrize("source, target, bad", [
    ("world", "metrics", True),          # upwards
    ("tracking", "world", False),        # downwards
    ("audio", "latent", True),           # sideways in one layer
    ("cli", "serve", False),             # apps may use each other
    ("motion", "motion", False),         # a room's own files
    ("world", "newroom", True),          # a room nobody placed
])
def test_the_rule_itself(source, target, bad):
    assert (violation(source, target) is not None) == bad


def test_the_checker_reads_relative_and_lazy_imports(tmp_path, monkeypatch):
    """A planted lazy, relative, upward import is found (so an empty list above means something)."""
    pkg = tmp_path / "vasa_lab"
    (pkg / "world").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "world" / "__init__.py").write_text("")
    (pkg / "world" / "x.py").write_text("def f():\n    from ..metrics.table import g\n    return g\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    [found] = all_violations()
    assert "vasa_lab/world/x.py:2 imports vasa_lab.metrics.table" in found and "upwards" in found
