"""The package's modules import downward only: no module imports one that imports it back, lazily or not."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_ofs

PACKAGE_ROOT = Path(airflow_provider_ofs.__file__).parent
PACKAGE = "airflow_provider_ofs"
#: The one upward edge allowed: the sync hook loads the async client where a coroutine needs it.
LAZY_EDGES = {("airflow_provider_ofs.hooks.scheduler", "airflow_provider_ofs.hooks.async_client")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every package module ``path`` imports, at module level, in a function or under TYPE_CHECKING."""
    here = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known and name != here)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = list(PACKAGE_ROOT.rglob("*.py"))
    known = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, known) for path in paths}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def test_no_module_of_the_package_imports_itself_back() -> None:
    graph = import_graph()
    for source, target in LAZY_EDGES:
        graph[source].discard(target)
    circles = {module for module in graph if module in reachable(graph, module) and module != PACKAGE}

    assert circles == set()


def test_the_hooks_share_code_only_through_modules_below_both() -> None:
    graph = import_graph()

    assert "airflow_provider_ofs.hooks.async_client" in graph["airflow_provider_ofs.hooks.scheduler"]
    assert "airflow_provider_ofs.hooks.scheduler" not in graph["airflow_provider_ofs.hooks.async_client"]
    assert "airflow_provider_ofs.transport" in graph["airflow_provider_ofs.hooks.async_client"]
    assert "airflow_provider_ofs.transport" in graph["airflow_provider_ofs.hooks.scheduler"]
