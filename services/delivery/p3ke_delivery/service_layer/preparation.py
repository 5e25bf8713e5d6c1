"""Prepare a handover: check the extract, build the encrypted package, number and render the BAST.

Runs outside any long transaction: a preparer claims one `preparing` handover with a lease (so that
several replicas never build the same one), does the slow work on files, then records the result
in one short transaction. A crash leaves the lease to expire and the next claim starts over.
The agreement comes first: before the extract is even read, delivery asks again whether it may prepare it
now (prepare-extract; time has passed since the extract arrived), and once the extract's columns are known,
whether party 2 may receive them (download-package, Art. 10(1)). A refusal stops the handover as `refused`,
with the policy's reason (Indonesian first), audited; nothing is built and no BAST number is taken.
Preparation fails for good (status `failed`, with the reason) when the extract cannot be trusted:
missing, outside the shared directory, a different checksum or row count than announced.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from p3ke_delivery.adapters import bast_pdf, extract, package, subjects
from p3ke_delivery.adapters.keys import generate_password
from p3ke_delivery.adapters.orm import handovers
from p3ke_delivery.adapters.repository import get_handover, next_sequence
from p3ke_delivery.domain import agreed_program, numbering
from p3ke_delivery.domain.model import Status
from p3ke_delivery.domain.request import PATHS, AskedFor, akun, kriteria
from p3ke_delivery.service_layer import agreement_steps, data_keys
from p3ke_delivery.service_layer.agreement_steps import StepRefused
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.agreement import Terms, agreement_day
from p3ke_platform.envelope import KeyDestroyed
from p3ke_platform.logging import get_logger
from p3ke_platform.shared_files import sha256_file

log = get_logger(__name__)

BAST_FILE = "bast-0-issued.pdf"


class PreparationFailed(Exception):
    """The handover cannot be prepared, ever; the message is the recorded reason."""


def claim(ctx: DeliveryContext) -> str | None:
    """Take the oldest unclaimed `preparing` handover for this process, or None."""
    now = ctx.clock()
    free = and_(handovers.c.status == Status.PREPARING,
                or_(handovers.c.claimed_until.is_(None), handovers.c.claimed_until < now))
    with ctx.unit_of_work() as uow:
        candidate = uow.session.scalar(select(handovers.c.handover_id).where(free)
                                       .order_by(handovers.c.created_at).limit(1))
        if candidate is None:
            return None
        taken = uow.session.execute(
            update(handovers).where(handovers.c.handover_id == candidate, free)
            .values(claimed_until=now + timedelta(seconds=ctx.settings.delivery_prepare_lease_seconds),
                    attempts=handovers.c.attempts + 1)).rowcount
    return candidate if taken == 1 else None


def prepare(ctx: DeliveryContext, handover_id: str) -> str:
    """Prepare one claimed handover; returns its new status."""
    with ctx.unit_of_work() as uow:
        row = get_handover(uow.session, handover_id)
    if row is None or row["status"] != Status.PREPARING:
        return row["status"] if row else "missing"
    try:
        return _prepare(ctx, dict(row))
    except StepRefused as refused:
        _refuse(ctx, dict(row), refused)
        log.warning("handover refused by the agreement", handover_id=handover_id, rule=refused.rule)
        return Status.REFUSED
    except (PreparationFailed, extract.ExtractError) as exc:
        _finish(ctx, handover_id, status=Status.FAILED, reason=str(exc))
        log.warning("handover preparation failed", handover_id=handover_id, reason=str(exc))
        return Status.FAILED
    except Exception as exc:
        # unexpected (disk full, a bug): retry until the attempts run out; the type only, as an
        # exception message from a file parser could quote a row
        final = row["attempts"] >= ctx.settings.delivery_prepare_attempts
        log.error("handover preparation error", handover_id=handover_id, error=type(exc).__name__,
                  attempt=row["attempts"], final=final)
        if final:
            _finish(ctx, handover_id, status=Status.FAILED,
                    reason=f"preparation failed {row['attempts']} times ({type(exc).__name__})")
            return Status.FAILED
        with ctx.unit_of_work() as uow:
            uow.session.execute(update(handovers).where(handovers.c.handover_id == handover_id)
                                .values(claimed_until=None))
        return Status.PREPARING


def _finish(ctx: DeliveryContext, handover_id: str, **values: object) -> None:
    with ctx.unit_of_work() as uow:
        uow.session.execute(update(handovers).where(handovers.c.handover_id == handover_id,
                                                    handovers.c.status == Status.PREPARING)
                            .values(claimed_until=None, updated_at=ctx.clock(), **values))


def _refuse(ctx: DeliveryContext, row: dict[str, object], refused: StepRefused) -> None:
    """`refused`, with the reason, and the refusal in the audit log: one transaction."""
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        changed = uow.session.execute(
            update(handovers).where(handovers.c.handover_id == row["handover_id"],
                                    handovers.c.status == Status.PREPARING)
            .values(status=Status.REFUSED, reason=refused.reason, claimed_until=None, updated_at=now)).rowcount
        if changed == 1:
            agreement_steps.record_refusal(
                ctx, uow, refused, handover_id=str(row["handover_id"]), agreement_id=str(row["agreement_id"]),
                program=str(row["program"]), purpose=_text(row.get("purpose")),
                record_count=int(row["record_count"]), at=now)  # type: ignore[call-overload]


def _may_prepare(ctx: DeliveryContext, row: dict[str, object], columns: list[str], now: datetime) -> None:
    """The agreement's word, first on the request (before the extract is read: `columns` empty), then on the
    extract's own columns: delivery may prepare it, and party 2 may receive these columns for this program and
    purpose (Art. 10(1))."""
    program, purpose = str(row["program"]), _text(row.get("purpose"))
    agreement_steps.check(ctx, "prepare-extract", "prepare", program=program, purpose=purpose,
                          fields=columns or AskedFor.of(row).fields, at=now)
    if columns:
        agreement_steps.check(ctx, "download-package", "prepare", program=program, purpose=purpose, fields=columns,
                              at=now, org=ctx.policy.terms_at(now).party(2).org, roles=["program-officer"])


def _text(value: object) -> str | None:
    return str(value) if value else None


def _prepare(ctx: DeliveryContext, row: dict[str, object]) -> str:
    handover_id = str(row["handover_id"])
    now = ctx.clock()
    _may_prepare(ctx, row, [], now)  # nothing is read when the agreement no longer allows the handover
    path = extract.resolve(str(row["extract_uri"] or ""), ctx.settings.extract_root)
    actual = sha256_file(path)
    if actual != row["extract_sha256"]:
        raise PreparationFailed(f"the extract file's SHA-256 is {actual}, but extract-prepared announced "
                                f"{row['extract_sha256']}: it is not the extract targeting froze")
    fields = extract.schema(path).names
    _may_prepare(ctx, row, list(fields), now)
    terms = ctx.policy.terms_at(now)
    program = str(row["program"])

    number = str(row["bast_number"] or "") or _allocate_number(ctx, handover_id, program, now)
    try:
        data_key = data_keys.create_handover_key(ctx, handover_id)  # the package and its password at rest
    except KeyDestroyed:
        raise PreparationFailed("kunci data serah terima ini sudah dimusnahkan; serah terima tidak disiapkan lagi / "
                                "the handover's data key was destroyed (disposed of); it is never prepared again") \
            from None
    password = generate_password()
    base = package.base_name(program, str(row["extract_id"]))
    package_name = f"{base}.zip"
    manifest = {
        "format": "p3ke-package/1",
        "handover_id": handover_id, "bast_number": number, "agreement_id": row["agreement_id"],
        "agreement_numbers": [terms.numbers.party_1, terms.numbers.party_2], "terms_version": terms.version,
        "program": program, "purpose": row.get("purpose"), "request_id": row["request_id"],
        "extract_id": row["extract_id"],
        "dataset_version_id": row["dataset_version_id"], "extract_sha256": actual, "created_at": now,
        "confidentiality": "RAHASIA. Data pribadi; hanya untuk tujuan Perjanjian Kerja Sama (Pasal 10).",
    }
    built = package.build(path, ctx.storage.path(handover_id, package_name), password, base=base,
                          manifest=manifest, batch_rows=ctx.settings.delivery_batch_rows, data_key=data_key)
    if built.rows != row["record_count"]:
        ctx.storage.remove(handover_id, package_name)
        raise PreparationFailed(f"the extract holds {built.rows} rows, but extract-prepared announced "
                                f"{row['record_count']}")
    # whose data the package holds, as the audit log's keyed hashes: every download names them
    subject_key = ctx.settings.subject_key_ring.current  # its id is kept: the refs outlive a key rotation
    subjects.write_refs(path, ctx.storage.path(handover_id, subjects.REFS_FILE), key=subject_key.secret,
                        batch_rows=ctx.settings.delivery_batch_rows)
    content = _bast_content(ctx, terms, row, number=number, fields=built.fields,
                            counts=built.manifest.get("counts_by_desil", {}), package_name=package_name,
                            package_size=built.size, package_sha256=built.sha256, extract_sha256=actual)
    pdf = bast_pdf.render(content)
    ctx.storage.write(handover_id, BAST_FILE, pdf)
    digest = _sha256(pdf)
    signatories = {p.number: s for p, s in zip(content.parties, _signatories(terms), strict=True)}
    _finish(ctx, handover_id, status=Status.AWAITING_SIGNATURES, reason=None, bast_number=number,
            bast_issued_at=now, terms_version=terms.version, signatory_1=signatories[1].id,
            signatory_2=signatories[2].id, bast_file=BAST_FILE, bast_sha256=digest, current_file=BAST_FILE,
            current_sha256=digest, fields=json.dumps(built.fields), package_file=package_name,
            package_sha256=built.sha256, package_size=built.size,
            password_ciphertext=ctx.keys.seal(handover_id, password, data_key), subject_key_id=subject_key.id)
    log.info("handover prepared", handover_id=handover_id, bast_number=number, rows=built.rows,
             package_sha256=built.sha256)
    return Status.AWAITING_SIGNATURES


def _allocate_number(ctx: DeliveryContext, handover_id: str, program: str, now: object) -> str:
    pattern = ctx.settings.delivery_bast_number_pattern
    day = agreement_day(now)  # type: ignore[arg-type]
    with ctx.unit_of_work() as uow:
        number = numbering.render(pattern, next_sequence(uow.session, numbering.scope(pattern, day, program)),
                                  day, program)
        uow.session.execute(update(handovers).where(handovers.c.handover_id == handover_id)
                            .values(bast_number=number))
    return number


def _signatories(terms: Terms) -> list[object]:
    found = []
    for party in (1, 2):
        own = [s for s in terms.signatories if s.party == party]
        if not own:
            raise PreparationFailed(f"the agreement (terms {terms.version}) names no signatory for party {party}")
        found.append(own[0])
    return found


def _bast_content(ctx: DeliveryContext, terms: Terms, row: dict[str, object], **facts: object) -> bast_pdf.BastContent:
    sig1, sig2 = _signatories(terms)
    parties = []
    for number, sig, agreement_number in ((1, sig1, terms.numbers.party_1), (2, sig2, terms.numbers.party_2)):
        party = terms.party(number)
        parties.append(bast_pdf.PartyOnBast(
            number=number, name=party.name, unit=party.unit, address=party.address,
            agreement_number=agreement_number, signatory_name=sig.name,  # type: ignore[attr-defined]
            signatory_position=sig.position, signatory_acting_for=sig.acting_for))  # type: ignore[attr-defined]
    now = ctx.clock()
    program = agreed_program.describe(ctx.policy, str(row["program"]), _text(row.get("purpose")), now)
    asked = AskedFor.of(row)
    criteria = asked.criteria
    return bast_pdf.BastContent(
        requester=akun(asked.requester) if asked.requester else None,
        recipient=akun(asked.recipient) if asked.recipient else None,
        request_path=PATHS.get(asked.path, asked.path) if asked.path else None,
        justification=asked.justification, purpose=program.purpose,
        criteria=kriteria(criteria, ctx.regions.name) if criteria else None,
        reference_date=criteria.reference_date if criteria else None, requested_fields=asked.fields,
        example_terms=ctx.policy.agreement.example_terms(terms),
        number=str(facts["number"]), issued_on=agreement_day(now), place=ctx.settings.delivery_bast_place,
        agreement_title=terms.title, agreement_signed_on=terms.signed_on, terms_version=terms.version,
        parties=(parties[0], parties[1]), program_code=program.code, program_title=program.title,
        program_article=program.article, handover_id=str(row["handover_id"]),
        request_id=str(row["request_id"]), extract_id=str(row["extract_id"]),
        dataset_version_id=row["dataset_version_id"],  # type: ignore[arg-type]
        record_count=int(row["record_count"]),  # type: ignore[arg-type]
        fields=tuple(facts["fields"]),  # type: ignore[arg-type]
        counts_by_desil=dict(facts["counts"]),  # type: ignore[arg-type]
        package_name=str(facts["package_name"]), package_size=int(facts["package_size"]),  # type: ignore[arg-type]
        package_sha256=str(facts["package_sha256"]), extract_sha256=str(facts["extract_sha256"]))


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


class Preparer:
    """Prepares handovers until stopped: the background loop `delivery-preparer` (see `run`)."""

    def __init__(self, ctx: DeliveryContext) -> None:
        self.ctx = ctx

    def run_once(self) -> int:
        """Prepare every handover waiting now; returns how many were handled."""
        done = 0
        while (handover_id := claim(self.ctx)) is not None:
            prepare(self.ctx, handover_id)
            done += 1
        return done

    def run(self, stop: threading.Event) -> None:
        idle = self.ctx.settings.delivery_prepare_poll_ms / 1000
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:  # the database may be away for a moment; keep the loop alive
                log.warning("preparer round failed", error=type(exc).__name__)
                busy = 0
            if not busy:
                stop.wait(idle)


def run(ctx: DeliveryContext, stop: threading.Event) -> None:
    """The preparer as a background loop (`BackgroundLoop.run`): prepares handovers until `stop` is set.
    Run by the API process, or by `python -m p3ke_delivery jobs` when P3KE_JOBS_IN_API=false; replicas
    share the work through leases."""
    Preparer(ctx).run(stop)
