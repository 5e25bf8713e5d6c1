"""When a submitted snapshot is published, and when it is refused as a whole.

A version is refused when a file cannot be read as a P3KE table (wrong layout, not a table, empty),
when it has no valid row, or when more than ``max_rejected_share`` of a file's rows are rejected.
Otherwise it is published without the rejected rows, which the report lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from p3ke_platform.tabular.errors import Explained


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
    reasons: tuple[Explained, ...]  # each: a message and how to fix it, in Indonesian or English


def decide(policy: AcceptancePolicy, outcomes: list[FileOutcome], has_family: bool) -> Verdict:
    reasons = []
    if policy.require_family_file and not has_family:
        reasons.append(Explained(key="file.family_required"))
    for o in outcomes:
        if o.rows == 0:
            reasons.append(Explained(key="file.no_data_rows", label=o.label))
            continue
        if o.rows - o.rejected == 0:
            reasons.append(Explained(key="file.no_valid_row", label=o.label, rejected=f"{o.rejected:,}"))
            continue
        share = o.rejected / o.rows
        if share > policy.max_rejected_share:
            reasons.append(Explained(key="file.too_many_rejected", label=o.label, share=f"{share:.2%}",
                                     rejected=f"{o.rejected:,}", rows=f"{o.rows:,}",
                                     limit=f"{policy.max_rejected_share:.2%}"))
    return Verdict(not reasons, tuple(reasons))
