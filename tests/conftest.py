"""Real infrastructure for the suite: one Kafka broker and one PostgreSQL cluster per test session.

They start lazily (only when a test asks for them), on free loopback ports and in their own
directories, and stop when the session ends. Set P3KE_TEST_KAFKA_BOOTSTRAP or P3KE_TEST_POSTGRES_DSN
to use servers that are already running instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from p3ke_platform.devstack.kafka import KafkaBroker
from p3ke_platform.devstack.postgres import PostgresCluster

ROOT = Path(__file__).resolve().parents[1]


def _scratch(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)  # the postgres user must be able to enter it
    return path


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    from p3ke_platform.messaging.admin import ensure_topics
    from p3ke_platform.settings import load_settings

    external = os.environ.get("P3KE_TEST_KAFKA_BOOTSTRAP")
    if external:
        ensure_topics(load_settings(kafka_bootstrap=external))
        yield external
        return
    scratch = _scratch("p3ke-test-kafka-")
    broker = KafkaBroker(scratch).start()
    try:
        ensure_topics(load_settings(kafka_bootstrap=broker.bootstrap))
        yield broker.bootstrap
    finally:
        broker.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster | str]:
    external = os.environ.get("P3KE_TEST_POSTGRES_DSN")
    if external:
        yield external
        return
    scratch = _scratch("p3ke-test-pg-")
    cluster = PostgresCluster(scratch).start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def new_postgres_database(server: PostgresCluster | str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    if isinstance(server, str):
        import psycopg

        with psycopg.connect(server.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return server.rsplit("/", 1)[0] + f"/{name}"
    return server.create_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded default and on production's database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    return new_postgres_database(request.getfixturevalue("postgres"))


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a service subprocess: its own data dir and consumer group."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env.update(P3KE_ENV="test", P3KE_DATA_DIR=str(tmp_path / "data"), P3KE_LOG_LEVEL="INFO",
               P3KE_CONSUMER_GROUP=f"test-{uuid.uuid4().hex[:8]}")
    return env


@pytest.fixture
def postgres_url(postgres: PostgresCluster | str) -> str:
    """A fresh database on the real PostgreSQL, for tests of PostgreSQL-only behaviour."""
    return new_postgres_database(postgres)


@pytest.fixture
def seven_zip_installed() -> None:
    """A missing 7z is a failed setup, not a reason to skip: .ci/run installs Debian's p7zip-full."""
    assert shutil.which("7z"), "7z is missing: apt-get install p7zip-full (.ci/run does)"
