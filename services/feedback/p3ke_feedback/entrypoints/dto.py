"""HTTP request and response bodies of the feedback API, and the translation from the service layer's
objects (wire event models live in p3ke_schemas; tables in adapters.orm)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from p3ke_feedback.domain import report as rep
from p3ke_feedback.domain.model import aware
from p3ke_feedback.domain.vocabulary import PROGRAM_PATTERN, MatchView, counts_in_view
from p3ke_platform.i18n import DEFAULT, Lang

UtcDatetime = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]
"""SQLite hands back naive datetimes; every time stored here is UTC."""
Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="a month, YYYY-MM")]
Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
ProgramCode = Annotated[str, Field(pattern=PROGRAM_PATTERN, description=(
    "a program code: one of the four of Art. 3, or one the parties added (written approval, addendum)"))]
View = Annotated[MatchView, Field(description=(
    "how finely rows are classed: `handover` (party 2: in_extract, not_in_handover, invalid_nik, duplicate) or "
    "`p3ke` (party 1: in_p3ke_not_delivered and not_in_p3ke apart, and the desil of persons not handed over)"))]


class SignedHandover(BaseModel):
    handover_id: str
    bast_number: str | None
    program: str
    record_count: int
    signed_at: UtcDatetime
    period: str | None
    delivered_state: str = Field(description="pending | settled | problem: whether the delivered counts are in "
                                             "the reports")
    delivered_reason: str | None
    delivered_total: int | None
    first_feedback_at: UtcDatetime | None
    current_batches: int
    overdue: bool = Field(description="no feedback after P3KE_FEEDBACK_OVERDUE_DAYS days")


class Links(BaseModel):
    self: str
    findings: str
    findings_csv: str


class Batch(BaseModel):
    batch_id: str
    handover_id: str
    program: str
    period: str = Field(description="the handover's month (Jakarta), the period the batch counts in")
    status: Literal["current", "superseded"]
    supersedes: str | None
    superseded_by: str | None
    filename: str
    file_format: str
    file_bytes: int
    file_sha256: str
    dataset_version_id: str = Field(description="the P3KE snapshot the rows were matched against")
    rows: int
    rows_rejected: int
    served: int = Field(description="persons counted as served: no error, valid NIK, not a duplicate")
    match_view: View
    counts_by_match_class: dict[str, int]
    counts_by_status: dict[str, int]
    counts_by_province: dict[str, int]
    counts_by_finding: dict[str, int]
    notes: list[str] = Field(description="what was noticed reading the file (skipped rows, columns ignored), "
                             "in the caller's language (Indonesian unless English is asked for)")
    submitted_by_org: str
    received_at: UtcDatetime
    duplicate: bool = Field(default=False, description="this upload repeated an earlier batch; nothing new stored")
    links: Links


def batch(row: Mapping[str, Any], view: MatchView, duplicate: bool = False, lang: Lang = DEFAULT) -> Batch:
    """A stored batch as `view`'s reader may see it (party 2: the classes merged, `counts_in_view`), its notes in
    `lang` (stored in both: `notes` Indonesian, `notes_en` English; a batch stored before that has only `notes`)."""
    summary = json.loads(row["summary"])
    notes = summary.get("notes_en", summary["notes"]) if lang == "en" else summary["notes"]
    base = f"/v1/feedback-batches/{row['batch_id']}"
    return Batch(
        batch_id=row["batch_id"], handover_id=row["handover_id"], program=row["program"], period=row["period"],
        status=row["status"], supersedes=row["supersedes"], superseded_by=row["superseded_by"],
        filename=row["filename"], file_format=row["file_format"], file_bytes=row["file_bytes"],
        file_sha256=row["file_sha256"], dataset_version_id=row["dataset_version_id"], rows=row["rows"],
        rows_rejected=row["rows_rejected"], served=row["served"], match_view=view,
        counts_by_match_class=counts_in_view(summary["by_class"], view),
        counts_by_status=summary["by_status"], counts_by_province=summary["by_province"],
        counts_by_finding=summary["by_finding"], notes=notes, submitted_by_org=row["submitted_org"],
        received_at=aware(row["received_at"]), duplicate=duplicate,
        links=Links(self=base, findings=f"{base}/findings", findings_csv=f"{base}/findings.csv"))


class Finding(BaseModel):
    row: int = Field(description="data row, 1-based")
    line: int | None = Field(description="line (CSV: header line + row) or worksheet row (XLSX)")
    sheet: str | None
    field: str
    code: str
    severity: Literal["error", "warning"]
    message: str = Field(description="what was found, in Indonesian (English with Accept-Language: en or ?lang=en)")
    fix: str = Field("", description="how to fix it (cara memperbaiki), in the same language")
    value: str | None = Field(description="the value, masked (a NIK keeps its first four digits)")
    detail: str | None


class FindingsPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[Finding]


Count = Annotated[int | None, Field(description="null when suppressed (party 2's reports: fewer than min_cell)")]


class DesilFigures(BaseModel):
    delivered: Count
    served: Count
    served_in_extract: Count


class ReportRow(BaseModel):
    program: str
    period: str = Field(description="YYYY-MM, YYYY-Qn, YYYY, or `all`")
    region: str = Field(description="province (2) or regency (4) code; '' national or not known")
    region_name: str
    delivered: Count
    served: Count
    served_in_extract: Count
    coverage: float | None = Field(description="served_in_extract / delivered")
    served_desil_1: Count
    share_desil_1: float | None = Field(description="served_desil_1 / served")
    rows: Count
    rejected: Count
    benefit_value: Count = Field(description="rupiah, served persons")
    by_class: dict[str, int | None] = Field(description="rows by match class, in the report's view")
    by_status: dict[str, int | None]
    by_desil: dict[str, DesilFigures] = Field(description="desil 1-4, and 0: not in P3KE (party 1) / no desil "
                                                          "shown: not handed over or not in P3KE (party 2)")


def report_row(row: rep.Row, r: rep.Report) -> ReportRow:
    f = r.shown(row.figures)
    return ReportRow(program=row.program, period=row.period, region=row.region, region_name=row.region_name,
                     delivered=f.shown("delivered"), served=f.shown("served"),
                     served_in_extract=f.shown("served_in_extract"), coverage=f.coverage,
                     served_desil_1=f.shown("served_desil_1"), share_desil_1=f.share_desil_1,
                     rows=f.shown("rows"), rejected=f.shown("rejected"), benefit_value=f.shown("benefit_value"),
                     by_class={k: f.shown(f"class:{k}") for k in f.by_class},
                     by_status={k: f.shown(f"status:{k}") for k in f.by_status},
                     by_desil={k: DesilFigures(**{m: f.shown(f"desil:{k}:{m}") for m in vars(d)})
                               for k, d in f.by_desil.items()})


class Timeliness(BaseModel):
    program: str
    period: str
    handovers: int
    with_feedback: int
    awaiting: int
    overdue: int
    median_days_to_feedback: float | None
    mean_days_to_feedback: float | None
    max_days_to_feedback: float | None


class OverdueHandover(BaseModel):
    handover_id: str
    bast_number: str | None
    program: str
    signed_at: UtcDatetime
    days_without_feedback: int


class Report(BaseModel):
    generated_at: UtcDatetime
    program: str | None
    start: str | None
    end: str | None
    level: str
    period: str
    overdue_days: int
    view: View
    min_cell: int | None = Field(description="party 2's reports: counts below this are suppressed (null), with "
                                             "secondary suppression as in publications; null: exact (party 1)")
    unsettled_handovers: int = Field(description="signed handovers whose delivered counts are not in the figures "
                                                 "yet (extract or snapshot not available)")
    rows: list[ReportRow]
    totals: list[ReportRow] = Field(description="per program, over the whole report")
    timeliness: list[Timeliness]
    overdue_handovers: list[OverdueHandover]


def report(r: rep.Report) -> Report:
    return Report(
        generated_at=r.generated_at, program=r.program, start=r.start, end=r.end, level=r.level,
        period=r.granularity, overdue_days=r.overdue_days, view=r.view, min_cell=r.min_cell,
        unsettled_handovers=r.unsettled_handovers,
        rows=[report_row(x, r) for x in r.rows], totals=[report_row(x, r) for x in r.totals],
        timeliness=[Timeliness(program=t.program, period=t.period, handovers=t.handovers,
                               with_feedback=t.with_feedback, awaiting=t.awaiting, overdue=t.overdue,
                               median_days_to_feedback=t.median_days, mean_days_to_feedback=t.mean_days,
                               max_days_to_feedback=t.max_days) for t in r.timeliness],
        overdue_handovers=[OverdueHandover(**vars(o)) for o in r.overdue])


class PublicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: ProgramCode | None = Field(default=None, description="one program, or all")
    start: Month | None = None
    end: Month | None = None
    level: Literal["national", "province", "regency"] = "province"
    period: Literal["month", "quarter", "year", "all"] = "year"
    purpose: str = Field(min_length=10, max_length=2000, description="what the publication is for (matched "
                                                                      "against the consent's purpose, if it names one)")


class PublishedCell(BaseModel):
    desil: str = Field(description="1-4, 0 (no desil shown: not handed over, or not in P3KE) or `all`")
    delivered: int | None = Field(description="null when suppressed")
    served: int | None
    served_in_extract: int | None
    coverage: float | None


class PublishedRow(BaseModel):
    program: str
    period: str
    region: str
    region_name: str
    share_desil_1: float | None
    cells: list[PublishedCell]


class Publication(BaseModel):
    publication_id: str
    published_at: UtcDatetime
    published_by_org: str
    grounds: list[str] = Field(description="the disclosure consents (Art. 10(3)) it relies on")
    terms_version: str
    purpose: str
    min_cell: int = Field(description="counts below this are suppressed (null), with secondary suppression")
    program: str | None
    start: str | None
    end: str | None
    level: str
    period: str
    rows: list[PublishedRow]
    content_sha256: str
