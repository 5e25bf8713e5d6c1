"""Each handover's data key: crypto-shredding of its package and its package password.

A handover gets its data key when it is prepared (`create_handover_key`); the package file at rest is encrypted
under it and the package password sealed under it. `destroy_handover_key` destroys the key (the disposal job calls
it): afterwards neither the package (any copy: backups, snapshots of the volume) nor the password (any copy of the
row: WAL, backups; see p3ke_platform.envelope on why the KEK rotation completes this) can be decrypted with anything
the service still holds, and a download or a password release answers 410. A handover prepared before data keys
existed has none: its package is stored as the ZIP and its password under the server key, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from p3ke_delivery.adapters.orm import handovers
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.envelope import DataKey, KeyDestroyed, Tombstone
from p3ke_platform.refusal import Refused, messages

KIND = "handover"
M = messages("delivery")


@dataclass(frozen=True)
class DestroyedKey:
    """A handover's destroyed data key: the tombstone left in `data_keys` (no key material)."""

    handover_id: str
    key_id: str
    kek_id: str | None
    destroyed_at: datetime
    reason: str
    already_destroyed: bool  # destroyed by an earlier call; this one changed nothing

    @classmethod
    def of(cls, tombstone: Tombstone, *, already: bool) -> DestroyedKey:
        return cls(tombstone.artefact_id, tombstone.key_id, tombstone.kek_id, tombstone.destroyed_at,
                   tombstone.reason, already)


def create_handover_key(ctx: DeliveryContext, handover_id: str) -> DataKey:
    """The handover's data key, made on its first preparation (the same key on a retry). Raises KeyDestroyed
    for a handover whose key was destroyed: it is never re-keyed."""
    with ctx.unit_of_work() as uow:
        return ctx.data_keys.create(uow.session, KIND, handover_id, ctx.clock())


def handover_key(ctx: DeliveryContext, session: Session, handover_id: str) -> DataKey | None:
    """The handover's data key; None for a handover prepared before data keys. Raises KeyDestroyed."""
    return ctx.data_keys.get(session, KIND, handover_id)


def destroy_in(ctx: DeliveryContext, session: Session, handover_id: str, reason: str,
               now: datetime) -> DestroyedKey | None:
    """Destroy the handover's data key inside the caller's transaction (with its audit record, say); the
    sealed password is wiped as well. None when the handover never had a data key (prepared before them)."""
    before = ctx.data_keys.tombstone(session, KIND, handover_id)
    if before is not None:
        return DestroyedKey.of(before, already=True)
    tombstone = ctx.data_keys.destroy(session, KIND, handover_id, now, reason)
    if tombstone is None:
        return None
    session.execute(update(handovers).where(handovers.c.handover_id == handover_id)
                    .values(password_ciphertext=None, updated_at=now))
    return DestroyedKey.of(tombstone, already=False)


def destroy_handover_key(ctx: DeliveryContext, handover_id: str, reason: str) -> DestroyedKey | None:
    """Crypto-shred the handover: destroy its data key, in a transaction of its own. Idempotent (a second call
    returns the first destruction, `already_destroyed`); None when the handover never had a data key."""
    with ctx.unit_of_work() as uow:
        return destroy_in(ctx, uow.session, handover_id, reason, ctx.clock())


def disposed(handover_id: str, gone: KeyDestroyed) -> Refused:
    """The 410 of a release asked for after the data key was destroyed."""
    at = gone.tombstone.destroyed_at.isoformat(timespec="seconds")
    return Refused(410, M("disposed", handover=handover_id, at=at), rule="disposed")
