"""What a handler works with: one transaction, the outbox to emit events, the audit client."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy.orm import Session

from p3ke_platform.audit_client import access_event, subject_ref
from p3ke_platform.logging import get_correlation_id
from p3ke_platform.messaging.outbox import enqueue
from p3ke_platform.messaging.tables import MessagingTables
from p3ke_platform.subject_keys import LEGACY_KEY_ID
from p3ke_schemas import Actor, CloudEvent, EventSigner, authcontext

MAX_SUBJECTS_PER_EVENT = 5_000
"""Subject references per data-access event: 5,000 x 64-hex refs keep an event near 350 kB, under
Kafka's 1 MB message limit. An access to more subjects is split over several events (see record_access)."""


def chunked(refs: Iterable[str], size: int = MAX_SUBJECTS_PER_EVENT) -> Iterator[list[str]]:
    """`refs` in lists of at most `size`, read lazily (a million references never sit in memory twice)."""
    it = iter(refs)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


class TermsInForce(Protocol):
    """Where a unit of work learns the digest of the agreement files its service applies (the service context)."""

    @property
    def terms_sha256(self) -> str | None: ...


@dataclass
class UnitOfWork:
    session: Session
    tables: MessagingTables
    service: str
    subject_hash_key: str
    signer: EventSigner | None = None  # the service's event key; None only where nothing is published
    terms: TermsInForce | None = None
    """The service's loaded agreement: every data-access record names its digest (read when recorded, so a
    context whose policy is replaced records the new one)."""
    subject_key_id: str = LEGACY_KEY_ID
    """The id of `subject_hash_key` in the key ring (P3KE_SUBJECT_HASH_KEYS): every data-access event names it."""

    @property
    def source(self) -> str:
        return f"urn:p3ke:service:{self.service}"

    def emit(self, payload: BaseModel, subject: str | None = None) -> CloudEvent:
        """Queue an event in this transaction, signed by the service; the relay publishes it once the transaction
        commits. The signature vouches for the actor the payload names (authcontext), else for the service."""
        authtype, authid = authcontext(payload, self.service)
        event = CloudEvent.of(payload, source=self.source, subject=subject, correlationid=get_correlation_id(),
                              authtype=authtype, authid=authid)
        enqueue(self.session, self.tables.outbox, event, self.signer)
        return event

    def record_access(self, *, actor: Actor, action: str, resource_type: str, resource_id: str,
                      outcome: str = "allowed", reason: str | None = None, record_count: int | None = None,
                      agreement_id: str | None = None, program: str | None = None,
                      purpose: str | None = None, subject_niks: Iterable[str] = (),
                      subject_refs: Iterable[str] = (), at: datetime | None = None,
                      terms_sha256: str | None = None, subject_key_id: str | None = None) -> list[CloudEvent]:
        """Emit `data-access` for one access to personal data (or a refusal), in this transaction.

        `terms_sha256` is the digest of the agreement files the access was decided under: a caller holding a
        policy `Decision` may pass `decision.terms_sha256`; by default it is the digest of the terms the
        service has loaded (`terms`), so every record names the exact terms in force.

        The data subjects are named by NIK (`subject_niks`, hashed here) or by references already keyed
        (`subject_refs`, e.g. streamed from a ledger file, computed with key `subject_key_id`: default the current
        key; a ledger keyed with an older key names its id, and cannot be mixed with NIKs). An access to more than
        MAX_SUBJECTS_PER_EVENT subjects is split over several events sharing everything but `access_id` and
        `subject_refs`:
        - one event: `record_count` is the given count (records touched, which may exceed the distinct
          subjects), or the number of subjects when none is given;
        - several events: each event's `record_count` is the number of subjects it names, so the events'
          counts add up to the access's subjects.
        Returns the events, in order.
        """
        refs: Iterable[str] = subject_refs
        niks = sorted(set(subject_niks))
        key_id = subject_key_id or self.subject_key_id
        if niks and key_id != self.subject_key_id:
            raise ValueError(f"subject_niks are keyed with {self.subject_key_id}, subject_refs with {key_id}")
        if niks:
            refs = itertools.chain(refs, sorted({subject_ref(self.subject_hash_key, n) for n in niks}))
        at = at or datetime.now(UTC)
        if terms_sha256 is None and self.terms is not None:
            terms_sha256 = self.terms.terms_sha256
        chunks = chunked(refs)
        first = next(chunks, [])
        following = next(chunks, None)
        split = following is not None
        events = [self._access(actor, action, resource_type, resource_id, outcome, reason,
                               len(first) if split or record_count is None else record_count,
                               agreement_id, program, purpose, first, at, terms_sha256, key_id)]
        for chunk in itertools.chain([following] if following else [], chunks):
            events.append(self._access(actor, action, resource_type, resource_id, outcome, reason, len(chunk),
                                       agreement_id, program, purpose, chunk, at, terms_sha256, key_id))
        return events

    def _access(self, actor: Actor, action: str, resource_type: str, resource_id: str, outcome: str,
                reason: str | None, record_count: int, agreement_id: str | None, program: str | None,
                purpose: str | None, refs: Sequence[str], at: datetime, terms_sha256: str | None,
                key_id: str) -> CloudEvent:
        payload = access_event(
            service=self.service, actor=actor, action=action, resource_type=resource_type, resource_id=resource_id,
            outcome=outcome, reason=reason, record_count=record_count, agreement_id=agreement_id, program=program,
            purpose=purpose, subject_refs=refs, at=at, terms_sha256=terms_sha256, subject_key_id=key_id)
        return self.emit(payload, subject=payload.resource_id)  # as masked by access_event
