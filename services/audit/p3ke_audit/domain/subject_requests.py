"""Data-subject requests (UU PDP Art. 32 and the rights of Art. 5–13): kinds, routing, deadlines.

Pure rules, no I/O. A person comes to an office of either party and asks for access to their personal data and
its processing trail (Art. 32), or for it to be corrected, its processing restricted, or erased (the subject's
rights of Art. 5–13; the controller's duties of Art. 30–44). Staff check the person's identity with a document
(its type and who checked are recorded, never its number) and enter the NIK, which the service keeps only as
the keyed subject reference.

Correction, restriction and erasure concern the P3KE register, whose steward is party 1 (PKS Art. 4(1)): they are
routed to party 1, which alone answers them. Each kind is answered within 3×24 calendar hours of its receipt.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from p3ke_audit.domain.messages import Explained, M
from p3ke_platform.refusal import Message

Kind = Literal["access", "correct", "restrict", "erase"]
KINDS: tuple[Kind, ...] = ("access", "correct", "restrict", "erase")
KIND_LABELS: dict[str, str] = {
    "access": "akses atas data pribadi dan jejak pemrosesannya",
    "correct": "pembetulan data pribadi",
    "restrict": "pembatasan pemrosesan data pribadi",
    "erase": "penghapusan data pribadi",
}
ROUTED_KINDS: frozenset[str] = frozenset({"correct", "restrict", "erase"})
"""Answered by party 1, the register's steward."""
ANSWER_WINDOW: dict[str, timedelta] = {kind: timedelta(hours=72) for kind in KINDS}
"""3×24 calendar hours for every kind (UU PDP: the controller answers the subject's request within 3×24 hours)."""

IdentityDocument = Literal["ktp-el", "ikd", "kartu-keluarga", "paspor", "surat-keterangan-kependudukan"]
IDENTITY_DOCUMENT_LABELS: dict[str, str] = {
    "ktp-el": "KTP elektronik",
    "ikd": "Identitas Kependudukan Digital (IKD)",
    "kartu-keluarga": "Kartu Keluarga",
    "paspor": "Paspor",
    "surat-keterangan-kependudukan": "Surat Keterangan Kependudukan (Dukcapil)",
}
Outcome = Literal["fulfilled", "partially-fulfilled", "refused"]
OUTCOME_LABELS: dict[str, str] = {"fulfilled": "dipenuhi", "partially-fulfilled": "dipenuhi sebagian",
                                  "refused": "ditolak"}


class RequestRuleError(Explained, ValueError):
    """A change the request rules refuse; its catalogue message says what is wrong and how to fix it (`str()`:
    Indonesian / English)."""

    def __init__(self, message: Message, code: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def due_at(kind: str, received_at: datetime) -> datetime:
    return received_at + ANSWER_WINDOW[kind]


def routed_to(kind: str, steward_org: str) -> str | None:
    """The org that answers a request of `kind`: party 1 (the steward) for correct/restrict/erase, else None
    (the office that received it answers)."""
    return steward_org if kind in ROUTED_KINDS else None


def is_overdue(*, answered: bool, due: datetime, now: datetime) -> bool:
    return not answered and now >= due


def check_answer(*, kind: str, answered: bool, routed_org: str | None, caller_org: str, outcome: str,
                 reason: str | None, response_made: bool) -> None:
    """RequestRuleError unless the caller may record this answer now."""
    if answered:
        raise RequestRuleError(M("subject_request.already_answered"), "already-answered")
    if routed_org is not None and caller_org != routed_org:
        raise RequestRuleError(M("subject_request.routed_to_steward", kind=M(f"subject_request.kind.{kind}"),
                                 steward=routed_org), "routed-to-steward", status=403)
    if outcome != "fulfilled" and not (reason or "").strip():
        raise RequestRuleError(M("subject_request.reason_missing"), "reason-missing", status=422)
    if kind == "access" and outcome != "refused" and not response_made:
        raise RequestRuleError(M("subject_request.response_missing"), "response-missing")


def check_received(received_at: datetime, now: datetime, identity_checked_at: datetime) -> None:
    """RequestRuleError (422) if the receipt or the identity check lies in the future, or the check was made
    more than a day before the receipt (the person was checked when they came)."""
    if received_at > now + timedelta(minutes=5) or identity_checked_at > now + timedelta(minutes=5):
        raise RequestRuleError(M("subject_request.future_time"), "future-time", status=422)
    if abs(received_at - identity_checked_at) > timedelta(days=1):
        raise RequestRuleError(M("subject_request.identity_check_time"), "identity-check-time", status=422)


def holds_nik(texts: Iterable[str | None], masked: Iterable[str | None]) -> bool:
    """Whether any free text held a NIK-like number (its masked form differs from it)."""
    return any(t != m for t, m in zip(texts, masked, strict=True))
