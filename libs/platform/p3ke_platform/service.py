"""A service declared once: its tables, routers, event handlers and CLI; and the runtime built from it.

`ServiceSpec` is pure declaration (safe to import); `Runtime` is built by a process at start-up and is
the one place that creates engines, sessions, relays and inboxes (dependency injection by hand).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from p3ke_platform.db import make_engine, ping, session_factory
from p3ke_platform.messaging.inbox import Handler, Inbox
from p3ke_platform.messaging.relay import OutboxRelay
from p3ke_platform.messaging.tables import MessagingTables
from p3ke_platform.settings import Settings
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import spec_for_type

if TYPE_CHECKING:
    from fastapi import APIRouter


def lazy_routers(module: str, name: str = "routers") -> Callable[[Runtime], Sequence[APIRouter]]:
    """`routers` of a ServiceSpec that imports the service's HTTP API (FastAPI, its DTOs, charts…)
    only in the process that serves it, so workers and the `p3ke` command line start fast."""

    def build(runtime: Runtime) -> Sequence[APIRouter]:
        built: Sequence[APIRouter] = getattr(importlib.import_module(module), name)(runtime)
        return built

    return build


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    description: str
    package: str
    metadata: MetaData
    tables: MessagingTables
    handlers: Mapping[str, Handler] = field(default_factory=dict)  # CloudEvents type -> handler
    routers: Callable[[Runtime], Sequence[APIRouter]] = lambda _runtime: ()
    register_cli: Callable[[Any], None] | None = None
    settings_class: type[Settings] = Settings  # a service's own settings subclass, if it has any

    @property
    def topics(self) -> list[str]:
        return sorted({spec_for_type(t).topic for t in self.handlers})

    @property
    def migrations_dir(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        assert spec is not None and spec.origin is not None
        return Path(spec.origin).parent / "migrations"


class Runtime:
    """Everything one process of one service needs, built once at start-up."""

    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self._kafka_checked: tuple[float, str | None] = (0.0, None)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def uow(self, session: Session) -> UnitOfWork:
        return UnitOfWork(session, self.spec.tables, self.spec.name, self.settings.subject_hash_key,
                          settings=self.settings)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction with the outbox and audit client at hand; commits on success."""
        with self.sessions() as session, session.begin():
            yield self.uow(session)

    def relay(self, **kwargs: Any) -> OutboxRelay:
        from p3ke_platform.messaging.producer import make_producer

        return OutboxRelay(self.engine, self.spec.tables.outbox, lambda: make_producer(self.settings),
                           service=self.spec.name, batch=self.settings.relay_batch,
                           idle_ms=self.settings.relay_idle_ms, **kwargs)

    def inbox(self, consumer: str) -> Inbox:
        return Inbox(self.sessions, self.spec.tables, consumer, self.spec.handlers, self.uow)

    def readiness(self) -> list[str]:
        """What stops this process from serving: empty when the database and Kafka answer."""
        problems = []
        try:
            ping(self.engine)
        except Exception as exc:
            problems.append(f"database: {type(exc).__name__}")
        kafka = self._kafka_problem()
        if kafka:
            problems.append(f"kafka: {kafka}")
        return problems

    def _kafka_problem(self) -> str | None:
        checked_at, problem = self._kafka_checked
        if time.monotonic() - checked_at < 5.0:
            return problem
        try:
            from kafka import KafkaAdminClient

            admin = KafkaAdminClient(**self.settings.kafka_client_options(), request_timeout_ms=3000)
            try:
                admin.list_topics()
            finally:
                admin.close()
            problem = None
        except Exception as exc:
            problem = type(exc).__name__
        self._kafka_checked = (time.monotonic(), problem)
        return problem
