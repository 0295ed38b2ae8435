"""The figures table every chaos test prints at its end (``make chaos`` runs with ``-s``, so
they are on the terminal; under ``make test`` pytest shows them with the test's output)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def print_figures(test: str, figures: dict[str, object]) -> None:
    """One table per test; also appended as a JSON line to DRIFTLOOP_CHAOS_FIGURES if set."""
    width = max(len(k) for k in figures)
    lines = [f"-- chaos figures: {test}"]
    lines += [f"   {key:<{width}}  {value}" for key, value in figures.items()]
    print("\n".join(lines), flush=True)
    target = os.environ.get("DRIFTLOOP_CHAOS_FIGURES")
    if target:
        with Path(target).open("a") as out:
            out.write(json.dumps({"test": test, **figures}, default=str) + "\n")
