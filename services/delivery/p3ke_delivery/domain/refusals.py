"""Why the agreement stops a handover, in the words a party's official reads: Indonesian first, then the
policy's own (English) reason, `<Indonesian> / <English>`.

Delivery asks the policy at each step that moves data (prepare-extract when the extract arrives and again
before anything is built, release-package and download-package before the password, a link or the package
leaves); the first refusal stops the handover there. The machine-readable rule stays the policy's (`expired`,
`program-scope`...).

Pure Python: no I/O. Ids, program and purpose codes and dates only; nothing of a data subject.
"""

from __future__ import annotations

from typing import Literal

from p3ke_delivery.domain.bahasa import tanggal
from p3ke_platform.agreement import Decision, Terms

Step = Literal["prepare", "release"]

_STOPPED = {
    "prepare": "paket data dan BAST tidak disiapkan dan tidak ada nomor BAST yang diterbitkan",
    "release": "paket data dan kata sandinya tidak diserahkan",
}
_ENGLISH = {
    "prepare": "the agreement does not allow this handover now",
    "release": "the agreement does not allow releasing this package now",
}


def _why(decision: Decision, terms: Terms, program: str | None, purpose: str | None) -> str:
    validity = terms.validity
    rule = decision.rule
    if rule == "expired":
        return (f"Perjanjian Kerja Sama sudah berakhir: hari terakhir berlakunya {tanggal(validity.last_day)} "
                f"(Pasal 8 ayat (1)) dan tidak ada adendum yang memperpanjangnya; perpanjangan memerlukan adendum "
                f"yang ditandatangani PARA PIHAK (Pasal 14)")
    if rule == "terminated":
        return (f"Perjanjian Kerja Sama telah diakhiri lebih awal dengan pemberitahuan tertulis; hari terakhir "
                f"berlakunya {tanggal(validity.last_day)} (Pasal 8 ayat (2))")
    if rule == "not-yet-in-force":
        return f"Perjanjian Kerja Sama belum berlaku; berlaku mulai {tanggal(validity.first_day)} (Pasal 15)"
    if rule in ("program-scope", "program-required"):
        return (f"program '{program or '-'}' bukan program Pasal 3 Perjanjian Kerja Sama dan pada tanggal ini tidak "
                f"ada persetujuan tertulis PIHAK KESATU (Pasal 10 ayat (2)) atau adendum yang mencakupnya")
    if rule in ("purpose", "purpose-required"):
        return (f"tujuan '{purpose or '-'}' bukan tujuan program '{program or '-'}' menurut Perjanjian Kerja Sama "
                f"atau persetujuan tertulis yang berlaku pada tanggal ini")
    if rule == "field-minimisation":
        return (f"elemen data ekstrak melebihi yang boleh diterima program '{program or '-'}' "
                f"(Pasal 10 ayat (1), minimisasi data)")
    if rule in ("role", "not-a-party", "signatory"):
        return "peran atau instansi yang meminta tidak diberi kewenangan untuk langkah ini oleh Perjanjian Kerja Sama"
    return f"kebijakan Perjanjian Kerja Sama menolak langkah ini (aturan {rule})"


def refusal(step: Step, decision: Decision, terms: Terms, *, program: str | None,
            purpose: str | None = None) -> str:
    """`<Indonesian> / <English>`: what the policy refused, and what is (not) done because of it."""
    assert not decision.allowed, "a refusal needs a refused decision"
    indonesian = f"Ditolak: {_why(decision, terms, program, purpose)}; {_STOPPED[step]}."
    return f"{indonesian} / {_ENGLISH[step]}: {decision.reason}"
