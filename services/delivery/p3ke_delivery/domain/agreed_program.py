"""The program and purpose of a handover in words, for the BAST: from the terms in force (the four programs of
Art. 3 and any program an addendum added, Art. 14) or from the written approval of party 1 that covers a program
outside them (Art. 10(2)).

Pure Python: reads the agreement as recorded (no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from p3ke_platform.agreement import Policy, agreement_day


@dataclass(frozen=True)
class ProgramInWords:
    code: str
    title: str
    """Indonesian: the program's `title_id`, or for a program added by written approval the approved purpose's
    Indonesian title (the approval names no program title), else the code."""
    article: str
    """`3(b)` for a program of the terms; for one added by written approval, Art. 10(2) with the letter's number."""
    purpose: str | None = None
    """`<Indonesian title> (kode <code>)`, or the bare code when the agreement no longer defines it."""


def describe(policy: Policy, program: str, purpose: str | None, at: date | datetime) -> ProgramInWords:
    day = agreement_day(at)
    purposes = {p.code: p for p in policy.purposes_for(program, day)}
    words = None
    if purpose:
        found = purposes.get(purpose)
        words = f"{found.title_id} (kode {purpose})" if found else f"kode {purpose}"
    own = policy.terms_at(day).program(program)
    if own is not None:
        return ProgramInWords(program, own.title_id, own.article, words)
    approvals = [a for a in policy.agreement.approvals if a.program == program and a.valid_on(day)]
    approval = next((a for a in approvals if purpose and a.purpose == purpose), approvals[0] if approvals else None)
    if approval is None:
        return ProgramInWords(program, program, "-", words)
    return ProgramInWords(
        program, approval.purpose_title_id or program,
        f"10 ayat (2), persetujuan tertulis PIHAK KESATU Nomor {approval.document} tanggal {approval.dated:%d-%m-%Y}",
        words)
