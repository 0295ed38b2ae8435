"""Run every benchmark (``make bench``), or the ones named: ``python -m bench ingest``."""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys
import time

import bench


def main() -> None:
    wanted = set(sys.argv[1:])
    print(f"driftloop benchmarks on {platform.node()}: {platform.processor() or platform.machine()}"
          f", python {platform.python_version()}")
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if not info.name.startswith("bench_"):
            continue
        area = info.name.removeprefix("bench_")
        if wanted and area not in wanted:
            continue
        print(f"\n== {area} ==", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{info.name}").main()
        print(f"({area}: {time.perf_counter() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
