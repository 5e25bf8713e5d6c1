"""The audit API for compliance staff of either party: queries, proofs, checkpoints, exports.

Only the `compliance-auditor` role is served (both orgs); a refused caller is itself recorded. Every
query that returns log entries is recorded in the log (a `data-access` event through the outbox),
with the data subject's keyed hash when a subject's trail was asked for. The routes get the service
context (`Ctx`) and the auditor (`Auditor`) from deps.py.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, StreamingResponse

from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.config import AuditSettings
from p3ke_audit.domain.messages import explained
from p3ke_audit.entrypoints.deps import (
    Auditor,
    Ctx,
    checkpoint_out,
    integrity_status,
    record_query,
    witnesses_status,
)
from p3ke_audit.entrypoints.dto import (
    BundleQuery,
    CheckpointOut,
    ConsistencyOut,
    Entry,
    EntryWithProof,
    InclusionOut,
    IntegrityOut,
    PublicKeyOut,
    SubjectQuery,
    SummaryRow,
    Violations,
    VolumeRow,
    WitnessesOut,
    b64,
)
from p3ke_audit.service_layer import export, proofs, queries
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.queries import BadQuery, Filters
from p3ke_platform import i18n
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.refusal import messages
from p3ke_platform.tlog.merkle import ProofError

M = messages("audit")  # reasons in the caller's language (PO domain `audit`)

MAX_INDEX = 2**62  # leaf indexes, sizes and keys fit a signed 64-bit column
After = Annotated[int, Query(ge=0, le=MAX_INDEX, description="continue after this key (keyset paging)")]
Size = Annotated[int, Query(ge=1, le=MAX_INDEX)]


DEFAULT_MAX_PAGE = AuditSettings.model_fields["audit_max_page"].default


def page_limit(ctx: Ctx, limit: Annotated[int, Query(
        ge=1, description="page size, at most P3KE_AUDIT_MAX_PAGE", json_schema_extra={"maximum": DEFAULT_MAX_PAGE},
)] = 100) -> int:
    """A page size within P3KE_AUDIT_MAX_PAGE (known per process, so checked here rather than declared),
    refused as a declared bound would be: 422 naming the field. The OpenAPI document states the default."""
    most = ctx.settings.audit_max_page
    if limit > most:
        raise RequestValidationError([{"type": "less_than_equal", "loc": ("query", "limit"),
                                       "msg": f"Input should be less than or equal to {most}", "input": limit,
                                       "ctx": {"le": most}}])
    return limit


Limit = Annotated[int, Depends(page_limit)]


def bounded(ctx: AuditContext, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """A time range no longer than P3KE_AUDIT_MAX_DAYS, else 422 saying how to fix it."""
    try:
        return queries.bounded_range(since, until, ctx.settings.audit_max_days)
    except BadQuery as exc:
        raise LocalizedHTTPException(422, exc.message) from None


def filters(actor_subject: str | None = None, actor_org: str | None = None, role: str | None = None,
            action: str | None = None, outcome: str | None = None, resource_type: str | None = None,
            resource_id: str | None = None, program: str | None = None, event_type: str | None = None,
            service: str | None = None, since: datetime | None = None, until: datetime | None = None) -> Filters:
    return Filters(actor_subject=actor_subject, actor_org=actor_org, role=role, action=action,
                   outcome=outcome, resource_type=resource_type, resource_id=resource_id, program=program,
                   event_type=event_type, service=service, since=since, until=until)


FiltersDep = Annotated[Filters, Depends(filters)]
router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/entries", response_model=list[Entry], summary="Log entries, oldest first (keyset pages)")
def list_entries(principal: Auditor, ctx: Ctx, limit: Limit, f: FiltersDep, after: After = 0) -> list[Entry]:
    with ctx.sessions() as session:
        rows = queries.with_bast(session, queries.page(session, f, after=after, limit=limit))
    record_query(ctx, principal, resource_id="entries", count=len(rows), what=f.describe())
    return [Entry.of(r) for r in rows]


@router.get("/entries/export.csv", summary="Entries of a time range as CSV (bounded)",
            response_class=StreamingResponse)
def export_csv(principal: Auditor, ctx: Ctx, f: FiltersDep) -> StreamingResponse:
    bounded(ctx, f.since, f.until)
    with ctx.sessions() as session:
        rows = list(queries.stream(session, f, ctx.settings.audit_max_export))
    record_query(ctx, principal, resource_id="entries.csv", count=len(rows), action="export", what=f.describe())
    return StreamingResponse(export.csv_lines(rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit-entries.csv"'})


@router.get("/entries/{leaf_index}", response_model=EntryWithProof,
            summary="One entry with its inclusion proof in the latest checkpoint")
def get_entry(principal: Auditor, ctx: Ctx, leaf_index: Annotated[int, Path(ge=0, le=MAX_INDEX)],
              request: Request) -> EntryWithProof:
    with ctx.sessions() as session:
        row = queries.entry_at(session, leaf_index)
        if row is None:
            raise LocalizedHTTPException(404, M("entry.not_found", leaf=leaf_index))
        [row] = queries.with_bast(session, [row])
        try:
            inclusion: InclusionOut | None = InclusionOut.of(proofs.inclusion(session, leaf_index))
            pending = None
        except proofs.NotFound as exc:
            inclusion, pending = None, exc.message.render(i18n.request_language(request))
    record_query(ctx, principal, resource_id=f"entry:{leaf_index}", count=1)
    return EntryWithProof(entry=Entry.of(row), inclusion=inclusion, not_yet_checkpointed=pending)


@router.post("/subjects/trail", response_model=list[Entry],
             summary="Who accessed a data subject's data (NIK in the body; UU PDP Art. 32)")
def subject_trail(principal: Auditor, ctx: Ctx, body: SubjectQuery) -> list[Entry]:
    limit = min(body.limit, ctx.settings.audit_max_page)
    f = Filters(subject_refs=ctx.subject_lookup_refs(body.nik), since=body.since, until=body.until)
    with ctx.sessions() as session:
        rows = queries.with_bast(session, queries.page(session, f, after=body.after, limit=limit))
    record_query(ctx, principal, resource_id="subject-trail", count=len(rows), niks=[body.nik],
               what={"since": str(body.since), "until": str(body.until)})
    return [Entry.of(r) for r in rows]


@router.get("/summary/monthly", response_model=list[SummaryRow],
            summary="Accesses and records per party, Jakarta month and outcome")
def summary(principal: Auditor, ctx: Ctx, since: datetime | None = None, until: datetime | None = None) -> Any:
    lo, hi = bounded(ctx, since, until)
    with ctx.sessions() as session:
        rows = queries.monthly_summary(session, lo, hi)
    record_query(ctx, principal, resource_id="summary", count=len(rows), what={"since": str(lo), "until": str(hi)})
    return rows


@router.get("/violations", response_model=Violations,
            summary="Refusals, access outside the agreement, downloads without BAST, odd purposes and volumes")
def violations(principal: Auditor, ctx: Ctx, limit: Limit, since: datetime | None = None,
               until: datetime | None = None) -> Violations:
    lo, hi = bounded(ctx, since, until)
    with ctx.sessions() as session:
        found = queries.violations(session, lo, hi, policy=ctx.policy,
                                   volume_threshold=ctx.settings.audit_volume_threshold, limit=limit)
    record_query(ctx, principal, resource_id="violations", count=sum(len(v) for v in found.values()),
               what={"since": str(lo), "until": str(hi)})
    return Violations(since=lo, until=hi, unusual_volume=[VolumeRow(**r) for r in found.pop("unusual_volume")],
                      **{k: [Entry.of(r) for r in v] for k, v in found.items()})


@router.get("/proofs/inclusion", response_model=InclusionOut,
            summary="Inclusion proof of an entry (default: in the latest checkpoint's tree)")
def inclusion_proof(principal: Auditor, ctx: Ctx, leaf_index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
                    tree_size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None) -> InclusionOut:
    with ctx.sessions() as session:
        try:
            out = InclusionOut.of(proofs.inclusion(session, leaf_index, tree_size))
        except proofs.NotFound as exc:
            raise LocalizedHTTPException(404, exc.message) from None
        except ProofError as exc:
            raise LocalizedHTTPException(422, explained(exc, "proof.invalid")) from None
    record_query(ctx, principal, resource_id=f"entry:{leaf_index}", count=1)
    return out


@router.get("/proofs/consistency", response_model=ConsistencyOut,
            summary="Consistency proof between two tree sizes (e.g. two checkpoints)")
def consistency_proof(_: Auditor, ctx: Ctx, first: Size, second: Size) -> ConsistencyOut:
    with ctx.sessions() as session:
        try:
            proof = proofs.consistency(session, first, second)
        except ProofError as exc:
            raise LocalizedHTTPException(422, explained(exc, "proof.invalid")) from None
    return ConsistencyOut(first=first, second=second, consistency_proof=[b64(h) or "" for h in proof])


@router.get("/checkpoints/latest", response_model=CheckpointOut,
            summary="The latest signed checkpoint, with the witnesses' cosignatures (`?format=note`: the C2SP "
            "signed note carrying the cosignature lines)")
def latest(_: Auditor, ctx: Ctx, format: Literal["json", "note"] = "json") -> Any:
    with ctx.sessions() as session:
        cp = proofs.latest_checkpoint(session)
        if cp is None:
            raise LocalizedHTTPException(404, M("checkpoint.none"))
        if format == "note":
            return PlainTextResponse(TreeStore(session).cosigned_note(cp), media_type="text/plain; charset=utf-8")
        return checkpoint_out(session, ctx.settings, cp)


@router.get("/checkpoints", response_model=list[CheckpointOut],
            summary="Signed checkpoints, oldest first, with the witnesses' verified cosignatures")
def list_checkpoints(_: Auditor, ctx: Ctx, limit: Limit, after: After = 0) -> list[CheckpointOut]:
    with ctx.sessions() as session:
        return [checkpoint_out(session, ctx.settings, cp) for cp in proofs.list_checkpoints(session, after, limit)]


@router.get("/witnesses", response_model=WitnessesOut,
            summary="The configured witnesses: their state, and how much of the log a quorum of them cosigned")
def witnesses(_: Auditor, ctx: Ctx) -> WitnessesOut:
    with ctx.sessions() as session:
        return witnesses_status(session, ctx.settings)


@router.get("/public-key", response_model=PublicKeyOut, summary="The key that signs the checkpoints")
def public_key(_: Auditor, ctx: Ctx) -> PublicKeyOut:
    s = ctx.signer
    return PublicKeyOut(origin=s.name, key_id=s.key_id_hex, verifier_key=s.verifier_key,
                        public_key_pem=s.public_pem())


@router.get("/integrity", response_model=IntegrityOut, summary="Latest checkpoint and last full verification")
def integrity(_: Auditor, ctx: Ctx) -> IntegrityOut:
    with ctx.sessions() as session:
        return integrity_status(session, ctx.settings)


@router.post("/exports/bundle", summary="A verifiable bundle: entries, inclusion proofs, checkpoints (JSON)")
def export_bundle(principal: Auditor, ctx: Ctx, body: BundleQuery) -> dict[str, Any]:
    bounded(ctx, body.since, body.until)
    f = Filters(actor_subject=body.actor_subject, actor_org=body.actor_org, role=body.role, action=body.action,
                outcome=body.outcome, resource_type=body.resource_type, resource_id=body.resource_id,
                program=body.program, since=body.since, until=body.until,
                subject_refs=ctx.subject_lookup_refs(body.nik) if body.nik else ())
    with ctx.sessions() as session:
        try:
            bundle = export.build_bundle(session, f, limit=min(body.limit, ctx.settings.audit_max_export),
                                         origin=ctx.settings.audit_origin, consistency_from=body.consistency_from)
        except proofs.NotFound as exc:
            raise LocalizedHTTPException(404, exc.message) from None
    record_query(ctx, principal, resource_id="bundle", count=len(bundle["entries"]), action="export",
               what=f.describe(), niks=[body.nik] if body.nik else ())
    return bundle
