"""What a service's handlers, routes and background loops share: its context, built once per process.

The runtime (`p3ke_platform.service.Runtime`) builds it through `ServiceSpec.context` the first time it
is needed and hands the same object to every event handler (`handler(ctx, uow, event)`), every route
(the `Ctx` dependency in each service's `entrypoints/deps.py`) and every background loop
(`loop(ctx, stop)`). It holds the settings (already the service's own settings class), the clock (one
name everywhere; tests move it), the agreement policy, and whatever else the service loads: a service
subclasses `ServiceContext` and extends `check` so that bad configuration stops start-up.

The agreement is loaded once, under the operator's manifest (P3KE_AGREEMENT_MANIFEST; production refuses to
start without one). Every data-access record of the process names the digest of the files loaded
(`terms_sha256`, filled in by the unit of work), and `record_terms_loaded` writes, once per process start,
the record of which files (name and SHA-256) the process applies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from p3ke_platform.agreement import Policy, load_agreement
from p3ke_platform.duckdb_engine import Databases
from p3ke_platform.event_keys import KeyRing, service_signer
from p3ke_platform.messaging.origin import OriginCheck
from p3ke_platform.retention import Schedule, schedule_for
from p3ke_platform.settings import ConfigurationError, Settings, agreement_manifest_problems
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from p3ke_platform.service import Runtime
    from p3ke_schemas import CloudEvent, EventSigner

TERMS_RESOURCE = "agreement-terms"
"""resource_type of the record a process writes when it has loaded the agreement (resource_id: the digest)."""

S = TypeVar("S", bound=Settings)


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


class ServiceContext(Generic[S]):
    """The settings, the clock, the agreement policy and the database of one service process."""

    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.runtime = runtime
        self.clock = clock
        self._terms_lock = threading.Lock()
        self._terms_recorded: list[CloudEvent] | None = None

    @property
    def settings(self) -> S:
        return cast(S, self.runtime.settings)

    @property
    def service(self) -> str:
        return self.runtime.spec.name

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.runtime.sessions

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction with the outbox and the audit client at hand; commits on success."""
        with self.runtime.unit_of_work() as uow:
            yield uow

    @cached_property
    def policy(self) -> Policy:
        s = self.settings
        problems = agreement_manifest_problems(s)
        if problems:
            raise ConfigurationError("\n".join(problems))
        return Policy(load_agreement(s.agreement_dir, s.agreement_include_examples, manifest=s.agreement_manifest))

    @property
    def agreement_id(self) -> str:
        return self.policy.agreement.base.id

    @property
    def terms_sha256(self) -> str | None:
        """The digest of the agreement files this process applies (every data-access record names it)."""
        return self.policy.agreement.digest

    def record_terms_loaded(self) -> list[CloudEvent]:
        """Record (a `data-access` event, action read, resource `agreement-terms`, id the digest) which agreement
        files this service applies, by name and SHA-256, and under which manifest — once per service database
        and terms digest: the first process that starts under new terms records them, later starts and
        restarts under the same terms find the record in the outbox and add nothing (so a restart or a replay
        changes no state, and the log shows each change of terms once per service).

        Called at start-up by the runner, after `check` (the database is migrated by then); a service that
        publishes no events (the witness) keeps no such record. A database that cannot take the record stops
        start-up: decisions must not be taken under terms nobody recorded.
        """
        from sqlalchemy.exc import SQLAlchemyError

        if not self.runtime.spec.kafka:
            return []
        with self._terms_lock:
            if self._terms_recorded is not None:
                return self._terms_recorded
            agreement = self.policy.agreement
            digest = agreement.digest or "-"
            files = "; ".join(f"{f.name}={f.sha256} ({f.record_id})" for f in agreement.sources)
            manifest = self.settings.agreement_manifest
            checked = (f"diperiksa terhadap manifest / checked against the manifest {manifest.name}"
                       if manifest else "tanpa manifest (pengembangan) / no manifest (development)")
            actor = Actor(org=agreement.base.party(1).org, subject=f"urn:p3ke:service:{self.service}",  # type: ignore[arg-type]
                          roles=["operator"], service_account=True)
            try:
                with self.unit_of_work() as uow:
                    if self._terms_on_record(uow, digest):
                        self._terms_recorded = []
                        return []
                    events = uow.record_access(
                        actor=actor, action="read", resource_type=TERMS_RESOURCE, resource_id=digest,
                        agreement_id=agreement.base.id, record_count=len(agreement.sources), at=self.clock(),
                        purpose="ketentuan perjanjian dimuat saat layanan mulai / agreement terms loaded at start-up",
                        reason=f"terms loaded: {files}; digest {digest}; {checked}", terms_sha256=agreement.digest)
            except SQLAlchemyError as exc:
                raise ConfigurationError(
                    f"{self.service}: catatan audit ketentuan perjanjian yang dimuat tidak dapat disimpan "
                    f"(apakah basis data sudah dimigrasi dan dapat dihubungi?) / the audit record of the agreement "
                    f"terms loaded cannot be stored (is the database migrated and reachable?): {type(exc).__name__}"
                ) from None
            self._terms_recorded = events
            return events

    def _terms_on_record(self, uow: UnitOfWork, digest: str) -> bool:
        """Whether this service's outbox already holds the start-up record of these terms (its key is the digest)."""
        from sqlalchemy import select

        from p3ke_platform.messaging.outbox import flush_outbox
        from p3ke_schemas import EVENTS, DataAccess

        flush_outbox(uow.session)
        access_type = next(spec.type for spec in EVENTS if spec.model is DataAccess)
        outbox = uow.tables.outbox
        found = uow.session.execute(select(outbox.c.seq).where(
            outbox.c.key == digest, outbox.c.event_type == access_type).limit(1)).first()
        return found is not None

    @cached_property
    def event_keys(self) -> KeyRing:
        """The keys this deployment trusts: services' (pinned), the platforms' (the agreement), dev ones (local)."""
        return KeyRing.configured(self.settings, self.policy.agreement.base.parties)

    @cached_property
    def event_signer(self) -> EventSigner:
        """This service's own event key (it must be pinned for the service in the ring)."""
        return service_signer(self.settings, self.service, self.event_keys)

    @cached_property
    def origin_check(self) -> OriginCheck:
        parties = self.policy.agreement.base.parties
        return OriginCheck(self.event_keys, {p.party: p.org for p in parties},
                           timedelta(seconds=self.settings.event_clock_skew_s))

    @cached_property
    def duckdb(self) -> Databases:
        """The process's DuckDB databases: `with ctx.duckdb.connect(threads, memory, temp_dir) as con:`."""
        return Databases()

    @cached_property
    def retention_schedule(self) -> Schedule:
        """The retention schedule (P3KE_RETENTION_SCHEDULE; production refuses to start without one)."""
        return schedule_for(self.settings)

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        _ = self.policy
        _ = self.retention_schedule
        _ = self.event_signer
