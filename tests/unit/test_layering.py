"""Steps import the domain, never the reverse: the package's modules outside the steps do not import a step.

The state machine's steps (``retrain.steps``) are thin: each parses its input and
calls domain code. Anything a step and an operation share (the bootstrap trains and
validates as Train and Validate do) lives in a domain module both import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).parents[2] / "src" / "retrain"
#: Packages that may import a step, and why:
#: ``retrain.steps`` itself (steps share ``steps.model_config``);
#: ``retrain.local``, the local cloud, which runs the step functions' handlers as Lambda would;
#: ``retrain.cli``, the outermost shell, which may drive any layer (it drives none today).
ALLOWED = ("retrain.steps", "retrain.local", "retrain.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth (imports inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_a_step(tree: ast.AST) -> list[str]:
    return sorted(m for m in imported_modules(tree) if m == "retrain.steps" or m.startswith("retrain.steps."))


def is_allowed(module: str) -> bool:
    return any(module == allowed or module.startswith(f"{allowed}.") for allowed in ALLOWED)


def test_the_walk_finds_the_package_and_its_steps():
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    assert {"retrain.registry", "retrain.lifecycle", "retrain.steps.train"} <= modules


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from retrain.steps.train import run", ["retrain.steps.train", "retrain.steps.train.run"]),
        ("from retrain import steps", ["retrain.steps"]),
        ("def f():\n    import retrain.steps.validate", ["retrain.steps.validate"]),
        ("from retrain import registry", []),
        ("from retrain.stepsize import x", []),
    ],
)
def test_a_step_import_is_recognised_wherever_it_is(source, found):
    assert imports_a_step(ast.parse(source)) == found


def test_no_module_outside_the_steps_local_cloud_and_cli_imports_a_step():
    offenders = {
        module_name(path): steps
        for path in sorted(PACKAGE.rglob("*.py"))
        if not is_allowed(module_name(path)) and (steps := imports_a_step(ast.parse(path.read_text())))
    }
    assert offenders == {}
