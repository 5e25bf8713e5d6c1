"""What a handler works with: one transaction, the outbox to emit events, the audit client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from p3ke_platform.audit_client import access_event
from p3ke_platform.logging import get_correlation_id
from p3ke_platform.messaging.outbox import enqueue
from p3ke_platform.messaging.tables import MessagingTables
from p3ke_platform.settings import Settings
from p3ke_schemas import Actor, CloudEvent

MAX_SUBJECTS_PER_EVENT = 5_000  # 5,000 x 64-hex refs keep a data-access event well under 1 MB


@dataclass
class UnitOfWork:
    session: Session
    tables: MessagingTables
    service: str
    subject_hash_key: str
    settings: Settings | None = None  # the process's settings, for handlers that need their own

    @property
    def source(self) -> str:
        return f"urn:p3ke:service:{self.service}"

    def emit(self, payload: BaseModel, subject: str | None = None) -> CloudEvent:
        """Queue an event in this transaction; the relay publishes it once the transaction commits."""
        event = CloudEvent.of(payload, source=self.source, subject=subject,
                              correlationid=get_correlation_id())
        enqueue(self.session, self.tables.outbox, event)
        return event

    def record_access(self, *, actor: Actor, action: str, resource_type: str, resource_id: str,
                      outcome: str = "allowed", reason: str | None = None, record_count: int = 0,
                      agreement_id: str | None = None, program: str | None = None,
                      purpose: str | None = None, subject_niks: Iterable[str] = ()) -> CloudEvent:
        """Emit `data-access` for an access to personal data (or a refusal), in this transaction.

        An access to many data subjects is split into events of at most MAX_SUBJECTS_PER_EVENT
        subject references each (Kafka's message size limit), each counting its own subjects.
        """
        niks = sorted(set(subject_niks))
        chunks = [niks[i:i + MAX_SUBJECTS_PER_EVENT] for i in range(0, len(niks), MAX_SUBJECTS_PER_EVENT)] or [[]]
        at = datetime.now(UTC)
        events = []
        for chunk in chunks:
            payload = access_event(
                service=self.service, actor=actor, action=action, resource_type=resource_type,
                resource_id=resource_id, outcome=outcome, reason=reason,
                record_count=len(chunk) if len(chunks) > 1 else record_count,
                agreement_id=agreement_id, program=program, purpose=purpose, subject_niks=chunk,
                subject_hash_key=self.subject_hash_key, at=at)
            events.append(self.emit(payload, subject=payload.resource_id))  # as masked by access_event
        return events[0]
