"""Every service has the one shape intake has, and its layers point inwards.

- A service's root holds only its entry points and wiring (``ROOT_MODULES``) and the layer
  packages (``PACKAGES``); data folders (policies, templates) hold no Python.
- The domain imports no other layer of its service, no framework or driver, and reads no
  files; the use cases (``application``) import neither adapters nor entry points, nor a
  framework, nor the HTTP problem types.
- Routes, consumers and workers hold no SQL: they reach the database through use cases and
  stores.
"""

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).parents[2] / "services"
NAMES = ("intake", "notifier", "agency_gateway", "compliance")
ROOT_MODULES = {
    "__init__.py",
    "__main__.py",
    "settings.py",
    "wiring.py",
    "consumer.py",
    "workers.py",
}
PACKAGES = {"domain", "application", "adapters", "api", "cli", "migrations"}
ENTRY_POINTS = ("api", "consumer", "workers", "cli", "wiring")
FRAMEWORKS = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "httpx", "aiokafka")
FORBIDDEN = {
    "domain": (
        ("application", "adapters", "settings", *ENTRY_POINTS),
        (*FRAMEWORKS, "shared.http"),
    ),
    "application": (("adapters", "settings", *ENTRY_POINTS), (*FRAMEWORKS, "shared.http")),
    "api": ((), ("sqlalchemy",)),
    "consumer": ((), ("sqlalchemy",)),
    "workers": ((), ("sqlalchemy",)),
}
FILE_READS = {"open", "read_text", "read_bytes", "iterdir", "glob", "rglob"}


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def file_reads(tree: ast.AST) -> set[str]:
    calls = (node.func for node in ast.walk(tree) if isinstance(node, ast.Call))
    names = {f.id if isinstance(f, ast.Name) else getattr(f, "attr", "") for f in calls}
    return names & FILE_READS


def modules_of(service: Path, layer: str) -> list[Path]:
    package, module = service / layer, service / f"{layer}.py"
    if package.is_dir():
        return sorted(package.rglob("*.py"))
    return [module] if module.exists() else []


def layer_modules() -> list[tuple[str, str, Path]]:
    """(service, layer, module file) for every module of a layer with rules."""
    return [
        (name, layer, path)
        for name in NAMES
        for layer in FORBIDDEN
        for path in modules_of(SERVICES / name, layer)
    ]


def _id(value: object) -> str | None:
    return str(value.relative_to(SERVICES)) if isinstance(value, Path) else None


def _starts(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(f"{prefix}.") for prefix in prefixes)


@pytest.mark.parametrize(("service", "layer", "path"), layer_modules(), ids=_id)
def test_layers_import_only_inwards(service: str, layer: str, path: Path) -> None:
    own_layers, libraries = FORBIDDEN[layer]
    outer = tuple(f"services.{service}.{name}" for name in own_layers)
    tree = ast.parse(path.read_text(), filename=str(path))
    wrong = sorted(m for m in imported_modules(tree) if _starts(m, outer + libraries))
    assert not wrong, f"{path.relative_to(SERVICES)} ({layer}) imports {wrong}"


@pytest.mark.parametrize(
    "path", [p for s, layer, p in layer_modules() if layer == "domain"], ids=_id
)
def test_the_domain_reads_no_files(path: Path) -> None:
    reads = file_reads(ast.parse(path.read_text(), filename=str(path)))
    assert not reads, (
        f"{path.relative_to(SERVICES)} reads files ({sorted(reads)}): an adapter's job"
    )


@pytest.mark.parametrize("service", NAMES)
def test_a_service_root_holds_only_its_entry_points_wiring_and_layers(service: str) -> None:
    misplaced = []
    for entry in sorted((SERVICES / service).iterdir()):
        if entry.name == "__pycache__":
            continue
        if entry.is_file() and entry.suffix == ".py" and entry.name not in ROOT_MODULES:
            misplaced.append(entry.name)
        if entry.is_dir() and entry.name not in PACKAGES and any(entry.rglob("*.py")):
            misplaced.append(f"{entry.name}/")
    assert not misplaced, (
        f"services/{service} holds {misplaced}: use cases go to application/, I/O to "
        f"adapters/, command-line tools to cli/ (the shape is in tests/unit/test_layers.py)"
    )


@pytest.mark.parametrize("service", NAMES)
def test_every_service_has_each_layer(service: str) -> None:
    root = SERVICES / service
    missing = [
        name for name in ("domain", "application", "adapters", "api") if not (root / name).is_dir()
    ]
    missing += [name for name in ("wiring.py", "settings.py") if not (root / name).exists()]
    assert not missing, f"services/{service} has no {missing}"


def test_the_list_of_services_is_complete() -> None:
    found = {p.name for p in SERVICES.iterdir() if (p / "__init__.py").exists()}
    assert found == set(NAMES)
