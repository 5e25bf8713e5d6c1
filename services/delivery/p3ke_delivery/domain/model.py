"""Handovers as the delivery service sees them: states and signature fields.

Pure Python: no I/O. A handover moves

    preparing -> awaiting-signatures -> partially-signed -> signed
        |                 |                    |              |
        +-> failed        +--------------------+--------------+-> revoked
        +-> refused

`preparing`: the extract is checked and the package and BAST are being built. Nothing personal is
released before `signed` (Art. 6(1): the BAST, signed by both parties, comes before any data).
`refused`: the agreement does not allow the handover (prepare-extract refused: expired, program or
purpose out of scope, a field not allowed), so nothing was built and no BAST number was issued; the reason
is the policy's, Indonesian first. `failed`: the extract itself cannot be trusted (missing, altered).
A request the rules do not allow raises `p3ke_platform.refusal.Refused`, as in every service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Status(StrEnum):
    PREPARING = "preparing"
    FAILED = "failed"
    REFUSED = "refused"
    AWAITING_SIGNATURES = "awaiting-signatures"
    PARTIALLY_SIGNED = "partially-signed"
    SIGNED = "signed"
    REVOKED = "revoked"


SIGNABLE = frozenset({Status.AWAITING_SIGNATURES, Status.PARTIALLY_SIGNED})

PARTY_NAMES = {1: "PIHAK KESATU", 2: "PIHAK KEDUA"}
SIGNATURE_FIELDS = {1: "TTD_PIHAK_KESATU", 2: "TTD_PIHAK_KEDUA"}
"""The BAST's two empty signature fields; each party signs its own."""

FIELD_PARTY = {name: party for party, name in SIGNATURE_FIELDS.items()}


@dataclass(frozen=True)
class SignatureFacts:
    """One verified signature on the BAST (what the service records and announces)."""

    party: int
    org: str
    signatory_id: str
    field: str
    certificate_sha256: str
    certificate_subject: str
    certificate_serial: str
    signed_at: datetime


def status_problem(status: str, wanted: str) -> str:
    """Why a handover in `status` cannot serve `wanted` (a phrase such as 'a download')."""
    return {
        Status.PREPARING: f"the handover is still being prepared, so {wanted} is not possible yet",
        Status.FAILED: f"the handover failed during preparation, so {wanted} is not possible",
        Status.REFUSED: f"the agreement did not allow this handover, so no package or BAST was made and {wanted} "
                        f"is not possible",
        Status.AWAITING_SIGNATURES: f"neither party has signed the BAST yet; {wanted} needs both "
                                    f"signatures (Art. 6(1))",
        Status.PARTIALLY_SIGNED: f"only one party has signed the BAST; {wanted} needs both signatures "
                                 f"(Art. 6(1))",
        Status.REVOKED: f"the handover was revoked, so nothing more is released ({wanted} refused)",
    }.get(Status(status), f"{wanted} is not possible in status {status}")


UNPREPARED = frozenset({Status.PREPARING, Status.FAILED, Status.REFUSED})
"""States in which no BAST has been issued and no package exists."""
ENDED = frozenset({Status.REVOKED, Status.FAILED, Status.REFUSED})
"""States that nothing more happens in (nothing to revoke)."""


def aware(value: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands back naive datetimes; every time stored here is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
