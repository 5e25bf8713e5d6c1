"""`python -m bench <name>|all` (what `make bench` and `make bench-<name>` call)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["events", "delivery", "targeting", "ingest", "audit", "feedback"]


def main(argv: list[str]) -> int:
    names = BENCHMARKS if not argv or argv[0] == "all" else argv
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
