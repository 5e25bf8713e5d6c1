"""The measures of a report cell (program x period x regency x desil).

`delivered` comes from signed handovers; every other measure is what current feedback batches add.
A row is *served* when it has no error and is not a duplicate or an invalid NIK: one person counted once.
"""

from __future__ import annotations

from p3ke_feedback.domain.vocabulary import MatchClass, Status

CELL_MEASURES: tuple[str, ...] = (
    "rows", "rejected", *(f"cls_{c.value}" for c in MatchClass), "served", "served_in_extract",
    *(f"st_{s.value}" for s in Status), "benefit_value",
)
REPORT_MEASURES: tuple[str, ...] = ("delivered", *CELL_MEASURES)
