"""Layers point one way (docs in ../shared/STYLE.md): entry points → service → data layer, broker,
candle store → engine. Every import in a package's source is checked, including those inside
functions, so a dependency upwards cannot hide in a lazy import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> dict[str, set[str]]:
    """``{module file: the dotted names it imports}`` for every .py file under ``package``."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        out[str(path.relative_to(ROOT))] = names
    return out


def _offending(package: str, allowed) -> list[str]:
    return sorted(f"{module} imports {name}" for module, names in _imports(package).items()
                  for name in names if not allowed(name))  # fmt: skip


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_engine_imports_numpy_and_its_kernels_only():
    ok = {"numpy", "engine", "engine_ext"} | set(sys.stdlib_module_names)
    assert _offending("engine", lambda n: _top(n) in ok) == []


def test_the_broker_imports_nothing_of_the_application():
    app_packages = {"quantgrid", "app", "tasks", "engine", "engine_ext"}
    assert _offending("qgpg", lambda n: _top(n) not in app_packages) == []


@pytest.mark.parametrize("above", ["app", "tasks", "cli"])
def test_the_core_imports_no_entry_point(above):
    assert _offending("quantgrid", lambda n: _top(n) != above) == []


@pytest.mark.parametrize("package", ["quantgrid/db", "quantgrid/candles"])
def test_the_data_layer_and_candle_store_import_no_service(package):
    assert _offending(package, lambda n: not n.startswith("quantgrid.jobs")) == []


def test_the_service_imports_no_celery_or_flask():
    assert _offending("quantgrid/jobs", lambda n: _top(n) not in {"celery", "flask", "kombu"}) == []


def test_the_tasks_import_no_web_app():
    assert _offending("tasks", lambda n: _top(n) != "app") == []


def test_the_client_imports_requests_pandas_and_the_error_tree_only():
    """It runs in notebooks on machines that have none of the server's dependencies."""
    ok = {"requests", "pandas"} | set(sys.stdlib_module_names)
    allowed = ("quantgrid.client", "quantgrid.errors")
    assert _offending("quantgrid/client",
                      lambda n: _top(n) in ok or n.startswith(allowed)) == []
