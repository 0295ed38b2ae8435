"""Run every benchmark (``make bench``), or the ones named: ``python -m bench ingest``.
``--domain NAME`` (or DRIFTLOOP_DOMAIN) picks the domain of those that play a stream (loop)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import sys
import time

import bench


def main() -> None:
    args = sys.argv[1:]
    if "--domain" in args:
        at = args.index("--domain")
        os.environ["DRIFTLOOP_DOMAIN"] = args[at + 1]
        del args[at:at + 2]
    wanted = set(args)
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
