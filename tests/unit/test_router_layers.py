"""The router's dependency rule (docs/adr/0004): the pure packages and the application layer never import
an adapter, the HTTP side, the settings or the composition root."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROUTER = Path(__file__).resolve().parents[2] / "services" / "router"
OUTER = ("adapters", "http", "app", "dependencies", "settings", "reports")
FORBIDDEN = {
    "routing": (*OUTER, "application"),
    "lifecycle": (*OUTER, "application"),
    "application": OUTER,
}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_inner_layers_import_nothing_from_the_outer_ones(layer):
    modules = sorted((ROUTER / layer).glob("*.py"))
    assert modules
    for module in modules:
        wrong = {name for name in imported(module)
                 if any(name == f"services.router.{outer}" or name.startswith(f"services.router.{outer}.")
                        for outer in FORBIDDEN[layer])}
        assert not wrong, f"{module.relative_to(ROUTER)} imports {sorted(wrong)}"


@pytest.mark.parametrize("layer", ["routing", "lifecycle"])
def test_the_pure_packages_never_read_the_clock(layer):
    for module in sorted((ROUTER / layer).glob("*.py")):
        text = module.read_text()
        assert "datetime.now(" not in text and "date.today(" not in text and "time.time(" not in text, module
