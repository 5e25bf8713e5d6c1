"""What a service's handlers, routes and background loops share: its context, built once per process.

The runtime (`p3ke_platform.service.Runtime`) builds it through `ServiceSpec.context` the first time it
is needed and hands the same object to every event handler (`handler(ctx, uow, event)`), every route
(the `Ctx` dependency in each service's `entrypoints/deps.py`) and every background loop
(`loop(ctx, stop)`). It holds the settings (already the service's own settings class), the clock (one
name everywhere; tests move it), the agreement policy, and whatever else the service loads: a service
subclasses `ServiceContext` and extends `check` so that bad configuration stops start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from p3ke_platform.agreement import Policy, load_agreement
from p3ke_platform.event_keys import KeyRing, service_signer
from p3ke_platform.messaging.origin import OriginCheck
from p3ke_platform.settings import Settings
from p3ke_platform.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from p3ke_platform.service import Runtime
    from p3ke_schemas import EventSigner

S = TypeVar("S", bound=Settings)


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


class ServiceContext(Generic[S]):
    """The settings, the clock, the agreement policy and the database of one service process."""

    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.runtime = runtime
        self.clock = clock

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
        return Policy(load_agreement(s.agreement_dir, s.agreement_include_examples))

    @property
    def agreement_id(self) -> str:
        return self.policy.agreement.base.id

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

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        _ = self.policy
        _ = self.event_signer
