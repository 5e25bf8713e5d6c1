"""The words of data balikan: programs, recipient statuses (aligned with DCI), match classes and who sees
which of them.

Statuses are what party 2 reports about each recipient. Where they overlap, they follow the
enrolment statuses of the DCI (Digital Convergence Initiative, spdci.org) Integrated Beneficiary
Registry (`extensions/ibr/v1/code/EnrollmentStatusEnum`: 1 Active, 2 Deceased, 3 Graduated,
4 Suspended) and its payment status (`PaymentStatusEnum` 1 Successful). "Dropped out" has no IBR code
(DCI's employment extension calls it Inactive); a recipient whose benefit was paid is an active
beneficiary with a successful payment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from p3ke_schemas import ProgramCode

PROGRAMS: tuple[str, ...] = tuple(p.value for p in ProgramCode)
"""The four programs of Art. 3 (their short forms are accepted in a file's program column)."""
PROGRAM_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
"""Any program code (as `p3ke_schemas.events.AgreedProgram`): one of the four, or one the parties added lawfully
(written approval, Art. 10(2); addendum, Art. 14). Feedback accepts it for a handover signed for it."""

PROGRAM_ALIASES: dict[str, str] = {
    **{p: p for p in PROGRAMS},
    "pelatihan": "pelatihan_berbasis_kompetensi", "pbk": "pelatihan_berbasis_kompetensi",
    "blk": "pelatihan_berbasis_kompetensi", "pelatihan_kompetensi": "pelatihan_berbasis_kompetensi",
    "pk": "padat_karya",
    "tkm": "tenaga_kerja_mandiri",
    "pbi": "pbi_jamsostek_pekerja_rentan", "pbi_jamsostek": "pbi_jamsostek_pekerja_rentan",
    "pbi_pekerja_rentan": "pbi_jamsostek_pekerja_rentan",
}  # fmt: skip

PROGRAM_TITLES_ID: dict[str, str] = {
    "pelatihan_berbasis_kompetensi": "Pelatihan berbasis kompetensi",
    "padat_karya": "Padat karya",
    "tenaga_kerja_mandiri": "Tenaga kerja mandiri",
    "pbi_jamsostek_pekerja_rentan": "PBI jaminan sosial pekerja rentan",
}


class Status(StrEnum):
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    DROPPED_OUT = "dropped_out"
    BENEFIT_PAID = "benefit_paid"
    SUSPENDED = "suspended"
    DECEASED = "deceased"


@dataclass(frozen=True)
class StatusInfo:
    label_id: str
    dci_enrollment_status: str | None  # DCI IBR EnrollmentStatusEnum code and label
    dci_payment_status: str | None = None


STATUSES: dict[Status, StatusInfo] = {
    Status.ENROLLED: StatusInfo("Terdaftar/aktif", "1 Active"),
    Status.COMPLETED: StatusInfo("Selesai/lulus", "3 Graduated"),
    Status.DROPPED_OUT: StatusInfo("Putus/keluar", None),
    Status.BENEFIT_PAID: StatusInfo("Manfaat dibayar", "1 Active", "1 Successful"),
    Status.SUSPENDED: StatusInfo("Ditangguhkan", "4 Suspended"),
    Status.DECEASED: StatusInfo("Meninggal dunia", "2 Deceased"),
}

STATUS_ALIASES: dict[str, Status] = {
    **{s.value: s for s in Status},
    "enroled": Status.ENROLLED, "active": Status.ENROLLED, "aktif": Status.ENROLLED,
    "terdaftar": Status.ENROLLED, "peserta": Status.ENROLLED, "sedang_berjalan": Status.ENROLLED,
    "berjalan": Status.ENROLLED, "mengikuti": Status.ENROLLED,
    "graduated": Status.COMPLETED, "selesai": Status.COMPLETED, "lulus": Status.COMPLETED,
    "tamat": Status.COMPLETED,
    "dropped": Status.DROPPED_OUT, "drop_out": Status.DROPPED_OUT, "dropout": Status.DROPPED_OUT,
    "withdrawn": Status.DROPPED_OUT, "inactive": Status.DROPPED_OUT, "putus": Status.DROPPED_OUT,
    "keluar": Status.DROPPED_OUT, "berhenti": Status.DROPPED_OUT, "mengundurkan_diri": Status.DROPPED_OUT,
    "tidak_selesai": Status.DROPPED_OUT,
    "paid": Status.BENEFIT_PAID, "dibayar": Status.BENEFIT_PAID, "sudah_dibayar": Status.BENEFIT_PAID,
    "manfaat_dibayar": Status.BENEFIT_PAID, "iuran_dibayar": Status.BENEFIT_PAID,
    "disalurkan": Status.BENEFIT_PAID, "tersalurkan": Status.BENEFIT_PAID, "successful": Status.BENEFIT_PAID,
    "ditangguhkan": Status.SUSPENDED, "ditunda": Status.SUSPENDED,
    "meninggal": Status.DECEASED, "meninggal_dunia": Status.DECEASED, "wafat": Status.DECEASED,
}  # fmt: skip


class MatchClass(StrEnum):
    """What a feedback row is, matched against the handover's extract and the P3KE snapshot."""

    IN_EXTRACT = "in_extract"  # delivered in this handover
    IN_P3KE_NOT_DELIVERED = "in_p3ke_not_delivered"  # possible targeting outside the handover
    NOT_IN_P3KE = "not_in_p3ke"  # possible inclusion error
    INVALID_NIK = "invalid_nik"  # missing or invalid NIK: cannot be matched
    DUPLICATE = "duplicate"  # already reported earlier in this batch or in another current batch


CLASS_LABELS_ID: dict[MatchClass, str] = {
    MatchClass.IN_EXTRACT: "Ada dalam data yang diserahkan",
    MatchClass.IN_P3KE_NOT_DELIVERED: "Ada di P3KE, tidak diserahkan",
    MatchClass.NOT_IN_P3KE: "Tidak ada di P3KE",
    MatchClass.INVALID_NIK: "NIK kosong/tidak valid",
    MatchClass.DUPLICATE: "Duplikat",
}


class HandoverClass(StrEnum):
    """What party 2, and the events both ministries' platforms read, learn of a row: whether the person was
    in this handover, never whether someone not handed over is in Data P3KE (Art. 4(2), 10(1))."""

    IN_EXTRACT = "in_extract"  # handed over in this handover
    NOT_IN_HANDOVER = "not_in_handover"  # a valid NIK not in this handover (in P3KE or not: not said)
    INVALID_NIK = "invalid_nik"
    DUPLICATE = "duplicate"  # about party 2's own files


SERVED_CLASSES: tuple[str, ...] = (MatchClass.IN_EXTRACT.value, MatchClass.IN_P3KE_NOT_DELIVERED.value,
                                   MatchClass.NOT_IN_P3KE.value, HandoverClass.NOT_IN_HANDOVER.value)
"""Classes of a row that counts as served when it has no error (in either view)."""

HANDOVER_CLASS: dict[MatchClass, HandoverClass] = {
    MatchClass.IN_EXTRACT: HandoverClass.IN_EXTRACT,
    MatchClass.IN_P3KE_NOT_DELIVERED: HandoverClass.NOT_IN_HANDOVER,
    MatchClass.NOT_IN_P3KE: HandoverClass.NOT_IN_HANDOVER,
    MatchClass.INVALID_NIK: HandoverClass.INVALID_NIK,
    MatchClass.DUPLICATE: HandoverClass.DUPLICATE,
}

HANDOVER_CLASS_LABELS_ID: dict[HandoverClass, str] = {
    HandoverClass.IN_EXTRACT: "Ada dalam data yang diserahkan",
    HandoverClass.NOT_IN_HANDOVER: "Tidak ada dalam data yang diserahkan",
    HandoverClass.INVALID_NIK: "NIK kosong/tidak valid",
    HandoverClass.DUPLICATE: "Duplikat",
}


class MatchView(StrEnum):
    """How finely an answer tells match classes: party 1 sees `p3ke` (also whether a person not handed over is
    in Data P3KE, and their desil); party 2 and the events see `handover` (`HandoverClass`)."""

    P3KE = "p3ke"
    HANDOVER = "handover"


def class_keys(view: MatchView) -> tuple[str, ...]:
    return tuple(c.value for c in (MatchClass if view == MatchView.P3KE else HandoverClass))


def class_labels_id(view: MatchView) -> dict[str, str]:
    labels = CLASS_LABELS_ID if view == MatchView.P3KE else HANDOVER_CLASS_LABELS_ID
    return {c.value: label for c, label in labels.items()}


def counts_in_view(by_class: Mapping[str, int], view: MatchView) -> dict[str, int]:
    """Counts by match class as `view` may see them (classes merged; a class counted nowhere left out)."""
    if view == MatchView.P3KE:
        return dict(by_class)
    out: dict[str, int] = {}
    for key, n in by_class.items():
        coarse = HANDOVER_CLASS[MatchClass(key)].value
        out[coarse] = out.get(coarse, 0) + int(n)
    return {k: n for k, n in out.items() if n}


_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def token(value: str) -> str:
    """How a code is compared: lower case, every run of other characters one underscore."""
    return _NON_ALNUM.sub("_", value.strip().lower()).strip("_")
