"""Party 2's disposal certificate (*berita acara pemusnahan*): when it is owed, by when, and why an upload is
refused, in the words a party's official reads.

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


def text_problem(label: str, value: str | None) -> str | None:
    """Why a free text of the certificate cannot be kept (it looks like a NIK or a No. KK), or None."""
    if value and PERSONAL_NUMBER.search(value):
        return (f"{label} memuat angka 16 digit (seperti NIK atau No. KK); berita acara pemusnahan tidak boleh memuat "
                f"data pribadi, hapus angka itu / {label} holds a 16-digit number (like a NIK or family card "
                f"number); a disposal certificate holds no personal data, remove it")
    return None


# --- refusals of a signed upload ---------------------------------------------------------------------------

_UPLOAD_WORDS: dict[str, tuple[str, str]] = {
    "not-a-pdf": ("unggahan bukan dokumen PDF yang dapat dibaca",
                  "the upload is not a readable PDF"),
    "no-new-signature": ("unggahan tidak menambahkan tanda tangan; tandatangani berkas dengan `p3ke bast sign "
                         "--party 2` lalu unggah hasilnya",
                         "the upload adds no signature; sign it with `p3ke bast sign --party 2` and upload the output"),
    "one-signature-per-upload": ("unggahan menambahkan lebih dari satu tanda tangan",
                                 "the upload adds more than one signature"),
    "not-this-bast": ("dokumen yang ditandatangani bukan berita acara pemusnahan yang diterbitkan untuk serah terima "
                      "ini (revisi aslinya berbeda); unduh berkasnya (GET .../disposal-certificate.pdf) dan "
                      "tandatangani berkas itu",
                      "the signed document is not the disposal certificate issued for this handover (its original "
                      "revision differs); download it (GET .../disposal-certificate.pdf) and sign that file"),
    "not-incremental": ("dokumen yang ditandatangani bukan berita acara pemusnahan yang diterbitkan",
                        "the signed document is not the disposal certificate issued"),
    "content-changed": ("selain tanda tangan, unggahan mengubah isi berita acara pemusnahan",
                        "besides the signature, the upload changes the disposal certificate"),
    "signature-replaced": ("unggahan menghapus atau mengganti tanda tangan yang sudah ada",
                           "the upload removes or replaces an existing signature"),
    "wrong-field": ("tanda tangan tidak berada di kolom tanda tangan PIHAK KEDUA (TTD_PIHAK_KEDUA)",
                    "the signature is not in PIHAK KEDUA's signature field (TTD_PIHAK_KEDUA)"),
    "tampered": ("dokumen diubah setelah ditandatangani", "the document was altered after it was signed"),
    "appended": ("ada tambahan pada PDF setelah tanda tangan; unggah berkas persis seperti yang ditulis alat "
                 "penandatangan", "something was appended after the signature; upload the file exactly as the "
                 "signing tool wrote it"),
    "earlier-signature-broken": ("unggahan merusak tanda tangan yang sudah ada",
                                 "the upload breaks an existing signature"),
    "no-certificate": ("tanda tangan tidak memuat sertifikat penandatangan yang dapat dipakai",
                       "the signature carries no usable signer certificate"),
    "signature-invalid": ("tanda tangan tidak dapat diverifikasi dengan kunci publik sertifikatnya",
                          "the signature does not verify with its certificate's public key"),
    "certificate": ("sertifikat penandatangan tidak dipercaya (rantai sertifikat, masa berlaku atau penggunaan "
                    "kunci)", "the signer's certificate is not trusted (chain, validity or key usage)"),
    "certificate-revoked": ("sertifikat penandatangan telah dicabut (revoked)",
                            "the signer's certificate was revoked"),
    "revocation-unknown": ("status pencabutan sertifikat penandatangan tidak dapat dipastikan; coba lagi nanti",
                           "the revocation status of the signer's certificate is unknown; try again later"),
}
DETAILED = frozenset({"certificate", "certificate-revoked", "revocation-unknown", "signature-invalid",
                      "no-certificate", "content-changed"})
"""Rules whose verifier detail (the certificate, what changed) helps the signer: kept after the reason."""


def upload_refusal(rule: str, detail: str) -> str:
    """`<Indonesian> / <English>` for a signed upload the PDF checks refused under `rule`."""
    indonesian, english = _UPLOAD_WORDS.get(rule, ("tanda tangan tidak dapat diterima",
                                                   "the signature cannot be accepted"))
    text = (f"Berita acara pemusnahan tidak diterima: {indonesian}; status serah terima tidak berubah / the disposal "
            f"certificate is not accepted: {english}; the handover's status is unchanged")
    return f"{text} (rincian / detail: {detail})" if rule in DETAILED else text


def not_party_2_signer(signer: str, party: int, expected: str) -> str:
    return (f"Berita acara pemusnahan tidak diterima: penanda tangan {signer} adalah penanda tangan PIHAK "
            f"{'KESATU' if party == 1 else 'KEDUA'}, sedangkan berita acara ini ditandatangani oleh penanda tangan "
            f"PIHAK KEDUA {expected} / the disposal certificate is not accepted: the signer {signer} is a signatory "
            f"of party {party}; this certificate is signed by party 2's signatory {expected}")


def unknown_signer(subject: str, serial: str, terms: str) -> str:
    return (f"Berita acara pemusnahan tidak diterima: sertifikat penanda tangan (subjek '{subject}', serial {serial}) "
            f"tidak terdaftar untuk penanda tangan mana pun dalam Perjanjian Kerja Sama (ketentuan {terms}) / the "
            f"disposal certificate is not accepted: the signer's certificate (subject '{subject}', serial {serial}) "
            f"is not registered for any signatory of the agreement (terms {terms})")
