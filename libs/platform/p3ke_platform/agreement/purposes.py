"""Purposes of the agreement as a whole, not of one of its programs.

Most accesses serve one program (Art. 3) and name one of its purpose codes (`programs[].purposes` in the terms).
Some serve the agreement itself: the yearly monitoring and evaluation (Art. 7), which both parties carry out over
every program at once, with aggregates only (the M&E report, the report CSV). Such an access is recorded with no
program and one of these codes as its purpose, and the audit's violations view (`purpose_outside_programs`: party
2's access for no program) accepts it: the agreement itself asks for it.

A code here is a stable machine-readable id (English-free and Indonesian, like the programs' purpose codes);
`TITLES_ID` is what a person reads.
"""

from __future__ import annotations

MONITORING_EVALUATION = "monitoring_evaluasi"
"""Art. 7: monitoring and evaluation of the agreement, at least once a year (aggregates over all programs)."""

TITLES_ID: dict[str, str] = {
    MONITORING_EVALUATION: "Monitoring dan evaluasi Perjanjian Kerja Sama (Pasal 7), agregat saja",
}

AGREEMENT_PURPOSES: tuple[str, ...] = tuple(TITLES_ID)
"""Every purpose of the agreement as a whole (a party 2 access stating one needs no program)."""
