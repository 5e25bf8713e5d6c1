"""The audit API for compliance staff of either party: queries, proofs, checkpoints, exports.

Only the `compliance-auditor` role is served (both orgs); a refused caller is itself recorded. Every
query that returns log entries is recorded in the log (a `data-access` event through the outbox),
with the data subject's keyed hash when a subject's trail was asked for.
"""


import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy import select

from p3ke_audit.adapters.keys import signer
from p3ke_audit.adapters.orm import verifications
from p3ke_audit.config import AuditSettings, audit_settings
from p3ke_audit.domain.merkle import ProofError
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
    VerificationOut,
    Violations,
    VolumeRow,
    b64,
)
from p3ke_audit.entrypoints.web import web_router
from p3ke_audit.service_layer import export, proofs, queries
from p3ke_audit.service_layer.checkpoints import issue_checkpoint
from p3ke_audit.service_layer.queries import BadQuery, Filters
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.auth import Principal, PrincipalDep
from p3ke_platform.logging import get_logger
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor

ROLE = "compliance-auditor"
MAX_INDEX = 2**62  # leaf indexes, sizes and keys fit a signed 64-bit column
After = Annotated[int, Query(ge=0, le=MAX_INDEX, description="continue after this key (keyset paging)")]
Size = Annotated[int, Query(ge=1, le=MAX_INDEX)]
log = get_logger(__name__)


class AuditApi:
    """What the routes share: the runtime, the audit settings, and recording of queries."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings: AuditSettings = audit_settings(runtime.settings)

    def record(self, principal: Principal, *, resource_id: str, count: int = 0, action: str = "query",
               outcome: str = "allowed", reason: str | None = None, what: dict[str, str] | None = None,
               niks: Iterable[str] = ()) -> None:
        actor = Actor(org=principal.org, subject=principal.subject, roles=sorted(principal.roles),  # type: ignore[arg-type]
                      service_account=principal.service_account)
        purpose = f"compliance query {json.dumps(what, sort_keys=True)}"[:2000] if what else None
        with self.runtime.unit_of_work() as uow:
            uow.record_access(actor=actor, action=action, resource_type="audit-log", resource_id=resource_id,
                              outcome=outcome, reason=reason, record_count=count, purpose=purpose,
                              subject_niks=niks)

    def auditor(self) -> Any:
        def dependency(request: Request, principal: PrincipalDep) -> Principal:
            if ROLE not in principal.roles:
                self.record(principal, resource_id=request.url.path, outcome="denied",
                            reason=f"requires the {ROLE} role")
                raise HTTPException(403, f"requires one of the roles: {ROLE}")
            return principal

        return dependency

    @cache  # noqa: B019 - one per process, lives as long as the app
    def policy(self) -> Any:
        from p3ke_platform.agreement import Policy, load_agreement

        s = self.settings
        return Policy(load_agreement(s.agreement_dir, s.agreement_include_examples))

    def subject_ref(self, nik: str) -> str:
        return subject_ref(self.settings.subject_hash_key, nik)

    def range(self, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
        try:
            return queries.bounded_range(since, until, self.settings.audit_max_days)
        except BadQuery as exc:
            raise HTTPException(422, str(exc)) from None


def _checkpointer(runtime: Runtime, settings: AuditSettings, stop: threading.Event) -> None:
    """Sign a checkpoint when one is due (N entries or T seconds), also while no batch arrives."""
    interval = min(settings.audit_checkpoint_seconds, 5.0)
    while not stop.wait(interval):
        try:
            issue_checkpoint(runtime.sessions, settings, force=False)
        except Exception as exc:  # keep trying; the next round may succeed
            log.warning("checkpoint round failed", error=repr(exc)[:300])


def routers(runtime: Runtime) -> list[APIRouter]:
    api = AuditApi(runtime)
    settings = api.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if settings.audit_checkpointer_in_api:
            thread = threading.Thread(target=_checkpointer, args=(runtime, settings, stop), daemon=True,
                                      name="audit-checkpointer")
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                await asyncio.to_thread(thread.join, 15)

    router = APIRouter(prefix="/v1", tags=["audit"], lifespan=lifespan)
    Auditor = Annotated[Principal, Depends(api.auditor())]
    Limit = Annotated[int, Query(ge=1, le=settings.audit_max_page)]

    def filters(actor_subject: str | None = None, actor_org: str | None = None, role: str | None = None,
                action: str | None = None, outcome: str | None = None, resource_type: str | None = None,
                resource_id: str | None = None, program: str | None = None, event_type: str | None = None,
                service: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> Filters:
        return Filters(actor_subject=actor_subject, actor_org=actor_org, role=role, action=action,
                       outcome=outcome, resource_type=resource_type, resource_id=resource_id, program=program,
                       event_type=event_type, service=service, since=since, until=until)

    FiltersDep = Annotated[Filters, Depends(filters)]

    @router.get("/entries", response_model=list[Entry], summary="Log entries, oldest first (keyset pages)")
    def list_entries(principal: Auditor, f: FiltersDep, after: After = 0, limit: Limit = 100) -> list[Entry]:
        with runtime.sessions() as session:
            rows = queries.with_bast(session, queries.page(session, f, after=after, limit=limit))
        api.record(principal, resource_id="entries", count=len(rows), what=f.describe())
        return [Entry.of(r) for r in rows]

    @router.get("/entries/export.csv", summary="Entries of a time range as CSV (bounded)",
                response_class=StreamingResponse)
    def export_csv(principal: Auditor, f: FiltersDep) -> StreamingResponse:
        api.range(f.since, f.until)
        with runtime.sessions() as session:
            rows = list(queries.stream(session, f, settings.audit_max_export))
        api.record(principal, resource_id="entries.csv", count=len(rows), action="export", what=f.describe())
        return StreamingResponse(export.csv_lines(rows), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="audit-entries.csv"'})

    @router.get("/entries/{leaf_index}", response_model=EntryWithProof,
                summary="One entry with its inclusion proof in the latest checkpoint")
    def get_entry(principal: Auditor, leaf_index: Annotated[int, Path(ge=0, le=MAX_INDEX)]) -> EntryWithProof:
        with runtime.sessions() as session:
            row = queries.entry_at(session, leaf_index)
            if row is None:
                raise HTTPException(404, f"no entry at leaf {leaf_index}")
            [row] = queries.with_bast(session, [row])
            try:
                inclusion: InclusionOut | None = InclusionOut.of(proofs.inclusion(session, leaf_index))
                pending = None
            except proofs.NotFound as exc:
                inclusion, pending = None, str(exc)
        api.record(principal, resource_id=f"entry:{leaf_index}", count=1)
        return EntryWithProof(entry=Entry.of(row), inclusion=inclusion, not_yet_checkpointed=pending)

    @router.post("/subjects/trail", response_model=list[Entry],
                 summary="Who accessed a data subject's data (NIK in the body; UU PDP Art. 32)")
    def subject_trail(principal: Auditor, body: SubjectQuery) -> list[Entry]:
        limit = min(body.limit, settings.audit_max_page)
        f = Filters(subject_ref=api.subject_ref(body.nik), since=body.since, until=body.until)
        with runtime.sessions() as session:
            rows = queries.with_bast(session, queries.page(session, f, after=body.after, limit=limit))
        api.record(principal, resource_id="subject-trail", count=len(rows), niks=[body.nik],
                   what={"since": str(body.since), "until": str(body.until)})
        return [Entry.of(r) for r in rows]

    @router.get("/summary/monthly", response_model=list[SummaryRow],
                summary="Accesses and records per party, Jakarta month and outcome")
    def summary(principal: Auditor, since: datetime | None = None, until: datetime | None = None) -> Any:
        lo, hi = api.range(since, until)
        with runtime.sessions() as session:
            rows = queries.monthly_summary(session, lo, hi)
        api.record(principal, resource_id="summary", count=len(rows), what={"since": str(lo), "until": str(hi)})
        return rows

    @router.get("/violations", response_model=Violations,
                summary="Refusals, access outside the agreement, downloads without BAST, odd purposes and volumes")
    def violations(principal: Auditor, since: datetime | None = None, until: datetime | None = None,
                   limit: Limit = 100) -> Violations:
        lo, hi = api.range(since, until)
        with runtime.sessions() as session:
            found = queries.violations(session, lo, hi, policy=api.policy(),
                                       volume_threshold=settings.audit_volume_threshold, limit=limit)
        api.record(principal, resource_id="violations", count=sum(len(v) for v in found.values()),
                   what={"since": str(lo), "until": str(hi)})
        return Violations(since=lo, until=hi, unusual_volume=[VolumeRow(**r) for r in found.pop("unusual_volume")],
                          **{k: [Entry.of(r) for r in v] for k, v in found.items()})

    @router.get("/proofs/inclusion", response_model=InclusionOut,
                summary="Inclusion proof of an entry (default: in the latest checkpoint's tree)")
    def inclusion_proof(principal: Auditor, leaf_index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
                        tree_size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None) -> InclusionOut:
        with runtime.sessions() as session:
            try:
                out = InclusionOut.of(proofs.inclusion(session, leaf_index, tree_size))
            except proofs.NotFound as exc:
                raise HTTPException(404, str(exc)) from None
            except ProofError as exc:
                raise HTTPException(422, str(exc)) from None
        api.record(principal, resource_id=f"entry:{leaf_index}", count=1)
        return out

    @router.get("/proofs/consistency", response_model=ConsistencyOut,
                summary="Consistency proof between two tree sizes (e.g. two checkpoints)")
    def consistency_proof(_: Auditor, first: Size, second: Size) -> ConsistencyOut:
        with runtime.sessions() as session:
            try:
                proof = proofs.consistency(session, first, second)
            except ProofError as exc:
                raise HTTPException(422, str(exc)) from None
        return ConsistencyOut(first=first, second=second, consistency_proof=[b64(h) or "" for h in proof])

    @router.get("/checkpoints/latest", response_model=CheckpointOut,
                summary="The latest signed checkpoint (`?format=note` for the bare C2SP note)")
    def latest(_: Auditor, format: str = "json") -> Any:
        with runtime.sessions() as session:
            cp = proofs.latest_checkpoint(session)
        if cp is None:
            raise HTTPException(404, "no checkpoint has been signed yet")
        if format == "note":
            return PlainTextResponse(cp.note, media_type="text/plain; charset=utf-8")
        return CheckpointOut.of(cp)

    @router.get("/checkpoints", response_model=list[CheckpointOut], summary="Signed checkpoints, oldest first")
    def list_checkpoints(_: Auditor, after: After = 0, limit: Limit = 100) -> list[CheckpointOut]:
        with runtime.sessions() as session:
            return [CheckpointOut.of(cp) for cp in proofs.list_checkpoints(session, after, limit)]

    @router.get("/public-key", response_model=PublicKeyOut, summary="The key that signs the checkpoints")
    def public_key(_: Auditor) -> PublicKeyOut:
        s = signer(settings)
        return PublicKeyOut(origin=s.name, key_id=s.key_id_hex, verifier_key=s.verifier_key,
                            public_key_pem=s.public_pem())

    @router.get("/integrity", response_model=IntegrityOut, summary="Latest checkpoint and last full verification")
    def integrity(_: Auditor) -> IntegrityOut:
        with runtime.sessions() as session:
            return integrity_status(session)

    @router.post("/exports/bundle", summary="A verifiable bundle: entries, inclusion proofs, checkpoints (JSON)")
    def export_bundle(principal: Auditor, body: BundleQuery) -> dict[str, Any]:
        api.range(body.since, body.until)
        f = Filters(actor_subject=body.actor_subject, actor_org=body.actor_org, role=body.role, action=body.action,
                    outcome=body.outcome, resource_type=body.resource_type, resource_id=body.resource_id,
                    program=body.program, since=body.since, until=body.until,
                    subject_ref=api.subject_ref(body.nik) if body.nik else None)
        with runtime.sessions() as session:
            try:
                bundle = export.build_bundle(session, f, limit=min(body.limit, settings.audit_max_export),
                                             origin=settings.audit_origin)
            except proofs.NotFound as exc:
                raise HTTPException(404, str(exc)) from None
        api.record(principal, resource_id="bundle", count=len(bundle["entries"]), action="export",
                   what=f.describe(), niks=[body.nik] if body.nik else ())
        return bundle

    return [router, web_router(api)]


def integrity_status(session: Any) -> IntegrityOut:
    cp = proofs.latest_checkpoint(session)
    last = session.execute(select(verifications).order_by(verifications.c.id.desc()).limit(1)).mappings().first()
    return IntegrityOut(tree_size=proofs.tree_size(session), latest_checkpoint=CheckpointOut.of(cp) if cp else None,
                        last_verification=VerificationOut(**last) if last else None)
