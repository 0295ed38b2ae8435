"""The architecture, checked. Two layers: ``driftloop`` (shared capabilities and tools) below
``services`` (the five deployable services). Services import driftloop, never each other;
driftloop never imports a service (the CLI loads one by name, at run time). Discovered from
the tree, not listed."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import driftloop
import services

LIBRARY = Path(driftloop.__file__).parent
SERVICES = Path(services.__file__).parent
THE_FIVE = {"ingest", "features", "scorer", "trainer", "monitor"}


def subpackages(root: Path) -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules([str(root)]) if info.ispkg)


def imports_of(source: str) -> set[tuple[str, str]]:
    """(top package, subpackage) of every absolute import in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] in {"services", "driftloop"}:
                found.add((parts[0], parts[1] if len(parts) > 1 else ""))
    return found


def imports_of_package(root: Path, package: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in (root / package).rglob("*.py"):
        found |= imports_of(path.read_text())
    return found


def layer_violations() -> dict[str, set[tuple[str, str]]]:
    violations: dict[str, set[tuple[str, str]]] = {}
    for name in subpackages(LIBRARY):
        bad = {imp for imp in imports_of_package(LIBRARY, name) if imp[0] == "services"}
        if bad:
            violations[f"driftloop.{name}"] = bad
    for name in subpackages(SERVICES):
        bad = {imp for imp in imports_of_package(SERVICES, name)
               if imp[0] == "services" and imp[1] != name}
        if bad:
            violations[f"services.{name}"] = bad
    return violations


def test_services_holds_the_five_services_and_nothing_else() -> None:
    assert set(subpackages(SERVICES)) == THE_FIVE


def test_each_service_is_a_runnable_package_with_settings_and_a_readme() -> None:
    for name in THE_FIVE:
        for part in ("__main__.py", "app.py", "settings.py", "README.md"):
            assert (SERVICES / name / part).exists(), f"services/{name}/{part}"


def test_the_layers_hold() -> None:
    assert layer_violations() == {}


def test_the_layer_check_catches_a_violation() -> None:
    """The check is not vacuous: an import against the layers is found."""
    assert imports_of("from services.scorer.app import Scorer\n") == {("services", "scorer")}
    assert imports_of("import services.monitor.state_store\n") == {("services", "monitor")}
    assert imports_of("from . import x\nimport importlib\n") == set()


def test_every_package_documents_itself() -> None:
    modules = [f"driftloop.{n}" for n in subpackages(LIBRARY)]
    modules += [f"services.{n}" for n in subpackages(SERVICES)]
    for dotted in ["driftloop", "services", *modules]:
        module = importlib.import_module(dotted)
        assert module.__doc__ and module.__doc__.strip(), f"{dotted} has no docstring"
        assert hasattr(module, "__all__"), f"{dotted} has no __all__"
