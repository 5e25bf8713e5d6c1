"""Party 2's disposal certificate (*berita acara pemusnahan*): when it is owed, by when, and why an upload is
refused, in the words a party's official reads (the `delivery` catalogue, in the caller's language).

A handover whose BAST was signed leaves personal data with party 2. Party 2 owes a signed disposal
certificate (UU PDP Art. 16(2), 43-44; PKS Art. 8(3): the duties outlive the agreement) from the earlier of

* `purpose-ended`: the handover's purpose was declared fulfilled (`POST /v1/handovers/{id}/purpose-ended`, by
  party 2's program officer or party 1's data steward), and
* `agreement-ended`: the first day after the agreement's last day in force (as its terms say now),

and it is due P3KE_DELIVERY_DISPOSAL_CERTIFICATE_DAYS calendar days later. Status on a moment: `disposal-due`
until the deadline, `disposal-overdue` after it, `disposal-certified` once party 2's signatory's PAdES signature
over the issued certificate has been accepted (whenever that happens; a certificate may come before the trigger).

Pure Python: no I/O. Ids, codes, dates and counts only; nothing of a data subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Literal, get_args

from p3ke_delivery.domain.model import PARTY_NAMES
from p3ke_platform.refusal import Message, messages

DueReason = Literal["purpose-ended", "agreement-ended"]
Item = Literal["package", "extracted-files", "copies", "password"]
ITEMS: tuple[str, ...] = get_args(Item)

ITEM_WORDS: dict[str, str] = {
    "package": "paket data terenkripsi (berkas ZIP) sebagaimana diterima",
    "extracted-files": "berkas hasil pembukaan paket (CSV, XLSX, manifest) dan ekstrak turunannya",
    "copies": "seluruh salinan pada perangkat, media penyimpanan, cadangan (backup) dan surel",
    "password": "kata sandi pembuka paket dan catatannya",
}
REASON_WORDS: dict[str, str] = {
    "purpose-ended": "tujuan pemrosesan serah terima ini telah tercapai atau berakhir",
    "agreement-ended": "Perjanjian Kerja Sama telah berakhir",
}
M = messages("delivery")
PERSONAL_NUMBER = re.compile(r"(?<!\d)\d{16}(?!\d)")
"""A NIK or a No. KK (16 digits): never in a certificate's free text."""


class DisposalStatus(StrEnum):
    DUE = "disposal-due"
    OVERDUE = "disposal-overdue"
    CERTIFIED = "disposal-certified"


@dataclass(frozen=True)
class Due:
    """Why and since when the certificate is owed, and its deadline."""

    reason: DueReason
    since: datetime
    by: datetime


def agreement_ends_at(last_day: date, zone: tzinfo) -> datetime:
    """The moment the agreement stops being in force: the start of the day after its (inclusive) last day."""
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)


def due_of(purpose_ended_at: datetime | None, agreement_end: datetime, now: datetime, days: int) -> Due | None:
    """The earlier trigger reached by `now`, and the deadline `days` calendar days after it (None: not owed yet)."""
    reached: list[tuple[datetime, DueReason]] = []
    if purpose_ended_at is not None:
        reached.append((purpose_ended_at, "purpose-ended"))
    if agreement_end <= now:
        reached.append((agreement_end, "agreement-ended"))
    if not reached:
        return None
    since, reason = min(reached)
    return Due(reason, since, since + timedelta(days=days))


def status_of(due: Due | None, certified_at: datetime | None, now: datetime) -> DisposalStatus | None:
    if certified_at is not None:
        return DisposalStatus.CERTIFIED
    if due is None:
        return None
    return DisposalStatus.OVERDUE if now > due.by else DisposalStatus.DUE


def text_problem(label: str, value: str | None) -> Message | None:
    """Why a free text of the certificate cannot be kept (it looks like a NIK or a No. KK), or None."""
    if value and PERSONAL_NUMBER.search(value):
        return M("disposal.personal_number", field=label)
    return None


# --- refusals of a signed upload ---------------------------------------------------------------------------

UPLOAD_RULES = frozenset({
    "not-a-pdf", "no-new-signature", "one-signature-per-upload", "not-this-bast", "not-incremental", "content-changed",
    "signature-replaced", "wrong-field", "tampered", "appended", "earlier-signature-broken", "no-certificate",
    "signature-invalid", "certificate", "certificate-revoked", "revocation-unknown"})
"""The PDF checks' rules with words of their own for a disposal certificate (`disposal.upload.<rule>` in the
`delivery` catalogue); any other rule is `disposal.upload.other`."""
DETAILED = frozenset({"certificate", "certificate-revoked", "revocation-unknown", "signature-invalid",
                      "no-certificate", "content-changed"})
"""Rules whose verifier detail (the certificate, what changed) helps the signer: kept after the reason."""


def upload_words(rule: str) -> Message:
    """What is wrong with a signed upload the PDF checks refused under `rule`, and what to do."""
    return M(f"disposal.upload.{rule}" if rule in UPLOAD_RULES else "disposal.upload.other")


def upload_refusal(rule: str, detail: Message | str, reason: Message | None = None) -> Message:
    """A signed upload the PDF checks refused under `rule`: `reason` (by default the rule's words), with the
    verifier's own `detail` (its message, rendered in the same language) for the rules it helps."""
    reason = reason or upload_words(rule)
    if rule in DETAILED:
        return M("disposal.upload_refused.detail", reason=reason, detail=detail)
    return M("disposal.upload_refused", reason=reason)


def not_party_2_signer(signer: str, party: int, expected: str) -> Message:
    return M("disposal.not_party_2_signer", signer=signer, party=PARTY_NAMES.get(party, str(party)),
             expected=expected)


def unknown_signer(subject: str, serial: str, terms: str) -> Message:
    return M("disposal.unknown_signer", subject=subject, serial=serial, terms=terms)
