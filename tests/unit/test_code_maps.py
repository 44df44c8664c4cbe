"""Each service's README has a code map, a table under ``## Code map`` with one row per module
(``| `path/module.py` | what it does |``). It stays true: every module of the service is in it,
and every module it names exists.

A module is a ``.py`` file of the service other than the migrations' versions and an
``__init__.py`` that holds nothing but a docstring."""

import ast
import re
from pathlib import Path

import pytest

SERVICES = Path(__file__).parents[2] / "services"
SERVICE_NAMES = sorted(p.parent.name for p in SERVICES.glob("*/README.md"))
HEADING = re.compile(r"^#{2,}\s+code map\s*$", re.IGNORECASE)
BACKTICKED = re.compile(r"`([^`]+)`")


def _is_module(path: Path) -> bool:
    if path.name != "__init__.py":
        return True
    body = ast.parse(path.read_text(), filename=str(path)).body
    docstring_only = len(body) == 1 and isinstance(body[0], ast.Expr)
    return bool(body) and not docstring_only


def service_modules(service: Path) -> set[str]:
    """The service's modules, as paths relative to its folder (``api/routes.py``)."""
    return {
        path.relative_to(service).as_posix()
        for path in service.rglob("*.py")
        if "versions" not in path.relative_to(service).parts[:-1] and _is_module(path)
    }


def _map_lines(readme: str) -> list[str]:
    lines = readme.splitlines()
    start = next((i for i, line in enumerate(lines) if HEADING.match(line.strip())), None)
    if start is None:
        return []
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("#") and not line.startswith("####"):
            break
        section.append(line)
    return section


def _paths_in_cell(cell: str, service: str) -> list[str]:
    names = BACKTICKED.findall(cell) or [cell]
    paths = []
    for name in (n.strip() for n in names):
        for prefix in (f"services/{service}/", f"{service}/", "./"):
            name = name.removeprefix(prefix)
        if name:
            paths.append(name)
    return paths


def code_map(service: str) -> list[str]:
    """The paths the first column of the README's code map names, in order."""
    readme = (SERVICES / service / "README.md").read_text()
    paths = []
    for line in _map_lines(readme):
        stripped = line.strip()
        if not stripped.startswith("|"):
            continue
        cells = [cell.strip() for cell in stripped.strip("|").split("|")]
        first = cells[0]
        if not first or set(first) <= set("-: ") or first.lower() in ("module", "where", "file"):
            continue
        paths.extend(_paths_in_cell(first, service))
    return paths


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_module_is_on_the_code_map(service: str) -> None:
    listed = code_map(service)
    assert listed, f"services/{service}/README.md has no '## Code map' table"
    missing = sorted(service_modules(SERVICES / service) - set(listed))
    assert not missing, f"services/{service}/README.md code map lacks {missing}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_module_on_the_code_map_exists(service: str) -> None:
    modules = service_modules(SERVICES / service)
    gone = [path for path in code_map(service) if path not in modules]
    assert not gone, f"services/{service}/README.md code map names no module: {gone}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_module_is_on_the_code_map_once(service: str) -> None:
    listed = code_map(service)
    twice = sorted({path for path in listed if listed.count(path) > 1})
    assert not twice, f"services/{service}/README.md code map lists twice: {twice}"


def test_the_parser_tolerates_formatting() -> None:
    assert _paths_in_cell("`services/notifier/sender.py`", "notifier") == ["sender.py"]
    assert _paths_in_cell(" api/models.py ", "notifier") == ["api/models.py"]
    assert _paths_in_cell("`a.py`, `b/c.py`", "notifier") == ["a.py", "b/c.py"]
