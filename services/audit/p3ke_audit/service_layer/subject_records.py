"""Collecting what each service holds about one person, for the response bundle of an access request (UU PDP
Art. 32): ingest (the snapshots), delivery (the extracts) and feedback (the data balikan) each answer
`POST <url>/v1/subject-records` (p3ke_platform.subject_records) with the person's records.

Each configured source (P3KE_AUDIT_SUBJECT_SOURCES) is asked with the caller's own Authorization (the source
checks the caller and records the lookup in the log under the person's keyed reference), the NIK in the body
only, the request's id and a timeout. A source that cannot be asked, refuses or answers something else is not
an error of the bundle: it is named in it, with why, and the bundle is marked incomplete. Nothing here is
stored: the records live in the bundle the caller takes away (only its SHA-256 is kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from p3ke_audit.service_layer.service_calls import Endpoint, ask_all
from p3ke_platform.subject_records import ENDPOINT, SubjectRecordsOut


@dataclass(frozen=True)
class SourceAnswer:
    """One source's part of the bundle: its records, or why it could not be asked."""

    source: str
    records: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # Indonesian first, then English; None when the source answered

    @property
    def answered(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "status": "answered" if self.answered else "unavailable",
                "problem": self.problem, "records": self.records}


RECORDS = Endpoint(route=f"POST {ENDPOINT}", roles_id="compliance-auditor", roles_en="a compliance auditor",
                   model=SubjectRecordsOut, answer_name="subject-records")


def ask(client: httpx.Client, source: str, url: str, *, nik: str, request_id: str, subject_ref: str,
        authorization: str) -> SourceAnswer:
    """One source's records of the person, or the reason it could not give them (never raises for the source)."""
    called = RECORDS.call(lambda: client.post(f"{url}{ENDPOINT}", json={"nik": nik, "request_id": request_id},
                                              headers={"Authorization": authorization, "X-Request-ID": request_id}))
    answer = called.answer
    if not isinstance(answer, SubjectRecordsOut):
        return SourceAnswer(source, problem=called.problem)
    if answer.subject_ref != subject_ref:
        return SourceAnswer(source, problem="layanan memakai kunci subjek (P3KE_SUBJECT_HASH_KEY) yang berbeda; "
                                            "jawabannya tidak dipakai / the service keys subjects with another "
                                            "P3KE_SUBJECT_HASH_KEY; its answer is not used")
    return SourceAnswer(source, records=[r.model_dump(mode="json") for r in answer.records])


def collect(sources: tuple[tuple[str, str], ...], *, nik: str, request_id: str, subject_ref: str,
            authorization: str, timeout_s: float) -> list[SourceAnswer]:
    """Every configured source's answer, asked in parallel, in the configured order."""
    return ask_all(sources, timeout_s, lambda client, name, url: ask(
        client, name, url, nik=nik, request_id=request_id, subject_ref=subject_ref, authorization=authorization))
