"""The package layout (README, "Layout"): the core at the top level, GAN families under
``gancourse.gans``, instruments under ``gancourse.analysis``; imports only point downwards, and
the one GAN training loop lives in ``gancourse.training``."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "gancourse"
CORE = {"__init__", "runtime", "cli", "training", "losses", "data", "models", "metrics", "plotting",
        "course", "divergences", "py"}
LAYERS = {"core": 0, "gans": 1, "analysis": 2}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("gans", "analysis") else "core"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gancourse"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("gancourse"))
    return out


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        yield ".".join(rel.parts), path


def test_top_level_holds_only_the_core_and_the_two_family_folders():
    names = {p.stem for p in PKG.iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert names - {"gans", "analysis"} <= CORE, sorted(names - CORE - {"gans", "analysis"})
    assert {"gans", "analysis"} <= names


@pytest.mark.parametrize("module,path", list(_modules()), ids=[m for m, _ in _modules()])
def test_imports_point_downwards(module, path):
    """core never imports gans/analysis; gans never imports analysis."""
    mine = LAYERS[_layer(module)]
    upward = sorted(m for m in _imports(path) if LAYERS[_layer(m)] > mine)
    assert not upward, f"{module} imports from a higher layer: {upward}"


def test_only_the_trainer_alternates_generator_and_discriminator_updates():
    """No module but gancourse.training steps two optimisers in one loop (a GAN loop of its own)."""
    offenders = []
    for module, path in _modules():
        if module.startswith("gancourse.training"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.For, ast.While)):
                stepped = {ast.unparse(n.func.value) for n in ast.walk(node)
                           if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                           and n.func.attr == "step" and not ast.unparse(n.func.value).endswith(
                               ("sched", "schedule", "scheduler", "bar"))}
                if len(stepped) >= 2:
                    offenders.append(f"{module}:{node.lineno} steps {sorted(stepped)}")
    assert not offenders, "a training loop outside gancourse.training:\n" + "\n".join(offenders)
