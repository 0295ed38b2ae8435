"""Entry point of the ``driftloop`` console script."""

from __future__ import annotations

import importlib
import pkgutil

import typer

from driftloop.cli import platform

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="driftloop: a closed-loop ML platform on Kafka.")
platform.register(app)

# Command groups contributed by capabilities, discovered so that adding one is adding a file.
for info in pkgutil.iter_modules(importlib.import_module("driftloop.cli").__path__):
    if info.name not in {"main", "platform"}:
        module = importlib.import_module(f"driftloop.cli.{info.name}")
        if hasattr(module, "register"):
            module.register(app)

