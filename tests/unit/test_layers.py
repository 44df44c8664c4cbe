"""The hexagon's direction holds: the domain imports no other layer of its service, the use
cases neither adapters nor entry points; only the wiring knows them all."""

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).parents[2] / "services"
OUTER_LAYERS = ("adapters", "api", "consumer", "wiring")
FORBIDDEN = {
    "domain": ("application", *OUTER_LAYERS),
    "application": OUTER_LAYERS,
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def layer_modules() -> list[tuple[str, str, Path]]:
    """(service, layer, module file) for every module of a domain or application layer."""
    found = []
    for service in sorted(p for p in SERVICES.iterdir() if (p / "__init__.py").exists()):
        for layer in FORBIDDEN:
            package, module = service / layer, service / f"{layer}.py"
            files = sorted(package.rglob("*.py")) if package.is_dir() else [module]
            found += [(service.name, layer, path) for path in files if path.exists()]
    return found


@pytest.mark.parametrize(
    ("service", "layer", "path"),
    layer_modules(),
    ids=lambda value: str(value.relative_to(SERVICES)) if isinstance(value, Path) else None,
)
def test_inner_layers_do_not_import_outer_ones(service: str, layer: str, path: Path) -> None:
    outer = tuple(f"services.{service}.{name}" for name in FORBIDDEN[layer])
    wrong = sorted(m for m in imported_modules(path) if m.startswith(outer))
    assert not wrong, f"{path.relative_to(SERVICES)} ({layer}) imports {wrong}"


def test_every_service_has_a_domain() -> None:
    services = {service for service, layer, _ in layer_modules() if layer == "domain"}
    assert services == {"intake", "notifier", "agency_gateway", "compliance"}
