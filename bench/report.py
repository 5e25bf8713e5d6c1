"""Shared output of the benchmarks: a printed table and bench/results/<name>.json."""

from __future__ import annotations

import json
import os
import platform
import resource
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of the largest child it waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def write(name: str, figures: dict[str, Any]) -> Path:
    figures = {"benchmark": name, "at": datetime.now(UTC).isoformat(), "machine": platform.machine(),
               "cpus": os.cpu_count(), **figures}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(len(k) for k in figures)
    print(f"\n== bench {name} ==")
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value}")
    print(f"  -> {path}")
    return path
