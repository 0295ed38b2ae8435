"""``driftloop settings SERVICE``: a service's own settings as the Markdown table its README
keeps (``--write`` updates the README)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import typer
from pydantic_settings import BaseSettings


def settings_class(service: str) -> type[BaseSettings]:
    """The one settings class of ``services/<service>/settings.py``, loaded by name (as
    ``driftloop run`` loads a service)."""
    module = importlib.import_module(f"services.{service}.settings")
    classes = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__]
    if len(classes) != 1:
        raise typer.BadParameter(f"services/{service}/settings.py must hold one settings "
                                 f"class, found {[c.__name__ for c in classes]}")
    return classes[0]


def readme_path(service: str) -> Path:
    module = importlib.import_module(f"services.{service}")
    return Path(str(module.__file__)).parent / "README.md"


def register(app: typer.Typer) -> None:
    @app.command()
    def settings(service: str = typer.Argument(..., help="ingest, features, scorer, ..."),
                 write: bool = typer.Option(False, help="Update the service's README.")
                 ) -> None:
        """Print a service's own settings (DRIFTLOOP_<SERVICE>_...) as a Markdown table."""
        from driftloop.runtime.settings_table import settings_table, with_table

        table = settings_table(settings_class(service))
        if not write:
            typer.echo(table)
            return
        path = readme_path(service)
        path.write_text(with_table(path.read_text(), table))
        typer.echo(f"updated {path}")
