"""What audit's routes, event handlers, background loop and command line share, built once per process
by the runtime (`ServiceSpec.context`): the audit settings, the agreement policy (for violations), the
checkpoint signer, the database, the subject hash, and a clock (tests move it)."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from p3ke_audit.adapters.keys import Signer, signer
from p3ke_audit.adapters.tree_store import StoredCheckpoint
from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer import checkpoints
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.service_context import ServiceContext

if TYPE_CHECKING:
    from p3ke_audit.service_layer.witnessing import WitnessClient, WitnessResult


class AuditContext(ServiceContext[AuditSettings]):
    @cached_property
    def signer(self) -> Signer:
        """The log's checkpoint signer (outside production a development key is created on first use)."""
        return signer(self.settings)

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def subject_ref(self, nik: str) -> str:
        """A data subject's keyed hash under the current key, as new entries name the person."""
        return subject_ref(self.settings.subject_hash_key, nik)

    def subject_lookup_refs(self, nik: str) -> tuple[str, ...]:
        """The person's keyed hash under every key of the ring: a trail lookup searches for all of them (and the
        older references mapped to them), so it spans rotations of the subject hash key."""
        from p3ke_audit.service_layer.subject_index import lookup_refs

        return lookup_refs(self.settings.subject_key_ring, nik)

    def issue_checkpoint(self, *, force: bool = True) -> StoredCheckpoint | None:
        """In its own transaction: sign the current head if due (or whenever it grew, with `force`); the
        `audit-witness` job of this process then asks the witnesses at once."""
        signed = checkpoints.issue_checkpoint(self.sessions, self.settings, lambda: self.signer, force=force)
        if signed is not None:
            self.witness_wanted.set()
        return signed

    @cached_property
    def witness_wanted(self) -> threading.Event:
        """Set when this process signed a checkpoint: wakes the `audit-witness` job."""
        return threading.Event()

    def witness_now(self, client: WitnessClient | None = None) -> list[WitnessResult]:
        """One witnessing round, now, in this thread: the latest checkpoint to every configured witness that
        has not cosigned it; the outcome per witness (also recorded in audit_witness_state)."""
        from p3ke_audit.service_layer.witnessing import witness_round

        return witness_round(self.sessions, self.settings, client)

    def check(self) -> None:
        """Load everything now, so bad configuration (e.g. an unreadable signing key) stops start-up."""
        super().check()
        _ = self.signer
