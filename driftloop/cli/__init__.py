"""The ``driftloop`` command line: run services, the embedded broker, the demo, and the
commands people use on call (models, runs, labels, status). Each group of commands lives in
its own module and is registered in ``main``."""

from __future__ import annotations

__all__ = ["main"]
