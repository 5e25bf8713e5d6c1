"""The wire shapes of the obligations desk (obligations_api.py): what compliance staff send and read."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from p3ke_audit.adapters import obligation_store as store
from p3ke_audit.domain import obligations as rules
from p3ke_platform import purpose_text

Org = Literal["kemenkopmk", "kemnaker"]
Party = Literal["kemenkopmk", "kemnaker", "both"]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="lower-case hex SHA-256 of the signed PDF")]
Day = Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))]


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("teks bukan Unicode yang sah (a lone surrogate) / not valid Unicode text") from None
    return value


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite gives back naive UTC times


OneLine = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]+$"), AfterValidator(_utf8)]
Line = Annotated[OneLine, Field(min_length=3, max_length=500)]
Reference = Annotated[OneLine, Field(min_length=1, max_length=200)]
Utc = Annotated[datetime, AfterValidator(_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoticeIn(_In):
    """A written notice (Art. 12(3), 13(2)): the letter's number and date, and the SHA-256 of its signed PDF."""

    reference: Reference = Field(description="the letter's number")
    date: Day
    document_sha256: Sha256 | None = None


class ForceMajeureIn(_In):
    org: Org | None = Field(default=None, description="the party hit by it, who must notify the other (default: "
                            "the caller's)")
    occurred_on: Day = Field(description="the day the force majeure happened (day 0 of the 14 working days)")
    summary: OneLine = Field(description="what happened and what it affects, one line, no personal data")
    authority_statement: Annotated[OneLine, Field(max_length=300)] | None = Field(
        default=None, description="the competent authority's statement (Art. 12(2))")
    notice: NoticeIn | None = Field(default=None, description="the notice letter, if already sent")

    @field_validator("summary")
    @classmethod
    def _no_personal_data(cls, value: str) -> str:
        problems = purpose_text.problems(value, field="ringkasan (summary)")
        if problems:  # the checks of a request's justification: the record is kept forever
            raise ValueError("; ".join(problems))
        return value


class LiaisonChangeIn(_In):
    """Art. 13: the new liaison officer, an office and its head's job title (not a person's name)."""

    org: Org | None = Field(default=None, description="the party whose officer changes (default: the caller's)")
    position: Line = Field(description="the job title, e.g. Kepala Pusat Data dan Teknologi Informasi")
    office: Line
    address: Line
    email: str = Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="the office's address")
    phone: str | None = Field(default=None, max_length=100, pattern=r"^[0-9+() .-]+$")
    effective_from: Day = Field(description="the day the new officer takes over (day 0 of the 6 working days)")
    notice: NoticeIn | None = Field(default=None, description="the notice letter, if already sent")


class FulfilmentIn(_In):
    evidence: Literal["letter", "me-report", "feedback-batch"] = Field(
        description="letter: a signed letter (its number in `reference`, the PDF's SHA-256); me-report: the audit "
        "log entry of the M&E report (its event_id in `reference`); feedback-batch: a data balikan batch id")
    reference: Reference
    date: Day = Field(description="the evidence's date (the letter's, the report's)")
    document_sha256: Sha256 | None = None


class ReminderOut(BaseModel):
    code: str
    on: date
    days_before_end: int
    reached: bool


class FulfilmentOut(BaseModel):
    on: date
    recorded_at: Utc
    evidence: str
    reference: str
    document_sha256: str | None
    by: str | None
    late: bool


class ObligationOut(BaseModel):
    id: str
    kind: str
    kind_name: str
    article: str
    party: str = Field(description="the responsible org, or 'both' (PARA PIHAK)")
    agreement_id: str | None
    source_type: str
    source_id: str
    title: str
    start_date: date
    due_date: date
    due_rule: str = Field(description="how the due date was computed (holidays and cuti bersama skipped)")
    status: rules.Status
    days_left: int = Field(description="calendar days to the due date (negative: overdue)")
    reminders: list[ReminderOut]
    fulfilment: FulfilmentOut | None

    @classmethod
    def of(cls, row: store.Row, status: rules.Status, today: date) -> ObligationOut:
        reminders = [ReminderOut(code=r.code, on=r.on, days_before_end=r.days_before_end, reached=r.on <= today)
                     for r in store.reminders_of(row)]
        fulfilment = None
        if row["fulfilled_on"] is not None:
            fulfilment = FulfilmentOut(on=row["fulfilled_on"], recorded_at=row["fulfilled_at"],
                                       evidence=row["evidence_kind"], reference=row["evidence_ref"],
                                       document_sha256=row["evidence_sha256"], by=row["fulfilled_by"],
                                       late=rules.is_late(row["due_date"], row["fulfilled_on"]))
        return cls(id=row["id"], kind=row["kind"], kind_name=rules.KIND_NAMES.get(row["kind"], row["kind"]),
                   article=row["article"], party=row["party"], agreement_id=row["agreement_id"],
                   source_type=row["source_type"], source_id=row["source_id"], title=row["title"],
                   start_date=row["start_date"], due_date=row["due_date"], due_rule=row["due_rule"], status=status,
                   days_left=(row["due_date"] - today).days, reminders=reminders, fulfilment=fulfilment)


class HistoryOut(BaseModel):
    at: Utc
    change: str
    status: str
    note: str
    actor: str | None


class ObligationDetail(ObligationOut):
    history: list[HistoryOut]


class LiaisonOfficerOut(BaseModel):
    record_id: int
    officer_id: str
    party: int
    org: str
    position: str
    office: str
    address: str
    email: str
    phone: str | None
    effective_from: date
    source: str = Field(description="terms: from the agreement; notice: a change notified under Art. 13(2)")
    notice_ref: str | None
    obligation_id: str | None
    recorded_at: Utc

    @classmethod
    def of(cls, row: store.Row) -> LiaisonOfficerOut:
        return cls(record_id=row["id"], **{k: row[k] for k in cls.model_fields if k != "record_id"})


class LiaisonOfficersOut(BaseModel):
    current: list[LiaisonOfficerOut] = Field(description="the officer in effect today, per party")
    history: list[LiaisonOfficerOut] = Field(description="every officer recorded, oldest first")


class ForceMajeureOut(BaseModel):
    force_majeure_id: str
    obligation: ObligationOut


class LiaisonChangeOut(BaseModel):
    officer: LiaisonOfficerOut
    obligation: ObligationOut


