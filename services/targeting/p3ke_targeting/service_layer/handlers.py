"""Learn dataset versions; turn extract requests into extracts or refusals (exactly once per request); record the
milestones of the handovers made from them (for the retention schedule)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from p3ke_platform.logging import get_logger
from p3ke_platform.messaging.inbox import RejectEvent
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent, DatasetUpdated, ExtractPrepared, ExtractRequested
from p3ke_targeting.adapters.extract_files import read_refs
from p3ke_targeting.adapters.orm import datasets, extract_requests, extracts
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.extracts import (
    JUSTIFICATION_RULE,
    Accepted,
    Rejected,
    counts_json,
    discard,
    prepare,
)
from p3ke_targeting.service_layer.milestones import handover_milestone
from p3ke_targeting.service_layer.requests import Conflict, path_of, receive

log = get_logger(__name__)


def dataset_updated(ctx: Context, uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, DatasetUpdated)
    known = uow.session.scalar(select(datasets.c.dataset_version_id).where(
        datasets.c.dataset_version_id == data.dataset_version_id))
    if known:
        return
    uow.session.execute(update(datasets).values(is_current=False))
    uow.session.execute(insert(datasets).values(
        dataset_version_id=data.dataset_version_id, snapshot_uri=data.snapshot_uri,
        snapshot_sha256=data.snapshot_sha256, individuals=data.individuals, families=data.families,
        published_at=data.published_at, is_current=True))


def extract_requested(ctx: Context, uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, ExtractRequested)
    try:
        received_at = receive(ctx, uow, data)
    except Conflict as conflict:
        raise RejectEvent(str(conflict)) from None
    if received_at is None:
        return  # the same request again, already decided: one request, one extract
    apply_outcome(ctx, uow, data, prepare(ctx, uow.session, data, received_at))


def what_was_asked(uow: UnitOfWork, request: ExtractRequested, outcome: Accepted | Rejected) -> dict[str, Any]:
    """extract-prepared's account of the request (for the BAST, and to bind the release to the requester):
    who asked and by which path, for which purpose and why, the criteria with the day ages were computed on, the
    fields. Account ids, the purpose code and a checked justification only; nothing of a data subject (a
    justification refused by the check is left out)."""
    criteria = request.criteria
    if isinstance(outcome, Accepted) and outcome.reference_date is not None:
        criteria = criteria.model_copy(update={"reference_date": outcome.reference_date})
    return {"requester": request.requested_by, "recipient": request.recipient,
            "request_path": path_of(uow, request.request_id), "justification": _checked_justification(request, outcome),
            "purpose": request.purpose, "criteria": criteria, "fields": list(request.fields)}


def _checked_justification(request: ExtractRequested, outcome: Accepted | Rejected) -> str | None:
    if isinstance(outcome, Rejected) and outcome.rule == JUSTIFICATION_RULE:
        return None
    return request.justification


def audit_purpose(request: ExtractRequested, outcome: Accepted | Rejected) -> str | None:
    """The audit record's purpose: the purpose code and the checked justification (a refused one is left out)."""
    text = _checked_justification(request, outcome)
    parts = [p for p in (request.purpose, text) if p]
    return ": ".join(parts) or None


def apply_outcome(ctx: Context, uow: UnitOfWork, request: ExtractRequested, outcome: Accepted | Rejected) -> None:
    now = ctx.clock()
    program = str(request.program)
    rules_version = ctx.rules.rules_version
    asked = what_was_asked(uow, request, outcome)
    if isinstance(outcome, Rejected):
        discard(ctx, request.request_id)
        uow.session.execute(update(extract_requests).where(extract_requests.c.request_id == request.request_id)
                            .values(status="rejected", reason=outcome.reason, decided_at=now,
                                    rules_version=rules_version, terms_version=outcome.terms_version,
                                    dataset_version_id=outcome.dataset_version_id))
        uow.emit(ExtractPrepared(request_id=request.request_id, agreement_id=request.agreement_id, program=program,
                                 status="rejected", reason=outcome.reason,
                                 dataset_version_id=outcome.dataset_version_id, rules_version=rules_version,
                                 prepared_at=now, **asked), subject=request.request_id)
        uow.record_access(actor=request.requested_by, action="refusal", resource_type="extract-request",
                          resource_id=request.request_id, outcome="denied", reason=outcome.reason,
                          agreement_id=request.agreement_id, program=program,
                          purpose=audit_purpose(request, outcome))
        log.info("extract request rejected", request_id=request.request_id, program=program, rule=outcome.rule)
        return
    uow.session.execute(insert(extracts).values(
        extract_id=outcome.extract_id, request_id=request.request_id, agreement_id=request.agreement_id,
        program=program, dataset_version_id=outcome.dataset_version_id, rules_version=rules_version,
        terms_version=outcome.terms_version, record_count=outcome.record_count,
        counts_by_desil=counts_json(outcome.counts_by_desil), counts_by_region=counts_json(outcome.counts_by_region),
        file_uri=str(outcome.file_path), file_sha256=outcome.file_sha256, ledger_uri=str(outcome.ledger_path),
        ledger_sha256=outcome.ledger_sha256, ledger_key_id=uow.subject_key_id, created_at=now))
    uow.session.execute(update(extract_requests).where(extract_requests.c.request_id == request.request_id)
                        .values(status="accepted", reason=None, extract_id=outcome.extract_id, decided_at=now,
                                rules_version=rules_version, terms_version=outcome.terms_version,
                                dataset_version_id=outcome.dataset_version_id))
    uow.emit(ExtractPrepared(
        request_id=request.request_id, extract_id=outcome.extract_id, agreement_id=request.agreement_id,
        program=program, status="accepted", dataset_version_id=outcome.dataset_version_id,
        rules_version=rules_version, record_count=outcome.record_count, counts_by_desil=outcome.counts_by_desil,
        counts_by_region=outcome.counts_by_region, file_uri=outcome.file_path.resolve().as_uri(),
        file_sha256=outcome.file_sha256, prepared_at=now, **asked), subject=request.request_id)
    _record_selection(uow, request, outcome, now)
    log.info("extract prepared", request_id=request.request_id, extract_id=outcome.extract_id, program=program,
             records=outcome.record_count, seconds=round(outcome.seconds, 3))


def _record_selection(uow: UnitOfWork, request: ExtractRequested, outcome: Accepted, now: datetime) -> None:
    """The selection in the audit log, with every selected person's keyed hash (UU PDP Art. 31-32),
    streamed from the recipient ledger (the platform splits it over events under Kafka's 1 MB)."""
    uow.record_access(actor=request.requested_by, action="select", resource_type="extract",
                      resource_id=outcome.extract_id, agreement_id=request.agreement_id,
                      program=str(request.program), purpose=audit_purpose(request, outcome),
                      subject_refs=read_refs(outcome.ledger_path), at=now)


HANDLERS = {
    "p3ke.dataset-updated.v1": dataset_updated,
    "p3ke.extract-requested.v1": extract_requested,
    "p3ke.handover-milestone.v1": handover_milestone,
}
