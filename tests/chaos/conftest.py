"""Fixtures of the chaos suite: its own Kafka broker and PostgreSQL cluster (the tests stop and start
them, so they are never the session's shared servers), and the stack of service processes on top.

Sizes come from CHAOS_* variables (see harness.Sizes); `make test` runs the small defaults, `make
chaos` the long version. With P3KE_CHAOS_REPORT_DIR set, the figures are written there as JSON.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from p3ke_platform.devstack.ports import free_port
from p3ke_platform.devstack.postgres import PostgresCluster
from p3ke_platform.messaging.admin import ensure_topics
from p3ke_platform.settings import load_settings
from tests.chaos.harness import ChaosBroker, ChaosStack, Sizes, dump


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: kills processes and restarts servers (own broker and database)")


@pytest.fixture(scope="module")
def chaos_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="p3ke-chaos-"))
    root.chmod(0o755)  # the postgres user must be able to enter it
    yield root
    if os.environ.get("CHAOS_KEEP") != "1":
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def report() -> Iterator[dict[str, Any]]:
    figures: dict[str, Any] = {}
    yield figures
    target = os.environ.get("P3KE_CHAOS_REPORT_DIR")
    if target and figures:
        dump(Path(target) / "faults.json", figures)


@pytest.fixture(scope="module")
def stack(chaos_root: Path, report: dict[str, Any]) -> Iterator[ChaosStack]:
    sizes = Sizes()
    print(f"\nchaos sizes: {sizes}")  # the seed makes a failing run repeatable (CHAOS_SEED)
    broker = ChaosBroker(chaos_root / "kafka", port=free_port(), controller_port=free_port())
    cluster = PostgresCluster(chaos_root / "pg")
    stack = ChaosStack(chaos_root, broker, cluster, sizes)

    def databases() -> None:  # while the broker starts: PostgreSQL, then the migrations
        cluster.start()
        stack.prepare_databases()

    try:
        with ThreadPoolExecutor(2) as pool:
            started = [pool.submit(broker.start), pool.submit(databases)]
        for future in started:
            future.result()
        ensure_topics(load_settings(kafka_bootstrap=broker.bootstrap))
        stack.prepare_processes()
        stack.start()
        report["sizes"] = vars(sizes)
        yield stack
    finally:
        stack.shutdown()
        broker.stop()
        cluster.stop()
        report["logs"] = str(chaos_root / "logs") if os.environ.get("CHAOS_KEEP") == "1" else None
