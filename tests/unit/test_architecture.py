"""The architecture, checked: services never import each other, shared packages never import
services, and every package says what it is for. Discovered from the tree, not listed."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import services

ROOT = Path(services.__file__).parent
#: The command line is the one place that reaches every service (``driftloop run X``).
ENTRY_POINTS = {"cli"}


def packages() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules([str(ROOT)]) if info.ispkg)


def service_packages() -> set[str]:
    return {name for name in packages() if (ROOT / name / "app.py").exists()}


def imported_packages(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "services" and len(parts) > 1:
                    found.add(parts[1])
    return found - {package}


def test_the_five_services_exist_as_packages() -> None:
    assert {"ingest"} <= service_packages()


def test_services_never_import_each_other() -> None:
    services_ = service_packages()
    violations = {s: imported_packages(s) & (services_ | ENTRY_POINTS) for s in services_}
    assert {s: v for s, v in violations.items() if v} == {}


def test_shared_packages_never_import_services() -> None:
    services_ = service_packages()
    shared = set(packages()) - services_ - ENTRY_POINTS
    violations = {p: imported_packages(p) & (services_ | ENTRY_POINTS) for p in shared}
    assert {p: v for p, v in violations.items() if v} == {}


def test_every_package_documents_itself() -> None:
    for name in packages():
        module = importlib.import_module(f"services.{name}")
        assert module.__doc__ and module.__doc__.strip(), f"services.{name} has no docstring"
        assert hasattr(module, "__all__"), f"services.{name} has no __all__"


def test_every_service_runs_as_a_module() -> None:
    for name in service_packages():
        assert (ROOT / name / "__main__.py").exists(), name
        assert (ROOT / name / "settings.py").exists(), name
