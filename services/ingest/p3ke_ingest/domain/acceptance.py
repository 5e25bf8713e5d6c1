"""When a submitted snapshot is published, and when it is refused as a whole.

A version is refused when a file cannot be read as a P3KE table (wrong layout, not a table, empty),
when it has no valid row, or when more than ``max_rejected_share`` of a file's rows are rejected.
Otherwise it is published without the rejected rows, which the report lists.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AcceptancePolicy:
    max_rejected_share: float = 0.05
    require_family_file: bool = False


@dataclass(frozen=True)
class FileOutcome:
    label: str  # "individual" | "family"
    rows: int  # data rows read (malformed lines included)
    rejected: int


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reasons: tuple[str, ...]


def decide(policy: AcceptancePolicy, outcomes: list[FileOutcome], has_family: bool) -> Verdict:
    reasons = []
    if policy.require_family_file and not has_family:
        reasons.append("the family file is required by configuration (P3KE_INGEST_REQUIRE_FAMILY_FILE)")
    for o in outcomes:
        if o.rows == 0:
            reasons.append(f"the {o.label} file has no data rows")
            continue
        if o.rows - o.rejected == 0:
            reasons.append(f"the {o.label} file has no valid row ({o.rejected:,} rejected)")
            continue
        share = o.rejected / o.rows
        if share > policy.max_rejected_share:
            reasons.append(f"{share:.2%} of the {o.label} file's rows are rejected ({o.rejected:,} of {o.rows:,}), "
                           f"more than the allowed {policy.max_rejected_share:.2%}")
    return Verdict(not reasons, tuple(reasons))
