"""The words of data balikan: programs, recipient statuses (aligned with DCI), match classes.

Statuses are what party 2 reports about each recipient. Where they overlap, they follow the
enrolment statuses of the DCI (Digital Convergence Initiative, spdci.org) Integrated Beneficiary
Registry (`extensions/ibr/v1/code/EnrollmentStatusEnum`: 1 Active, 2 Deceased, 3 Graduated,
4 Suspended) and its payment status (`PaymentStatusEnum` 1 Successful). "Dropped out" has no IBR code
(DCI's employment extension calls it Inactive); a recipient whose benefit was paid is an active
beneficiary with a successful payment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from p3ke_schemas import ProgramCode

PROGRAMS: tuple[str, ...] = tuple(p.value for p in ProgramCode)

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


SERVED_CLASSES: tuple[MatchClass, ...] = (MatchClass.IN_EXTRACT, MatchClass.IN_P3KE_NOT_DELIVERED,
                                          MatchClass.NOT_IN_P3KE)

CLASS_LABELS_ID: dict[MatchClass, str] = {
    MatchClass.IN_EXTRACT: "Ada dalam data yang diserahkan",
    MatchClass.IN_P3KE_NOT_DELIVERED: "Ada di P3KE, tidak diserahkan",
    MatchClass.NOT_IN_P3KE: "Tidak ada di P3KE",
    MatchClass.INVALID_NIK: "NIK kosong/tidak valid",
    MatchClass.DUPLICATE: "Duplikat",
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def token(value: str) -> str:
    """How a code is compared: lower case, every run of other characters one underscore."""
    return _NON_ALNUM.sub("_", value.strip().lower()).strip("_")
