"""A service declared once, and the runtime built from it: the composition root of every service.

`ServiceSpec` is pure declaration (safe to import): tables, event handlers, routers, CLI, settings class,
how the service's context is built and which background loops it runs. `Runtime` is built by a process
at start-up and is the one place that creates engines, sessions, relays, inboxes and the service
context (dependency injection by hand):

    settings ─▶ Runtime ─▶ engine, sessions, unit_of_work, relay
                   └─────▶ context = spec.context(runtime)   (once; `check()` at start-up)
                              ├─▶ handlers  handler(ctx, uow, event)        (worker role, the inbox)
                              ├─▶ routes    `ctx: Ctx` (entrypoints/deps.py) (api role)
                              └─▶ loops     loop.run(ctx, stop)              (the role that owns them)
"""

from __future__ import annotations

import importlib
import importlib.resources
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from p3ke_platform.db import make_engine, ping, session_factory
from p3ke_platform.logging import get_logger
from p3ke_platform.messaging.inbox import DeadLetterAnswer, Handler, Inbox
from p3ke_platform.messaging.relay import OutboxRelay
from p3ke_platform.messaging.tables import MessagingTables
from p3ke_platform.service_context import ServiceContext
from p3ke_platform.settings import ConfigurationError, Settings
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import spec_for_type

if TYPE_CHECKING:
    from fastapi import APIRouter


log = get_logger(__name__)
Role = Literal["api", "worker", "jobs"]


def lazy_routers(module: str, name: str = "routers") -> Callable[[], Sequence[APIRouter]]:
    """`routers` of a ServiceSpec: the module-level list `name` of `module`, imported only in the process
    that serves the HTTP API (FastAPI, its DTOs, charts…), so workers and the `p3ke` command line start
    fast. Routes get the service context through the `Ctx` dependency, never from a closure."""

    def load() -> Sequence[APIRouter]:
        built: Sequence[APIRouter] = getattr(importlib.import_module(module), name)
        return built

    return load


@dataclass(frozen=True)
class BackgroundLoop:
    """Work a service does on its own, beside requests and events: `run(ctx, stop)` loops until `stop`
    is set. `role` says which process runs it: "api" and "worker" loops run in that role's process;
    "jobs" loops run in the API process by default (`P3KE_JOBS_IN_API=true`, nothing more to deploy), or
    in their own `python -m p3ke_<service> jobs` process, which Kubernetes can scale on its own."""

    name: str
    run: Callable[[Any, threading.Event], None] | str
    """The loop, or "package.module:function" to import only in the process that runs it (heavy libraries
    stay out of the others), before that process reports ready."""
    role: Role = "jobs"
    enabled: Callable[[Any], bool] = lambda _ctx: True  # e.g. a setting that turns the loop off
    check: Callable[[Any], list[str]] = lambda _ctx: []
    """Problems (messages naming the setting) that stop the start-up of a process that runs the loop, checked by
    `Runtime.check_loops` for the enabled loops of that process's role only (e.g. production configuration)."""

    def resolve(self) -> Callable[[Any, threading.Event], None]:
        if not isinstance(self.run, str):
            return self.run
        module, _, name = self.run.partition(":")
        function: Callable[[Any, threading.Event], None] = getattr(importlib.import_module(module), name)
        return function


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    description: str
    package: str
    metadata: MetaData
    tables: MessagingTables
    handlers: Mapping[str, Handler] = field(default_factory=dict)  # CloudEvents type -> handler(ctx, uow, event)
    dead_letter_answers: Mapping[str, DeadLetterAnswer] = field(default_factory=dict)
    """topic -> answer(ctx, uow, value, reason): tell the sender of a message this service dead-lettered (bad
    schema, a rule the handler refused it for) why, e.g. a rejected extract-prepared; not for unproven origin."""
    routers: Callable[[], Sequence[APIRouter]] = lambda: ()
    register_cli: Callable[[Any], None] | None = None
    settings_class: type[Settings] = Settings  # a service's own settings subclass, if it has any
    context: Callable[[Runtime], ServiceContext[Any]] = ServiceContext  # builds the service's context
    loops: Sequence[BackgroundLoop] = ()
    kafka: bool = True
    """False for a service that consumes and emits no events (the witness): readiness does not ask Kafka."""

    @property
    def topics(self) -> list[str]:
        return sorted({spec_for_type(t).topic for t in self.handlers})

    @property
    def migrations_dir(self) -> Path:
        return Path(str(importlib.resources.files(self.package).joinpath("migrations")))


def installed_services() -> dict[str, ServiceSpec]:
    """Every installed service's ServiceSpec by name (entry points `p3ke.services`): how the platform finds
    the services (command line, launcher, tests) without importing one by name."""
    from importlib.metadata import entry_points

    return {ep.name: ep.load() for ep in entry_points(group="p3ke.services")}


def installed_service(name: str) -> ServiceSpec:
    """One installed service's ServiceSpec, by name (e.g. a service's own command-line tool builds its
    runtime with it without importing its composition root back)."""
    from p3ke_platform.settings import ConfigurationError

    spec = installed_services().get(name)
    if spec is None:
        raise ConfigurationError(f"no installed service named {name!r}")
    return spec


class Runtime:
    """Everything one process of one service needs, built once at start-up."""

    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        # the one place a plain Settings becomes the service's own (its P3KE_<SERVICE>_* from the environment)
        self.settings = (settings if isinstance(settings, spec.settings_class)
                         else spec.settings_class(**settings.model_dump()))
        self._kafka_checked: tuple[float, str | None] = (0.0, None)
        self._context: ServiceContext[Any] | None = None
        self._context_lock = threading.Lock()

    @property
    def context(self) -> Any:
        """The service's context, built on first use, once per process (handlers, routes and loops share it)."""
        if self._context is None:  # built once; after that, read without the lock (every request, every batch)
            with self._context_lock:
                if self._context is None:
                    self._context = self.spec.context(self)
        return self._context

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def uow(self, session: Session) -> UnitOfWork:
        return UnitOfWork(session, self.spec.tables, self.spec.name, self.settings.subject_hash_key,
                          self.context.event_signer, terms=self.context,
                          subject_key_id=self.settings.subject_key_ring.current.id)

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
        return Inbox(self.sessions, self.spec.tables, consumer, self.spec.handlers, self.uow, lambda: self.context,
                     answers=self.spec.dead_letter_answers)

    def loops_for(self, role: Role) -> list[BackgroundLoop]:
        """The background loops a process in `role` runs (enabled ones only)."""
        def owner(loop: BackgroundLoop) -> Role:
            return "api" if loop.role == "jobs" and self.settings.jobs_in_api else loop.role

        return [loop for loop in self.spec.loops if owner(loop) == role and loop.enabled(self.context)]

    def check_loops(self, role: Role) -> None:
        """ConfigurationError naming what the enabled loops of `role` lack to run (start-up of that role)."""
        problems = [p for loop in self.loops_for(role) for p in loop.check(self.context)]
        if problems:
            raise ConfigurationError("\n".join(problems))

    def start_loops(self, role: Role) -> Callable[[float], None]:
        """Start this role's loops in threads; returns `stop(timeout)`, which asks them to end and waits."""
        stop = threading.Event()
        threads = []
        for loop in self.loops_for(role):
            run = loop.resolve()  # imported here, in the starting thread: the process is ready once this returns
            thread = threading.Thread(target=self._run_loop, args=(loop.name, run, stop), name=f"p3ke-{loop.name}",
                                      daemon=True)
            thread.start()
            threads.append(thread)
        if threads:
            log.info("background loops started", service=self.spec.name, role=role,
                     loops=[t.name for t in threads])

        def stop_all(timeout: float = 30.0) -> None:
            stop.set()
            for thread in threads:
                thread.join(timeout)

        return stop_all

    def _run_loop(self, name: str, run: Callable[[Any, threading.Event], None], stop: threading.Event) -> None:
        try:
            run(self.context, stop)
        except Exception as exc:  # a loop that dies is logged loudly
            log.error("background loop stopped", service=self.spec.name, loop=name, error=type(exc).__name__)
            raise

    def readiness(self) -> list[str]:
        """What stops this process from serving: empty when the database and Kafka (if it uses Kafka) answer."""
        problems = []
        try:
            ping(self.engine)
        except Exception as exc:
            problems.append(f"database: {type(exc).__name__}")
        kafka = self._kafka_problem() if self.spec.kafka else None
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
